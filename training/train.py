"""One entry point for the decomposer: data -> (cached frozen encoder layers) -> train MiniLM's top
layer + the decoder -> select on the held-out calibration problems -> export ONNX (+ parity check).

  python -m training.train                       # the full recipe (fbc, 9 epochs, + worked solutions, beam-4 checks)
  python -m training.train --tiny                                         # whole path in minutes, temp dir
  python -m training.train --feedback feedback.jsonl --init CKPT --out DIR  # fine-tune on user feedback
  python -m training.train --feedback feedback.jsonl --out DIR              # the recipe + user feedback
  python -m training.train --teacher-data teacher.jsonl --minutes 110       # the recipe + a teacher's sets
  python -m training.train --method kto --init CKPT --epochs 1 --lr 5e-5    # KTO from a checkpoint
  python -m training.train --include-heldout      # the held-out problems trained on too; last step kept
  torchrun --nproc_per_node 2 -m training.train --tiny                    # DDP, gloo on CPU

Methods (rewards: training/data.py, justification: models/README.md):
  bc    every reference decomposition (socratic + the LLM's), reward ignored;
  fbc   Filtered BC: only decompositions with reward >= 0.5 (LLM: answer correct; socratic: no
        repeated sub-question, 2-8 questions; the paper's compact models: >= 3 of 4 answerers right);
  awbc  advantage-weighted BC over ALL of them, negatives included: weight = exp((r - b) / beta),
        b = mean reward of the problem's decompositions (kind mean when the problem has one);
  kto   KTO over ALL of them, each labelled desirable by fbc's rule or undesirable (thumbs up/down
        have this shape), against the --init checkpoint as the frozen reference policy.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from . import data as D
from .common import BOS, QUESTION_END, RUNS, SOCRATIC_BOS, SOLUTION_BOS, data_dir, encode_source, encode_target
from .model import MINILM_LAYERS, Config, FrozenEncoder, build, load_minilm

SEED = 1234
TINY_TOKENS = 24  # --tiny decodes at most this many tokens (its barely trained model rarely stops)


def log(*a):
    if rank() == 0:
        print(time.strftime("%H:%M:%S"), *a, flush=True)


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


# ------------------------------------------------------------------------------------ examples
def desirable(e: D.Example, compact_reward: float = 0.75) -> bool:
    """Filtered BC's rule for a good decomposition, also KTO's desirable label: reward at least 0.5
    (the paper's compact decomposers' sets: compact_reward; ChatGPT's answered sets: 3 of 4
    answerers) and no repeated sub-question."""
    thr = {"llm_eval": 0.75, "compact": compact_reward}.get(e.kind, 0.5)
    return e.reward >= thr and not D.has_repeat(e.questions)


def select(examples: list[D.Example], method: str, llm_weight: float, beta: float = 0.5,
           compact_reward: float = 0.75) -> list[tuple[D.Example, float]]:
    """(example, weight) pairs for the method. The LLM style exists only on 240 calibration
    problems vs 7.7k socratic sets; llm_weight up-weights it because the target scores both styles
    equally. compact_reward: fbc's minimum reward for the paper's compact decomposers' sets."""
    kind_w = {"socratic": 1.0, "llm": llm_weight, "llm_eval": llm_weight, "compact": 1.0, "feedback": 4.0,
              "teacher": 1.0}
    out: list[tuple[D.Example, float]] = []
    seen = set()

    def dedupe(e: D.Example) -> bool:
        key = (e.problem, tuple(D.normalize_question(q) for q in e.questions))
        if key in seen:
            return False
        seen.add(key)
        return True

    if method == "bc":
        for e in examples:
            if e.kind in ("socratic", "llm", "feedback", "teacher") and dedupe(e):
                out.append((e, kind_w[e.kind]))
    elif method == "fbc":
        for e in examples:
            if desirable(e, compact_reward) and dedupe(e):
                out.append((e, kind_w[e.kind]))
    elif method == "awbc":
        by_problem: dict[str, list[float]] = defaultdict(list)
        by_kind: dict[str, list[float]] = defaultdict(list)
        for e in examples:
            by_problem[e.problem].append(e.reward)
            by_kind[e.kind].append(e.reward)
        for e in examples:
            rs = by_problem[e.problem]
            b = sum(rs) / len(rs) if len(rs) > 1 else sum(by_kind[e.kind]) / len(by_kind[e.kind])
            w = min(math.exp((e.reward - b) / beta), 20.0)
            if dedupe(e):
                out.append((e, kind_w[e.kind] * w))
    elif method == "kto":  # every set; the label comes from desirable()
        for e in examples:
            if dedupe(e):
                out.append((e, kind_w[e.kind]))
    else:
        raise SystemExit(f"unknown --method {method}")
    # A problem's teacher sets share one set's weight: with several per problem (`npm run teacher-data
    # --sets`, 3 by default) the teacher's style then weighs what the problem's socratic set does,
    # as the target weighs the two styles equally. A weight of 0 (--llm-weight 0) leaves a kind out
    # instead of spending steps on it.
    per_problem = Counter(e.problem for e, _ in out if e.kind == "teacher")
    return [(e, w / per_problem[e.problem] if e.kind == "teacher" else w) for e, w in out if w > 0]


def start_id(cfg: Config, kind: str) -> int:
    """The decoder's first input for a target of this kind. With style tokens, socratic sets start
    from SOCRATIC_BOS and the LLM-style ones (the LLM's, the paper's compact models trained on them)
    from bos; user feedback holds the model's own outputs, so it starts from the id it generates with.
    The auxiliary worked solutions (--solutions) always start from their own id."""
    if kind == "solution":
        return SOLUTION_BOS
    if not cfg.style_tokens:
        return BOS
    if kind == "socratic":
        return SOCRATIC_BOS
    return cfg.bos if kind == "feedback" else BOS


# ------------------------------------------------------------------------------------ encoder cache
@torch.no_grad()
def encode_all(problems: list[str], cache_path: Path | None, bert=None, batch: int = 32,
               layers: int = MINILM_LAYERS) -> dict[str, torch.Tensor]:
    """States of MiniLM's first `layers` (frozen) layers for every problem, computed once and cached as fp16."""
    cache: dict[str, torch.Tensor] = {}
    if cache_path and cache_path.exists():
        cache = torch.load(cache_path, weights_only=False)
    todo = sorted({p for p in problems if p not in cache}, key=len)
    if todo:
        enc = FrozenEncoder(bert if bert is not None else load_minilm(), layers=layers).eval()
        t0 = time.time()
        for i in range(0, len(todo), batch):
            chunk = todo[i:i + batch]
            ids = [encode_source(p) for p in chunk]
            s = max(map(len, ids))
            x = torch.zeros(len(ids), s, dtype=torch.long); m = torch.zeros_like(x)
            for j, row in enumerate(ids):
                x[j, :len(row)] = torch.tensor(row); m[j, :len(row)] = 1
            h = enc(x, m)
            for j, p in enumerate(chunk):
                cache[p] = h[j, :len(ids[j])].to(torch.float16).clone()
            if (i // batch) % 40 == 0:
                log(f"encoded {i + len(chunk)}/{len(todo)} problems ({time.time() - t0:.0f}s)")
        if cache_path:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_path.with_suffix(".tmp")
            torch.save(cache, tmp)
            os.replace(tmp, cache_path)
    return cache


# ------------------------------------------------------------------------------------ batching
def make_batches(items: list[tuple[list[int], list[int], float, str, int, bool]], batch_tokens: int,
                 rng: random.Random, use: list[int] | None = None):
    """Length-bucketed batches (less padding on a CPU), shuffled. items: (source ids, target ids,
    weight, problem, decoder start id, desirable); use: the item indices to batch (default: all)."""
    idx = sorted(range(len(items)) if use is None else use, key=lambda i: (len(items[i][1]) + rng.random() * 4))
    batches, cur, cur_max = [], [], 0
    for i in idx:
        n = len(items[i][1]) + 1
        if cur and max(cur_max, n) * (len(cur) + 1) > batch_tokens:
            batches.append(cur); cur, cur_max = [], 0
        cur.append(i); cur_max = max(cur_max, n)
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def collate(batch, items, cache):
    b = len(batch)
    src = [items[i][0] for i in batch]
    tgt = [items[i][1] for i in batch]
    s = max(map(len, src)); t = max(map(len, tgt))
    h = torch.zeros(b, s, 384)
    src_ids = torch.zeros(b, s, dtype=torch.long); mask = torch.zeros(b, s, dtype=torch.long)
    dec_in = torch.zeros(b, t, dtype=torch.long); targets = torch.zeros(b, t, dtype=torch.long)
    tmask = torch.zeros(b, t)
    w = torch.tensor([items[i][2] for i in batch])
    good = torch.tensor([items[i][5] for i in batch])
    for j, i in enumerate(batch):
        sj, tj = src[j], tgt[j]
        h[j, :len(sj)] = cache[items[i][3]].float()
        src_ids[j, :len(sj)] = torch.tensor(sj); mask[j, :len(sj)] = 1
        dec_in[j, :len(tj)] = torch.tensor([items[i][4]] + tj[:-1]); targets[j, :len(tj)] = torch.tensor(tj)
        tmask[j, :len(tj)] = 1
    return h, mask, src_ids, dec_in, targets, tmask, w, good


class LossModule(nn.Module):
    """What DDP wraps: per-token log-likelihood of the targets from cached encoder states
    (label-smoothed with smoothing > 0)."""

    def __init__(self, model, smoothing: float = 0.0):
        super().__init__()
        self.model, self.smoothing = model, smoothing

    def forward(self, h, mask, src_ids, dec_in, targets):
        return self.model.loss_terms(h, mask, src_ids, dec_in, targets, self.smoothing)


class KTO:
    """KTO (Ethayarajh et al., 2024): unpaired desirable and undesirable decompositions, each pushed
    up or down relative to a frozen reference policy (the --init checkpoint) through the prospect-
    theory value v = lambda * sigmoid(+-beta * (log-ratio - z0)). A loop of our own instead of TRL's
    KTOTrainer, which expects a Hugging Face model that tokenises and encodes its own batches; this
    model decodes from cached encoder states through a copy head, and the rest of the loop (DDP,
    held-out checks, export) is shared with the other methods.
    z0 is the paper's reference point: the batch's KL estimate on mismatched pairs (each source with
    the next item's target), clamped at 0, without gradient (per process under DDP; TRL averages it
    over processes). lambda_u balances the two sides: lambda_d * (desirable weight) = lambda_u *
    (undesirable weight), the low end of the paper's recommended ratio [1, 4/3]. Dropout is off, as
    in TRL, so the log-ratio of an unchanged model is exactly 0.
    sft > 0 adds Filtered BC's loss on the batch's desirable sets times sft (an SFT term beside the
    preference loss, as RPO adds to DPO), which keeps the likelihood of good decompositions up while
    the undesirable ones are pushed down."""

    def __init__(self, model, beta: float, lambda_u: float, sft: float = 0.0):
        self.ref = LossModule(copy.deepcopy(model).eval().requires_grad_(False))
        self.policy = LossModule(model)
        self.model, self.beta, self.lambda_u, self.sft = model, beta, lambda_u, sft

    def token_logps(self, lm, h, mask, src_ids, dec_in, targets, tmask) -> tuple[torch.Tensor, torch.Tensor]:
        keep = tmask * self.model.decoder.producible(src_ids, targets)
        return lm(h, mask, src_ids, dec_in, targets) * keep, keep

    def sequence_logps(self, lm, h, mask, src_ids, dec_in, targets, tmask) -> torch.Tensor:
        return self.token_logps(lm, h, mask, src_ids, dec_in, targets, tmask)[0].sum(1)

    def loss(self, net, h, mask, src_ids, dec_in, targets, tmask, good, w) -> torch.Tensor:
        lp, keep = self.token_logps(net, h, mask, src_ids, dec_in, targets, tmask)
        logps = lp.sum(1)
        with torch.no_grad():
            ref_logps = self.sequence_logps(self.ref, h, mask, src_ids, dec_in, targets, tmask)
            other = torch.roll(torch.arange(targets.shape[0]), 1)
            mismatched = (h, mask, src_ids, dec_in[other], targets[other], tmask[other])
            z0 = (self.sequence_logps(self.policy, *mismatched)
                  - self.sequence_logps(self.ref, *mismatched)).mean().clamp(min=0)
        loss = kto_loss(logps - ref_logps, z0, good, w, self.beta, self.lambda_u)
        if self.sft and good.any():
            loss = loss + self.sft * likelihood_loss(lp, keep * good[:, None], w)
        return loss


def loss_weights(decomposition_weights: list[float], n_solutions: int, solutions_weight: float) -> list[float]:
    """Each training item's weight in the loss: the decompositions' (from `select`) scaled to a mean of
    1 (so the learning rate means the same whatever --llm-weight is), then n_solutions worked
    solutions' on the same scale: solutions_weight 1 weighs as much as a raw weight of 1 (under fbc, a
    socratic set's)."""
    mean = sum(decomposition_weights) / len(decomposition_weights)
    return [w / mean for w in decomposition_weights] + [solutions_weight / mean] * n_solutions


def likelihood_loss(lp: torch.Tensor, keep: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """BC's, Filtered BC's and AWBC's loss: the weighted negative log-likelihood per kept token (keep:
    the target tokens the model can produce)."""
    return -(lp * keep * w[:, None]).sum() / keep.sum()


def kto_loss(ratio: torch.Tensor, z0: torch.Tensor, good: torch.Tensor, w: torch.Tensor, beta: float,
             lambda_u: float) -> torch.Tensor:
    """Weighted mean of lambda_y - v(x, y) over the batch (KTO's loss; lambda_d = 1)."""
    lam = torch.where(good, torch.ones_like(ratio), torch.full_like(ratio, lambda_u))
    v = lam * torch.sigmoid(beta * torch.where(good, ratio - z0, z0 - ratio))
    return ((lam - v) * w).sum() / w.sum()


# ------------------------------------------------------------------------------------ evaluation
def evaluate(model, items: list[dict], beams: int = 1, no_repeat_ngram: int = 0, limit: int | None = None,
             max_new_tokens: int = 160) -> dict:
    """Held-out check. Greedy checks run without the "?" rule (under it greedy stops at its first
    repeat, which the shipped beam search does not); beam checks decode as the runtime does."""
    from .decode import TorchStepper, clean_questions, decode
    from .metrics import score
    st = TorchStepper(model)
    items = items[:limit] if limit else items
    preds = []
    for it in items:
        out = decode(st, encode_source(it["problem"]), beams=beams, max_questions=8, max_new_tokens=max_new_tokens,
                     no_repeat_ngram=no_repeat_ngram, bos=model.cfg.bos, question_end=QUESTION_END if beams > 1 else None)
        preds.append(clean_questions(out["questions"]))
    model.train()
    return score(preds, items) | {"example": preds[0] if preds else []}


def save_ckpt(model, path: Path, extra: dict) -> None:
    state = {k: v for k, v in model.state_dict().items()
             if not k.startswith("encoder.") and k != "decoder.word_emb.weight"}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.cfg.to_dict(), "state": state, **extra}, path)


def load_weights(model, path: Path) -> dict:
    if not Path(path).exists():
        raise SystemExit(f"--init checkpoint not found: {path}")
    ck = torch.load(path, map_location="cpu", weights_only=False)
    missing, unexpected = model.load_state_dict(ck["state"], strict=False)
    bad = [k for k in missing if not (k.startswith("encoder.") or k == "decoder.word_emb.weight")]
    if bad or unexpected:
        raise SystemExit(f"{path}: checkpoint does not fit this model (missing {bad}, unexpected {unexpected})")
    return ck


# ------------------------------------------------------------------------------------ main
def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", choices=["bc", "fbc", "awbc", "kto"], default="fbc")
    ap.add_argument("--tiny", action="store_true", help="small data, few steps, export + parity into a temp dir")
    ap.add_argument("--out", help="output directory (default: training/runs/<method>; --tiny: a temp dir)")
    ap.add_argument("--data", help="data root (default ../shared/data)")
    ap.add_argument("--feedback", help="JSONL/JSON of exported user feedback to fine-tune on")
    ap.add_argument("--teacher-data", metavar="FILE",
                    help="JSONL of a teacher's sub-question sets (`npm run teacher-data`) to train on too, "
                         "in the LLM's style, rewarded by the teacher's answer correctness")
    ap.add_argument("--init", help="checkpoint (model.pt) to start from; with --feedback: fine-tune it instead of running the recipe")
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--dropout", type=float, default=0.1, help="decoder dropout (ignored with --init)")
    # The recipe trains MiniLM's top layer: on the held-out problems it lifted f1_mean by ~0.09 over
    # the frozen encoder of 0.1.0-0.4.0 (models/README.md, "0.5.0").
    ap.add_argument("--tune-encoder", type=int, default=1, metavar="N",
                    help="train MiniLM's top N layers with the decoder (default 1; 0: all frozen; ignored with --init)")
    # The default recipe: 9 epochs of the fbc set, each with worked solutions for half the train problems
    # (3,213 steps, 62-99 minutes on 2 idle cores, by machine). A 26-epoch
    # schedule peaked on the held-out problems at epoch 6 and fell after it while the training loss kept
    # falling (models/README.md), so a shorter schedule that decays by epoch 9 spends the budget better.
    ap.add_argument("--epochs", type=float, help="default: 9 (the recipe); 3 with --feedback --init (a short fine-tune)")
    ap.add_argument("--minutes", type=float, default=0, help="stop training after this many minutes (0: no limit)")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--encoder-lr", type=float, help="learning rate of the tuned MiniLM layers (default: --lr)")
    ap.add_argument("--batch-tokens", type=int, default=1536)
    ap.add_argument("--label-smoothing", type=float, default=0.0, metavar="EPS",
                    help="bc/fbc/awbc: smooth the targets with EPS of uniform mass over the generator's "
                         "vocabulary (0: none; KTO's log-ratios always use the plain likelihood)")
    ap.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                    help="score, keep and export an exponential moving average of the weights, updated every step "
                         "with this decay (0: the raw weights; 0.998 averages over roughly the last 500 steps)")
    ap.add_argument("--llm-weight", type=float, default=3.0,
                    help="weight of the LLM's own sets against a socratic set's (0: leave them out)")
    ap.add_argument("--kto-beta", type=float, default=0.1,
                    help="kto: scale of the log-ratio in the value function (TRL's default)")
    ap.add_argument("--kto-sft", type=float, default=0.0, metavar="ALPHA",
                    help="kto: add ALPHA x Filtered BC's loss on the desirable sets (0: pure KTO)")
    ap.add_argument("--compact-reward", type=float, default=0.75,
                    help="fbc: minimum reward (answerers right) for the paper's compact decomposers' sets; "
                         "0 keeps every one without a repeat, as extra LLM-style text; above 1 keeps none")
    ap.add_argument("--solutions", type=float, metavar="FRACTION",
                    help="auxiliary target: each epoch, GSM8K's worked solutions of this random fraction of "
                         "the train problems, from their own start id (0: none; default: 0.5, the recipe; "
                         "0 with --feedback --init, whose checkpoint has learned them)")
    ap.add_argument("--solutions-weight", type=float, default=1.0, metavar="W",
                    help="each worked solution's weight in the loss, on the scale of the decompositions' "
                         "(1, the recipe: under fbc, that of a socratic set)")
    ap.add_argument("--style", choices=["none", "llm", "socratic"], default="none",
                    help="none: one start id for every target; llm/socratic: a start id per reference style, "
                         "generate in the named one (ignored with --init: the checkpoint's choice holds)")
    ap.add_argument("--eval-every", type=int, default=0, help="steps between calibration evaluations (0: every 3 epochs)")
    ap.add_argument("--check-beams", type=int, default=4,
                    help="beam width of the held-out checks (4: the shipped decoding, the recipe's; 1: greedy, "
                         "faster, but it chose the worse checkpoint of the same run; models/README.md)")
    ap.add_argument("--eval-limit", type=int, default=0, help="held-out problems used for checkpoint selection (0: all 79)")
    ap.add_argument("--include-heldout", action="store_true",
                    help="also train on the 79 held-out calibration problems (their LLM-style sets are scarce data) "
                         "and keep the last step: no held-out checks, since they would score training data. With "
                         "beam-4 checks the best check was the last in every run (models/README.md); the "
                         "evaluation split stays untouched")
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--fp32", action="store_true", help="export fp32 instead of int8")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: 2; DDP ranks use 1)")
    ap.add_argument("--cache-only", action="store_true", help="only compute the frozen-encoder cache")
    return ap.parse_args(argv)


def make_optimizer(model: nn.Module, trainable: list, lr: float, encoder_lr: float | None) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters; the tuned MiniLM layers, already trained for their job
    in MiniLM (the decoder's cross-attention and heads start random), may take their own, usually
    smaller, learning rate."""
    top = getattr(model.heads, "top", None)
    tuned = {id(p) for p in top.parameters()} if top is not None else set()
    groups = [{"params": [p for p in trainable if id(p) not in tuned], "lr": lr},
              {"params": [p for p in trainable if id(p) in tuned], "lr": encoder_lr or lr}]
    return torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=0.01)


def main(argv=None) -> dict:
    a = parse(argv)
    if a.method == "kto" and not a.init:
        raise SystemExit("--method kto needs --init CKPT: the model to improve, also its frozen reference policy")
    if a.method == "kto" and a.solutions:
        raise SystemExit("--method kto trains on decompositions only; drop --solutions")
    if a.solutions_weight <= 0:
        raise SystemExit("--solutions-weight must be above 0 (--solutions 0 leaves the worked solutions out)")
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        dist.init_process_group("gloo")
        torch.set_num_threads(1)
    else:
        torch.set_num_threads(a.threads or max(1, min(2, os.cpu_count() or 1)))
    random.seed(a.seed); np.random.seed(a.seed); torch.manual_seed(a.seed)
    root = data_dir(a.data)
    tmpdir = None
    if a.out:
        out = Path(a.out)
    elif a.tiny:
        tmpdir = tempfile.mkdtemp(prefix="decomposer-tiny-")
        out = Path(tmpdir)
    else:
        out = RUNS / a.method
    if distributed and a.tiny and not a.out:
        # every rank must write into the same directory: rank 0 chooses it
        obj = [str(out)]
        dist.broadcast_object_list(obj, src=0)
        out = Path(obj[0])
    out.mkdir(parents=True, exist_ok=True)

    # ---- data
    examples = D.build_dataset(root, tiny=a.tiny, include_heldout=a.include_heldout)
    heldout = D.heldout_calibration(root)
    if a.tiny:
        heldout = heldout[:4]

    def allowed(found: list[D.Example], what: str) -> list[D.Example]:
        kept, dropped = D.without_benchmark_problems(found, root, a.include_heldout)
        if dropped:
            log(f"{what}: {dropped} set(s) dropped: their problems are GSM8K test problems this run must not train on")
        if not kept:
            raise SystemExit(f"{what}: nothing left to train on")
        return kept

    if a.feedback:
        fb = allowed(D.load_feedback(Path(a.feedback)), "feedback")
        ups = sum(1 for e in fb if e.meta.get("thumb_up"))
        if a.init:
            # A short fine-tune of a released checkpoint; a replayed sample of the original data keeps
            # a few hundred feedback records from erasing the skill.
            rng = random.Random(a.seed)
            replay = rng.sample(examples, min(len(examples), 4 * len(fb) + 64))
            examples = fb + replay
            log(f"feedback: {len(fb)} records ({ups} thumbs up) + {len(replay)} replay")
        else:
            # No checkpoint at hand (model.pt is not committed): the full recipe with the feedback added.
            examples = examples + fb
            log(f"feedback: {len(fb)} records ({ups} thumbs up) added to the recipe's {len(examples) - len(fb)}")
    teacher = allowed(D.load_teacher_data(Path(a.teacher_data)), "teacher data") if a.teacher_data else []
    if teacher:
        examples = examples + teacher
        log(f"teacher data: {len(teacher)} sets for {len({e.problem for e in teacher})} problems "
            f"({sum(1 for e in teacher if desirable(e))} answer-correct without a repeat) added")

    # ---- model
    bert = load_minilm()
    if a.init:
        ck = torch.load(a.init, map_location="cpu", weights_only=False)
        cfg = Config(**{**ck["config"], "warm_start": False})
    else:
        cfg = Config(n_layers=a.layers, dropout=a.dropout, tuned_encoder_layers=a.tune_encoder,
                     out_vocab=D.output_vocab(D.build_dataset(root, include_heldout=a.include_heldout) + teacher), style_tokens=a.style != "none", bos=SOCRATIC_BOS if a.style == "socratic" else BOS)
    model = build(cfg, bert=bert, with_encoder=True, seed=a.seed)
    if a.init:
        load_weights(model, Path(a.init))
    pairs = select(examples, a.method, a.llm_weight, compact_reward=a.compact_reward)
    n_main = len(pairs)
    if a.solutions is None:
        a.solutions = 0.0 if (a.feedback and a.init) or a.method == "kto" else 0.5
    solutions = D.load_solutions(root, limit=200 if a.tiny else None) if a.solutions else []
    if solutions:
        log(f"auxiliary worked solutions: {len(solutions)}, {a.solutions:.0%} of them per epoch, "
            f"weight {a.solutions_weight:g}")
    weights = loss_weights([w for _, w in pairs], len(solutions), a.solutions_weight)
    items = [(encode_source(e.problem), encode_target(e.questions), w, e.problem, start_id(cfg, e.kind),
              desirable(e, a.compact_reward))
             for e, w in zip([e for e, _ in pairs] + solutions, weights)]

    def epoch_items(r: random.Random) -> list[int]:
        return list(range(n_main)) + [i for i in range(n_main, len(items)) if r.random() < a.solutions]

    log(f"method={a.method} examples={n_main} kinds="
        f"{dict(sorted(((k, sum(1 for e, _ in pairs if e.kind == k)) for k in {e.kind for e, _ in pairs})))}")

    # ---- frozen encoder cache (rank 0 computes, the others wait and read)
    frozen = cfg.frozen_encoder_layers
    name = "minilm" + ("" if frozen == MINILM_LAYERS else f"_l{frozen}") + ("_tiny" if a.tiny else "")
    cache_path = RUNS / "cache" / f"{name}.pt"
    if rank() == 0:
        cache = encode_all([e.problem for e in examples], cache_path, bert, layers=frozen)
    if distributed:
        dist.barrier()
        if rank() != 0:
            cache = encode_all([e.problem for e in examples], cache_path, bert, layers=frozen)
    if a.cache_only:
        return {"cache": str(cache_path), "problems": len(cache)}

    # ---- training
    trainable = [p for p in model.parameters() if p.requires_grad and not any(p is q for q in model.encoder.parameters())]
    model.encoder.requires_grad_(False)
    lm = LossModule(model, 0.0 if a.method == "kto" else a.label_smoothing)
    net = nn.parallel.DistributedDataParallel(lm) if distributed else lm
    opt = make_optimizer(model, trainable, a.lr, a.encoder_lr)
    kto = None
    if a.method == "kto":
        good_w = sum(it[2] for it in items if it[5])
        bad_w = sum(it[2] for it in items if not it[5])
        kto = KTO(model, a.kto_beta, lambda_u=good_w / bad_w if bad_w else 1.0, sft=a.kto_sft)
        log(f"kto: {sum(1 for it in items if it[5])} desirable, {sum(1 for it in items if not it[5])} undesirable, "
            f"lambda_u {kto.lambda_u:.2f}, beta {a.kto_beta}, sft {a.kto_sft}")

    # With --ema the checks score, and model.pt keeps, the average; the optimiser still steps `model`.
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(a.ema)) if a.ema else None
    kept = ema.module if ema is not None else model

    def training_mode() -> None:  # the frozen encoder part never trains; KTO runs without dropout
        model.train(kto is None); model.encoder.eval()

    rng = random.Random(a.seed)
    epochs = a.epochs if a.epochs is not None else (3.0 if a.feedback and a.init else 9.0)
    max_steps_tiny = 8
    if a.tiny:
        a.batch_tokens = min(a.batch_tokens, 768)
    steps_per_epoch = len(make_batches(items, a.batch_tokens, random.Random(0), epoch_items(random.Random(0)))) // world()
    total = max(1, int(steps_per_epoch * epochs)) if not a.tiny else max_steps_tiny
    warm = min(200, max(1, total // 10))
    t_start = time.time()

    def progress(s: int) -> float:
        # with --minutes (single process only) the decay follows the clock, so a run cut by time
        # still ends at a low learning rate; DDP ranks must agree, so they follow steps only
        p = s / total
        if a.minutes and not distributed:
            p = max(p, (time.time() - t_start) / (a.minutes * 60))
        return min(p, 1.0)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.05, 1 - progress(s)))
    log(f"trainable params {sum(p.numel() for p in trainable):,}  steps/epoch {steps_per_epoch}  total {total}  world {world()}")
    eval_every = a.eval_every or 3 * steps_per_epoch
    history, best, step, t0 = [], None, 0, time.time()
    best_path = out / "model.pt"
    training_mode()
    done = False
    while not done:
        batches = make_batches(items, a.batch_tokens, rng, epoch_items(rng))
        batches = batches[: len(batches) - len(batches) % world()] if world() > 1 else batches
        for bi in range(rank(), len(batches), world()):
            h, mask, src_ids, dec_in, targets, tmask, w, good = collate(batches[bi], items, cache)
            if kto is not None:
                loss = kto.loss(net, h, mask, src_ids, dec_in, targets, tmask, good, w)
            else:
                loss = likelihood_loss(net(h, mask, src_ids, dec_in, targets),
                                       tmask * model.decoder.producible(src_ids, targets), w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            opt.step(); sched.step(); step += 1
            if ema is not None:
                ema.update_parameters(model)
            if step % 25 == 0 or a.tiny:
                log(f"step {step}/{total} loss {loss.item():.4f} lr {sched.get_last_lr()[0]:.2e} {time.time() - t0:.0f}s")
            timeout = a.minutes and (time.time() - t0) > a.minutes * 60
            if timeout and distributed:  # every rank must stop at the same step
                flag = torch.tensor([1.0 if timeout else 0.0]); dist.all_reduce(flag); timeout = flag.item() > 0
            last = step >= total or timeout
            if a.include_heldout and last and rank() == 0:
                best = {"step": step, "minutes": round((time.time() - t0) / 60, 1)}
                save_ckpt(kept, best_path, {"metrics": best, "method": a.method, "args": vars(a)})
            elif (step % eval_every == 0 or last) and rank() == 0 and not a.include_heldout:
                kept.eval()
                m = evaluate(kept, heldout, beams=a.check_beams, limit=a.eval_limit or None,
                             max_new_tokens=TINY_TOKENS if a.tiny else 160)
                m.update(step=step, minutes=round((time.time() - t0) / 60, 1))
                history.append(m)
                log("calibration-heldout", json.dumps(m))
                if best is None or m["f1_mean"] >= best["f1_mean"]:
                    best = m
                    save_ckpt(kept, best_path, {"metrics": m, "method": a.method, "args": vars(a)})
                training_mode()
            if distributed:
                dist.barrier()
            if last:
                done = True
                break
    result = {"method": a.method, "out": str(out), "best": best, "history": history, "steps": step,
              "train_minutes": round((time.time() - t0) / 60, 1)}
    if rank() == 0:
        (out / "train_log.json").write_text(json.dumps(result, indent=1))
        if not a.no_export:
            result.update(export_and_check(best_path, out / "export", int8=not a.fp32,
                                           decoding={"maxNewTokens": TINY_TOKENS} if a.tiny else None))
            (out / "train_log.json").write_text(json.dumps(result, indent=1))
        log("done", json.dumps({k: v for k, v in result.items() if k != "history"}))
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return result


def export_and_check(ckpt: Path, out: Path, int8: bool, decoding: dict | None = None) -> dict:
    """Export fp32, check ONNX == PyTorch token for token (greedy and beam) on the fixed problems,
    then export the requested precision with reference.json."""
    from .decode import OnnxStepper, TorchStepper, decode_text
    from .export import REFERENCE_PROBLEMS, export, load_checkpoint
    model = load_checkpoint(ckpt).eval()
    fp32 = out.parent / (out.name + "-fp32")
    man = export(model, fp32, int8=False, reference=False, decoding=decoding)
    onnx, torch_ = OnnxStepper(fp32), TorchStepper(model)
    mismatches = 0
    for p in REFERENCE_PROBLEMS:
        for beams in (1, man["decoding"]["beams"]):
            if decode_text(onnx, p, man, beams)["ids"] != decode_text(torch_, p, man, beams)["ids"]:
                mismatches += 1
    log(f"parity onnx-fp32 vs pytorch: {mismatches} mismatches over {2 * len(REFERENCE_PROBLEMS)} decodes")
    if mismatches:
        raise SystemExit("ONNX export does not reproduce the PyTorch model")
    man = export(model, out, int8=int8, decoding=decoding)
    return {"export": str(out), "parity_mismatches": mismatches,
            "model_bytes": sum(f["bytes"] for f in man["files"].values())}


if __name__ == "__main__":
    main()
