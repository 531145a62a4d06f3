"""KTO (train.py --method kto): labels, the loss's direction, the reference policy, and the whole
path from a checkpoint."""
import json
import subprocess
import sys

import pytest
import torch

from training.common import encode_source, encode_target
from training.model import Config, build, load_minilm
from training.train import KTO, desirable, kto_loss, select
from training.tests.test_select import ex
from training.tests.test_train_paths import ENV, ROOT


def test_kto_keeps_the_negatives_fbc_drops_and_labels_them_by_fbcs_rule():
    examples = [ex("llm", 1.0, problem="a"), ex("llm", 0.0, problem="b"), ex("compact", 0.5, problem="c"),
                ex("socratic", 1.0, ("How many?", "How many?"), problem="d"), ex("feedback", 0.0, problem="e")]
    fbc = {e.problem for e, _ in select(examples, "fbc", 3.0)}
    kto = {e.problem: desirable(e) for e, _ in select(examples, "kto", 3.0)}
    assert fbc == {"a"}
    assert kto == {"a": True, "b": False, "c": False, "d": False, "e": False}


def test_kto_loss_raises_desirable_and_lowers_undesirable_log_ratios():
    ratio = torch.zeros(2, requires_grad=True)
    good = torch.tensor([True, False])
    loss = kto_loss(ratio, torch.tensor(0.0), good, torch.ones(2), beta=0.1, lambda_u=3.0)
    # at log-ratio 0 = z0 each side's value is half its lambda: loss = mean(1 - 0.5, 3 - 1.5)
    assert loss.item() == pytest.approx((0.5 + 1.5) / 2)
    loss.backward()
    assert ratio.grad[0] < 0 < ratio.grad[1]  # gradient descent: desirable up, undesirable down
    assert ratio.grad[1] == pytest.approx(3 * ratio.grad[0].abs())  # lambda_u weighs the undesirable side


def test_kto_reference_point_moves_the_margin():
    good = torch.tensor([True])
    low = kto_loss(torch.tensor([1.0]), torch.tensor(0.0), good, torch.ones(1), beta=1.0, lambda_u=1.0)
    high = kto_loss(torch.tensor([1.0]), torch.tensor(1.0), good, torch.ones(1), beta=1.0, lambda_u=1.0)
    assert low < high  # the same log-ratio earns less once the policy has drifted as far on other pairs


def two_sets():
    """A small model in eval mode (KTO's dropout-free setting) and a batch of two decompositions."""
    model = build(Config(n_layers=1, out_vocab=list(range(3000)), tuned_encoder_layers=1), bert=load_minilm(), seed=3)
    model.eval()
    problems = ["Tom has 3 apples and buys 4 more. How many apples does he have?", "Ann has 2 pens and 5 cups."]
    targets = [["How many apples does Tom buy?", "How many apples does he have?"], ["How many pens does Ann have?"]]
    src = [encode_source(p) for p in problems]
    tgt = [encode_target(t) for t in targets]
    x = torch.zeros(2, max(map(len, src)), dtype=torch.long)
    t = torch.zeros(2, max(map(len, tgt)), dtype=torch.long)
    m, tmask = torch.zeros_like(x), torch.zeros(t.shape)
    for j in range(2):
        x[j, :len(src[j])] = torch.tensor(src[j]); m[j, :len(src[j])] = 1
        t[j, :len(tgt[j])] = torch.tensor(tgt[j]); tmask[j, :len(tgt[j])] = 1
    dec_in = torch.cat([torch.ones_like(t[:, :1]), t[:, :-1]], 1)
    with torch.no_grad():
        h = model.encoder(x, m)
    return model, (h, m, x, dec_in, t, tmask)


def test_an_unchanged_model_has_log_ratio_zero_and_learns_from_both_labels():
    """Dropout off and the reference a frozen copy: the first step's log-ratios and z0 are exactly 0,
    so the loss is half the weighted lambda, and the gradient reaches the trained parameters."""
    model, (h, m, x, dec_in, t, tmask) = two_sets()
    kto = KTO(model, beta=0.1, lambda_u=2.0)
    loss = kto.loss(kto.policy, h, m, x, dec_in, t, tmask, torch.tensor([True, False]), torch.ones(2))
    assert loss.item() == pytest.approx((0.5 + 1.0) / 2, abs=1e-6)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.decoder.parameters())
    assert all(p.grad is None for p in kto.ref.parameters())


def test_sft_adds_filtered_bcs_loss_on_the_desirable_sets_only():
    model, (h, m, x, dec_in, t, tmask) = two_sets()
    good, w = torch.tensor([True, False]), torch.ones(2)
    pure = KTO(model, beta=0.1, lambda_u=2.0)
    mixed = KTO(model, beta=0.1, lambda_u=2.0, sft=0.5)
    with torch.no_grad():
        lp, keep = pure.token_logps(pure.policy, h, m, x, dec_in, t, tmask)
        nll_good = -lp[0].sum() / keep[0].sum()
        gap = mixed.loss(mixed.policy, h, m, x, dec_in, t, tmask, good, w) - pure.loss(pure.policy, h, m, x, dec_in, t, tmask, good, w)
    assert nll_good > 0 and gap.item() == pytest.approx(0.5 * nll_good.item(), rel=1e-5)


def test_kto_needs_a_checkpoint_to_improve():
    r = subprocess.run([sys.executable, "-m", "training.train", "--tiny", "--method", "kto"], cwd=ROOT, env=ENV,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "--init" in r.stderr


def test_kto_from_a_tiny_checkpoint(tmp_path):
    base, tuned = tmp_path / "base", tmp_path / "kto"
    r = subprocess.run([sys.executable, "-m", "training.train", "--tiny", "--no-export", "--out", str(base)],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    r = subprocess.run([sys.executable, "-m", "training.train", "--tiny", "--no-export", "--method", "kto",
                        "--init", str(base / "model.pt"), "--out", str(tuned)],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "undesirable" in r.stdout and " 0 undesirable" not in r.stdout
    log = json.loads((tuned / "train_log.json").read_text())
    assert log["method"] == "kto" and log["steps"] > 0 and (tuned / "model.pt").exists()
