"""python -m training.evaluate — see --help. Logs go to stderr; the LAST stdout line is the summary JSON."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
from pathlib import Path

from . import data as D
from .data import UserFacingError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.evaluate",
                                description="Score decompositions (ours, the paper's, the LLM's, socratic) on GSM8K test.")
    p.add_argument("--split", default="evaluation", choices=sorted(D.SPLITS),
                   help="evaluation = test lines 319-1318 (default, reportable); calibration = 0-318 (development)")
    p.add_argument("--limit", type=int, default=None, help="only the first N problems of the split, and of calibration for the threshold (smoke tests; not reportable)")
    p.add_argument("--data", default=None, help="shared data folder (default ../shared/data from the repo root)")
    p.add_argument("--ours", default=None, help="JSONL from `npm run decompose -- --json` (id + subQuestions|error)")
    p.add_argument("--write-problems", metavar="FILE", default=None,
                   help="write the split's problems as {id, problem} JSONL (input for the decompose CLI) and exit")
    p.add_argument("--out-dir", default=str(D.REPO_ROOT / "reports"), help="report folder (default reports/)")
    p.add_argument("--cache-dir", default=None,
                   help="embedding / answerer caches, keyed by text, so reports can share one (default <out-dir>/cache)")
    p.add_argument("--no-embedding", action="store_true", help="lexical similarity only (no MiniLM)")
    p.add_argument("--threshold", type=float, default=None,
                   help="embedding cosine threshold; default: chosen on the calibration split")
    p.add_argument("--answerer-base-url", default=None, help="OpenAI-compatible base URL (e.g. http://host:8000/v1)")
    p.add_argument("--answerer-model", default=None)
    p.add_argument("--answerer-systems", default="ours",
                   help="comma list of systems to send to the answerer: ours, llm, socratic, best_compact, or eval_* stems")
    p.add_argument("--answerer-rpm", type=float, default=60.0, help="max requests per minute")
    p.add_argument("--answerer-max-retries", type=int, default=4)
    p.add_argument("--answerer-timeout", type=float, default=60.0, help="seconds per HTTP request")
    p.add_argument("--answerer-backoff", type=float, default=2.0, help="first retry delay in seconds (doubles)")
    p.add_argument("--answerer-cache", default=None, help="resumable response cache (default <cache-dir>/answerer-<model>.jsonl)")
    return p


def cache_dir(args) -> Path:
    return Path(args.cache_dir) if args.cache_dir else Path(args.out_dir) / "cache"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_systems(d: Path, problems, idx, ours_path: str | None) -> list[D.System]:
    systems = []
    if ours_path:
        systems.append(D.load_ours(Path(ours_path), problems, idx))
    llm = D.load_paper_system(d, D.PAPER_LLM_STEM, problems, idx)
    # The LLM's sub-questions are those of qg_test_data_raw.jsonl (identical to eval_chat's once the
    # doubled `Q1:` prefixes are stripped); their accuracy is eval_chat's.
    systems.append(D.System("llm", "LLM (gpt-3.5-turbo) sub-questions", "llm", [problems[i].llm for i in idx],
                            {a: [problems[i].llm for i in idx] for a in D.ANSWERERS}, llm.correct))
    systems.append(D.System("socratic", "GSM8K socratic sub-questions", "socratic", [problems[i].socratic for i in idx]))
    for stem in D.PAPER_COMPACT:
        systems.append(D.load_paper_system(d, stem, problems, idx))
    return systems


def run(args) -> int:
    t_start = time.time()
    d = D.data_dir(args.data)
    problems = D.load_problems(d)
    if args.limit is not None and args.limit <= 0:
        raise UserFacingError("--limit must be a positive number")
    idx = D.split_indices(args.split, args.limit)
    if args.write_problems:
        D.write_problems_file(Path(args.write_problems), problems, idx)
        log(f"wrote {len(idx)} problems ({args.split}) to {args.write_problems}")
        return 0
    if bool(args.answerer_base_url) != bool(args.answerer_model):
        raise UserFacingError("--answerer-base-url and --answerer-model go together")
    out_dir = Path(args.out_dir)
    from . import harness as H

    selected = [problems[i] for i in idx]
    systems = load_systems(d, problems, idx, args.ours)
    meta = {"split": args.split, "limit": args.limit, "n": len(idx), "lines": f"{idx[0]}-{idx[-1]}",
            "data": str(d), "ours": args.ours,
            "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}

    embedder = None
    threshold = None
    if args.no_embedding:
        meta["f1_kind"], meta["embedding_note"] = "lexical", "--no-embedding"
    else:
        try:
            from .embed import Embedder
            embedder = Embedder(cache_dir(args) / "minilm-embeddings.npz")
            embedder._load()
            meta["f1_kind"] = "embedding"
        except Exception as e:  # the issue allows a lexical fallback, said out loud
            log(f"warning: MiniLM unavailable ({e}); using lexical similarity only")
            embedder = None
            meta["f1_kind"], meta["embedding_note"] = "lexical", f"MiniLM unavailable: {e}"
    if embedder is not None:
        t0 = time.time()
        calib_idx = D.split_indices("calibration", args.limit)
        calib_systems = [] if args.threshold is not None else \
            [D.load_paper_system(d, stem, problems, calib_idx) for stem in D.PAPER_COMPACT]
        texts = H.all_texts(systems, selected) | H.all_texts(calib_systems, [problems[i] for i in calib_idx])
        n_new = embedder.ensure(texts, log=log)
        log(f"embeddings: {len(texts)} texts, {n_new} computed, {time.time() - t0:.0f}s")
        if args.threshold is not None:
            threshold, meta["threshold_source"] = args.threshold, "given with --threshold"
        else:
            cctx = H.Context([problems[i] for i in calib_idx], embedder)
            threshold, table = H.choose_threshold(cctx, calib_systems)
            meta["threshold_table"] = table
            meta["threshold_source"] = ("the lowest threshold whose mean Spearman (emb F1 mean vs accuracy of each of "
                                        "the 4 answerers, across the 12 compact decomposers) is within 0.01 of the "
                                        f"best, on {len(calib_idx)} calibration problems")
        meta["threshold"] = threshold
        log(f"embedding threshold {threshold} ({meta['threshold_source']})")

    ctx = H.Context(selected, embedder, threshold)
    log(f"scoring {len(systems)} systems on {len(idx)} problems ({args.split})")
    res = H.evaluate(ctx, systems, log=log)

    if args.answerer_base_url:
        meta["answerer"] = run_answerer(args, problems, selected, systems, res, out_dir)

    meta["seconds"] = time.time() - t_start
    from .report import summary, write
    paths = write(res, meta, out_dir)
    for k, pth in paths.items():
        print(f"{k}: {pth}")
    print(json.dumps(summary(res, meta)))
    return 0


def run_answerer(args, problems, selected, systems, res, out_dir: Path) -> dict:
    from .answerer import EXAMPLE_LINES, Answerer, AnswererConfig, evaluate_system
    key = os.environ.get("MATH_TUTOR_ANSWERER_KEY") or os.environ.get("OPENAI_API_KEY")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", args.answerer_model)
    cfg = AnswererConfig(args.answerer_base_url, args.answerer_model, key,
                         Path(args.answerer_cache) if args.answerer_cache else cache_dir(args) / f"answerer-{slug}.jsonl",
                         rpm=args.answerer_rpm, max_retries=args.answerer_max_retries,
                         timeout=args.answerer_timeout, backoff_base=args.answerer_backoff)
    ans = Answerer(cfg)
    by_key = {s.key: s for s in systems}
    wanted = []
    for name in [x.strip() for x in args.answerer_systems.split(",") if x.strip()]:
        k = res.best_compact if name == "best_compact" else name
        if k not in by_key:
            raise UserFacingError(f"--answerer-systems: unknown or absent system {name!r} "
                                  f"(available: {', '.join(['best_compact', *by_key])})")
        wanted.append(k)
    examples = [problems[i] for i in EXAMPLE_LINES]
    out = {"model": args.answerer_model, "base_url": args.answerer_base_url, "systems": {}}
    for k in wanted:
        log(f"answerer: {by_key[k].name} ({len(selected)} problems)")
        r = evaluate_system(ans, examples, selected, by_key[k].questions,
                            progress=lambda i, n: log(f"  {i}/{n}") if i % 50 == 0 else None)
        out["systems"][k] = r
        res.systems[k]["answerer_accuracy"] = r["accuracy"]
    out["requests"] = ans.requests
    return out


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except UserFacingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
