"""DistilGPT2-shaped decoder with RANDOM weights for the speed baseline of `npm run bench`.

The paper's smallest decomposer is DistilGPT2 (6 layers, d 768, 12 heads, vocab 50257). Only its
shape matters for timing, so no weights are downloaded: a plain GPT-2 block stack is built here and
exported with a KV cache (one graph for prefill and for single steps), then dynamically quantised to
int8 like the shipped model.

Graph: inputs  input_ids int64 [B,L], past_k_<i>/past_v_<i> float32 [B,12,T,64] (i = 0..5)
       outputs logprobs float32 [B,50257] (last position), present_k_<i>/present_v_<i> [B,12,T+L,64]

Usage: training/.venv/bin/python training/bench_baseline.py --out-dir .cache/bench
Writes distilgpt2-int8.onnx (and distilgpt2-fp32.onnx with --keep-fp32) and baseline.json.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

LAYERS, D, HEADS, VOCAB, POSITIONS = 6, 768, 12, 50257, 1024
HEAD_DIM = D // HEADS


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(D)
        self.c_attn = nn.Linear(D, 3 * D)
        self.c_proj = nn.Linear(D, D)
        self.ln_2 = nn.LayerNorm(D)
        self.c_fc = nn.Linear(D, 4 * D)
        self.mlp_proj = nn.Linear(4 * D, D)

    def forward(self, x, past_k, past_v):
        b, l, _ = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=2)
        q = q.view(b, l, HEADS, HEAD_DIM).transpose(1, 2)
        k = torch.cat([past_k, k.view(b, l, HEADS, HEAD_DIM).transpose(1, 2)], dim=2)
        v = torch.cat([past_v, v.view(b, l, HEADS, HEAD_DIM).transpose(1, 2)], dim=2)
        t = k.shape[2]
        # causal mask that also works with a cache: query i sits at position t - l + i
        qpos = torch.arange(l).unsqueeze(1) + (t - l)
        kpos = torch.arange(t).unsqueeze(0)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(HEAD_DIM)
        att = att.masked_fill(kpos > qpos, float("-inf"))
        y = (F.softmax(att, dim=-1) @ v).transpose(1, 2).reshape(b, l, D)
        x = x + self.c_proj(y)
        x = x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x, k, v


class DistilGPT2Shape(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.wte = nn.Embedding(VOCAB, D)
        self.wpe = nn.Embedding(POSITIONS, D)
        self.h = nn.ModuleList(Block() for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(D)

    def forward(self, input_ids, *past):
        t0 = past[0].shape[2]
        pos = torch.arange(input_ids.shape[1]).unsqueeze(0) + t0
        x = self.wte(input_ids) + self.wpe(pos)
        presents = []
        for i, block in enumerate(self.h):
            x, k, v = block(x, past[2 * i], past[2 * i + 1])
            presents += [k, v]
        logits = self.ln_f(x[:, -1]) @ self.wte.weight.t()  # tied LM head, as in GPT-2
        return (F.log_softmax(logits, dim=-1), *presents)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--keep-fp32", action="store_true")
    a = ap.parse_args()
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = DistilGPT2Shape().eval()
    for p in model.parameters():
        nn.init.normal_(p, std=0.02)
    names = [f"{kind}_{i}" for i in range(LAYERS) for kind in ("k", "v")]
    ids = torch.ones((2, 5), dtype=torch.long)
    past = tuple(torch.zeros((2, HEADS, 3, HEAD_DIM)) for _ in names)
    fp32 = out / "distilgpt2-fp32.onnx"
    axes = {"input_ids": {0: "batch", 1: "len"}, "logprobs": {0: "batch"}}
    for n in names:
        axes[f"past_{n}"] = {0: "batch", 2: "past"}
        axes[f"present_{n}"] = {0: "batch", 2: "total"}
    with torch.no_grad():
        torch.onnx.export(model, (ids, *past), str(fp32), dynamo=False, opset_version=17,
                          input_names=["input_ids"] + [f"past_{n}" for n in names],
                          output_names=["logprobs"] + [f"present_{n}" for n in names],
                          dynamic_axes=axes)
    from onnxruntime.quantization import QuantType, quantize_dynamic
    int8 = out / "distilgpt2-int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    if not a.keep_fp32:
        fp32.unlink()  # ~480 MB that the benchmark does not use
    params = sum(p.numel() for p in model.parameters())
    meta = {"shape": "distilgpt2", "layers": LAYERS, "dModel": D, "heads": HEADS, "vocab": VOCAB,
            "parameters": params, "pastNames": names, "headDim": HEAD_DIM,
            "files": {"int8": int8.name, **({"fp32": fp32.name} if a.keep_fp32 else {})}}
    (out / "baseline.json").write_text(json.dumps(meta, indent=1))
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
