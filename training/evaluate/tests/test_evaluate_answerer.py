"""Metric 8 (paper answering protocol) against a local OpenAI-compatible server over real HTTP."""
import pytest

from training.evaluate import data as D
from training.evaluate.answerer import (Answerer, AnswererConfig, build_messages, endpoint_url,
                                        evaluate_system)


@pytest.fixture(scope="module")
def problems():
    return D.load_problems(D.data_dir(None))


def _cfg(server, tmp_path, **kw):
    base = dict(base_url=server.base_url, model="test-model", api_key="sk-test",
                cache_path=tmp_path / "cache.jsonl", rpm=0, max_retries=3, timeout=5, backoff_base=0.01,
                backoff_cap=0.05)
    base.update(kw)
    return AnswererConfig(**base)


def test_endpoint_url():
    assert endpoint_url("http://h:1/v1") == "http://h:1/v1/chat/completions"
    assert endpoint_url("http://h:1/v1/") == "http://h:1/v1/chat/completions"
    assert endpoint_url("http://h:1") == "http://h:1/v1/chat/completions"


def test_protocol_accuracy_retries_and_resume(chat_server, problems, tmp_path):
    sel = [problems[i] for i in range(319, 325)]
    gold = {p.text: p.gold for p in sel}
    right = {p.text for p in sel[:4]}  # the server answers the first 4 right, the last 2 wrong

    def reply(problem, body):
        g = gold[problem]
        n = sum(1 for line in body["messages"][-1]["content"].splitlines() if line.startswith("Q"))
        steps = "\n".join(f"A{k}: step {k}." for k in range(1, n + 1))
        return f"{steps}\n\nFinal answer: {g if problem in right else g + 1:,.0f}"

    server = chat_server(reply, failures=[429, 500])  # two transient failures, then service
    ans = Answerer(_cfg(server, tmp_path))
    decomps = [p.llm for p in sel]
    decomps[5] = []  # an empty decomposition is not sent and counts as wrong
    r = evaluate_system(ans, [problems[0], problems[1]], sel, decomps)
    assert r["correct"] == 4 and r["accuracy"] == pytest.approx(4 / 6)
    assert r["answered"] == 5 and r["empty_decompositions"] == 1 and r["from_cache"] == 0
    assert len(server.requests) == 5 + 2 and ans.requests == 7

    path, headers, body = server.requests[-1]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-test"
    assert body["temperature"] == 0 and body["model"] == "test-model"
    msgs = body["messages"]
    # system, two worked examples (user+assistant each), then the problem with its Q1..Qn
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "Final answer: 18" in msgs[2]["content"] and msgs[2]["content"].startswith("A1:")
    assert "\nQ1: " in msgs[-1]["content"] and "A1..An" not in msgs[-1]["content"]

    # Resume: a new Answerer on the same cache sends nothing and gets the same result.
    ans2 = Answerer(_cfg(server, tmp_path))
    r2 = evaluate_system(ans2, [problems[0], problems[1]], sel, decomps)
    assert ans2.requests == 0 and r2["from_cache"] == 5 and r2["correct"] == 4
    assert len(server.requests) == 7


def test_bounded_retries_then_clear_error(chat_server, problems, tmp_path):
    server = chat_server(lambda p, b: "Final answer: 1", failures=[503] * 10)
    ans = Answerer(_cfg(server, tmp_path, max_retries=2))
    with pytest.raises(D.UserFacingError, match="failed 3 times"):
        ans.answer(build_messages([problems[0]], "x", ["q?"]))
    assert len(server.requests) == 3


def test_client_error_is_not_retried(chat_server, problems, tmp_path):
    server = chat_server(lambda p, b: "", failures=[401])
    ans = Answerer(_cfg(server, tmp_path))
    with pytest.raises(D.UserFacingError, match="HTTP 401"):
        ans.answer(build_messages([problems[0]], "x", ["q?"]))
    assert len(server.requests) == 1


def test_rate_limit_spaces_requests(chat_server, problems, tmp_path):
    server = chat_server(lambda p, b: "Final answer: 1")
    sleeps = []
    ans = Answerer(_cfg(server, tmp_path, rpm=600), sleep=sleeps.append)
    for k in range(3):
        ans.answer(build_messages([problems[0]], f"problem {k}", ["q?"]))
    # 600 rpm = one request every 0.1 s: the 2nd and 3rd request waited (nearly) that long
    assert len(sleeps) == 2 and all(0.05 < s <= 0.1 for s in sleeps)
