"""Metric functions on small hand-made cases with known answers."""
import numpy as np
import pytest

from training.evaluate import data as D
from training.evaluate import metrics as M


def test_tokens_and_jaccard():
    assert M.tokens("How many eggs? Janet's 16 eggs!") == {"how", "many", "eggs", "janet", "s", "16"}
    assert M.jaccard("a b c", "a b d") == pytest.approx(2 / 4)
    assert M.jaccard("", "") == 1.0
    assert M.jaccard("x", "") == 0.0


def test_greedy_match_is_one_to_one_and_in_generation_order():
    # gen0 likes ref0 best; gen1 ALSO likes ref0 best but it is taken, so it falls back to ref1.
    sim = np.array([[0.9, 0.6], [0.95, 0.7]])
    assert M.greedy_match(sim, 0.5) == [(0, 0), (1, 1)]
    # below threshold: no match for gen1
    assert M.greedy_match(sim, 0.8) == [(0, 0)]
    # two generated copies of one question can match only one reference
    dup = np.array([[1.0], [1.0]])
    assert M.greedy_match(dup, 0.5) == [(0, 0)]
    # ties go to the earlier reference; threshold is inclusive
    assert M.greedy_match(np.array([[0.5, 0.5]]), 0.5) == [(0, 0)]


def test_prf_known_values():
    gens = [["How many eggs does Janet sell?", "How much does she make?", "What is the weather?"]]
    refs = [["How many eggs does Janet sell?", "How much does Janet make at the market?"]]
    # gen0 = ref0 (J=1). gen1 vs ref1: {how, much, does, she, make} vs {how, much, does, janet, make,
    # at, the, market}: 4/9 < 0.5 -> no match. gen2 matches nothing. P=1/3, R=1/2, F1=0.4
    r = M.lexical_prf(gens, refs)
    assert r["precision"] == pytest.approx(1 / 3)
    assert r["recall"] == pytest.approx(1 / 2)
    assert r["f1"] == pytest.approx(0.4)
    # Macro average over problems; an empty side scores 0.
    r2 = M.lexical_prf(gens + [[]], refs + [["anything?"]])
    assert r2["f1"] == pytest.approx(0.2)
    assert M.lexical_prf([["a b"]], [["a b"]])["f1"] == 1.0


def test_dup_rate_uses_normalised_text():
    gens = [["How many apples?", "how many  APPLES"], ["How many apples?", "How many pears?"], []]
    assert M.has_duplicate(gens[0]) and not M.has_duplicate(gens[1])
    assert M.dup_rate(gens) == pytest.approx(1 / 3)


def test_counts():
    out = M.count_stats([["a", "b"], ["a"]], {"socratic": [["x"], ["x", "y", "z"]]})
    assert out["mean_count"] == 1.5
    assert out["count_absdiff_socratic"] == pytest.approx((1 + 2) / 2)


def test_numbers_and_ungrounded_definition():
    problem = "Tom has three boxes with 1,200 pens each. He gives away 25% of them. How many are left?"
    assert sorted(M.numbers_in(problem, words=True)) == [3, 25, 1200]
    assert M.numbers_in("It costs $.5 or 2.25", words=False) == [0.5, 2.25]
    # stated (1,200 / 1200), a constant (100), one operation (3*1200=3600, 25/100=0.25): grounded
    assert M.ungrounded_numbers(problem, ["How many pens are in 3 boxes of 1200?",
                                          "What is 3600 times 0.25?", "What is 25/100?"]) == []
    # 900 = 3600 * 0.25 needs two operations (and constants are not combined with each other:
    # 1000 - 100 does not count); 17 appears nowhere: both ungrounded
    assert M.ungrounded_numbers(problem, ["Are 900 pens given away?", "Does he keep 17?"]) == [900, 17]
    # number WORDS in sub-questions are not checked
    assert M.ungrounded_numbers(problem, ["Which one has seventeen pens?"]) == []
    assert M.ungrounded_rate([problem, problem], [["What is 17?"], ["How many pens?"]]) == 0.5


def test_final_alignment():
    p = "Janet has 3 cats. Each eats 2 cans. How many cans do the cats eat in total?"
    assert M.problem_question(p) == "How many cans do the cats eat in total?"
    assert M.problem_question("Find the total. It is 3 plus 4.") == "It is 3 plus 4."
    assert M.final_aligned(p, ["How many cats?", "How many cans do the cats eat?"])      # J = 6/8
    assert not M.final_aligned(p, ["How many cans do the cats eat?", "What colour are they?"])  # last one counts
    assert not M.final_aligned(p, [])
    assert M.final_align_rate([p, p], [["How many cans do the cats eat in total?"], ["What?"]]) == 0.5


def test_bleu_and_spearman():
    assert M.corpus_bleu([["How many eggs does Janet sell per day?"]], [["How many eggs does Janet sell per day?"]]) \
        == pytest.approx(100.0)
    assert M.corpus_bleu([["completely different words here now"]], [["How many eggs does Janet sell per day?"]]) < 5
    assert M.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert M.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert M.spearman([1, 1, 1], [1, 2, 3]) is None


def test_parsers():
    assert D.parse_q_block("Q1: Q1: How many?\n\nQ2: And then?\n") == ["How many?", "And then?"]
    assert D.parse_socratic("How many? ** 1+1=2.\nHow much? ** ok\n#### 2") == ["How many?", "How much?"]
    assert D.parse_gold("blah\n#### 1,450,000") == 1450000
    assert D.parse_gold("#### -10") == -10
    assert D.parse_final_answer("A1: x\n\nFinal answer: $1,200.") == 1200
    assert D.parse_final_answer("Final answer: 48+96+140=284") == 284
    assert D.parse_final_answer("Final answer: Not enough information") is None
    assert D.parse_final_answer("no marker 5") is None
    # the FIRST final answer counts (answerers go on to invent follow-up problems)
    assert D.parse_final_answer("Final answer: 66\n\nProblem: ...\nFinal answer: 3") == 66
    assert D.is_correct(18.0, 18) and not D.is_correct(None, 18)
