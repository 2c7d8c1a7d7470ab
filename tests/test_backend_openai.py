"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 that streams canned SSE."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from simulator.callers.base import HistoryLine, Intent
from simulator.callers.guard import guarded_voice
from simulator.callers.openai_compat import OpenAIBackend
from simulator.errors import CallerError

PERSONA = {"name": "张先生", "surname": "张", "company": "星海宽带", "channel": "phone", "facts": {"account": "87654321"}}
ASK = Intent("answer", "我的宽带账号是87654321。", "客服问了你的宽带账号，告诉他", 5, {"宽带账号": "87654321"})
HIST = [HistoryLine("agent", "请问您的宽带账号是多少？")]


def sse(*pieces, finish=True):
    out = [f"data: {json.dumps({'choices': [{'delta': {'content': p}, 'index': 0}]}, ensure_ascii=False)}\n\n"
           for p in pieces]
    if finish:
        out.append("data: " + json.dumps({"choices": [{"delta": {}, "finish_reason": "stop", "index": 0}]}) + "\n\n")
    out.append("data: [DONE]\n\n")
    return "".join(out)


class Server:
    """One canned reply per test: (status, body or callable(handler))."""

    def __init__(self):
        self.reply = (200, sse("账号是", "87654321", "，你查查。"))
        self.requests = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                server.requests.append((self.path, dict(self.headers), json.loads(self.rfile.read(length))))
                status, body = server.reply
                if callable(body):
                    return body(self)
                self.send_response(status)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self.wfile.write(body.encode("utf-8"))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def test_streams_pieces_and_sends_the_prompt(server):
    b = OpenAIBackend(server.url, model="qwen-1.5b", api_key="k123")
    assert list(b.voice(PERSONA, ASK, HIST)) == ["账号是", "87654321", "，你查查。"]
    path, headers, body = server.requests[0]
    assert path == "/v1/chat/completions" and headers["Authorization"] == "Bearer k123"
    assert body["stream"] is True and body["model"] == "qwen-1.5b" and "\n" in body["stop"]
    msgs = body["messages"]
    assert msgs[0]["role"] == "system" and "星海宽带" not in msgs[-1]["content"]
    assert "87654321" in msgs[-1]["content"] and msgs[-1]["role"] == "user"
    # no raw dialogue history in the prompt
    assert all("请问您的宽带账号是多少" not in m["content"] for m in msgs)


def test_http_error(server):
    server.reply = (500, "oops")
    with pytest.raises(CallerError, match="HTTP 500"):
        list(OpenAIBackend(server.url, model="m").voice(PERSONA, ASK, HIST))


def test_garbage_stream(server):
    server.reply = (200, "<html>not sse</html>\n")
    with pytest.raises(CallerError, match="not an event"):
        list(OpenAIBackend(server.url, model="m").voice(PERSONA, ASK, HIST))


def test_malformed_event(server):
    server.reply = (200, "data: {\"choices\": 5}\n\n")
    with pytest.raises(CallerError, match="malformed"):
        list(OpenAIBackend(server.url, model="m").voice(PERSONA, ASK, HIST))


def test_empty_stream(server):
    server.reply = (200, "data: [DONE]\n\n")
    with pytest.raises(CallerError, match="without a line"):
        list(OpenAIBackend(server.url, model="m").voice(PERSONA, ASK, HIST))


def test_unreachable():
    with pytest.raises(CallerError, match="unreachable"):
        list(OpenAIBackend("http://127.0.0.1:9/v1", model="m", timeout=1).voice(PERSONA, ASK, HIST))


def test_missing_base_url():
    with pytest.raises(CallerError, match="base-url"):
        OpenAIBackend(None, model="m")


def _hang_after_first(server):
    def body(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        handler.wfile.write(sse("账号是", finish=False).split("data: [DONE]")[0].encode())
        handler.wfile.flush()
        server.release.wait(10)
    return body


def test_read_timeout_is_a_caller_error(server):
    server.reply = (200, _hang_after_first(server))
    b = OpenAIBackend(server.url, model="m", timeout=0.5)
    with pytest.raises(CallerError, match="stopped streaming"):
        list(b.voice(PERSONA, ASK, HIST))


def test_endless_keepalive_is_cut(server):
    def body(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        while not server.release.wait(0.05):
            try:
                handler.wfile.write(b": ping\n\n")
                handler.wfile.flush()
            except OSError:
                return
    server.reply = (200, body)
    with pytest.raises(CallerError, match="took over 1.5 s"):
        list(OpenAIBackend(server.url, model="m", timeout=0.5).voice(PERSONA, ASK, HIST))


def test_guard_falls_back_on_server_trouble(server):
    b = OpenAIBackend(server.url, model="m", timeout=5)
    g = guarded_voice(b, PERSONA, ASK, HIST)
    assert g.resolve().backend == "openai" and g.text == "账号是87654321，你查查。"

    server.reply = (500, "oops")
    g = guarded_voice(b, PERSONA, ASK, HIST).resolve()
    assert g.backend == "fallback" and g.text == ASK.line and "HTTP 500" in g.reject_reason

    server.reply = (200, _hang_after_first(server))
    start = time.monotonic()
    g = guarded_voice(b, PERSONA, ASK, HIST, timeout=0.6, first_token_timeout=0.5).resolve()
    assert g.backend == "fallback" and g.reject_reason.startswith("timeout")
    assert time.monotonic() - start < 4

    server.reply = (200, sse("客服：您好，", "请问有什么可以帮您？"))
    g = guarded_voice(b, PERSONA, ASK, HIST).resolve()
    assert g.backend == "fallback" and g.reject_reason == "role_inversion"
