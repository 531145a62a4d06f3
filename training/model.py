"""The decomposer: a frozen pretrained MiniLM encoder + a small warm-started decoder with a copy head.

Shapes follow the model contract in docs/ARCHITECTURE.md:
- encoder(input_ids, attention_mask) -> enc_k_<l>, enc_v_<l> [B,H,S,D] (cross-attention keys/values
  of decoder layer l) and enc_copy_k [B,S,d] (copy-attention keys).
- decoder step(input_ids [B,L], attention_mask [B,S], src_ids [B,S], enc_*, past) -> log-probs over
  the full vocabulary [B,L,V] and the new self-attention cache.

Why this shape: model-notes.md shows a from-scratch model is data-limited (7k problems), so the
model reuses everything pretrained that exists here: MiniLM's encoder (frozen: its outputs are
cached once, which makes CPU training affordable), its word and position embeddings (decoder input
and tied output), and its first layers' self-attention/FFN weights as decoder warm start
(BERT2BERT-style). Only cross-attention, the copy head and the output transform start random.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import BERT_CLS, BERT_SEP, BOS, EOS, minilm_dir

NEG = -1e9
MINILM_LAYERS = 6


@dataclass
class Config:
    vocab_size: int = 30522
    d_model: int = 384
    n_heads: int = 12
    d_ff: int = 1536
    n_layers: int = 3
    max_positions: int = 512
    dropout: float = 0.1
    out_vocab: list[int] = field(default_factory=list)  # token ids the generator head can emit
    warm_start: bool = True
    style_tokens: bool = False  # trained with a start id per reference style (train.py --style)
    bos: int = BOS  # the decoder's start id when generating (SOCRATIC_BOS: socratic style)
    tuned_encoder_layers: int = 0  # MiniLM's top layers trained with the decoder (train.py --tune-encoder)

    @property
    def frozen_encoder_layers(self) -> int:
        """MiniLM's lower layers that stay frozen (their outputs are what train.py caches)."""
        return MINILM_LAYERS - self.tuned_encoder_layers

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


def load_minilm():
    from transformers import BertModel
    model = BertModel.from_pretrained(str(minilm_dir()), add_pooling_layer=False)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def run_bert_layers(layers, config, h: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """h through BERT layers under a padding mask, as BertModel runs its encoder."""
    from transformers.masking_utils import create_bidirectional_mask
    mask = create_bidirectional_mask(config=config, inputs_embeds=h, attention_mask=attention_mask)
    for layer in layers:
        h = layer(h, attention_mask=mask)
    return h


class FrozenEncoder(nn.Module):
    """MiniLM's first `layers` layers (all six unless the top ones are tuned, see EncoderHeads) with
    the contract's source convention mapped onto BERT's: [CLS] + ids with the trailing eos rewritten to
    [SEP]; the [CLS] position is dropped again so outputs align with S."""

    def __init__(self, bert=None, layers: int = MINILM_LAYERS):
        super().__init__()
        self.bert = bert if bert is not None else load_minilm()
        self.layers = self.bert.encoder.layer[:layers]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        ids = torch.where(input_ids == EOS, torch.full_like(input_ids, BERT_SEP), input_ids)
        cls = torch.full_like(ids[:, :1], BERT_CLS)
        ids = torch.cat([cls, ids], dim=1)
        mask = torch.cat([torch.ones_like(attention_mask[:, :1]), attention_mask], dim=1)
        h = run_bert_layers(self.layers, self.bert.config, self.bert.embeddings(input_ids=ids), mask)
        return h[:, 1:]


class EncoderHeads(nn.Module):
    """The trainable part of the encoder side (exported inside encoder.onnx): MiniLM's top
    `cfg.tuned_encoder_layers` layers, if any, then projections of the states to cross-attention
    keys/values and copy keys. The frozen layers below them are computed once and cached."""

    def __init__(self, cfg: Config, bert_config=None):
        super().__init__()
        self.cfg = cfg
        if cfg.tuned_encoder_layers:
            from transformers import BertConfig
            from transformers.models.bert.modeling_bert import BertLayer
            self.bert_config = bert_config or BertConfig.from_pretrained(str(minilm_dir()))
            self.top = nn.ModuleList(BertLayer(self.bert_config) for _ in range(cfg.tuned_encoder_layers))
        self.k = nn.ModuleList(nn.Linear(cfg.d_model, cfg.d_model) for _ in range(cfg.n_layers))
        self.v = nn.ModuleList(nn.Linear(cfg.d_model, cfg.d_model) for _ in range(cfg.n_layers))
        self.copy_k = nn.Linear(cfg.d_model, cfg.d_model)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        return x.view(b, s, self.cfg.n_heads, self.cfg.head_dim).transpose(1, 2)

    def forward(self, h: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.cfg.tuned_encoder_layers:
            h = run_bert_layers(self.top, self.bert_config, h, attention_mask)
        out = {}
        for i in range(self.cfg.n_layers):
            out[f"enc_k_{i}"] = self.split(self.k[i](h))
            out[f"enc_v_{i}"] = self.split(self.v[i](h))
        out["enc_copy_k"] = self.copy_k(h)
        return out


def _attend(q, k, v, bias, dropout: float, training: bool):
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1]) + bias
    probs = torch.softmax(scores, dim=-1)
    probs = F.dropout(probs, dropout, training)
    return torch.matmul(probs, v)


class DecoderLayer(nn.Module):
    """Post-LN (BERT layout): self-attention, cross-attention, feed-forward."""

    def __init__(self, cfg: Config):
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ln_self = nn.LayerNorm(d, eps=1e-12)
        self.cq, self.co = nn.Linear(d, d), nn.Linear(d, d)
        self.ln_cross = nn.LayerNorm(d, eps=1e-12)
        self.ff1, self.ff2 = nn.Linear(d, cfg.d_ff), nn.Linear(cfg.d_ff, d)
        self.ln_ff = nn.LayerNorm(d, eps=1e-12)

    def split(self, x):
        b, l, _ = x.shape
        return x.view(b, l, self.cfg.n_heads, self.cfg.head_dim).transpose(1, 2)

    def merge(self, x):
        b, h, l, d = x.shape
        return x.transpose(1, 2).reshape(b, l, h * d)

    def forward(self, x, self_bias, cross_bias, enc_k, enc_v, past_k, past_v):
        p = self.cfg.dropout
        k = torch.cat([past_k, self.split(self.k(x))], dim=2)
        v = torch.cat([past_v, self.split(self.v(x))], dim=2)
        a = self.merge(_attend(self.split(self.q(x)), k, v, self_bias, p, self.training))
        x = self.ln_self(x + F.dropout(self.o(a), p, self.training))
        c = self.merge(_attend(self.split(self.cq(x)), enc_k, enc_v, cross_bias, p, self.training))
        x = self.ln_cross(x + F.dropout(self.co(c), p, self.training))
        f = self.ff2(F.gelu(self.ff1(x)))
        x = self.ln_ff(x + F.dropout(f, p, self.training))
        return x, k, v


class Decoder(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        assert cfg.out_vocab, "Config.out_vocab must list the generator's token ids"
        self.cfg = cfg
        d = cfg.d_model
        self.word_emb = nn.Embedding(cfg.vocab_size, d)
        self.word_emb.weight.requires_grad_(False)  # pretrained, frozen; also the tied output matrix
        self.pos_emb = nn.Embedding(cfg.max_positions, d)
        self.emb_ln = nn.LayerNorm(d, eps=1e-12)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_layers))
        self.out_dense = nn.Linear(d, d)
        self.out_ln = nn.LayerNorm(d, eps=1e-12)
        self.register_buffer("out_ids", torch.tensor(cfg.out_vocab, dtype=torch.long), persistent=True)
        self.out_bias = nn.Parameter(torch.zeros(len(cfg.out_vocab)))
        self.copy_q = nn.Linear(d, d)
        self.gate = nn.Linear(d, 1)
        # map full-vocab id -> index into out_vocab (-1: not emittable by the generator)
        kept = torch.full((cfg.vocab_size,), -1, dtype=torch.long)
        kept[self.out_ids] = torch.arange(len(cfg.out_vocab))
        self.register_buffer("kept_index", kept, persistent=False)

    def hidden(self, input_ids, attention_mask, enc: dict, past: list[torch.Tensor]):
        """Runs the layers. past = [k0, v0, k1, v1, ...] each [B,H,T,D]; returns (h, presents)."""
        b, l = input_ids.shape
        t = past[0].shape[2]
        pos = torch.arange(l, device=input_ids.device) + t
        x = self.word_emb(input_ids) + self.pos_emb(pos)[None]
        x = F.dropout(self.emb_ln(x), self.cfg.dropout, self.training)
        # query i (absolute position t+i) may see keys 0..t+i
        keys = torch.arange(t + l, device=input_ids.device)[None, :]
        allowed = keys <= pos[:, None]
        self_bias = torch.where(allowed, 0.0, NEG)[None, None]
        cross_bias = ((1.0 - attention_mask.to(x.dtype)) * NEG)[:, None, None, :]
        presents = []
        for i, layer in enumerate(self.layers):
            x, k, v = layer(x, self_bias, cross_bias, enc[f"enc_k_{i}"], enc[f"enc_v_{i}"],
                            past[2 * i], past[2 * i + 1])
            presents += [k, v]
        return x, presents

    def mixture(self, h, attention_mask, src_ids, enc):
        """Generator distribution over out_vocab, copy distribution over source positions, gate."""
        t = self.out_ln(F.gelu(self.out_dense(h)))
        w = getattr(self, "out_weight_export", None)  # set only while exporting (see export.py)
        if w is None:
            w = self.word_emb.weight.index_select(0, self.out_ids)
        p_gen = torch.softmax(F.linear(t, w, self.out_bias), dim=-1)  # [B,L,K]
        copy_mask = (attention_mask > 0) & (src_ids != EOS)  # never copy padding or the source's eos
        scores = torch.matmul(self.copy_q(h), enc["enc_copy_k"].transpose(1, 2)) / math.sqrt(self.cfg.d_model)
        scores = scores + torch.where(copy_mask, 0.0, NEG)[:, None, :]
        p_copy = torch.softmax(scores, dim=-1) * copy_mask[:, None, :].to(h.dtype)  # [B,L,S]
        g = torch.sigmoid(self.gate(h))  # [B,L,1] share of the generator
        return p_gen, p_copy, g

    def full_logprobs(self, h, attention_mask, src_ids, enc):
        p_gen, p_copy, g = self.mixture(h, attention_mask, src_ids, enc)
        b, l, _ = h.shape
        full = torch.zeros(b, l, self.cfg.vocab_size, dtype=h.dtype, device=h.device)
        full = full.scatter(2, self.out_ids[None, None, :].expand(b, l, -1), g * p_gen)
        full = full.scatter_add(2, src_ids[:, None, :].expand(b, l, -1), (1.0 - g) * p_copy)
        return torch.log(full.clamp_min(1e-20))

    def producible(self, src_ids, targets):
        """Which target tokens the model can emit at all: the generator's vocabulary or a copy from
        the source. Auxiliary targets (worked solutions) contain others, e.g. computed results."""
        return (self.kept_index[targets] >= 0) | (src_ids[:, None, :] == targets[..., None]).any(-1)

    def target_logprobs(self, h, attention_mask, src_ids, enc, targets, smoothing: float = 0.0):
        """log p(target) without materialising the full vocabulary (training path; equals
        full_logprobs gathered at targets, checked in tests). With smoothing eps > 0 it is the
        label-smoothed log-likelihood (1 - eps) log p(target) + eps * mean log p(v) over the
        generator's vocabulary v, whose probability there includes what the copy head puts on it."""
        p_gen, p_copy, g = self.mixture(h, attention_mask, src_ids, enc)
        idx = self.kept_index[targets]  # [B,L]
        pg = p_gen.gather(2, idx.clamp_min(0)[..., None])[..., 0] * (idx >= 0).to(h.dtype)
        pc = (p_copy * (src_ids[:, None, :] == targets[..., None]).to(h.dtype)).sum(-1)
        p = g[..., 0] * pg + (1.0 - g[..., 0]) * pc
        lp = torch.log(p.clamp_min(1e-20))
        if not smoothing:
            return lp
        src_idx = self.kept_index[src_ids]  # copies of source tokens outside the vocabulary are left out
        copy_on_vocab = (1.0 - g) * p_copy * (src_idx >= 0).to(h.dtype)[:, None, :]
        p_vocab = (g * p_gen).scatter_add(2, src_idx.clamp_min(0)[:, None, :].expand_as(p_copy), copy_on_vocab)
        return (1.0 - smoothing) * lp + smoothing * torch.log(p_vocab.clamp_min(1e-20)).mean(-1)


class Decomposer(nn.Module):
    def __init__(self, cfg: Config, encoder: FrozenEncoder | None = None, with_encoder: bool = True, bert_config=None):
        super().__init__()
        self.cfg = cfg
        self.heads = EncoderHeads(cfg, bert_config)
        self.decoder = Decoder(cfg)
        self.encoder = encoder if encoder is not None else (
            FrozenEncoder(layers=cfg.frozen_encoder_layers) if with_encoder else None)

    def empty_past(self, batch: int, device=None) -> list[torch.Tensor]:
        c = self.cfg
        return [torch.zeros(batch, c.n_heads, 0, c.head_dim, device=device) for _ in range(2 * c.n_layers)]

    def encode(self, input_ids, attention_mask) -> dict[str, torch.Tensor]:
        return self.heads(self.encoder(input_ids, attention_mask), attention_mask)

    def step(self, input_ids, attention_mask, src_ids, enc, past):
        h, presents = self.decoder.hidden(input_ids, attention_mask, enc, past)
        return self.decoder.full_logprobs(h, attention_mask, src_ids, enc), presents

    def loss_terms(self, enc_h, attention_mask, src_ids, dec_in, targets, smoothing: float = 0.0):
        """Per-token log-likelihoods for teacher forcing from cached encoder states enc_h (label-smoothed
        with smoothing > 0; see target_logprobs)."""
        enc = self.heads(enc_h, attention_mask)
        h, _ = self.decoder.hidden(dec_in, attention_mask, enc, self.empty_past(dec_in.shape[0], dec_in.device))
        return self.decoder.target_logprobs(h, attention_mask, src_ids, enc, targets, smoothing)


def build(cfg: Config, bert=None, with_encoder: bool = True, seed: int = 0) -> Decomposer:
    """A fresh model; warm start copies MiniLM embeddings and the first n_layers layers."""
    torch.manual_seed(seed)
    encoder = None
    if with_encoder or cfg.warm_start:
        bert = bert if bert is not None else load_minilm()
    frozen = cfg.frozen_encoder_layers
    if with_encoder:
        encoder = FrozenEncoder(bert, layers=frozen)
    model = Decomposer(cfg, encoder=encoder, with_encoder=with_encoder,
                       bert_config=bert.config if bert is not None else None)
    for m in [model.heads, model.decoder]:
        for mod in m.modules():
            if isinstance(mod, nn.Linear):
                nn.init.normal_(mod.weight, std=0.02)
                nn.init.zeros_(mod.bias)
    if cfg.tuned_encoder_layers and cfg.warm_start:
        for i, layer in enumerate(model.heads.top):  # the tuned layers start as MiniLM's own
            layer.load_state_dict(bert.encoder.layer[frozen + i].state_dict())
    dec = model.decoder
    emb = bert.embeddings
    with torch.no_grad():
        dec.word_emb.weight.copy_(emb.word_embeddings.weight)
        if cfg.warm_start:
            dec.pos_emb.weight.copy_(emb.position_embeddings.weight[: cfg.max_positions]
                                     + emb.token_type_embeddings.weight[0])
            dec.emb_ln.load_state_dict(emb.LayerNorm.state_dict())
            for i, layer in enumerate(dec.layers):
                src = bert.encoder.layer[i]
                att = src.attention
                for dst, s in [(layer.q, att.self.query), (layer.k, att.self.key), (layer.v, att.self.value),
                               (layer.o, att.output.dense), (layer.ff1, src.intermediate.dense),
                               (layer.ff2, src.output.dense)]:
                    dst.load_state_dict(s.state_dict())
                layer.ln_self.load_state_dict(att.output.LayerNorm.state_dict())
                layer.ln_ff.load_state_dict(src.output.LayerNorm.state_dict())
                # cross-attention reads the encoder like self-attention reads its input: start its
                # projections from the same layer's attention weights, not from noise
                layer.cq.load_state_dict(att.self.query.state_dict())
                model.heads.k[i].load_state_dict(att.self.key.state_dict())
                model.heads.v[i].load_state_dict(att.self.value.state_dict())
        else:
            nn.init.normal_(dec.pos_emb.weight, std=0.02)
    return model
