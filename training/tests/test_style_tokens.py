"""Style tokens: each reference style gets its own decoder start id in training, and the id the model
generates with travels through decoding and the exported manifest."""
import numpy as np
import pytest
import torch

from training.common import BOS, EOS, SOCRATIC_BOS, encode_source, encode_target
from training.decode import OnnxStepper, TorchStepper, decode, decode_text
from training.export import REFERENCE_PROBLEMS, export
from training.model import Config, build
from training.train import collate, start_id

KINDS = ("socratic", "llm", "llm_eval", "compact", "feedback")


def test_without_style_tokens_every_target_starts_from_bos():
    cfg = Config(out_vocab=[0])
    assert {start_id(cfg, k) for k in KINDS} == {BOS}


@pytest.mark.parametrize("generate", [BOS, SOCRATIC_BOS])
def test_socratic_and_llm_styles_start_apart(generate):
    cfg = Config(out_vocab=[0], style_tokens=True, bos=generate)
    assert start_id(cfg, "socratic") == SOCRATIC_BOS
    assert {start_id(cfg, k) for k in ("llm", "llm_eval", "compact")} == {BOS}
    assert start_id(cfg, "feedback") == generate  # the model's own outputs, in the style it generates


def test_collate_feeds_each_target_its_start_id():
    items = [(encode_source(p), encode_target(["How many?", "How much?"]), 1.0, p, sid, good)
             for p, sid, good in (("Tom has 3 apples.", SOCRATIC_BOS, True), ("Ann has 2 pens.", BOS, False))]
    cache = {it[3]: torch.zeros(len(it[0]), 384) for it in items}
    _, _, _, dec_in, targets, _, _, good = collate([0, 1], items, cache)
    assert dec_in[:, 0].tolist() == [SOCRATIC_BOS, BOS]
    assert good.tolist() == [True, False]  # KTO's labels travel with their targets
    assert dec_in[0, 1:len(items[0][1])].tolist() == items[0][1][:-1]  # then the target, shifted


class FirstToken:
    """A stepper that records the first input of each row and then ends every hypothesis."""

    def start(self, src, rows):
        self.first = None

    def step(self, tokens, parents):
        if self.first is None:
            self.first = list(tokens)
        out = np.full((len(tokens), 30522), -30.0, dtype=np.float32)
        out[:, EOS] = -0.1
        return out


@pytest.mark.parametrize("beams", [1, 3])
def test_decoding_starts_from_the_given_id(beams):
    st = FirstToken()
    decode(st, [10, 2], beams=beams, max_new_tokens=4, bos=SOCRATIC_BOS)
    assert set(st.first) == {SOCRATIC_BOS}


def test_export_carries_the_generation_style_and_onnx_follows_it(tmp_path):
    torch.manual_seed(0)
    model = build(Config(n_layers=1, out_vocab=list(range(3000)), style_tokens=True, bos=SOCRATIC_BOS), seed=5).eval()
    man = export(model, tmp_path, int8=False, reference=False, decoding={"maxNewTokens": 12})
    assert man["specialTokens"]["bos"] == SOCRATIC_BOS
    onnx, pt = OnnxStepper(tmp_path), TorchStepper(model)
    differs = 0
    for p in REFERENCE_PROBLEMS:
        styled = decode_text(pt, p, man, 1)["ids"]  # the manifest's bos (and "?" rule)
        assert decode_text(onnx, p, man, 1)["ids"] == styled
        differs += styled != decode_text(pt, p, {**man, "specialTokens": {**man["specialTokens"], "bos": BOS}}, 1)["ids"]
    assert differs  # the start id is a real input: from bos the same weights say something else
