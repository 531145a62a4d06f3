"""The whole --tiny path (data -> train -> export -> parity) and the same under torchrun (2 gloo ranks)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from training.common import data_dir

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


def test_include_heldout_keeps_the_last_step_without_checks(tmp_path):
    r = subprocess.run([sys.executable, "-m", "training.train", "--tiny", "--no-export", "--include-heldout",
                        "--out", str(tmp_path)], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    log = json.loads((tmp_path / "train_log.json").read_text())
    assert log["history"] == [] and "calibration-heldout" not in r.stdout
    saved = torch.load(tmp_path / "model.pt", map_location="cpu", weights_only=False)
    assert saved["metrics"]["step"] == log["steps"] > 0


def test_ema_is_what_the_check_scores_and_model_pt_keeps(tmp_path):
    """Three tiny runs, one seed, each checked and saved at its last step. A decay of ~0 keeps the raw
    weights (so --ema leaves the optimisation itself alone); a decay of 0.5 keeps an average of the
    last steps, which differs from them in every trained tensor."""
    def kept(name: str, *ema: str) -> dict:
        out = tmp_path / name
        r = subprocess.run([sys.executable, "-m", "training.train", "--tiny", "--no-export", *ema, "--out", str(out)],
                           cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
        assert [m["step"] for m in json.loads((out / "train_log.json").read_text())["history"]] == [8]
        return torch.load(out / "model.pt", map_location="cpu", weights_only=False)["state"]

    raw, near_zero, half = kept("raw"), kept("near-zero", "--ema", "1e-9"), kept("half", "--ema", "0.5")
    trained = [k for k, v in raw.items() if v.is_floating_point() and not torch.equal(v, half[k])]
    assert all(torch.allclose(raw[k], near_zero[k], atol=1e-6) for k in raw)
    assert len(trained) == sum(1 for v in raw.values() if v.is_floating_point()) > 0


def test_torchrun_two_gloo_processes(tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    r = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", "29571", "-m", "training.train",
                        "--tiny", "--no-export", "--method", "awbc", "--out", str(tmp_path)], cwd=ROOT, env=ENV,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    log = json.loads((tmp_path / "train_log.json").read_text())
    assert log["steps"] > 0 and (tmp_path / "model.pt").exists()
    assert "world 2" in r.stdout


# A synthetic feedback log written through the extension's own FeedbackLog (compiled by `tsc` to out/):
# two decompositions liked, one disliked with a reason, one shown but never rated.
WRITE_LOG = r"""
const { FeedbackLog } = require(process.argv[1]);
const log = new FeedbackLog({ dir: process.argv[2] });
const shown = (problem, subQuestions) => log.recordShown({
  problem, subQuestions, source: 'local', model: 'gsm-decomposer@test', device: 'cpu', ms: 1, warnings: [],
  decoding: { beams: 4, maxQuestions: 8, maxNewTokens: 160, noRepeatNgram: 0 } });
(async () => {
  const a = await shown('Tom has 3 apples and buys 2 more. How many apples does he have now?',
    ['How many apples does Tom buy?', 'How many apples does Tom have now?']);
  await log.recordVote(a, 0, 1); await log.recordVote(a, 'overall', 1);
  const b = await shown('A pen costs $2. How much do 5 pens cost?', ['What is a pen?']);
  await log.recordVote(b, 'overall', -1, 'not helpful');
  const c = await shown('Ann reads 10 pages a day. How many pages does she read in 3 days?',
    ['How many pages does Ann read a day?', 'How many pages does she read in 3 days?']);
  await log.recordVote(c, 'overall', 1);
  await shown('Never rated: 1 + 1?', ['What is 1 + 1?']);
})();
"""


def test_feedback_loop_log_export_finetune_onnx_runtime(tmp_path):
    """Issue 5's loop: feedback log -> `feedback export` -> fine-tune (tiny; AWBC and KTO) -> ONNX -> the Node
    runtime loads it."""
    out_js = ROOT / "out" / "src"
    assert (out_js / "cli" / "main.js").exists(), "compile the TypeScript first: npm run compile"
    log_dir = tmp_path / "log"
    subprocess.run(["node", "-e", WRITE_LOG, str(out_js / "feedback" / "log.js"), str(log_dir)], check=True, timeout=60)

    exported = tmp_path / "feedback.json"
    r = subprocess.run(["node", str(out_js / "cli" / "main.js"), "feedback", "export", "--log", str(log_dir),
                        "--out", str(exported)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    records = json.loads(exported.read_text())
    assert len(records) == 3  # the unrated one is not training data
    assert sorted(x["rewards"]["answer_correctness"] for x in records) == [0, 1, 1]

    init = tmp_path / "init"
    r = subprocess.run([sys.executable, "-m", "training.train", "--tiny", "--no-export", "--out", str(init)],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    tuned = tmp_path / "tuned"
    r = subprocess.run([sys.executable, "-m", "training.train", "--tiny", "--method", "awbc", "--feedback",
                        str(exported), "--init", str(init / "model.pt"), "--out", str(tuned)],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "feedback: 3 records (2 thumbs up) + " in r.stdout
    # KTO takes the same thumbs: up desirable, down undesirable, against the checkpoint as reference.
    r = subprocess.run([sys.executable, "-m", "training.train", "--tiny", "--no-export", "--method", "kto", "--feedback",
                        str(exported), "--init", str(init / "model.pt"), "--out", str(tmp_path / "kto")],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "feedback: 3 records (2 thumbs up) + " in r.stdout and "undesirable" in r.stdout
    assert json.loads((tmp_path / "kto" / "train_log.json").read_text())["method"] == "kto"
    # Without a checkpoint the same entry point runs the recipe with the feedback added.
    r = subprocess.run([sys.executable, "-m", "training.train", "--tiny", "--no-export", "--feedback", str(exported),
                        "--out", str(tmp_path / "recipe")], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "feedback: 3 records (2 thumbs up) added to the recipe's" in r.stdout

    r = subprocess.run(["node", str(out_js / "cli" / "main.js"), "decompose", "--json", "--device", "cpu",
                        "--model", str(tuned / "export"), "Tom has 3 apples and buys 2 more. How many apples does he have now?"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["source"] == "local" and result["device"] == "cpu"
    assert result["model"].startswith("gsm-decomposer@")
    assert isinstance(result["subQuestions"], list)


# `npm run teacher-data` (compiled by `tsc` to out/) against the scripted OpenAI-compatible server of the
# TypeScript tests: every set is "Q1 ... Q2 ..." (the second sample of a problem words Q1 differently),
# and the teacher always answers 72, right for GSM8K train line 0 (Natalia's clips) and wrong for line 1.
RUN_TEACHER = r"""
const [out, input, output] = process.argv.slice(1);
const { FakeOpenAIServer } = require(`${out}/test/support/fakeOpenAIServer.js`);
const { runTeacherDataCli } = require(`${out}/src/cli/teacherData.js`);
const { ANSWER_SYSTEM_PROMPT, DECOMPOSE_SYSTEM_PROMPT } = require(`${out}/src/teacher/prompts.js`);
const samples = new Map();
const content = (text) => ({ kind: 'content', content: text });
(async () => {
  const server = await FakeOpenAIServer.start();
  server.whenEmpty((request) => {
    const messages = request.body.messages;
    const [system, user] = [messages[0].content, messages[messages.length - 1].content];
    if (system.startsWith(DECOMPOSE_SYSTEM_PROMPT)) {
      const n = samples.get(user) ?? 0;
      samples.set(user, n + 1);
      return content(`Q1: How many did she have ${n ? 'first' : 'at the start'}?\nQ2: How many in all?`);
    }
    return content(system === ANSWER_SYSTEM_PROMPT ? 'A1: 24\nA2: 72\nFinal answer: 72' : 'Q1: yes\nQ2: yes');
  });
  const code = await runTeacherDataCli(['--input', input, '--output', output, '--base-url', server.baseURL,
    '--model', 'fake-teacher', '--sets', '2', '--judges', '1'], { env: {}, out: () => {}, err: () => {} });
  await server.close();
  process.exit(code);
})();
"""


def test_teacher_data_from_the_cli_trains_and_benchmark_problems_stay_out(tmp_path):
    """The model card's next step 1: `npm run teacher-data` on GSM8K problems -> `train --teacher-data`.
    The teacher was also given an evaluation-split problem; its sets must not be trained on."""
    out_js = ROOT / "out"
    assert (out_js / "src" / "cli" / "main.js").exists(), "compile the TypeScript first: npm run compile"
    gsm8k = data_dir() / "gsm8k"
    lines = (gsm8k / "train.jsonl").read_text().splitlines()[:2] + (gsm8k / "test.jsonl").read_text().splitlines()[700:701]
    problems, sets = tmp_path / "problems.jsonl", tmp_path / "teacher.jsonl"
    problems.write_text("\n".join(lines) + "\n")
    subprocess.run(["node", "-e", RUN_TEACHER, str(out_js), str(problems), str(sets)], check=True, timeout=120)
    records = [json.loads(line) for line in sets.read_text().splitlines()]
    assert len(records) == 6 and [r["rewards"]["answer_correctness"] for r in records].count(1) == 2

    r = subprocess.run([sys.executable, "-m", "training.train", "--tiny", "--no-export", "--teacher-data", str(sets),
                        "--out", str(tmp_path / "run")], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "teacher data: 2 set(s) dropped: their problems are GSM8K test problems" in r.stdout
    assert "teacher data: 4 sets for 2 problems (2 answer-correct without a repeat) added" in r.stdout
    assert "'teacher': 2}" in r.stdout  # Filtered BC trains on the two sets the teacher answered right with
