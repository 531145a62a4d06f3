"""End to end: `python -m training.evaluate` on a tiny --ours file with --limit."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from training.evaluate import data as D
from training.evaluate import metrics as M

REPO = Path(__file__).resolve().parents[3]
LIMIT = 6


def run_cli(*args, timeout=240):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "training.evaluate", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def problems():
    return D.load_problems(D.data_dir(None))


@pytest.fixture
def ours_file(tmp_path, problems):
    """Ours = the LLM's sub-questions on 4 problems, the socratic ones on 1, a runtime error on 1."""
    idx = D.split_indices("evaluation", LIMIT)
    path = tmp_path / "ours.jsonl"
    rows = []
    for k, i in enumerate(idx):
        if k == 4:
            rows.append({"id": D.problem_id(i), "problem": problems[i].text, "subQuestions": problems[i].socratic})
        elif k == 5:
            rows.append({"id": D.problem_id(i), "problem": problems[i].text, "error": "model failed"})
        else:
            rows.append({"id": D.problem_id(i), "problem": problems[i].text, "subQuestions": problems[i].llm})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, idx


def test_write_problems(tmp_path):
    out = tmp_path / "p.jsonl"
    r = run_cli("--split", "calibration", "--limit", "3", "--write-problems", str(out))
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in rows] == ["gsm8k-test-0", "gsm8k-test-1", "gsm8k-test-2"]
    assert rows[0]["problem"].startswith("Janet")


def test_end_to_end_with_embeddings(tmp_path, ours_file, problems):
    path, idx = ours_file
    out_dir = tmp_path / "reports"
    r = run_cli("--limit", str(LIMIT), "--ours", str(path), "--out-dir", str(out_dir), "--threshold", "0.75")
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    ours = summary["ours"]
    for key in ("f1_socratic", "f1_llm", "f1_mean", "bleu", "dup_rate", "ungrounded_rate", "mean_count", "final_align"):
        assert key in ours and key in summary["best_paper_compact"] and key in summary["llm"]
    assert summary["f1_kind"] == "embedding" and summary["n"] == LIMIT and ours["errors"] == 1
    assert summary["best_paper_compact"]["name"] in D.PAPER_COMPACT.values()
    # Known answers: ours equals the LLM on 4/6 problems, socratic on 1, empty on 1.
    llm_f1_on_soc = M.lexical_prf([problems[idx[4]].socratic], [problems[idx[4]].llm])["f1"]
    assert ours["lex_f1_llm"] == pytest.approx((4 + llm_f1_on_soc) / 6, abs=1e-4)
    assert ours["mean_count"] == pytest.approx(
        (sum(len(problems[i].llm) for i in idx[:4]) + len(problems[idx[4]].socratic)) / 6, abs=1e-4)
    # the embedding match of a sub-question with itself is 1 >= threshold, so f1_llm >= 4/6 too
    assert ours["f1_llm"] >= 4 / 6 - 1e-6
    assert summary["llm"]["f1_llm"] == 1.0 and summary["llm"]["bleu"] == pytest.approx(100.0)
    stem = f"eval-evaluation-limit{LIMIT}"
    md = (out_dir / f"{stem}.md").read_text()
    assert "| ours (shipped runtime)" in md and "NOT a reportable number" in md
    assert (out_dir / f"{stem}.png").stat().st_size > 1000
    doc = json.loads((out_dir / f"{stem}.json").read_text())
    assert doc["meta"]["threshold"] == 0.75 and "f1_mean" in doc["spearman"]
    assert (out_dir / "cache" / "minilm-embeddings.npz").is_file()


def test_end_to_end_lexical_with_answerer(tmp_path, ours_file, problems, chat_server):
    path, idx = ours_file
    gold = {problems[i].text: problems[i].gold for i in idx}
    server = chat_server(lambda prob, body: f"A1: ok\n\nFinal answer: {gold[prob]:g}")
    r = run_cli("--limit", str(LIMIT), "--ours", str(path), "--out-dir", str(tmp_path / "r"), "--no-embedding",
                "--answerer-base-url", server.base_url, "--answerer-model", "m", "--answerer-systems", "ours,llm",
                "--answerer-rpm", "0")
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["f1_kind"] == "lexical"
    assert summary["ours"]["f1_llm"] == summary["ours"]["lex_f1_llm"]
    # the server always answers right; ours' runtime error is scored wrong without a request
    assert summary["answerer_accuracy"] == {"ours": pytest.approx(5 / 6, abs=1e-4), "llm": 1.0}
    # 5 non-empty decompositions of ours + 6 of the LLM, but ours equals the LLM on 4 problems: the
    # identical prompts are answered from the cache, so only 5 + 2 requests reach the server
    assert len(server.requests) == 5 + 2
    assert "Answerer accuracy (paper protocol)" in (tmp_path / "r" / f"eval-evaluation-limit{LIMIT}.md").read_text()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_npm_eval_script_with_ours_file(tmp_path, ours_file):
    """scripts/eval.mjs (the `npm run eval` entry) with --ours skips the runtime and passes the rest on."""
    path, _ = ours_file
    r = subprocess.run(["node", "scripts/eval.mjs", "--ours", str(path), "--limit", str(LIMIT), "--no-embedding",
                        "--out-dir", str(tmp_path / "r")], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["ours"]["errors"] == 1 and summary["ours"]["empty_rate"] == pytest.approx(1 / 6, abs=1e-4)
    r = subprocess.run(["node", "scripts/eval.mjs", "--ours", str(path), "--no-ours"], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "exclude each other" in r.stderr


def test_no_ours_says_so(tmp_path):
    r = run_cli("--split", "calibration", "--limit", "3", "--no-embedding", "--out-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["ours"] is None and "absent" in summary["ours_status"]


def test_user_errors_are_one_line(tmp_path, ours_file):
    path, _ = ours_file
    r = run_cli("--limit", str(LIMIT + 1), "--ours", str(path), "--no-embedding", "--out-dir", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "lacks 1 of the 7" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("--data", str(tmp_path / "nope"), "--no-embedding")
    assert r.returncode == 2 and "not found" in r.stderr and "Traceback" not in r.stderr
