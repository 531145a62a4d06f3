"""A small OpenAI-compatible chat server on 127.0.0.1 with scripted replies (real HTTP)."""
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class ScriptedServer:
    """POST /v1/chat/completions. `failures` is a list of HTTP status codes returned (in order) before
    normal service; `reply(problem_text, body)` produces the assistant content."""

    def __init__(self, reply, failures=()):
        self.reply = reply
        self.failures = list(failures)
        self.requests = []  # (path, headers, body)
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep pytest output clean
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n))
                with outer.lock:
                    outer.requests.append((self.path, dict(self.headers), body))
                    fail = outer.failures.pop(0) if outer.failures else None
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found"}})
                if fail is not None:
                    return self._send(fail, {"error": {"message": f"scripted {fail}"}}, {"Retry-After": "0"})
                m = re.search(r"Problem: (.*?)\n\nSub-questions:", body["messages"][-1]["content"], re.S)
                content = outer.reply(m.group(1) if m else "", body)
                self._send(200, {"id": "x", "object": "chat.completion", "model": body.get("model"),
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": content}}]})

            def _send(self, code, obj, headers=None):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def chat_server():
    servers = []

    def make(reply, failures=()):
        s = ScriptedServer(reply, failures)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.close()
