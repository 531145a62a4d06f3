"""Training options: the auxiliary target of --solutions (GSM8K's worked solutions, from their own
start id, with the tokens the model cannot emit left out of the loss, weighted by --solutions-weight)
and --check-beams."""
import random

import pytest
import torch

from training import data as D
from training.common import BOS, EOS, QUESTION_END, SEP, SOCRATIC_BOS, SOLUTION_BOS, data_dir
from training.model import Config, build
from training.train import loss_weights, main, make_batches, start_id


def test_worked_solutions_drop_the_calculator_annotations():
    first = D.load_solutions(data_dir(), limit=1)[0]
    assert first.kind == "solution"
    assert first.questions == ["Natalia sold 48/2 = 24 clips in May.",
                               "Natalia sold 48+24 = 72 clips altogether in April and May."]


@pytest.mark.parametrize("style_tokens", [False, True])
def test_solutions_start_from_their_own_id(style_tokens):
    cfg = Config(out_vocab=[0], style_tokens=style_tokens)
    assert start_id(cfg, "solution") == SOLUTION_BOS
    assert SOLUTION_BOS not in {BOS, SOCRATIC_BOS, start_id(cfg, "socratic"), start_id(cfg, "llm")}


@pytest.mark.parametrize("solutions_weight", [1.0, 0.5, 2.0])
def test_solutions_weigh_their_weight_on_the_scale_of_a_socratic_set(solutions_weight):
    socratic, llm = 1.0, 3.0  # select's raw weights (llm_weight 3)
    weights = loss_weights([socratic, llm, socratic, socratic], 2, solutions_weight)
    assert sum(weights[:4]) / 4 == pytest.approx(1.0)
    assert weights[4:] == [pytest.approx(solutions_weight * weights[0])] * 2
    assert weights[1] == pytest.approx(3 * weights[0])


@pytest.mark.parametrize("solutions_weight", ["0", "-1"])
def test_a_solutions_weight_that_is_not_positive_is_refused(solutions_weight):
    with pytest.raises(SystemExit, match="--solutions-weight must be above 0"):
        main(["--solutions-weight", solutions_weight])


def test_only_tokens_from_the_generator_or_the_source_are_producible():
    model = build(Config(n_layers=1, out_vocab=[EOS, SEP, 1000, 1001]), with_encoder=False)
    targets = torch.tensor([[1000, 5000, 7000, EOS]])
    src_ids = torch.tensor([[7000, EOS]])
    assert model.decoder.producible(src_ids, targets).tolist() == [[True, False, True, True]]


def test_batches_hold_exactly_the_items_in_use():
    items = [([1, EOS], [10] * (1 + i % 5) + [EOS], 1.0, f"p{i}", BOS) for i in range(40)]
    use = list(range(0, 40, 3))
    batches = make_batches(items, 64, random.Random(0), use)
    assert sorted(i for b in batches for i in b) == use


@pytest.mark.parametrize("beams, rule", [(1, None), (4, QUESTION_END)])
def test_beam_checks_decode_with_the_runtime_rules_and_greedy_checks_without_the_question_end_rule(monkeypatch, beams, rule):
    import training.decode as decode_module
    from training.train import evaluate
    seen = []

    def fake_decode(stepper, src, **kw):
        seen.append((kw["beams"], kw["question_end"]))
        return {"questions": ["How many apples?"]}

    monkeypatch.setattr(decode_module, "decode", fake_decode)
    model = build(Config(n_layers=1, out_vocab=[EOS, SEP, 1000]), with_encoder=False)
    items = [{"problem": "Tom has 3 apples.", "socratic": ["How many apples?"], "llm": ["How many apples?"]}]
    assert evaluate(model, items, beams=beams)["f1_mean"] == 1.0
    assert seen == [(beams, rule)]
