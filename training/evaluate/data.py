"""Loading GSM8K, GSM8K-AI-SubQ and our predictions; split definitions; sub-question parsing.

Every file is read by path from the shared data folder (default ../shared/data relative to the
repository root) and never copied into the repository.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"

# 0-based GSM8K test line ranges (half-open). Thresholds are tuned on calibration only.
SPLITS = {"calibration": (0, 319), "evaluation": (319, 1319)}
N_TEST = 1319

ANSWERERS = ("chatgpt", "llama7b", "llama13b", "mistral")
# eval_responses file stem -> human-readable decomposer name (suffix: none = GPT-2 small,
# _dist = DistilGPT2, _medium = GPT-2 medium; see the data README).
PAPER_COMPACT = {
    "eval_finetune_dist": "BC DistilGPT2",
    "eval_finetune": "BC GPT-2",
    "eval_finetune_medium": "BC GPT-2 medium",
    "eval_filtered_bc_dist": "Filtered BC DistilGPT2",
    "eval_filtered_bc": "Filtered BC GPT-2",
    "eval_filtered_bc_medium": "Filtered BC GPT-2 medium",
    "eval_iql_dist": "ILQL-a DistilGPT2",
    "eval_iql": "ILQL-a GPT-2",
    "eval_iql_medium": "ILQL-a GPT-2 medium",
    "eval_iql_dist_sparse": "ILQL-b DistilGPT2",
    "eval_iql_sparse": "ILQL-b GPT-2",
    "eval_iql_medium_sparse": "ILQL-b GPT-2 medium",
}
PAPER_LLM_STEM = "eval_chat"


class UserFacingError(Exception):
    """An error whose message is meant for the person running the harness (printed on one line)."""


@dataclass
class Problem:
    index: int          # 0-based GSM8K test line
    text: str
    gold: float
    socratic: list[str]
    llm: list[str]      # gpt-3.5-turbo's sub-questions (qg_test_data_raw.jsonl)
    llm_answers: str    # its answers to them (used for the answerer's worked examples)


@dataclass
class System:
    """One decomposer's sub-questions for the selected problems.

    `per_answerer` holds the sub-questions each answerer folder actually saw (they differ for
    Filtered-BC GPT-2 small in the chatgpt folder) and that answerer's correctness per problem.
    """
    key: str
    name: str
    kind: str                                   # "ours" | "paper_compact" | "llm" | "socratic"
    questions: list[list[str]]                  # canonical sub-questions (majority over folders)
    per_answerer: dict[str, list[list[str]]] = field(default_factory=dict)
    correct: dict[str, list[bool]] = field(default_factory=dict)
    errors: int = 0                             # ours: problems where the runtime reported an error


_QPREFIX = re.compile(r"^\s*(?:Q\s*\d+\s*[:.)]\s*)+", re.IGNORECASE)


def parse_q_block(text: str) -> list[str]:
    """`"Q1: ...\\nQ2: ..."` -> sub-questions. Repeated prefixes (`Q1: Q1: ...` in eval_chat) are
    stripped; blank lines dropped."""
    out = []
    for line in text.split("\n"):
        s = _QPREFIX.sub("", line).strip()
        if s:
            out.append(s)
    return out


def parse_socratic(answer: str) -> list[str]:
    """Socratic solution -> its sub-questions (the part before ` ** ` on each step line)."""
    out = []
    for line in answer.split("\n"):
        if line.startswith("####"):
            break
        if " ** " in line:
            q = line.split(" ** ", 1)[0].strip()
            if q:
                out.append(q)
    return out


def parse_gold(answer: str) -> float:
    """GSM8K `#### N`: thousands separators removed, sign kept (the eval files' `answer` field is a
    naive parse that is wrong on 16 problems, e.g. 2,125 -> 2)."""
    tail = answer.rsplit("####", 1)[-1].strip().replace(",", "")
    m = re.search(r"-?\d+(?:\.\d+)?", tail)
    if not m:
        raise ValueError(f"no gold number in {tail!r}")
    return float(m.group())


_FINAL = re.compile(r"final answer\s*:\s*([^\n]*)", re.IGNORECASE)
_NUM = re.compile(r"-?\d+(?:\.\d+)?")


def parse_final_answer(text: str) -> float | None:
    """The number after the FIRST `Final answer:` (the open answerers often keep generating made-up
    follow-up problems with their own `Final answer:` lines; the first one reproduces the paper's
    accuracies, the last one does not: Mistral drops from .44 to .04). Thousands separators and `$`
    are removed; when the answer is written as an equation (`48+96+140=284`) the part after the last
    `=` is used; then the first number. None when there is no number."""
    m = _FINAL.search(text or "")
    if not m:
        return None
    s = m.group(1)
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s).replace("$", "")
    if "=" in s:
        s = s.rsplit("=", 1)[-1]
    n = _NUM.search(s)
    return float(n.group()) if n else None


def is_correct(pred: float | None, gold: float) -> bool:
    return pred is not None and abs(pred - gold) <= 1e-6 * max(1.0, abs(gold))


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise UserFacingError(
            f"missing data file {path} (pass --data DIR pointing at the shared data folder)")
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def data_dir(arg: str | None) -> Path:
    d = Path(arg) if arg else Path(os.environ.get("MATH_TUTOR_DATA", DEFAULT_DATA))
    if not d.is_dir():
        raise UserFacingError(
            f"data folder {d} not found (expected ../shared/data next to the repo; use --data DIR)")
    return d


def split_indices(split: str, limit: int | None = None) -> list[int]:
    if split not in SPLITS:
        raise UserFacingError(f"unknown split {split!r} (use calibration or evaluation)")
    lo, hi = SPLITS[split]
    idx = list(range(lo, hi))
    return idx[:limit] if limit else idx


def _norm_ws(s: str) -> str:
    return re.sub(r"\s+", "", s)


def load_problems(d: Path) -> list[Problem]:
    test = _read_jsonl(d / "gsm8k" / "test.jsonl")
    soc = _read_jsonl(d / "gsm8k" / "test_socratic.jsonl")
    raw = _read_jsonl(d / "gsm8k-ai-subq" / "dataset" / "qg_test_data_raw.jsonl")
    for name, rows in (("test.jsonl", test), ("test_socratic.jsonl", soc), ("qg_test_data_raw.jsonl", raw)):
        if len(rows) != N_TEST:
            raise UserFacingError(f"{name} has {len(rows)} records, expected {N_TEST}")
    out = []
    for i, (t, s, r) in enumerate(zip(test, soc, raw)):
        if s["question"] != t["question"] or r["problem"] != t["question"]:
            raise UserFacingError(f"GSM8K test line {i}: problem text differs between data files")
        out.append(Problem(i, t["question"], parse_gold(t["answer"]), parse_socratic(s["answer"]),
                           parse_q_block(r["questions"][0]), r["answers"][0]))
    return out


def load_eval_file(d: Path, answerer: str, stem: str, problems: list[Problem]) -> list[dict]:
    rows = _read_jsonl(d / "gsm8k-ai-subq" / "eval_responses" / answerer / f"{stem}.jsonl")
    if len(rows) != N_TEST:
        raise UserFacingError(f"{answerer}/{stem}.jsonl has {len(rows)} records, expected {N_TEST}")
    for i, (row, p) in enumerate(zip(rows, problems)):
        # Matched by line index; lines 32/89/159/1215 differ only in white space, so the text
        # check ignores white space (anything else means the files are out of order).
        if row["problem"] != p.text and _norm_ws(row["problem"]) != _norm_ws(p.text):
            raise UserFacingError(f"{answerer}/{stem}.jsonl line {i}: problem text does not match GSM8K")
    return rows


def load_paper_system(d: Path, stem: str, problems: list[Problem], idx: list[int]) -> System:
    name = PAPER_COMPACT.get(stem, "LLM (gpt-3.5-turbo) sub-questions, as answered")
    per, correct = {}, {}
    for a in ANSWERERS:
        rows = load_eval_file(d, a, stem, problems)
        per[a] = [parse_q_block(rows[i]["questions"]) for i in idx]
        correct[a] = [is_correct(parse_final_answer(rows[i]["answers"]), problems[i].gold) for i in idx]
    # Canonical sub-questions: the version most folders agree on, per problem.
    canon = []
    for k in range(len(idx)):
        versions = [per[a][k] for a in ANSWERERS]
        canon.append(max(versions, key=lambda v: (versions.count(v), -versions.index(v))))
    kind = "paper_compact" if stem in PAPER_COMPACT else "paper_llm"
    return System(stem, name, kind, canon, per, correct)


def problem_id(index: int) -> str:
    return f"gsm8k-test-{index}"


def write_problems_file(path: Path, problems: list[Problem], idx: list[int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for i in idx:
            f.write(json.dumps({"id": problem_id(i), "problem": problems[i].text}) + "\n")


def load_ours(path: Path, problems: list[Problem], idx: list[int]) -> System:
    """Our runtime's batch output: one JSON object per line with `id` and `subQuestions` (list of
    strings) or `error`. Ids are `gsm8k-test-<line>` (as written by --write-problems) or the bare
    line number. Every selected problem must be present; an `error` line counts as an empty
    decomposition and is counted in `errors`."""
    if not path.is_file():
        raise UserFacingError(f"--ours file {path} not found")
    by_idx: dict[int, dict] = {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                raise UserFacingError(f"{path} line {n}: not valid JSON") from None
            rid = rec.get("id") if isinstance(rec, dict) else None
            m = re.fullmatch(r"(?:gsm8k-test-)?(\d+)", str(rid)) if rid is not None else None
            if not m:
                raise UserFacingError(f"{path} line {n}: id {rid!r} is not gsm8k-test-<line> or a line number")
            k = int(m.group(1))
            if k >= N_TEST:
                raise UserFacingError(f"{path} line {n}: id {rid!r} is outside the GSM8K test set")
            if "problem" in rec and _norm_ws(str(rec["problem"])) != _norm_ws(problems[k].text):
                raise UserFacingError(f"{path} line {n}: problem text does not match GSM8K test line {k}")
            by_idx[k] = rec
    missing = [i for i in idx if i not in by_idx]
    if missing:
        raise UserFacingError(
            f"{path} lacks {len(missing)} of the {len(idx)} selected problems (first: {problem_id(missing[0])})")
    qs, errors = [], 0
    for i in idx:
        rec = by_idx[i]
        sq = rec.get("subQuestions")
        if isinstance(sq, list) and all(isinstance(q, str) for q in sq) and "error" not in rec:
            qs.append([q.strip() for q in sq if q.strip()])
        else:
            errors += 1
            qs.append([])
    return System("ours", "ours (shipped runtime)", "ours", qs, errors=errors)
