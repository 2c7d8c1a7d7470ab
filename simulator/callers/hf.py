"""The transformers backend: a local model voices the caller, streamed token by token.

A hand-written decode loop (not ``generate``) so the persona prefix (system card + few-shot turns)
is prefilled once and its KV cache reused for every turn of every call with that persona: the
first token then costs only the short intent message (~0.1 s on the 0.5B on CPU instead of ~0.3 s+).
Weights come from the cache ``models.install`` writes (or any local weights directory), never a hub.
"""

from __future__ import annotations

import copy
import os
import threading
from collections import OrderedDict
from typing import Iterator, Sequence

from ..errors import CallerError, ModelError
from .base import HistoryLine, Intent
from .prompt import build_messages, prefix_messages

# Idle OpenMP threads must sleep, not spin: on a shared 2-core machine a spinning 2-thread decode
# loop was measured 6-10x slower than with passive waiting (benchmarks/caller_speed.py). This only
# takes effect when set before torch is first imported, which is why it lives at import time here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

STOPS = ("\n", "客服：", "坐席：", "客服:", "坐席:", "<|im_end|>", "<|endoftext|>")
HOLD_BACK = max(len(s) for s in STOPS[:5]) - 1   # chars kept back until we know no stop starts there

_models: dict = {}
_models_lock = threading.Lock()


def pick_device(device: str | None = None) -> str:
    import torch
    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(device: str):
    """bf16 on a GPU and on CPUs with native bf16 (AMX / AVX512-BF16), else fp32.

    Measured with the 0.5B: on an AMX CPU bf16 prefill is ~3x faster than fp32; on an AVX2-only
    CPU (no native bf16) a 580-token bf16 prefill took 29 s against 4.8 s in fp32.
    ``PEILIAN_DTYPE=bfloat16|float32`` overrides the choice.
    """
    import torch
    forced = os.environ.get("PEILIAN_DTYPE")
    if forced in ("bfloat16", "float32", "float16"):
        return getattr(torch, forced)
    if device != "cpu":
        return torch.bfloat16
    try:
        flags = open("/proc/cpuinfo", encoding="ascii", errors="replace").read()
    except OSError:
        flags = ""
    native = "amx_bf16" in flags or "avx512_bf16" in flags
    return torch.bfloat16 if native else torch.float32


def load_model(path: str, device: str):
    """Load (once per process) model, tokenizer and prefix cache, in the dtype this device runs fastest."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    key = (str(path), device)
    with _models_lock:
        if key not in _models:
            hf_logging.disable_progress_bar()
            try:
                tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
                model = AutoModelForCausalLM.from_pretrained(str(path), dtype=pick_dtype(device),
                                                             local_files_only=True).to(device)
            except Exception as e:  # noqa: BLE001 - a broken weights dir is one sentence for the user
                raise ModelError(f"cannot load caller model from {path}: {e}") from None
            model.eval()
            # the persona-prefix KV caches and the generation lock belong to the loaded model, so every
            # call (each CallSession gets its own backend) reuses a prefix another call prefilled
            _models[key] = (model, tok, {"prefixes": OrderedDict(), "lock": threading.Lock()})
        return _models[key]


class TransformersBackend:
    """Voices intents with a local causal LM (``0.5b``, ``1.5b`` or a weights directory)."""
    name = "transformers"

    def __init__(self, model: str = "0.5b", device: str | None = None, threads: int | None = None,
                 max_new_tokens: int = 32, temperature: float = 0.7, top_p: float = 0.9,
                 repetition_penalty: float = 1.15, seed: int | None = None, cache_prefix: bool = True):
        import torch
        from ..models import get_model_path

        self.path = get_model_path(model)
        self.device = pick_device(device)
        if threads:
            torch.set_num_threads(int(threads))
        self.model, self.tok, shared = load_model(self.path, self.device)
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.repetition_penalty = repetition_penalty
        self.cache_prefix = cache_prefix
        self.generator = torch.Generator(device=self.device)
        if seed is not None:
            self.generator.manual_seed(seed)
        else:
            self.generator.seed()
        # prefix text -> (ids, KV cache), LRU, shared by all backends on this model
        self._prefixes: OrderedDict = shared["prefixes"] if cache_prefix else OrderedDict()
        self._lock = shared["lock"]                   # one generation at a time per loaded model
        self.stop_ids = {i for i in (self.tok.eos_token_id, self.tok.convert_tokens_to_ids("<|im_end|>"),
                                     self.tok.convert_tokens_to_ids("<|endoftext|>")) if isinstance(i, int)}

    # -- prompt -------------------------------------------------------------------------------
    def _split_prompt(self, persona, intent: Intent) -> tuple[str, str]:
        """(prefix text, suffix text): the prefix is the same for every turn of this persona."""
        prefix = self.tok.apply_chat_template(prefix_messages(persona), tokenize=False)
        full = self.tok.apply_chat_template(build_messages(persona, intent), tokenize=False,
                                            add_generation_prompt=True)
        if not full.startswith(prefix):   # a chat template that is not append-only: no prefix reuse
            return "", full
        return prefix, full[len(prefix):]

    def _encode(self, text: str):
        return self.tok(text, return_tensors="pt", add_special_tokens=False).input_ids.to(self.device)

    def _prefix_cache(self, prefix: str):
        """The prefilled KV cache of a persona prefix (LRU of 16 personas)."""
        import torch
        if prefix in self._prefixes:
            self._prefixes.move_to_end(prefix)
            return self._prefixes[prefix]
        ids = self._encode(prefix)
        with torch.inference_mode():
            out = self.model(input_ids=ids, use_cache=True)
        self._prefixes[prefix] = (ids, out.past_key_values)
        while len(self._prefixes) > 16:
            self._prefixes.popitem(last=False)
        return self._prefixes[prefix]

    def prepare(self, persona) -> None:
        """Prefill this persona's prefix now (e.g. when the call starts), so the first line is fast too."""
        if self.cache_prefix:
            from .base import OPEN
            prefix, _ = self._split_prompt(persona, Intent(OPEN, "喂？"))
            if prefix:
                with self._lock:
                    self._prefix_cache(prefix)

    # -- decoding -----------------------------------------------------------------------------
    def _sample(self, logits, generated: list[int]) -> int:
        import torch
        logits = logits.float()
        if generated and self.repetition_penalty != 1.0:
            idx = torch.tensor(sorted(set(generated)), device=logits.device)
            vals = logits[idx]
            logits[idx] = torch.where(vals > 0, vals / self.repetition_penalty, vals * self.repetition_penalty)
        if self.temperature <= 0:
            return int(torch.argmax(logits))
        top_v, top_i = torch.topk(logits, 64)          # top-p within the 64 best: no full-vocab sort
        probs = torch.softmax(top_v / self.temperature, dim=-1)
        sorted_p, order = torch.sort(probs, descending=True)
        sorted_i = top_i[order]
        keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < self.top_p
        sorted_p = sorted_p * keep
        choice = torch.multinomial(sorted_p / sorted_p.sum(), 1, generator=self.generator)
        return int(sorted_i[choice])

    def voice(self, persona, intent: Intent, history: Sequence[HistoryLine] = ()) -> Iterator[str]:
        """Yield the line in pieces as it is generated; stops at a newline, 客服：/坐席： or 32 tokens."""
        import torch

        with self._lock, torch.inference_mode():
            try:
                prefix, suffix = self._split_prompt(persona, intent)
                if prefix and self.cache_prefix:
                    pids, pcache = self._prefix_cache(prefix)
                    past = copy.deepcopy(pcache)
                    ids = self._encode(suffix)
                elif prefix:
                    past, ids = None, self._encode(prefix + suffix)
                else:
                    past, ids = None, self._encode(suffix)
                generated: list[int] = []
                text, sent = "", 0
                for _ in range(self.max_new_tokens):
                    out = self.model(input_ids=ids, past_key_values=past, use_cache=True)
                    past = out.past_key_values
                    nxt = self._sample(out.logits[0, -1], generated)
                    if nxt in self.stop_ids:
                        break
                    generated.append(nxt)
                    text = self.tok.decode(generated, skip_special_tokens=True)
                    cut = min((text.find(s) for s in STOPS if s in text), default=-1)
                    if cut >= 0:
                        text = text[:cut]
                        break
                    if text.endswith("\ufffd"):        # half a multi-byte character: wait for the rest
                        ids = torch.tensor([[nxt]], device=self.device)
                        continue
                    safe = len(text) - HOLD_BACK
                    if safe > sent:
                        yield text[sent:safe]
                        sent = safe
                    ids = torch.tensor([[nxt]], device=self.device)
            except (RuntimeError, ValueError, IndexError) as e:
                raise CallerError(f"the transformers caller failed while generating: {e}") from None
            text = text.rstrip("\ufffd")
            if len(text) > sent:
                yield text[sent:]
