"""Computes every metric for every system on the selected problems."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from . import metrics as M
from .data import ANSWERERS, PAPER_COMPACT, Problem, System

# Candidate embedding thresholds (cosine), chosen on calibration only.
THRESHOLD_GRID = [round(0.5 + 0.025 * k, 3) for k in range(19)]  # 0.50 .. 0.95
THRESHOLD_RHO_TOLERANCE = 0.01
LEXICAL_THRESHOLD = 0.5

# Metrics correlated with accuracy, and the sign a useful proxy should have.
PROXY_METRICS = {
    "f1_socratic": +1, "f1_llm": +1, "f1_mean": +1,
    "lex_f1_socratic": +1, "lex_f1_llm": +1, "lex_f1_mean": +1,
    "bleu": +1, "dup_rate": -1, "ungrounded_rate": -1, "mean_count": 0,
    "count_absdiff_socratic": -1, "count_absdiff_llm": -1, "final_align": +1,
}
TRACK_MIN_RHO = 0.5


@dataclass
class Context:
    problems: list[Problem]                 # the selected problems, in order
    embedder: object | None                 # embed.Embedder or None (lexical only)
    threshold: float | None = None          # embedding threshold
    log: Callable[[str], None] = print

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.problems]

    @property
    def socratic(self) -> list[list[str]]:
        return [p.socratic for p in self.problems]

    @property
    def llm(self) -> list[list[str]]:
        return [p.llm for p in self.problems]


def embedding_sims(ctx: Context, gens, refs) -> list[np.ndarray]:
    return [ctx.embedder.similarity(g, r) for g, r in zip(gens, refs)]


def metrics_for(ctx: Context, gens: Sequence[Sequence[str]]) -> dict:
    """All decomposition metrics (1-6) of one set of decompositions."""
    out: dict = {}
    refs = {"socratic": ctx.socratic, "llm": ctx.llm}
    for name, ref in refs.items():
        lx = M.lexical_prf(gens, ref, LEXICAL_THRESHOLD)
        out[f"lex_p_{name}"], out[f"lex_r_{name}"], out[f"lex_f1_{name}"] = lx["precision"], lx["recall"], lx["f1"]
        if ctx.embedder is not None and ctx.threshold is not None:
            em = M.match_prf(embedding_sims(ctx, gens, ref), gens, ref, ctx.threshold)
            out[f"p_{name}"], out[f"r_{name}"], out[f"f1_{name}"] = em["precision"], em["recall"], em["f1"]
    out["lex_f1_mean"] = (out["lex_f1_socratic"] + out["lex_f1_llm"]) / 2
    if "f1_socratic" in out:
        out["f1_mean"] = (out["f1_socratic"] + out["f1_llm"]) / 2
    else:  # no embeddings: the headline F1 is the lexical one (the report says so)
        for k in ("socratic", "llm", "mean"):
            out[f"f1_{k}"] = out[f"lex_f1_{k}"]
    out["bleu"] = M.corpus_bleu(gens, ctx.llm)
    out["dup_rate"] = M.dup_rate(gens)
    out["ungrounded_rate"] = M.ungrounded_rate(ctx.texts, gens)
    out.update(M.count_stats(gens, refs))
    out["final_align"] = M.final_align_rate(ctx.texts, gens)
    out["empty_rate"] = sum(not g for g in gens) / max(1, len(gens))
    return out


def all_texts(systems: Sequence[System], problems: Sequence[Problem]) -> set[str]:
    t = set()
    for p in problems:
        t.update(p.socratic), t.update(p.llm)
    for s in systems:
        for qs in s.questions:
            t.update(qs)
        for v in s.per_answerer.values():
            for qs in v:
                t.update(qs)
    return t


def choose_threshold(ctx: Context, compact: Sequence[System], log=print) -> tuple[float, list[dict]]:
    """Calibration only: the cosine threshold whose embedding F1 (mean of vs-socratic and vs-LLM)
    has the highest Spearman correlation with answerer accuracy across the released compact
    decomposers, averaged over the four answerers (the lowest threshold within 0.01 of the best)."""
    # Sub-questions are identical across answerer folders except where noted in the data README:
    # score each distinct version once.
    def vkey(s, a):
        return (s.key, "canon" if s.per_answerer[a] == s.questions else a)
    sims = {}
    for s in compact:
        for a in ANSWERERS:
            if vkey(s, a) not in sims:
                gens = s.per_answerer[a]
                sims[vkey(s, a)] = (gens, embedding_sims(ctx, gens, ctx.socratic), embedding_sims(ctx, gens, ctx.llm))
    table = []
    for th in THRESHOLD_GRID:
        f1 = {}
        for k, (gens, ss, sl) in sims.items():
            f1[k] = (M.match_prf(ss, gens, ctx.socratic, th)["f1"] + M.match_prf(sl, gens, ctx.llm, th)["f1"]) / 2
        rhos = []
        for a in ANSWERERS:
            f1s = [f1[vkey(s, a)] for s in compact]
            accs = [float(np.mean(s.correct[a])) for s in compact]
            rhos.append(M.spearman(f1s, accs))
        valid = [r for r in rhos if r is not None]
        table.append({"threshold": th, "mean_rho": float(np.mean(valid)) if valid else None,
                      "per_answerer": dict(zip(ANSWERERS, rhos))})
    scored = [r for r in table if r["mean_rho"] is not None]
    if not scored:
        return 0.75, table
    # The curve is flat near its top on 319 problems: take the most lenient threshold within
    # THRESHOLD_RHO_TOLERANCE of the best rho (tolerating paraphrases is why embeddings are used).
    top = max(r["mean_rho"] for r in scored)
    best = min(r["threshold"] for r in scored if r["mean_rho"] >= top - THRESHOLD_RHO_TOLERANCE)
    return best, table


@dataclass
class Results:
    systems: dict[str, dict] = field(default_factory=dict)   # key -> {name, kind, metrics, accuracy}
    spearman: dict[str, dict] = field(default_factory=dict)   # metric -> {per_answerer, mean, vs_mean_acc, tracks}
    best_compact: str | None = None


def evaluate(ctx: Context, systems: Sequence[System], log=print) -> Results:
    res = Results()
    compact = [s for s in systems if s.kind == "paper_compact"]
    variant_metrics: dict[tuple[str, str], dict] = {}
    for s in systems:
        t0 = time.time()
        m = metrics_for(ctx, s.questions)
        acc = {a: float(np.mean(c)) for a, c in s.correct.items()}
        if acc:
            acc["mean"] = float(np.mean([acc[a] for a in ANSWERERS]))
        res.systems[s.key] = {"name": s.name, "kind": s.kind, "metrics": m, "accuracy": acc,
                              "n": len(s.questions), "errors": s.errors}
        # The metrics of the sub-questions each answerer actually saw, where they differ.
        for a, qs in s.per_answerer.items():
            variant_metrics[(s.key, a)] = m if qs == s.questions else metrics_for(ctx, qs)
            if qs != s.questions:
                res.systems[s.key].setdefault("differs_in", {})[a] = sum(
                    x != y for x, y in zip(qs, s.questions))
        log(f"  {s.name}: {time.time() - t0:.1f}s")
    if compact:
        res.best_compact = max(compact, key=lambda s: res.systems[s.key]["accuracy"]["mean"]).key
        for metric, sign in PROXY_METRICS.items():
            per = {}
            for a in ANSWERERS:
                xs = [variant_metrics[(s.key, a)][metric] for s in compact]
                ys = [res.systems[s.key]["accuracy"][a] for s in compact]
                per[a] = M.spearman(xs, ys)
            valid = [r for r in per.values() if r is not None]
            mean = float(np.mean(valid)) if valid else None
            vs_mean = M.spearman([res.systems[s.key]["metrics"][metric] for s in compact],
                                 [res.systems[s.key]["accuracy"]["mean"] for s in compact])
            res.spearman[metric] = {"per_answerer": per, "mean": mean, "vs_mean_accuracy": vs_mean,
                                    "expected_sign": sign, "tracks": tracks(per, mean, sign)}
    return res


def tracks(per: dict, mean: float | None, sign: int) -> bool:
    """A metric tracks accuracy when its averaged rho has the useful sign (either sign for metrics
    with no expected direction) with |rho| >= 0.5, and no answerer shows the opposite sign."""
    if mean is None or abs(mean) < TRACK_MIN_RHO:
        return False
    s = sign if sign else (1 if mean > 0 else -1)
    if mean * s <= 0:
        return False
    return all(r is not None and r * s > 0 for r in per.values())
