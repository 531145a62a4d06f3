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


def test_integer_matmuls_cannot_overflow_on_any_cpu():
    """Without VNNI, onnxruntime adds pairs of u8 activation x s8 weight products in 16 bits: every
    weight must be unsigned, or signed with |w| <= 64 (2 x 255 x 64 <= 32767), for the files to
    decode the same on every x86 CPU (training/export.py::quantize)."""
    import onnx
    from onnx import numpy_helper

    for name in ("encoder.onnx", "decoder.onnx"):
        graph = onnx.load(MODELS / name).graph
        weights = {t.name: t for t in graph.initializer}
        matmuls = [n for n in graph.node if n.op_type == "MatMulInteger"]
        assert matmuls, name
        for node in matmuls:
            w = numpy_helper.to_array(weights[node.input[1]])
            assert w.dtype.name == "uint8" or int(abs(w.astype("int32")).max()) <= 64, (name, node.name)
