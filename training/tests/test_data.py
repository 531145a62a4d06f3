import json

import pytest

from training import data as D
from training.common import data_dir, encode_source, EOS

ROOT = data_dir()


def test_evaluation_split_is_refused():
    with pytest.raises(AssertionError):
        D.calibration_indices(300, 320)


def test_socratic_questions_are_stripped():
    ex = D.load_train(ROOT, limit=3)
    assert ex[0].questions[0] == "How many clips did Natalia sell in May?"
    assert all(" ** " not in q for e in ex for q in e.questions)


def test_calibration_material_stays_in_calibration_lines():
    ex = D.load_calibration(ROOT, 0, 10)
    assert ex and all(0 <= e.index < 10 for e in ex)
    kinds = {e.kind for e in ex}
    assert {"socratic", "llm", "compact", "llm_eval"} <= kinds
    assert all(0.0 <= e.reward <= 1.0 for e in ex)
    held = D.heldout_calibration(ROOT)
    assert [h["index"] for h in held] == list(range(D.CAL_TRAIN_END, D.CAL_END))


def test_held_out_problems_are_trained_on_only_when_asked():
    def cal(ex):
        return {e.index for e in ex if e.source != "train_socratic"}
    default = cal(D.build_dataset(ROOT))
    everything = cal(D.build_dataset(ROOT, include_heldout=True))
    assert max(default) == D.CAL_TRAIN_END - 1
    assert everything == set(range(D.CAL_END))  # never an evaluation-split line


def test_feedback_records(tmp_path):
    f = tmp_path / "fb.jsonl"
    recs = [{"question": "Tom has 3 apples and buys 2. How many now?", "answers": ["How many apples?"],
             "rewards": {"usefulness": [1.0], "answer_correctness": 1}},
            {"question": "x", "answers": ["Why?"], "rewards": {"usefulness": [], "answer_correctness": 0}}]
    f.write_text("\n".join(json.dumps(r) for r in recs))
    ex = D.load_feedback(f)
    assert [e.reward for e in ex] == [1.0, 0.0]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q"}))
    with pytest.raises(SystemExit, match="record 1 is not in the training format"):
        D.load_feedback(bad)
    torn = tmp_path / "torn.json"  # `feedback export` writes one array; a cut-off copy is not JSON
    torn.write_text(json.dumps(recs)[:-10])
    with pytest.raises(SystemExit, match="not a JSON array of training records"):
        D.load_feedback(torn)


def test_teacher_records_are_rewarded_by_answer_correctness_and_a_torn_line_is_skipped(tmp_path, capsys):
    f = tmp_path / "teacher.jsonl"
    recs = [{"question": "Ann has 3 pens and 4 more. How many pens?", "answers": ["How many pens at first?", "How many in all?"],
             "rewards": {"answer_correctness": 1, "usefulness": [1.0, 0.0]}, "meta": {"source": "teacher"}},
            {"question": "Bo reads 5 pages a day. How many in 3 days?", "answers": ["How many pages?"],
             "rewards": {"answer_correctness": 0, "usefulness": [1.0]}, "meta": {"source": "teacher"}}]
    f.write_text("\n".join(json.dumps(r) for r in recs) + '\n{"question": "Cy has')  # an interrupted run's last line
    ex = D.load_teacher_data(f)
    assert [(e.kind, e.reward) for e in ex] == [("teacher", 1.0), ("teacher", 0.0)]  # usefulness does not lower it
    assert "skipped 1 line(s) that are not JSON (line 3)" in capsys.readouterr().err


def test_sets_for_benchmark_problems_are_dropped():
    test = D.read_jsonl(ROOT / "gsm8k" / "test.jsonl")
    train = D.read_jsonl(ROOT / "gsm8k" / "train.jsonl")

    def teacher(problem):
        return D.Example(problem, ["How many?"], "teacher", 1.0)
    evaluation = teacher("  " + test[700]["question"].upper().replace(" ", "\n  "))  # pasted: other case and spacing
    examples = [teacher(train[0]["question"]), teacher(test[10]["question"]), teacher(test[250]["question"]), evaluation]
    kept, dropped = D.without_benchmark_problems(examples, ROOT)
    assert (kept, dropped) == (examples[:2], 2)  # the evaluation and held-out problems go
    kept, dropped = D.without_benchmark_problems(examples, ROOT, include_heldout=True)
    assert (kept, dropped) == (examples[:3], 1)  # the evaluation problem always goes


def test_source_keeps_the_end():
    long = "word " * 400 + "How many apples?"
    ids = encode_source(long, 64)
    assert len(ids) == 64 and ids[-1] == EOS
