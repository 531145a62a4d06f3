"""Quick lexical sub-question match for checkpoint selection on the calibration split (the official
numbers come from training/evaluate/ via `npm run eval`): word-set Jaccard >= 0.5, greedy one-to-one
matching, F1 per problem, averaged; f1_mean = mean of F1 vs socratic and F1 vs the LLM."""
from __future__ import annotations

import re


def words(q: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", q.lower()))


def word_jaccard(x: set[str], y: set[str]) -> float:
    u = len(x | y)
    return len(x & y) / u if u else 0.0


def jaccard(a: str, b: str) -> float:
    return word_jaccard(words(a), words(b))


def matched(pred: list[str], ref: list[str], thr: float = 0.5) -> int:
    """How many predicted questions match a reference question: word-set Jaccard >= thr, greedy
    one-to-one, best pairs first."""
    pw, rw = [words(p) for p in pred], [words(r) for r in ref]
    pairs = []
    for i, a in enumerate(pw):
        for j, b in enumerate(rw):
            jac = word_jaccard(a, b)
            if jac >= thr:
                pairs.append((-jac, i, j))
    pairs.sort()
    used_p, used_r, m = set(), set(), 0
    for _, i, j in pairs:
        if i not in used_p and j not in used_r:
            used_p.add(i); used_r.add(j); m += 1
    return m


def match_f1(pred: list[str], ref: list[str], thr: float = 0.5) -> float:
    if not pred and not ref:
        return 1.0
    if not pred or not ref:
        return 0.0
    m = matched(pred, ref, thr)
    if m == 0:
        return 0.0
    p, r = m / len(pred), m / len(ref)
    return 2 * p * r / (p + r)


def score(preds: list[list[str]], items: list[dict]) -> dict:
    """F1s averaged over problems, plus matched questions over all predicted (precision) and over
    all reference questions (recall) per reference style, which say whether the model writes too
    few or too many steps."""
    from .common import normalize_question
    n = len(items)
    fs = sum(match_f1(p, it["socratic"]) for p, it in zip(preds, items)) / n
    fl = sum(match_f1(p, it["llm"]) for p, it in zip(preds, items)) / n
    rep = sum(1 for p in preds if len({normalize_question(q) for q in p}) < len(p)) / n
    n_pred = sum(len(p) for p in preds)
    res = {"f1_socratic": round(fs, 4), "f1_llm": round(fl, 4), "f1_mean": round((fs + fl) / 2, 4)}
    for style in ("socratic", "llm"):
        m = sum(matched(p, it[style]) for p, it in zip(preds, items))
        res[f"precision_{style}"] = round(m / max(1, n_pred), 4)
        res[f"recall_{style}"] = round(m / max(1, sum(len(it[style]) for it in items)), 4)
    res.update(repeat_rate=round(rep, 4), mean_count=round(n_pred / n, 3), n=n)
    return res
