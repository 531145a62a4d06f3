"""The quick lexical matcher used for selection on the held-out calibration problems."""
from training.metrics import match_f1, matched, score

REF = ["How many apples does Tom have?", "How much money does Ann earn each week?", "How many fruits in all?"]


def test_matching_is_one_to_one():
    # two predictions like the same reference question count once
    assert matched(["how many apples does tom have?", "how many apples does tom have now?"], REF) == 1
    assert matched(["What is the weather?"], REF) == 0


def test_precision_and_recall_show_too_few_steps():
    preds = [["how many apples does tom have?", "how many fruits in all?"]]
    res = score(preds, [{"socratic": REF, "llm": REF[:2]}])
    assert (res["precision_socratic"], res["recall_socratic"]) == (1.0, round(2 / 3, 4))
    assert (res["precision_llm"], res["recall_llm"]) == (0.5, 0.5)
    assert res["f1_socratic"] == round(match_f1(preds[0], REF), 4) == 0.8
    assert res["mean_count"] == 2


def test_paper_rows_score_the_twelve_compact_decomposers_on_the_held_out_problems():
    from training.calibrate import paper_rows
    rows = list(paper_rows(limit=5))
    assert len(rows) == 12 and len({r["paper"] for r in rows}) == 12
    assert all(r["n"] == 5 and 0.0 <= r["f1_mean"] <= 1.0 for r in rows)
