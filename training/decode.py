"""Reference decoding: exactly the rules of docs/ARCHITECTURE.md ("Decoding rules"), shared by the
ONNX files (OnnxStepper) and the PyTorch model (TorchStepper). src/local/decode.ts must reproduce
the ids this produces (models/reference.json).

Usage: python -m training.decode --model models "problem text" [--beams N]
"""
from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .common import BOS, EOS, SEP, encode_source, normalize_question, tokenizer
from .metrics import jaccard

NEG_INF = float("-inf")


# ---------------------------------------------------------------- steppers (one decoder call/step)
class OnnxStepper:
    """Runs encoder.onnx once and decoder.onnx once per step for all rows (beams) together."""

    def __init__(self, model_dir: str | Path, threads: int = 1):
        import onnxruntime as ort
        self.dir = Path(model_dir)
        self.manifest = json.loads((self.dir / "manifest.json").read_text())
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.enc = ort.InferenceSession(str(self.dir / "encoder.onnx"), opts, providers=["CPUExecutionProvider"])
        self.dec = ort.InferenceSession(str(self.dir / "decoder.onnx"), opts, providers=["CPUExecutionProvider"])
        self.enc_names = [o.name for o in self.enc.get_outputs() if o.name.startswith("enc_")]
        self.past_names = self.manifest["decoderPast"]["names"]
        self.heads = self.manifest["decoderPast"]["numHeads"]
        self.head_dim = self.manifest["decoderPast"]["headDim"]

    def start(self, src_ids: list[int], rows: int) -> None:
        ids = np.array([src_ids], dtype=np.int64)
        mask = np.ones_like(ids)
        outs = self.enc.run(self.enc_names, {"input_ids": ids, "attention_mask": mask})
        self.feeds = {n: np.repeat(o, rows, axis=0) for n, o in zip(self.enc_names, outs)}
        self.feeds["attention_mask"] = np.repeat(mask, rows, axis=0)
        self.feeds["src_ids"] = np.repeat(ids, rows, axis=0)
        self.past = [np.zeros((rows, self.heads, 0, self.head_dim), np.float32) for _ in self.past_names]

    def step(self, tokens: list[int], parents: list[int]) -> np.ndarray:
        feeds = dict(self.feeds)
        feeds["input_ids"] = np.array(tokens, dtype=np.int64)[:, None]
        for n, p in zip(self.past_names, self.past):
            feeds[f"past_{n}"] = p[parents]
        outs = self.dec.run(["logprobs"] + [f"present_{n}" for n in self.past_names], feeds)
        self.past = outs[1:]
        return outs[0]


class TorchStepper:
    """Same interface over the PyTorch model (for the parity test and quick evaluation)."""

    def __init__(self, model):
        self.model = model.eval()

    def start(self, src_ids: list[int], rows: int) -> None:
        import torch
        with torch.no_grad():
            ids = torch.tensor([src_ids], dtype=torch.long)
            mask = torch.ones_like(ids)
            enc = self.model.encode(ids, mask)
        self.enc = {k: v.repeat_interleave(rows, 0) for k, v in enc.items()}
        self.mask = mask.repeat(rows, 1)
        self.src = ids.repeat(rows, 1)
        self.past = self.model.empty_past(rows)

    def step(self, tokens: list[int], parents: list[int]) -> np.ndarray:
        import torch
        with torch.no_grad():
            idx = torch.tensor(parents, dtype=torch.long)
            past = [p.index_select(0, idx) for p in self.past]
            lp, self.past = self.model.step(torch.tensor(tokens, dtype=torch.long)[:, None], self.mask,
                                            self.src, self.enc, past)
        return lp[:, -1].numpy()


# ---------------------------------------------------------------- the decoding rules
@dataclass
class Hyp:
    tokens: list[int] = field(default_factory=list)  # generated ids (no bos)
    score: float = 0.0  # sum of log-probs, float64
    seg_start: int = 0  # index in tokens where the current sub-question starts
    done_questions: list[str] = field(default_factory=list)  # normalised texts of closed segments

    @property
    def n_sep(self) -> int:
        return sum(1 for t in self.tokens if t == SEP)


def _seg_text(tok, ids: list[int]) -> str:
    return normalize_question(tok.decode(ids, skip_special_tokens=True)) if ids else ""


def banned_tokens(h: Hyp, tok, max_questions: int, no_repeat_ngram: int,
                  question_end: int | None = None) -> tuple[set[int] | None, set[int]]:
    """(allowed ids or None for all, banned ids) for the next token of hypothesis h."""
    if h.n_sep >= max_questions:
        return {EOS}, set()
    banned: set[int] = set()
    n, g = no_repeat_ngram, h.tokens
    if n > 0 and len(g) >= n - 1:
        prefix = g[len(g) - (n - 1):] if n > 1 else []
        for i in range(len(g) - n + 1):
            if g[i:i + n - 1] == prefix:
                banned.add(g[i + n - 1])
    text = _seg_text(tok, g[h.seg_start:])
    repeat = bool(text) and text in h.done_questions
    if question_end is not None and g and g[-1] == question_end:
        # a sub-question ends at its "?"; one that repeats an earlier one is a dead end
        return (set() if repeat else {SEP, EOS}), banned
    if repeat:
        banned.update((SEP, EOS))
    return None, banned


def decode(stepper, src_ids: list[int], beams: int = 4, max_questions: int = 8, max_new_tokens: int = 160,
           no_repeat_ngram: int = 0, tok=None, bos: int = BOS, question_end: int | None = None) -> dict:
    """Beam search (greedy when beams == 1) from the start id `bos`. Returns {"ids", "questions", "score",
    "margins"}. `question_end` (the manifest's specialTokens.questionEnd, the id of "?"): None disables
    that rule. `margins` has one entry per step, the score gap between the last candidate kept and the
    first one dropped (inf when none was dropped), then one for the final choice among the finished
    hypotheses: where a margin is tiny, another CPU's float kernels may decide the other way."""
    tok = tok or tokenizer()
    beams = max(1, int(beams))
    stepper.start(src_ids, beams)
    live: list[Hyp | None] = [Hyp()] + [None] * (beams - 1)  # None: inactive row (score -inf)
    tokens = [bos] * beams
    parents = list(range(beams))
    finished: list[tuple[float, Hyp]] = []
    dead: list[tuple[float, Hyp]] = []  # hypotheses no token could extend (their open segment is dropped)
    margins: list[float] = []
    for _ in range(max_new_tokens):
        lp = stepper.step(tokens, parents).astype(np.float64)  # float32 values, summed in float64
        cand_scores, cand_tok, cand_row = [], [], []
        for r, h in enumerate(live):
            if h is None:
                continue
            allowed, banned = banned_tokens(h, tok, max_questions, no_repeat_ngram, question_end)
            if allowed is None:
                row = lp[r].copy()
            else:
                row = np.full(lp.shape[1], NEG_INF)
                for a in allowed:
                    row[a] = lp[r, a]
            for b in banned:
                row[b] = NEG_INF
            total = h.score + row
            k = min(2 * beams, total.shape[0])
            # every candidate tied with the k-th best is kept so the tie-break below is exact
            kth = np.partition(total, -k)[-k]
            if not np.isfinite(kth):
                sel = np.nonzero(np.isfinite(total))[0]
            else:
                sel = np.nonzero(total >= kth)[0]
            if sel.size == 0:  # a dead end: kept only in case nothing else finishes
                if h.tokens:
                    dead.append((h.score / len(h.tokens), h))
                continue
            cand_scores.append(total[sel]); cand_tok.append(sel); cand_row.append(np.full(sel.shape, r))
        if not cand_scores:
            break
        s = np.concatenate(cand_scores); t = np.concatenate(cand_tok); rr = np.concatenate(cand_row)
        order = np.lexsort((rr, t, -s))  # score desc, then token id asc, then row asc
        new_live: list[Hyp | None] = []
        new_tokens, new_parents = [], []
        taken = 0
        for j in order:
            if len(new_live) == beams:
                break
            taken += 1
            h, v, sc = live[int(rr[j])], int(t[j]), float(s[j])
            if v == EOS:
                fin = Hyp(h.tokens + [EOS], sc, h.seg_start, h.done_questions)
                finished.append((sc / len(fin.tokens), fin))
                continue
            nh = Hyp(h.tokens + [v], sc, h.seg_start, list(h.done_questions))
            if v == SEP:
                nh.done_questions.append(_seg_text(tok, h.tokens[h.seg_start:]))
                nh.seg_start = len(nh.tokens)
            new_live.append(nh); new_tokens.append(v); new_parents.append(int(rr[j]))
        margins.append(float(s[order[taken - 1]] - s[order[taken]]) if taken < len(order) else math.inf)
        while len(new_live) < beams:  # keep the batch shape; inactive rows are ignored
            new_live.append(None); new_tokens.append(tokens[0]); new_parents.append(0)
        live, tokens, parents = new_live, new_tokens, new_parents
        if len(finished) >= beams or all(h is None for h in live):
            break
    else:
        # maxNewTokens reached: live hypotheses compete as they are (their open segment is dropped)
        for h in live:
            if h is not None and h.tokens:
                finished.append((h.score / len(h.tokens), h))
    finished = finished or dead
    if not finished:
        return {"ids": [], "questions": [], "score": NEG_INF, "margins": margins}
    best_i = 0  # highest score/length; ties keep the earlier-finished hypothesis
    for i in range(1, len(finished)):
        if finished[i][0] > finished[best_i][0]:
            best_i = i
    norm, h = finished[best_i]
    margins.append(min((norm - f for i, (f, _) in enumerate(finished) if i != best_i), default=math.inf))
    return {"ids": h.tokens, "questions": split_questions(h.tokens, tok), "score": norm, "margins": margins}


def split_questions(ids: list[int], tok=None) -> list[str]:
    """Segments closed by sep/eos, decoded; an unclosed trailing segment is dropped."""
    tok = tok or tokenizer()
    out, seg = [], []
    for t in ids:
        if t in (SEP, EOS):
            out.append(tok.decode(seg, skip_special_tokens=True).strip())
            seg = []
            if t == EOS:
                break
        else:
            seg.append(t)
    return out


def clean_questions(raw: list[str], max_questions: int = 8) -> list[str]:
    """The Python twin of cleanSubQuestions' filtering (without case restoring): drop empty or
    letter-free items and repeats. Used for scoring only."""
    seen, out = set(), []
    for q in raw:
        key = normalize_question(q)
        if not any(c.isalpha() for c in key) or key in seen:
            continue
        seen.add(key)
        out.append(q if q.endswith("?") else q + "?")
        if len(out) >= max_questions:
            break
    return out


def problem_question(problem: str) -> str | None:
    """The Python twin of problemQuestion (src/core/subQuestions.ts): the problem's last sentence
    that ends with "?"."""
    sentences = [t.strip() for t in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'(])", re.sub(r"\s+", " ", problem))]
    return next((t for t in reversed(sentences) if t.endswith("?")), None)


_STARTS_WITH_WH = re.compile(r"(?:how|what|which|who|whom|whose|where|why)\b", re.I)
_LAST_WH_CLAUSE = re.compile(r".*,\s+((?:how|what|which|who|whom|whose|where|why|when)\b.*)$", re.I | re.S)


def asking_clause(question: str) -> str:
    """The Python twin of askingClause: "If ..., how many ...?" -> "How many ...?"."""
    m = None if _STARTS_WITH_WH.match(question) else _LAST_WH_CLAUSE.match(question)
    return question if m is None else m.group(1)[0].upper() + m.group(1)[1:]


def end_with_problem_question(questions: list[str], problem: str, max_questions: int = 8) -> list[str]:
    """The Python twin of endWithProblemQuestion: the runtime appends the problem's own question when
    no sub-question asks it (word-set Jaccard >= 0.5 with the question or its asking clause), so
    scores of what learners see use it."""
    question = problem_question(problem)
    if question is None:
        return list(questions)
    asking = asking_clause(question)
    if any(max(jaccard(q, question), jaccard(q, asking)) >= 0.5 for q in questions):
        return list(questions)
    return questions[:max(0, max_questions - 1)] + [question]


def decode_text(stepper, problem: str, manifest: dict, beams: int | None = None) -> dict:
    d = manifest["decoding"]
    src = encode_source(problem, manifest["maxSourceTokens"])
    return decode(stepper, src, beams=d["beams"] if beams is None else beams, max_questions=d["maxQuestions"],
                  max_new_tokens=d["maxNewTokens"], no_repeat_ngram=d["noRepeatNgram"],
                  bos=manifest["specialTokens"]["bos"],
                  question_end=manifest["specialTokens"].get("questionEnd"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("problem")
    ap.add_argument("--model", default="models")
    ap.add_argument("--beams", type=int)
    a = ap.parse_args()
    st = OnnxStepper(a.model)
    out = decode_text(st, a.problem, st.manifest, a.beams)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
