"""The decoding rules of docs/ARCHITECTURE.md on a scripted fake decoder (no model needed)."""
import numpy as np
import pytest

from training.common import BOS, EOS, QUESTION_END, SEP, tokenizer
from training.decode import decode, split_questions

V = 40
tok = tokenizer()
# real word-piece ids so normalised segment text is meaningful
HOW, MANY, APPLES, Q = (tok.token_to_id(w) for w in ("how", "many", "apples", "?"))


class Scripted:
    """logprobs = a table chosen by the row's token history (a function of the generated prefix)."""

    def __init__(self, fn, vocab=30522):
        self.fn, self.vocab = fn, vocab

    def start(self, src, rows):
        self.hist = [[] for _ in range(rows)]

    def step(self, tokens, parents):
        self.hist = [self.hist[p] + [t] for p, t in zip(parents, tokens)]
        out = np.full((len(tokens), self.vocab), -30.0, dtype=np.float32)
        for r, h in enumerate(self.hist):
            for tid, lp in self.fn(h[1:]).items():  # history without bos
                out[r, tid] = lp
        return out


def loop_fn(seq):
    """Always prefers to say 'how many apples ?' and then sep, forever."""
    cycle = [HOW, MANY, APPLES, Q, SEP]
    nxt = cycle[len(seq) % len(cycle)]
    return {nxt: -0.1, EOS: -3.0, 7: -2.5}


def test_greedy_tie_breaks_to_lower_token_id():
    st = Scripted(lambda s: {5: -0.5, 4: -0.5, EOS: -0.6} if not s else {EOS: -0.1})
    out = decode(st, [10, EOS], beams=1, max_new_tokens=5)
    assert out["ids"] == [4, EOS]


def test_repeated_sub_question_is_never_closed():
    st = Scripted(loop_fn)
    out = decode(st, [10, EOS], beams=1, max_new_tokens=40, max_questions=8)
    qs = split_questions(out["ids"])
    keys = [" ".join(q.split()) for q in qs]
    assert len(keys) == len(set(keys)), qs
    assert len(out["ids"]) <= 40


def test_no_repeat_ngram_blocks_second_occurrence():
    st = Scripted(loop_fn)
    out = decode(st, [10, EOS], beams=1, max_new_tokens=30, no_repeat_ngram=3)
    ids = out["ids"]
    grams = [tuple(ids[i:i + 3]) for i in range(len(ids) - 2)]
    assert len(grams) == len(set(grams))


def test_max_questions_forces_eos():
    # each question is a fresh token so the repeat rule never fires; sep right after it
    def fn(seq):
        return {SEP: -0.1} if seq and seq[-1] != SEP else {100 + len(seq): -0.1}
    for beams in (1, 3):
        out = decode(Scripted(fn), [10, EOS], beams=beams, max_questions=3, max_new_tokens=50)
        assert out["ids"][-1] == EOS
        assert out["ids"].count(SEP) == 3
        assert len(split_questions(out["ids"])) == 4  # the 4th is the empty segment cleaning drops


def test_question_end_is_the_tokenizers_question_mark():
    assert Q == QUESTION_END


def glue_fn(seq):
    """Prefers to glue a name onto a finished question: 'how many apples ? 7 ...' over sep."""
    if seq and seq[-1] == Q:
        return {7: -0.1, SEP: -1.0, EOS: -2.0}
    return {[HOW, MANY, APPLES, Q][len(seq) % 4] if Q not in seq[-4:] else EOS: -0.1}


@pytest.mark.parametrize("beams", [1, 2])
def test_a_sub_question_ends_at_its_question_mark(beams):
    glued = decode(Scripted(glue_fn), [10, EOS], beams=beams, max_new_tokens=12)["ids"]
    assert glued[:5] == [HOW, MANY, APPLES, Q, 7]  # without the rule the name is glued on
    ended = decode(Scripted(glue_fn), [10, EOS], beams=beams, max_new_tokens=12, question_end=Q)["ids"]
    assert ended[:5] == [HOW, MANY, APPLES, Q, SEP]


def test_a_repeat_reaching_its_question_mark_is_a_dead_end():
    # without the rule greedy glues '7' onto the repeated 'how many apples ?' (it may not close)
    glued = decode(Scripted(loop_fn), [10, EOS], beams=1, max_new_tokens=40)["ids"]
    assert glued[5:10] == [HOW, MANY, APPLES, Q, 7]
    # with it that hypothesis ends there; nothing else finished, so it is the result, open segment dropped
    out = decode(Scripted(loop_fn), [10, EOS], beams=1, max_new_tokens=40, question_end=Q)
    assert out["ids"] == [HOW, MANY, APPLES, Q, SEP, HOW, MANY, APPLES, Q]
    assert split_questions(out["ids"]) == ["how many apples?"]
    # with beams, the other hypotheses go on and none has a word after its "?"
    ids = decode(Scripted(loop_fn), [10, EOS], beams=3, max_new_tokens=40, question_end=Q)["ids"]
    assert all(ids[i + 1] in (SEP, EOS) for i, t in enumerate(ids[:-1]) if t == Q), ids


def test_max_new_tokens_drops_the_open_segment():
    def fn(seq):
        return {SEP: -0.1} if len(seq) == 2 else {200 + len(seq): -0.1}
    out = decode(Scripted(fn), [10, EOS], beams=1, max_new_tokens=6)
    assert len(out["ids"]) == 6 and EOS not in out["ids"]
    assert len(split_questions(out["ids"])) == 1


def test_beam_finds_better_sequence_than_greedy():
    # greedy takes 5 (-0.4) then is stuck with a bad eos (-3); beam finds 6 (-0.9) then eos (-0.1)
    def fn(seq):
        if not seq:
            return {5: -0.4, 6: -0.9}
        if seq == [5]:
            return {EOS: -3.0}
        if seq == [6]:
            return {EOS: -0.1}
        return {EOS: -0.1}
    assert decode(Scripted(fn), [10, EOS], beams=1)["ids"] == [5, EOS]
    assert decode(Scripted(fn), [10, EOS], beams=2)["ids"] == [6, EOS]


def test_length_normalised_ranking():
    # short: [EOS] score -1.0 (rank -1.0); long: [7, 8, EOS] score -1.5 (rank -0.5) wins.
    # Other histories are flat (-30 everywhere), so filler rows never finish early.
    def fn(seq):
        if not seq:
            return {EOS: -1.0, 7: -0.5}
        if seq == [7]:
            return {8: -0.5}
        if seq == [7, 8]:
            return {EOS: -0.5}
        return {}
    assert decode(Scripted(fn), [10, EOS], beams=2, max_new_tokens=10)["ids"] == [7, 8, EOS]


def test_search_stops_once_beams_hypotheses_finished():
    # the documented early stop: with 2 beams, the step-1 eos and the filler's eos fill the finished
    # list at step 2, before the longer, better hypothesis can finish
    def fn(seq):
        if not seq:
            return {EOS: -1.0, 7: -0.5}
        if seq == [7]:
            return {8: -0.5}
        return {EOS: -0.1}
    assert decode(Scripted(fn), [10, EOS], beams=2, max_new_tokens=10)["ids"] == [EOS]


@pytest.mark.parametrize("beams", [1, 2, 4])
def test_bounded_on_flat_distribution(beams):
    out = decode(Scripted(lambda s: {}), [10, EOS], beams=beams, max_new_tokens=12, no_repeat_ngram=2)
    assert len(out["ids"]) <= 12


def test_end_with_problem_question_is_the_runtimes_twin():
    """The same cases src/core/subQuestions.ts is tested against (test/cases/)."""
    import json
    from pathlib import Path
    from training.decode import end_with_problem_question
    cases = json.loads((Path(__file__).resolve().parents[2] / "test" / "cases" / "problem-question-cases.json")
                       .read_text(encoding="utf-8"))["cases"]
    assert len(cases) >= 5
    for c in cases:
        assert end_with_problem_question(c["questions"], c["problem"], c["maxQuestions"]) == c["expected"], c["problem"]
