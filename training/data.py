"""Training examples for the decomposer, from ../shared/data (never copied into the repo).

Sources (see models/README.md for licences and the reward definitions):
- GSM8K train_socratic (7,473 problems): the sub-questions are the text before ` ** ` on each
  solution line. Kind "socratic".
- Calibration split = GSM8K test lines 0-318 ONLY (the evaluation split, lines 319-1318, is never
  read into a training example; `calibration_indices` asserts it):
  * test_socratic sub-questions (kind "socratic"),
  * the LLM's sub-questions from gsm8k-ai-subq qg_test_data_raw.jsonl, rewarded with the LLM's own
    final-answer correctness from qg_test_dataset.jsonl (kind "llm"),
  * the paper's compact decomposers' outputs in eval_responses/*/eval_*.jsonl, rewarded with the
    share of the four answerers that got the final answer right (kind "compact"; the LLM's own set
    `eval_chat` is kind "llm_eval").
  Calibration problems are split by line index: 0..CAL_TRAIN_END-1 may be trained on, the rest
  (CAL_TRAIN_END..318) is held out for checkpoint selection and the calibration numbers, unless a
  run trains on it too (train.py --include-heldout, which then has no held-out checks).
- Files given to train.py in the same training format: learners' exported feedback (--feedback,
  kind "feedback") and a teacher's sets from `npm run teacher-data` (--teacher-data, kind
  "teacher"), minus any set whose problem is one a run must not train on (`without_benchmark_problems`).
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .common import data_dir, normalize_question

CAL_END = 319  # test lines 0..318 are the calibration split; 319..1318 the evaluation split
CAL_TRAIN_END = 240  # calibration lines 240..318 (79 problems) are held out for selection
ANSWERERS = ("chatgpt", "llama7b", "llama13b", "mistral")


@dataclass
class Example:
    problem: str
    questions: list[str]
    kind: str  # socratic | llm | llm_eval | compact | feedback | teacher | solution (an auxiliary target)
    reward: float  # in [0, 1]; see reward_* below and the model card
    source: str = ""
    index: int = -1  # line index in its file
    meta: dict = field(default_factory=dict)


def read_jsonl(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("["):  # the dataset's one-line JSON array files
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def socratic_questions(answer: str) -> list[str]:
    return [line.split(" ** ")[0].strip() for line in answer.split("\n") if " ** " in line]


def socratic_steps(answer: str) -> list[str]:
    """The solution steps that answer the socratic sub-questions (text after ` ** `), without GSM8K's
    calculator annotations `<<48/2=24>>`."""
    return [re.sub(r"<<[^>]*>>", "", line.split(" ** ", 1)[1]).strip()
            for line in answer.split("\n") if " ** " in line]


def numbered_questions(text: str) -> list[str]:
    out = []
    for line in text.split("\n"):
        m = re.match(r"^\s*Q\s*\d{1,2}\s*[:.)]\s*(.*)$", line)
        if m and m.group(1).strip():
            out.append(m.group(1).strip())
    return out


def final_answer(text: str) -> float | None:
    m = re.findall(r"Final answer:\s*\$?\s*(-?[\d,]*\.?\d+)", text)
    if not m:
        return None
    try:
        return float(m[-1].replace(",", ""))
    except ValueError:
        return None


def gold(answer: str) -> float:
    return float(answer.split("####")[-1].strip().replace(",", ""))


def has_repeat(questions: list[str]) -> bool:
    keys = [normalize_question(q) for q in questions]
    return len(set(keys)) < len(keys)


def reward_derived(questions: list[str]) -> float:
    """Reward of a socratic set: every socratic set comes from a correct gold solution, so its
    answer correctness is 1; what can still be wrong is its SHAPE for a tutor: a repeated
    sub-question (17.9% of socratic sets) or an unusable count. 1 if none of those, else 0."""
    return 1.0 if (2 <= len(questions) <= 8 and not has_repeat(questions)) else 0.0


def calibration_indices(lo: int = 0, hi: int = CAL_END) -> range:
    assert 0 <= lo <= hi <= CAL_END, "the evaluation split (test lines 319-1318) is never used for training"
    return range(lo, hi)


def load_train(root: Path, limit: int | None = None) -> list[Example]:
    rows = read_jsonl(root / "gsm8k" / "train_socratic.jsonl")
    out = []
    for i, r in enumerate(rows[:limit] if limit else rows):
        qs = socratic_questions(r["answer"])
        if qs:
            out.append(Example(r["question"], qs, "socratic", reward_derived(qs), "train_socratic", i))
    return out


def load_solutions(root: Path, limit: int | None = None) -> list[Example]:
    """GSM8K train's worked solutions as an auxiliary target (train.py --solutions): not sub-questions,
    but the quantities each sub-question asks for, computed step by step."""
    rows = read_jsonl(root / "gsm8k" / "train_socratic.jsonl")
    return [Example(r["question"], steps, "solution", 1.0, "train_socratic", i)
            for i, r in enumerate(rows[:limit] if limit else rows) if (steps := socratic_steps(r["answer"]))]


def load_calibration(root: Path, lo: int = 0, hi: int = CAL_TRAIN_END, compact: bool = True) -> list[Example]:
    idx = calibration_indices(lo, hi)
    soc = read_jsonl(root / "gsm8k" / "test_socratic.jsonl")
    raw = read_jsonl(root / "gsm8k-ai-subq" / "dataset" / "qg_test_data_raw.jsonl")
    ds = read_jsonl(root / "gsm8k-ai-subq" / "dataset" / "qg_test_dataset.jsonl")
    out: list[Example] = []
    for i in idx:
        problem = soc[i]["question"]
        qs = socratic_questions(soc[i]["answer"])
        if qs:
            out.append(Example(problem, qs, "socratic", reward_derived(qs), "test_socratic", i))
        qs = numbered_questions(raw[i]["questions"][0])
        if qs:
            r = float(ds[i]["rewards"]["answer_correctness"])
            out.append(Example(problem, qs, "llm", r, "qg_test_data_raw", i))
    if compact:
        out.extend(load_compact(root, idx, [soc[i]["question"] for i in range(CAL_END)], soc))
    return out


def load_compact(root: Path, idx: range, problems: list[str], soc: list[dict]) -> list[Example]:
    """Every distinct decomposition in eval_responses for the given problems, rewarded with the share
    of answerers (of those that were shown exactly this set) whose final answer equals the gold."""
    base = root / "gsm8k-ai-subq" / "eval_responses"
    files = sorted(p.name for p in (base / "chatgpt").glob("eval_*.jsonl"))
    out = []
    for name in files:
        per_answerer = {a: read_jsonl(base / a / name) for a in ANSWERERS if (base / a / name).exists()}
        for i in idx:
            groups: dict[str, list[float]] = {}
            texts: dict[str, list[str]] = {}
            for a, rows in per_answerer.items():
                r = rows[i]
                qs = numbered_questions(r["questions"] if isinstance(r["questions"], str) else r["questions"][0])
                if not qs:
                    continue
                key = "\n".join(normalize_question(q) for q in qs)
                ans = r["answers"] if isinstance(r["answers"], str) else r["answers"][0]
                fa = final_answer(ans)
                correct = 1.0 if fa is not None and abs(fa - float(r["answer"])) < 1e-6 else 0.0
                groups.setdefault(key, []).append(correct)
                texts[key] = qs
            for key, labels in groups.items():
                kind = "llm_eval" if name == "eval_chat.jsonl" else "compact"
                out.append(Example(problems[i], texts[key], kind, sum(labels) / len(labels), name, i,
                                   {"answerers": len(labels)}))
    return out


def load_records(path: Path, kind: str) -> list[Example]:
    """Sets in the GSM8K-AI-SubQ training format, as `feedback export` and `npm run teacher-data`
    write them: `question`, `answers` (the sub-questions), `rewards.answer_correctness` 0/1,
    `rewards.usefulness` (per sub-question).
    kind "feedback": learners' thumbs; a thumbs up has answer_correctness 1, and usefulness (the
    share of its sub-questions rated useful) refines it.
    kind "teacher": a teacher's sets, rewarded like the LLM's own sets of the calibration split, by
    whether the teacher reached the gold answer with them (Filtered BC keeps those).
    A line that is not JSON (say, the last one of an interrupted run) is skipped with a warning."""
    path = Path(path)
    if not path.exists():
        raise SystemExit(f"{kind} file not found: {path}")
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("["):  # `feedback export` writes one JSON array
        try:
            rows = list(enumerate(json.loads(text), 1))
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}: not a JSON array of training records ({exc})") from exc
    else:
        rows, corrupt = [], []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError:
                    corrupt.append(n)
        if corrupt:
            print(f"warning: {path}: skipped {len(corrupt)} line(s) that are not JSON (line {corrupt[0]}"
                  f"{' and more' if len(corrupt) > 1 else ''})", file=sys.stderr)
    out = []
    for n, r in rows:
        try:
            qs = [str(q) for q in r["answers"] if str(q).strip()]
            correct = float(r["rewards"]["answer_correctness"])
            use = [float(u) for u in r["rewards"].get("usefulness", []) or []]
            problem = str(r["question"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SystemExit(f"{path}: record {n} is not in the training format ({exc!r})") from exc
        if not qs or not problem.strip():
            continue
        if kind == "feedback":
            # usefulness refines a thumbs-up; a thumbs-down stays 0
            reward = correct * (sum(use) / len(use) if use else 1.0)
            out.append(Example(problem, qs, kind, reward, str(path), n - 1, {"thumb_up": correct >= 1}))
        else:
            out.append(Example(problem, qs, kind, correct, str(path), n - 1))
    if not out:
        raise SystemExit(f"{path}: no usable {kind} records")
    return out


def load_feedback(path: Path) -> list[Example]:
    return load_records(path, "feedback")


def load_teacher_data(path: Path) -> list[Example]:
    return load_records(path, "teacher")


def without_benchmark_problems(examples: list[Example], root: Path,
                               include_heldout: bool = False) -> tuple[list[Example], int]:
    """Drops sets whose problem is a GSM8K test problem a run must not train on: the evaluation split
    always, the held-out calibration problems unless include_heldout. Learners may paste benchmark
    problems and a teacher run may be fed them; training on them would make the reported scores
    meaningless. Returns the kept sets and how many were dropped."""
    test = read_jsonl(Path(root) / "gsm8k" / "test.jsonl")
    banned = {normalize_question(r["question"]) for r in test[CAL_END if include_heldout else CAL_TRAIN_END:]}
    kept = [e for e in examples if normalize_question(e.problem) not in banned]
    return kept, len(examples) - len(kept)


def heldout_calibration(root: Path) -> list[dict]:
    """Problems CAL_TRAIN_END..318 with both references, for selection and calibration numbers."""
    idx = calibration_indices(CAL_TRAIN_END, CAL_END)
    soc = read_jsonl(root / "gsm8k" / "test_socratic.jsonl")
    raw = read_jsonl(root / "gsm8k-ai-subq" / "dataset" / "qg_test_data_raw.jsonl")
    return [{"index": i, "problem": soc[i]["question"], "socratic": socratic_questions(soc[i]["answer"]),
             "llm": numbered_questions(raw[i]["questions"][0])} for i in idx]


def build_dataset(root=None, tiny: bool = False, compact: bool = True, include_heldout: bool = False) -> list[Example]:
    """GSM8K train + the calibration problems before CAL_TRAIN_END; include_heldout: all of the
    calibration split, the held-out problems too (train.py --include-heldout)."""
    root = data_dir(root)
    if tiny:  # the held-out part of a tiny run is heldout_calibration()[:4]
        held = load_calibration(root, CAL_TRAIN_END, CAL_TRAIN_END + 4, compact=compact) if include_heldout else []
        return load_train(root, limit=200) + load_calibration(root, 0, 20, compact=compact) + held
    return load_train(root) + load_calibration(root, 0, CAL_END if include_heldout else CAL_TRAIN_END, compact=compact)


if __name__ == "__main__":
    import collections
    ex = build_dataset()
    c = collections.Counter((e.kind, e.reward >= 0.5) for e in ex)
    print(len(ex), sorted(c.items()))
    print(len(heldout_calibration(data_dir())))


def output_vocab(examples: list[Example]) -> list[int]:
    """Token ids the generator head may emit: every token of every training sub-question plus the
    special tokens. Anything else (a rare name, a long number piece) comes through the copy head."""
    from .common import EOS, SEP, tokenizer
    tok = tokenizer()
    ids = {EOS, SEP}
    for e in examples:
        for enc in tok.encode_batch(e.questions, add_special_tokens=False):
            ids.update(enc.ids)
    return sorted(ids)
