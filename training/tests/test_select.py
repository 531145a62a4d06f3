"""Which decompositions each method trains on (training/train.py::select)."""
from training.data import Example
from training.train import select


def ex(kind, reward, questions=("How many apples?", "How many pears?"), problem="p"):
    return Example(problem, list(questions), kind, reward)


def test_fbc_keeps_compact_sets_from_the_reward_threshold_and_never_a_repeat():
    examples = [ex("compact", 1.0, problem="a"), ex("compact", 0.5, problem="b"), ex("compact", 0.0, problem="c"),
                ex("compact", 1.0, ("How many?", "How many?"), problem="d"), ex("socratic", 0.0, problem="e")]
    default = {e.problem for e, _ in select(examples, "fbc", 3.0)}
    assert default == {"a"}
    everything = {e.problem for e, _ in select(examples, "fbc", 3.0, compact_reward=0.0)}
    assert everything == {"a", "b", "c"}  # the repeat and the zero-reward socratic set stay out


def test_llm_style_sets_carry_the_llm_weight():
    pairs = select([ex("llm", 1.0, problem="a"), ex("socratic", 1.0, problem="b")], "fbc", 3.0)
    assert {e.kind: w for e, w in pairs} == {"llm": 3.0, "socratic": 1.0}


def test_a_problems_teacher_sets_share_one_sets_weight_and_fbc_keeps_the_correct_ones():
    examples = [ex("teacher", 1.0, ("How many apples?",), problem="a"), ex("teacher", 1.0, ("How many pears?",), problem="a"),
                ex("teacher", 0.0, ("How many plums?",), problem="a"), ex("teacher", 1.0, problem="b"),
                ex("socratic", 1.0, problem="a")]
    fbc = [(e.problem, e.kind, w) for e, w in select(examples, "fbc", 3.0)]
    assert sorted(fbc) == [("a", "socratic", 1.0), ("a", "teacher", 0.5), ("a", "teacher", 0.5), ("b", "teacher", 1.0)]
    bc = [w for e, w in select(examples, "bc", 3.0) if e.problem == "a" and e.kind == "teacher"]
    assert bc == [1 / 3] * 3  # BC keeps the wrong one too


def test_a_weight_of_zero_leaves_the_llm_sets_out():
    examples = [ex("llm", 1.0, problem="a"), ex("llm_eval", 1.0, problem="b"), ex("socratic", 1.0, problem="c")]
    assert [e.kind for e, _ in select(examples, "fbc", 0.0)] == ["socratic"]
    assert [e.kind for e, _ in select(examples, "awbc", 0.0)] == ["socratic"]
