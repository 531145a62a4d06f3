"""The whole --tiny path (data -> train -> export -> parity) and the same under torchrun (2 gloo ranks)."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def test_tiny_end_to_end(tmp_path):
    r = subprocess.run([sys.executable, "-m", "training.train", "--tiny", "--out", str(tmp_path)], cwd=ROOT,
                       env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    log = json.loads((tmp_path / "train_log.json").read_text())
    assert log["parity_mismatches"] == 0 and log["steps"] > 0
    for name in ("encoder.onnx", "decoder.onnx", "tokenizer.json", "manifest.json", "reference.json"):
        assert (tmp_path / "export" / name).exists()


def test_torchrun_two_gloo_processes(tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    r = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", "29571", "-m", "training.train",
                        "--tiny", "--no-export", "--method", "awbc", "--out", str(tmp_path)], cwd=ROOT, env=ENV,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    log = json.loads((tmp_path / "train_log.json").read_text())
    assert log["steps"] > 0 and (tmp_path / "model.pt").exists()
    assert "world 2" in r.stdout


def test_feedback_finetune_from_checkpoint(tmp_path):
    """--feedback + --init: fine-tunes an existing checkpoint on exported thumbs up/down records."""
    init = tmp_path / "init"
    r = subprocess.run([sys.executable, "-m", "training.train", "--tiny", "--no-export", "--out", str(init)],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    fb = tmp_path / "feedback.jsonl"
    recs = [{"question": "Tom has 3 apples and buys 2 more. How many apples does he have now?",
             "answers": ["How many apples does Tom buy?", "How many apples does Tom have now?"],
             "rewards": {"usefulness": [1.0, 1.0], "answer_correctness": 1}},
            {"question": "A pen costs $2. How much do 5 pens cost?", "answers": ["What is a pen?"],
             "rewards": {"usefulness": [0.0], "answer_correctness": 0}}]
    fb.write_text("\n".join(json.dumps(x) for x in recs) + "\n")
    out = tmp_path / "ft"
    r = subprocess.run([sys.executable, "-m", "training.train", "--tiny", "--no-export", "--method", "awbc",
                        "--feedback", str(fb), "--init", str(init / "model.pt"), "--out", str(out)],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "feedback: 2 records (1 thumbs up)" in r.stdout
    assert (out / "model.pt").exists()
