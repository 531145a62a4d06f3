"""MiniLM's top layers trained with the decoder (train.py --tune-encoder N): the frozen part is still
MiniLM as BertModel runs it, the tuned layers start as MiniLM's own and learn, and the export carries
them into encoder.onnx with ONNX == PyTorch."""
import pytest
import torch

from training.common import BERT_CLS, BERT_SEP, EOS, encode_source, encode_target
from training.decode import OnnxStepper, TorchStepper, decode_text
from training.export import REFERENCE_PROBLEMS, export
from training.model import MINILM_LAYERS, Config, FrozenEncoder, build, load_minilm

PROBLEMS = ["Tom has 3 apples and buys 4 more. How many apples does he have?", "Ann has 2 pens."]


@pytest.fixture(scope="module")
def bert():
    return load_minilm()


def padded_batch():
    ids = [encode_source(p) for p in PROBLEMS]
    x = torch.zeros(len(ids), max(map(len, ids)), dtype=torch.long)
    m = torch.zeros_like(x)
    for j, row in enumerate(ids):
        x[j, :len(row)] = torch.tensor(row); m[j, :len(row)] = 1
    return x, m


def test_frozen_encoder_is_minilm_as_bert_model_runs_it(bert):
    x, m = padded_batch()
    bert_ids = torch.cat([torch.full_like(x[:, :1], BERT_CLS), torch.where(x == EOS, BERT_SEP, x)], 1)
    bert_mask = torch.cat([torch.ones_like(m[:, :1]), m], 1)
    with torch.no_grad():
        want = bert(input_ids=bert_ids, attention_mask=bert_mask).last_hidden_state[:, 1:]
        got = FrozenEncoder(bert)(x, m)
    assert torch.equal(got[m.bool()], want[m.bool()])


def test_tuned_layers_start_as_minilm_top_layers_and_learn(bert):
    model = build(Config(n_layers=1, out_vocab=list(range(3000)), tuned_encoder_layers=1), bert=bert, seed=3)
    assert len(model.encoder.layers) == MINILM_LAYERS - 1
    want = bert.encoder.layer[MINILM_LAYERS - 1].state_dict()
    assert all(torch.equal(v, want[k]) for k, v in model.heads.top[0].state_dict().items())

    x, m = padded_batch()
    target = torch.tensor([encode_target(["How many apples?"])] * 2)
    dec_in = torch.cat([torch.ones_like(target[:, :1]), target[:, :-1]], 1)
    with torch.no_grad():
        cached = model.encoder(x, m)  # what train.py caches: the frozen layers only
    model.train()
    model.loss_terms(cached, m, x, dec_in, target).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.heads.top.parameters())


def test_encoder_lr_applies_to_the_tuned_layers_only(bert):
    from training.train import make_optimizer
    model = build(Config(n_layers=1, out_vocab=list(range(3000)), tuned_encoder_layers=1), bert=bert, seed=3)
    trainable = [p for p in model.parameters() if p.requires_grad and not any(p is q for q in model.encoder.parameters())]
    top = {id(p) for p in model.heads.top.parameters()}
    opt = make_optimizer(model, trainable, lr=3e-4, encoder_lr=5e-5)
    lrs = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert set(lrs) == {id(p) for p in trainable}
    assert {lr for i, lr in lrs.items() if i in top} == {5e-5}
    assert {lr for i, lr in lrs.items() if i not in top} == {3e-4}
    assert [g["lr"] for g in make_optimizer(model, trainable, lr=3e-4, encoder_lr=None).param_groups] == [3e-4, 3e-4]
    frozen = build(Config(n_layers=1, out_vocab=list(range(3000))), bert=bert, seed=3)
    assert len(make_optimizer(frozen, list(frozen.decoder.parameters()), lr=3e-4, encoder_lr=5e-5).param_groups) == 1


def test_export_puts_the_tuned_layers_in_the_encoder_graph(bert, tmp_path):
    cfg = dict(n_layers=1, out_vocab=list(range(3000)))
    model = build(Config(**cfg, tuned_encoder_layers=1), bert=bert, seed=5).eval()
    with torch.no_grad():  # move the tuned layer away from MiniLM's so the graph must hold the new weights
        for p in model.heads.top.parameters():
            p.add_(0.02 * torch.randn_like(p))
    man = export(model, tmp_path, int8=False, reference=False, decoding={"maxNewTokens": 12})
    assert man["architecture"]["encoder"].endswith("top 1 fine-tuned)")
    frozen_only = export(build(Config(**cfg), bert=bert, seed=5), tmp_path / "frozen", int8=False, reference=False)
    assert man["architecture"]["parameters"] == frozen_only["architecture"]["parameters"]  # a layer moved, none added

    onnx, pt = OnnxStepper(tmp_path), TorchStepper(model)
    for p in REFERENCE_PROBLEMS:
        assert decode_text(onnx, p, man, 1)["ids"] == decode_text(pt, p, man, 1)["ids"]
