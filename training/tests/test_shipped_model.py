"""The files in models/ match their manifest, and reference.json is what decode.py produces."""
import hashlib
import json
from pathlib import Path

import pytest

from training.decode import OnnxStepper, decode_text

MODELS = Path(__file__).resolve().parents[2] / "models"
pytestmark = pytest.mark.skipif(not (MODELS / "manifest.json").exists(), reason="no shipped model")


def test_manifest_hashes():
    man = json.loads((MODELS / "manifest.json").read_text())
    assert man["format"] == "math-tutor-seq2seq/1"
    total = 0
    for name, f in man["files"].items():
        data = (MODELS / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"], name
        assert len(data) == f["bytes"]
        total += len(data)
    assert total <= 60 * 1024 * 1024


def test_reference_reproduces():
    ref = json.loads((MODELS / "reference.json").read_text())
    st = OnnxStepper(MODELS)
    assert ref["decoding"] == st.manifest["decoding"]
    for it in ref["items"]:
        assert decode_text(st, it["problem"], st.manifest, 1)["ids"] == it["greedy"]["ids"]
        assert decode_text(st, it["problem"], st.manifest)["ids"] == it["beam"]["ids"]
