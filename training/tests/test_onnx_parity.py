"""ONNX (fp32) equals PyTorch token for token; the training loss path equals the exported path."""
import json

import numpy as np
import pytest
import torch

from training.common import SEP, EOS, encode_source, encode_target
from training.decode import OnnxStepper, TorchStepper, decode_text
from training.export import REFERENCE_PROBLEMS, export
from training.model import Config, build

DEC = {"maxNewTokens": 40, "noRepeatNgram": 4}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    torch.manual_seed(0)
    cfg = Config(n_layers=2, out_vocab=list(range(0, 3000)))
    model = build(cfg, seed=3).eval()
    with torch.no_grad():
        # make sep/eos likely so the repeat/forcing rules are exercised inside the parity check
        model.decoder.out_bias[SEP] += 6.0
        model.decoder.out_bias[EOS] += 3.0
    out = tmp_path_factory.mktemp("fp32")
    man = export(model, out, int8=False, reference=False, decoding=DEC)
    return model, out, man


def test_files_and_manifest(pair):
    model, out, man = pair
    assert not model.training  # torch.onnx.export restores its wrappers' mode, not the model's
    for name, f in man["files"].items():
        assert (out / name).stat().st_size == f["bytes"]
    assert man["decoding"]["maxNewTokens"] == 40
    assert man["decoderPast"]["names"] == ["self_k_0", "self_v_0", "self_k_1", "self_v_1"]


@pytest.mark.parametrize("beams", [1, 3])
def test_onnx_equals_pytorch_token_for_token(pair, beams):
    model, out, man = pair
    onnx, pt = OnnxStepper(out), TorchStepper(model)
    seps = 0
    for p in REFERENCE_PROBLEMS:
        a = decode_text(onnx, p, man, beams)["ids"]
        b = decode_text(pt, p, man, beams)["ids"]
        assert a == b, p
        seps += a.count(SEP)
    assert seps > 0  # the rules around sub-question boundaries were really exercised


def test_onnx_logprobs_close_and_normalised(pair):
    model, out, man = pair
    onnx, pt = OnnxStepper(out), TorchStepper(model)
    src = encode_source(REFERENCE_PROBLEMS[2])
    onnx.start(src, 2); pt.start(src, 2)
    for toks in ([1, 1], [2000, 2001], [SEP, 2003]):
        a = onnx.step(toks, [0, 1]); b = pt.step(toks, [0, 1])
        assert np.allclose(a, b, atol=1e-4)
        assert np.allclose(np.exp(a.astype(np.float64)).sum(1), 1.0, atol=1e-3)


def teacher_forced(model, questions: list[str], smoothing: float = 0.0):
    """(source ids, target ids, the training path's per-token log-likelihoods, the full distribution of
    the exported path at every target position) for the first reference problem."""
    src = torch.tensor([encode_source(REFERENCE_PROBLEMS[0])])
    tgt = torch.tensor([encode_target(questions)])
    mask = torch.ones_like(src)
    dec_in = torch.cat([torch.ones(1, 1, dtype=torch.long), tgt[:, :-1]], 1)
    with torch.no_grad():
        h_enc = model.encoder(src, mask)
        lp_train = model.loss_terms(h_enc, mask, src, dec_in, tgt, smoothing)
        enc = model.heads(h_enc, mask)
        h, _ = model.decoder.hidden(dec_in, mask, enc, model.empty_past(1))
        full = model.decoder.full_logprobs(h, mask, src, enc)
    return src, tgt, lp_train, full


def test_training_path_equals_full_distribution(pair):
    model, _, _ = pair
    _, tgt, lp_train, full = teacher_forced(model, ["how many clips did natalia sell in may?", "zyzzyva?"])
    full = full.gather(2, tgt[..., None])[..., 0]
    assert torch.allclose(lp_train, full, atol=1e-5)


def test_label_smoothing_spreads_over_the_generators_vocabulary(pair):
    """--label-smoothing: (1 - eps) log p(target) + eps * mean log p(v) over the generator's vocabulary,
    with the copy head's mass on those ids counted (the full distribution restricted to them)."""
    model, _, _ = pair
    src, tgt, smoothed, full = teacher_forced(model, ["how many clips did natalia sell in may?"], smoothing=0.1)
    assert (model.decoder.kept_index[src] < 0).any()  # some source pieces are copy-only: left out
    expected = 0.9 * full.gather(2, tgt[..., None])[..., 0] + 0.1 * full[..., model.decoder.out_ids].mean(-1)
    assert torch.allclose(smoothed, expected, atol=1e-4), (smoothed - expected).abs().max()
    assert not torch.allclose(smoothed, full.gather(2, tgt[..., None])[..., 0], atol=1e-2)


def test_int8_export_decodes(pair, tmp_path):
    model, _, _ = pair
    man = export(model, tmp_path, int8=True, decoding=DEC)
    ref = json.loads((tmp_path / "reference.json").read_text())
    st = OnnxStepper(tmp_path)
    it = ref["items"][0]
    assert decode_text(st, it["problem"], man, 1)["ids"] == it["greedy"]["ids"]
    assert sum(f["bytes"] for f in man["files"].values()) < 60e6
