"""The files in models/ match their manifest, and reference.json is what decode.py produces."""
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from training.decode import OnnxStepper, clean_questions, decode_text, end_with_problem_question
from training.export import REFERENCE_PROBLEMS, TIE_MARGIN

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
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


def first_difference(a: list[int], b: list[int]) -> int | None:
    """Index of the first id where a and b part (the shorter length when one is a prefix); None if equal."""
    if a == b:
        return None
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def near_tie(margins: list[float | None], tie: float) -> bool:
    return any(m is not None and m < tie for m in margins)


def agrees(ours: list[int], run: dict, greedy: bool, tie: float) -> bool:
    """Same ids, or they part where the reference's decision was a near-tie that another CPU's float
    rounding may decide the other way: for greedy that exact step; for beam search any step or the final
    choice, since a flip anywhere can change which hypothesis wins."""
    i = first_difference(ours, run["ids"])
    if i is None:
        return True
    return near_tie(run["margins"][i:i + 1] if greedy else run["margins"], tie)


def test_first_difference_and_agrees():
    run = {"ids": [5, 6, 7, 2], "margins": [1.0, 0.01, 2.0, 3.0, None]}
    assert first_difference([5, 6, 7, 2], run["ids"]) is None
    assert first_difference([5, 6], run["ids"]) == 2
    assert agrees([5, 9, 2], run, greedy=True, tie=0.05)  # parted at the 0.01 near-tie
    assert not agrees([5, 6, 9, 2], run, greedy=True, tie=0.05)  # parted at a clear decision
    assert agrees([5, 6, 9, 2], run, greedy=False, tie=0.05)  # beam: a near-tie earlier can explain it
    assert not agrees([5, 6, 9, 2], {**run, "margins": [1.0, 0.5, None]}, greedy=False, tie=0.05)


def test_reference_reproduces():
    """models/reference.json was written by training/decode.py on one CPU; this one must decode the same
    ids, except after a decision the reference records as a near-tie (export.py::TIE_MARGIN)."""
    ref = json.loads((MODELS / "reference.json").read_text())
    st = OnnxStepper(MODELS)
    assert ref["decoding"] == st.manifest["decoding"]
    for it in ref["items"]:
        for mode, beams in (("greedy", 1), ("beam", ref["decoding"]["beams"])):
            ours = decode_text(st, it["problem"], st.manifest, beams)["ids"]
            assert agrees(ours, it[mode], mode == "greedy", ref["tieMargin"]), (mode, it["problem"][:60], ours)


@pytest.mark.parametrize("beams", [1, 4])
def test_node_cli_shows_what_python_decodes_on_this_cpu(tmp_path, beams):
    """Parity on one CPU: the product's own entry point (the CLI's batch mode, as `npm run eval` runs it)
    shows the sub-questions that training/decode.py decodes and the runtime's rules would show (cleaned,
    the problem's question appended; the CLI also restores capitals). onnxruntime-node and Python's
    onnxruntime are separate builds, so a problem may differ only if its decoding had a near-tie."""
    cli = ROOT / "out" / "src" / "cli" / "main.js"
    assert cli.exists(), "compile the TypeScript first: npm run compile"
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"id": i, "problem": p}) + "\n"
                                               for i, p in enumerate(REFERENCE_PROBLEMS)))
    r = subprocess.run(["node", str(cli), "decompose", "--json", "--device", "cpu", "--beams", str(beams),
                        "--model", str(MODELS), "--input", str(tmp_path / "in.jsonl"),
                        "--output", str(tmp_path / "out.jsonl")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    node = [json.loads(line)["subQuestions"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    st = OnnxStepper(MODELS)
    mq = st.manifest["decoding"]["maxQuestions"]
    assert len(node) == len(REFERENCE_PROBLEMS)
    exact = 0
    for shown, p in zip(node, REFERENCE_PROBLEMS):
        r = decode_text(st, p, st.manifest, beams)
        python = end_with_problem_question(clean_questions(r["questions"], mq), p, mq)
        if [q.lower() for q in shown] == [q.lower() for q in python]:
            exact += 1
        else:
            assert near_tie(r["margins"], TIE_MARGIN), (p[:60], shown, python)
    assert exact >= len(REFERENCE_PROBLEMS) - 1, "Node and Python parted on more than one problem"


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
