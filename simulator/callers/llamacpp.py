"""Optional llama.cpp backend: the same packaged GGUF, voiced through llama-cpp-python.

Why it exists: on a 2-core CPU, llama.cpp decodes the Q4_K_M weights directly and was measured
several times faster than transformers on the dequantized bf16 copy (benchmarks/caller_speed.py),
which is what brings a whole caller line under the 3 s phone target. It needs the ``bench`` extra
(``pip install llama-cpp-python``, which compiles llama.cpp); without it this backend raises a
CallerError and the app uses the transformers or scripted caller.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import CallerError, ModelError
from .base import HistoryLine, Intent
from .prompt import build_messages

STOPS = ["\n", "客服：", "坐席：", "客服:", "坐席:"]
_llms: dict = {}
_llms_lock = threading.Lock()


def gguf_for(model: str) -> Path:
    """``0.5b`` / ``1.5b`` (the verified joined GGUF) or a path to a .gguf file."""
    from ..models import SPECS, gguf_path
    if model in SPECS:
        path = gguf_path(model)
        if path is None:
            raise ModelError(f"model {model} is not installed; run: peilian model install --size {model}")
        return path
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    raise ModelError(f"model {model!r} is neither 0.5b, 1.5b nor a .gguf file")


class LlamaCppBackend:
    """Voices intents with llama.cpp; the persona prefix stays in llama.cpp's prompt cache."""
    name = "llamacpp"

    def __init__(self, model: str = "0.5b", threads: int | None = None, max_new_tokens: int = 32,
                 temperature: float = 0.7, top_p: float = 0.9, repetition_penalty: float = 1.15,
                 seed: int | None = None, n_ctx: int = 2048):
        try:
            from llama_cpp import Llama, LlamaRAMCache
        except ImportError:
            raise CallerError("the llamacpp caller backend needs llama-cpp-python "
                              "(pip install llama-cpp-python); use --backend transformers") from None
        path = gguf_for(model)
        key = (str(path), threads, n_ctx)
        with _llms_lock:
            if key not in _llms:
                try:
                    llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads or os.cpu_count(),
                                verbose=False, seed=seed if seed is not None else -1)
                except (ValueError, RuntimeError) as e:
                    raise ModelError(f"llama.cpp cannot load {path}: {e}") from None
                llm.set_cache(LlamaRAMCache(capacity_bytes=256 << 20))   # prefixes of several personas
                _llms[key] = (llm, threading.Lock())
            self.llm, self._lock = _llms[key]
        self.seed = seed
        self.params = {"max_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p,
                       "repeat_penalty": repetition_penalty, "stop": STOPS}

    def voice(self, persona, intent: Intent, history: Sequence[HistoryLine] = ()) -> Iterator[str]:
        with self._lock:
            if self.seed is not None:
                self.llm.set_seed(self.seed)
            try:
                stream = self.llm.create_chat_completion(build_messages(persona, intent), stream=True, **self.params)
                for event in stream:
                    piece = event["choices"][0]["delta"].get("content") or ""
                    if piece:
                        yield piece
            except (ValueError, RuntimeError, KeyError, IndexError) as e:
                raise CallerError(f"the llamacpp caller failed while generating: {e}") from None
