"""Metric functions. Pure Python (numpy only for the embedding similarity matrices).

Definitions (also printed in the report):
- tokens(s): the set of lowercase [a-z0-9]+ runs.
- jaccard(a, b) = |tokens(a) & tokens(b)| / |tokens(a) | tokens(b)| (1.0 when both are empty).
- greedy one-to-one matching: generated sub-questions are visited in order; each takes the most
  similar still-unmatched reference sub-question (ties: the earlier one) if that similarity is
  >= the threshold. precision = matches / #generated, recall = matches / #reference, F1 per
  problem (0 when nothing matches or a side is empty), then averaged over problems (macro).
"""
from __future__ import annotations

import math
import re
from typing import Callable, Sequence

import numpy as np

_TOK = re.compile(r"[a-z0-9]+")


def tokens(s: str) -> frozenset[str]:
    return frozenset(_TOK.findall(s.lower()))


def jaccard(a: str, b: str) -> float:
    ta, tb = tokens(a), tokens(b)
    if not ta and not tb:
        return 1.0
    return len(ta & tb) / len(ta | tb)


def jaccard_matrix(gen: Sequence[str], ref: Sequence[str]) -> np.ndarray:
    tg, tr = [tokens(x) for x in gen], [tokens(x) for x in ref]
    m = np.zeros((len(gen), len(ref)))
    for i, a in enumerate(tg):
        for j, b in enumerate(tr):
            u = len(a | b)
            m[i, j] = len(a & b) / u if u else 1.0
    return m


def greedy_match(sim: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """One-to-one greedy matching on a [generated x reference] similarity matrix (see module doc)."""
    used: set[int] = set()
    pairs = []
    n_gen, n_ref = sim.shape if sim.ndim == 2 else (0, 0)
    for i in range(n_gen):
        best, best_s = -1, -math.inf
        for j in range(n_ref):
            if j not in used and sim[i, j] > best_s:
                best, best_s = j, sim[i, j]
        if best >= 0 and best_s >= threshold - 1e-12:
            used.add(best)
            pairs.append((i, best))
    return pairs


def prf(n_match: int, n_gen: int, n_ref: int) -> tuple[float, float, float]:
    p = n_match / n_gen if n_gen else 0.0
    r = n_match / n_ref if n_ref else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def match_prf(sims: Sequence[np.ndarray], gens: Sequence[Sequence[str]], refs: Sequence[Sequence[str]],
              threshold: float) -> dict[str, float]:
    """Macro precision/recall/F1 over problems, given one similarity matrix per problem."""
    ps, rs, fs = [], [], []
    for sim, g, r in zip(sims, gens, refs):
        m = len(greedy_match(sim, threshold)) if len(g) and len(r) else 0
        p, rr, f = prf(m, len(g), len(r))
        ps.append(p), rs.append(rr), fs.append(f)
    n = max(1, len(fs))
    return {"precision": sum(ps) / n, "recall": sum(rs) / n, "f1": sum(fs) / n}


def lexical_prf(gens, refs, threshold: float = 0.5) -> dict[str, float]:
    sims = [jaccard_matrix(g, r) for g, r in zip(gens, refs)]
    return match_prf(sims, gens, refs, threshold)


# ---------------------------------------------------------------- duplicates, counts

def normalize(s: str) -> str:
    """Lowercase, every run of non-alphanumerics -> one space, trimmed."""
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


def has_duplicate(qs: Sequence[str]) -> bool:
    seen = [normalize(q) for q in qs]
    return len(set(seen)) < len(seen)


def dup_rate(gens: Sequence[Sequence[str]]) -> float:
    return sum(has_duplicate(g) for g in gens) / max(1, len(gens))


def count_stats(gens, refs_by_name: dict[str, Sequence[Sequence[str]]]) -> dict[str, float]:
    n = max(1, len(gens))
    out = {"mean_count": sum(len(g) for g in gens) / n}
    for name, refs in refs_by_name.items():
        out[f"count_absdiff_{name}"] = sum(abs(len(g) - len(r)) for g, r in zip(gens, refs)) / n
    return out


# ---------------------------------------------------------------- ungrounded numbers

_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "hundred": 100, "thousand": 1000, "million": 1000000, "dozen": 12, "half": 0.5, "twice": 2,
    "double": 2, "triple": 3, "quarter": 0.25, "third": 1 / 3,
}
# Constants a sub-question may use without the problem stating them: 0-2, powers of ten (percent,
# place value) and common unit conversions (week, dozen, day, month, minutes, weeks/year, days/year).
CONSTANTS = (0, 1, 2, 10, 100, 1000, 7, 12, 24, 30, 52, 60, 365)
_DIGITS = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?|(?<![\w.])\.\d+")
_WORD_RE = re.compile(r"\b(" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")\b", re.IGNORECASE)


def numbers_in(text: str, words: bool) -> list[float]:
    """Numbers written with digits (`1,200`, `3.5`, `.5`, `50%` -> 50), optionally number words.
    Fractions `a/b` yield a and b (and a/b is derivable by one division)."""
    out = [float(m.group().replace(",", "")) for m in _DIGITS.finditer(text)]
    if words:
        out += [float(_WORDS[m.group(1).lower()]) for m in _WORD_RE.finditer(text)]
    return out


def derivable_set(problem: str) -> list[float]:
    """Grounded values for a problem: its numbers P (digits and number words), the CONSTANTS C, and
    the result of ONE +, -, *, / between a problem number and a member of P or C (constants are not
    combined with each other: 1000 - 100 = 900 is not "derivable" from nothing)."""
    prob = sorted(set(numbers_in(problem, words=True)))
    base = sorted(set(prob) | set(float(c) for c in CONSTANTS))
    vals = set(base)
    for a in prob:
        for b in base:
            vals.update((a + b, a - b, b - a, a * b))
            if b:
                vals.add(a / b)
            if a:
                vals.add(b / a)
    return sorted(vals)


def _member(x: float, vals: Sequence[float]) -> bool:
    import bisect
    tol = 1e-6 * max(1.0, abs(x))
    k = bisect.bisect_left(vals, x - tol)
    return k < len(vals) and vals[k] <= x + tol


def ungrounded_numbers(problem: str, qs: Sequence[str]) -> list[float]:
    """Digit-written numbers in the sub-questions that are not grounded (see derivable_set).
    Number WORDS in sub-questions are not checked ("which one", "half of them" are phrasing)."""
    vals = derivable_set(problem)
    return [x for q in qs for x in numbers_in(q, words=False) if not _member(x, vals)]


def ungrounded_rate(problems: Sequence[str], gens) -> float:
    return sum(bool(ungrounded_numbers(p, g)) for p, g in zip(problems, gens)) / max(1, len(gens))


# ---------------------------------------------------------------- final-question alignment

_SENT = re.compile(r"[^.?!]*\?")


def problem_question(problem: str) -> str:
    """The problem's question: the last `?`-terminated sentence (split after `.`, `!`, `?`); if the
    problem has no `?`, its last sentence."""
    qs = [s.strip() for s in _SENT.findall(problem) if s.strip()]
    if qs:
        return qs[-1]
    sents = [s.strip() for s in re.split(r"(?<=[.!])\s+", problem.strip()) if s.strip()]
    return sents[-1] if sents else problem


def final_aligned(problem: str, qs: Sequence[str], threshold: float = 0.3) -> bool:
    """The last sub-question asks what the problem asks: jaccard(last, problem_question) >= 0.3
    (question rewrites such as "How much does she make every day?" for a long original question
    share about a third of their words; 0.5 misses many of them)."""
    return bool(qs) and jaccard(qs[-1], problem_question(problem)) >= threshold


def final_align_rate(problems: Sequence[str], gens) -> float:
    return sum(final_aligned(p, g) for p, g in zip(problems, gens)) / max(1, len(gens))


# ---------------------------------------------------------------- BLEU, rank correlation

def corpus_bleu(gens, refs) -> float:
    """sacrebleu corpus BLEU (default 13a tokenizer); each problem's sub-questions are joined with
    a space into one segment, against the LLM's joined the same way."""
    import sacrebleu
    hyp = [" ".join(g) for g in gens]
    ref = [" ".join(r) for r in refs]
    return float(sacrebleu.corpus_bleu(hyp, [ref]).score)


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho (average ranks for ties); None when undefined (constant input, n < 3)."""
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    from scipy.stats import spearmanr
    r = spearmanr(x, y).statistic
    return None if r is None or math.isnan(r) else float(r)


SimFn = Callable[[Sequence[str], Sequence[str]], np.ndarray]
