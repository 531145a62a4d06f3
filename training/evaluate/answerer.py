"""Metric 8: the paper's answering protocol against an OpenAI-compatible chat endpoint.

The answerer gets two worked examples (GSM8K test lines 0 and 1, both in the calibration split,
with gpt-3.5-turbo's own sub-questions and answers from qg_test_data_raw.jsonl), then the problem
and the decomposer's `Q1..Qn`; it must reply `A1..An` and `Final answer: N` (temperature 0).
Exact match against the GSM8K gold number.

Plain HTTP (urllib): POST {base}/chat/completions when the base URL ends with /v1, otherwise
{base}/v1/chat/completions. Responses are appended to a JSONL cache keyed by a hash of
(model, messages), so an interrupted run resumes where it stopped. Requests are spaced by
60/rpm seconds; 429, 5xx and network errors are retried a bounded number of times with
exponential backoff (Retry-After honoured, capped).
"""
from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .data import Problem, UserFacingError, is_correct, parse_final_answer

EXAMPLE_LINES = (0, 1)
SYSTEM_PROMPT = (
    "You solve math word problems by answering the given sub-questions in order. "
    "Answer sub-question Qk on its own line as 'Ak: ...', showing the arithmetic. "
    "After the last answer write a blank line and then 'Final answer: N' where N is a single number "
    "without units.")


def format_questions(qs: Sequence[str]) -> str:
    return "\n".join(f"Q{k}: {q}" for k, q in enumerate(qs, 1))


def user_message(problem: str, qs: Sequence[str]) -> str:
    return f"Problem: {problem}\n\nSub-questions:\n{format_questions(qs)}"


def build_messages(examples: Sequence[Problem], problem: str, qs: Sequence[str]) -> list[dict]:
    msgs = [{"role": "system", "content": SYSTEM_PROMPT}]
    for ex in examples:
        msgs.append({"role": "user", "content": user_message(ex.text, ex.llm)})
        msgs.append({"role": "assistant", "content": ex.llm_answers.strip()})
    msgs.append({"role": "user", "content": user_message(problem, qs)})
    return msgs


def endpoint_url(base_url: str) -> str:
    b = base_url.rstrip("/")
    return b + ("/chat/completions" if b.endswith("/v1") else "/v1/chat/completions")


@dataclass
class AnswererConfig:
    base_url: str
    model: str
    api_key: str | None
    cache_path: Path
    rpm: float = 60.0
    max_retries: int = 4
    timeout: float = 60.0
    backoff_base: float = 2.0
    backoff_cap: float = 30.0
    max_tokens: int = 512


class Answerer:
    def __init__(self, cfg: AnswererConfig, sleep: Callable[[float], None] = time.sleep):
        self.cfg = cfg
        self.url = endpoint_url(cfg.base_url)
        self.sleep = sleep
        self.cache: dict[str, str] = {}
        self.requests = 0       # HTTP requests sent (including retries)
        self._last = 0.0
        if cfg.cache_path.is_file():
            with cfg.cache_path.open(encoding="utf-8") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                        self.cache[rec["key"]] = rec["content"]
                    except (json.JSONDecodeError, KeyError, TypeError):
                        continue  # a torn last line from an interrupted run: that item is redone

    def _key(self, messages: list[dict]) -> str:
        blob = json.dumps({"model": self.cfg.model, "messages": messages}, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _throttle(self) -> None:
        gap = 60.0 / self.cfg.rpm if self.cfg.rpm > 0 else 0.0
        wait = self._last + gap - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        self._last = time.monotonic()

    def _post(self, messages: list[dict]) -> str:
        body = json.dumps({"model": self.cfg.model, "messages": messages, "temperature": 0,
                           "max_tokens": self.cfg.max_tokens}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.cfg.api_key:
            headers["Authorization"] = f"Bearer {self.cfg.api_key}"
        last_err = ""
        for attempt in range(self.cfg.max_retries + 1):
            self._throttle()
            self.requests += 1
            req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            retry_after = None
            try:
                with urllib.request.urlopen(req, timeout=self.cfg.timeout) as resp:
                    payload = json.loads(resp.read().decode("utf-8"))
                try:
                    content = payload["choices"][0]["message"]["content"]
                except (KeyError, IndexError, TypeError):
                    raise UserFacingError(f"answerer endpoint {self.url} returned no choices[0].message.content")
                return content if isinstance(content, str) else ""
            except urllib.error.HTTPError as e:
                detail = e.read()[:200].decode("utf-8", "replace")
                if e.code != 429 and e.code < 500:
                    raise UserFacingError(f"answerer endpoint {self.url} answered HTTP {e.code}: {detail}") from None
                last_err = f"HTTP {e.code}"
                ra = e.headers.get("Retry-After") if e.headers else None
                try:
                    retry_after = float(ra) if ra is not None else None
                except ValueError:
                    retry_after = None
            except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as e:
                last_err = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            if attempt < self.cfg.max_retries:
                delay = min(self.cfg.backoff_cap, self.cfg.backoff_base * (2 ** attempt))
                if retry_after is not None:
                    delay = min(max(delay, retry_after), 2 * self.cfg.backoff_cap)
                self.sleep(delay)
        raise UserFacingError(
            f"answerer endpoint {self.url} failed {self.cfg.max_retries + 1} times ({last_err}); "
            "re-run the same command to resume from the cache")

    def answer(self, messages: list[dict]) -> tuple[str, bool]:
        """(reply, from_cache)."""
        key = self._key(messages)
        if key in self.cache:
            return self.cache[key], True
        content = self._post(messages)
        self.cache[key] = content
        self.cfg.cache_path.parent.mkdir(parents=True, exist_ok=True)
        with self.cfg.cache_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"key": key, "model": self.cfg.model, "content": content}) + "\n")
            f.flush()
        return content, False


def evaluate_system(ans: Answerer, examples: Sequence[Problem], problems: Sequence[Problem],
                    decompositions: Sequence[Sequence[str]], progress: Callable[[int, int], None] | None = None
                    ) -> dict:
    """Exact-match accuracy of the answerer guided by `decompositions`. An empty decomposition
    (the runtime reported an error) counts as wrong and is not sent: the learner got nothing."""
    correct = answered = cached = empty = unparsed = 0
    per_problem = []
    for k, (p, qs) in enumerate(zip(problems, decompositions)):
        if not qs:
            empty += 1
            per_problem.append({"index": p.index, "correct": False, "pred": None, "empty": True})
            continue
        reply, hit = ans.answer(build_messages(examples, p.text, qs))
        answered += 1
        cached += hit
        pred = parse_final_answer(reply)
        unparsed += pred is None
        ok = is_correct(pred, p.gold)
        correct += ok
        per_problem.append({"index": p.index, "correct": ok, "pred": pred})
        if progress:
            progress(k + 1, len(problems))
    n = len(problems)
    return {"accuracy": correct / n if n else 0.0, "n": n, "correct": correct, "answered": answered,
            "from_cache": cached, "empty_decompositions": empty, "no_final_answer": unparsed,
            "per_problem": per_problem}
