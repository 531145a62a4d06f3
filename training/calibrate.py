"""Quality and speed of an exported model directory on the HELD-OUT CALIBRATION problems
(GSM8K test lines 240-318; never the evaluation split), for selection of decoding settings and
int8-vs-fp32. Official evaluation-split numbers come from training/evaluate/ (`npm run eval`).

python -m training.calibrate --model models [--beams 1 4] [--ngram 0 4] [--limit N] [--bos ID] [--paper]

The scores are of the decoded sub-questions; `shown` scores what the runtime shows, with the
problem's own question appended when no sub-question asks it (as `npm run eval` does). `--paper`
also scores the paper's twelve compact decomposers on the same problems with the same matcher (their
released outputs, as written): the bar a model must clear here to be on course for the target.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from .common import data_dir
from .data import heldout_calibration
from .decode import OnnxStepper, clean_questions, decode_text, end_with_problem_question
from .metrics import score


def run(model_dir: str, beams: int, ngram: int | None, limit: int | None, threads: int = 1,
        bos: int | None = None) -> dict:
    st = OnnxStepper(model_dir, threads=threads)
    man = json.loads(json.dumps(st.manifest))
    if ngram is not None:
        man["decoding"]["noRepeatNgram"] = ngram
    if bos is not None:
        man["specialTokens"]["bos"] = bos
    items = heldout_calibration(data_dir())
    items = items[:limit] if limit else items
    preds, ms, toks = [], [], []
    for it in items:
        t = time.perf_counter()
        out = decode_text(st, it["problem"], man, beams)
        ms.append((time.perf_counter() - t) * 1000)
        toks.append(len(out["ids"]))
        preds.append(clean_questions(out["questions"], man["decoding"]["maxQuestions"]))
    res = score(preds, items)
    mq = man["decoding"]["maxQuestions"]
    shown = score([end_with_problem_question(p, it["problem"], mq) for p, it in zip(preds, items)], items)
    res["shown"] = {k: v for k, v in shown.items() if k not in ("repeat_rate", "n")}
    res.update(model=model_dir, bos=man["specialTokens"]["bos"], precision=man["precision"], beams=beams, noRepeatNgram=man["decoding"]["noRepeatNgram"],
               p50_ms=round(statistics.median(ms), 1), p95_ms=round(sorted(ms)[int(0.95 * (len(ms) - 1))], 1),
               mean_tokens=round(sum(toks) / len(toks), 1),
               model_mb=round(sum(f["bytes"] for f in man["files"].values()) / 1e6, 1))
    return res


def paper_rows(limit: int | None = None):
    from .evaluate import data as E
    root = data_dir()
    items = heldout_calibration(root)
    items = items[:limit] if limit else items
    problems = E.load_problems(root)
    for stem, name in E.PAPER_COMPACT.items():
        system = E.load_paper_system(root, stem, problems, [it["index"] for it in items])
        yield {"paper": name, **score(system.questions, items)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", nargs="+", default=["models"])
    ap.add_argument("--beams", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--ngram", type=int, nargs="+", default=[None])
    ap.add_argument("--limit", type=int)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bos", type=int, help="decode from this start id instead of the manifest's "
                    "(a model trained with --style: 1 = LLM style, 4 = socratic style)")
    ap.add_argument("--paper", action="store_true", help="also score the paper's compact decomposers on these problems")
    a = ap.parse_args()
    if a.paper:
        for row in paper_rows(a.limit):
            print(json.dumps(row), flush=True)
    for m in a.model:
        for b in a.beams:
            for n in a.ngram:
                print(json.dumps(run(m, b, n, a.limit, a.threads, a.bos)), flush=True)


if __name__ == "__main__":
    main()
