"""The OpenAI-compatible backend: any chat-completions server (vLLM, llama.cpp server) voices the caller.

This is how a whole call center scales: the Flask app stays small and the model runs on GPU
machines. Same prompt as the local backend (``prompt.py``), streamed with server-sent events.
Every failure (connection, HTTP status, timeout, a malformed stream) is one ``CallerError``; the
guard then falls back to the scripted line.
"""

from __future__ import annotations

import json
import time
from typing import Iterator, Sequence

import requests

from ..errors import CallerError
from .base import HistoryLine, Intent
from .prompt import build_messages

STOP = ["\n", "客服：", "坐席："]


class OpenAIBackend:
    """POST {base_url}/chat/completions with stream=true and yield the content deltas."""
    name = "openai"

    def __init__(self, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                 timeout: float = 10.0, max_tokens: int = 48, temperature: float = 0.7, top_p: float = 0.9,
                 seed: int | None = None):
        if not base_url:
            raise CallerError("the openai backend needs --base-url, e.g. http://127.0.0.1:8000/v1")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model or "default"
        self.api_key = api_key
        self.timeout = timeout
        self.params = {"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p, "stop": STOP}
        if seed is not None:
            self.params["seed"] = seed
        self.session = requests.Session()

    def voice(self, persona, intent: Intent, history: Sequence[HistoryLine] = ()) -> Iterator[str]:
        body = {"model": self.model, "messages": build_messages(persona, intent), "stream": True, **self.params}
        headers = {"Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            # (connect, read) timeouts: read applies to every gap between chunks, so a hang is caught
            resp = self.session.post(self.url, json=body, headers=headers, stream=True,
                                     timeout=(min(self.timeout, 5.0), self.timeout))
        except requests.RequestException as e:
            raise CallerError(f"the caller server at {self.url} is unreachable: {type(e).__name__}") from None
        with resp:
            if resp.status_code != 200:
                raise CallerError(f"the caller server at {self.url} answered HTTP {resp.status_code}")
            try:
                yield from self._events(resp)
            except requests.RequestException as e:
                raise CallerError(f"the caller server at {self.url} stopped streaming: {type(e).__name__}") from None

    def _events(self, resp) -> Iterator[str]:
        """Parse the SSE stream: ``data: {json}`` lines until ``data: [DONE]``."""
        got_any = False
        deadline = time.monotonic() + 3 * self.timeout   # keep-alive comments must not stream forever
        for raw in resp.iter_lines(decode_unicode=False):
            if time.monotonic() > deadline:
                raise CallerError(f"the caller server at {self.url} took over {3 * self.timeout:g} s for one line")
            if not raw:
                continue
            line = raw.decode("utf-8", errors="replace")
            if line.startswith(":"):          # SSE comment / keep-alive
                continue
            if not line.startswith("data:"):
                raise CallerError(f"the caller server at {self.url} sent a line that is not an event")
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                event = json.loads(data)
                choice = event["choices"][0]
                piece = (choice.get("delta") or {}).get("content") or ""
            except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                raise CallerError(f"the caller server at {self.url} sent a malformed event") from None
            if not isinstance(piece, str):
                raise CallerError(f"the caller server at {self.url} sent a malformed event")
            if piece:
                got_any = True
                yield piece
            if choice.get("finish_reason"):
                break
        if not got_any:
            raise CallerError(f"the caller server at {self.url} closed the stream without a line")
