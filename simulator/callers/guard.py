"""Validate every generated caller line before the trainee sees it; fall back to the scripted line.

Small models speak as the agent, parrot the agent, loop, drift out of Chinese or invent account
numbers (DESIGN.md: 35-55 % of 0.5B lines are bad even when intent-guided). ``validate_line`` is
plain code that names what is wrong; ``guarded_voice`` runs a backend with time limits and only
lets a line through that passed.

Streaming choice: the line is buffered whole (at most ~32 tokens), validated, and then replayed in
the pieces the model produced. Checking only the first clause and streaming the rest would let a bad
second half (an echo, a loop, an invented number) reach the trainee with no way to take it back.
The cost is that the trainee sees the first character when the line is finished rather than at the
first token: about the line's generation time (0.5B on 2 CPU cores ~0.6-1.5 s; see
benchmarks/caller_speed.py). The UI shows "对方正在说话…" meanwhile, like a caller speaking.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from typing import Iterator, Sequence

from rapidfuzz import fuzz

from .base import HistoryLine, Intent
from .prompt import EXAMPLE_LINES, mood_word, persona_facts

MAX_CHARS = {"phone": 60, "chat": 80}
AGENT_PHRASES = ("请问有什么可以帮", "有什么可以帮您", "有什么可以帮到您", "感谢您的来电", "很高兴为您服务",
                 "还有什么可以帮", "还有其他可以帮", "欢迎致电", "欢迎来电", "我是客服", "我是您的客服",
                 "帮您查", "为您查", "帮您处理", "为您处理", "为您服务", "请您稍等", "请稍等，我",
                 "给您带来不便", "给您带来的不便", "请问您贵姓", "您的问题", "您反映的", "这边是客服",
                 "请问您需要", "您需要什么", "什么样的帮助", "帮到您", "帮到你", "帮助您", "帮助你", "为您提供",
                 "我会尽力", "可以尝试联系", "联系公司的客服", "联系客服", "我的客户", "请告诉我您",
                 "我们公司规定", "请问您有什么", "您有什么问题", "我是工号", "我的工号")
AGENT_PATTERN = re.compile(r"您的(宽带|账号|手机|电话|地址|套餐|订单|燃气|话费|号码)")
ROLE_PREFIX = re.compile(r"^\s*(客服|坐席|座席|接线员|工作人员|agent|assistant)\s*[：:]", re.I)
CALLER_PREFIX = re.compile(r"^\s*(客户|来电者|来电人|顾客|用户|caller|user|我|[\u4e00-\u9fff]{1,2}(先生|女士|小姐|阿姨|大爷|师傅))\s*[：:]\s*", re.I)
AI_WORDS = re.compile(r"(我是|作为)(一个|一名)?\s*(AI|人工智能|语言模型|智能助手|AI助手|助手|机器人|模型|程序)"
                      r"|语言模型|人工智能助手|AI助手|\bAI\b|ChatGPT|Qwen|通义|阿里云|OpenAI"
                      r"|我无法提供|我不能提供|您所要求的", re.I)
PROMPT_LABELS = ("要做的事", "参考台词", "可用资料", "情绪：", "只说你这一句", "规则：", "用中文回答", "扮演", "我正在给", "打电话的目的", "你的目的")
SENTENCE_END = re.compile(r"[。！？!?]+")   # "……" is a pause, not the end of a sentence
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")
NUMBER = re.compile(r"[A-Za-z\d][A-Za-z\d\- ]{3,}[A-Za-z\d]")   # account / phone / meter ids
SURNAME = re.compile(r"我姓([\u4e00-\u9fff])")
PUNCT = re.compile(r"[\s，。！？、；：“”‘’\"'…,.!?;:（）()\-—~～]+")


def _plain(text: str) -> str:
    return PUNCT.sub("", text)


def _get(persona, key, default=None):
    return persona.get(key, default) if isinstance(persona, dict) else getattr(persona, key, default)


def clean_line(line: str) -> str:
    """Strip what models wrap a line in: role prefixes (客户：), quotes, a dangling half clause."""
    text = line.strip().splitlines()[0].strip() if line.strip() else ""
    for _ in range(2):
        text = CALLER_PREFIX.sub("", text).strip()
        if len(text) >= 2 and text[0] in "\"'“‘「『" and text[-1] in "\"'”’」』":
            text = text[1:-1].strip()
        text = text.strip("\"“”「」『』").strip()
    # a tail that stops on a comma was cut by the token limit: drop it after the last full sentence
    ends = [m.end() for m in SENTENCE_END.finditer(text)]
    if ends and text.endswith(("，", ",", "、", "：", ":")):
        text = text[:ends[-1]]
    return text.strip()


def _loops(text: str) -> bool:
    """啊啊啊啊, 啥，啥，啥, 我要我要我要, or any six characters said twice."""
    plain = _plain(text)
    sep = r"[，,、。！？!?\s]*"
    if re.search(rf"(.){sep}(?:\1{sep}){{3,}}", text) or re.search(rf"(.{{2,6}}?)(?:{sep}\1){{2,}}", text):
        return True
    grams = [plain[i:i + 6] for i in range(len(plain) - 5)]
    return len(grams) != len(set(grams))


def validate_line(line: str, intent: Intent, history: Sequence[HistoryLine] = (), persona=None) -> str | None:
    """Return why ``line`` must not be shown (a short reason code), or None when it is fine."""
    text = line.strip()
    plain = _plain(text)
    if not plain:
        return "empty"
    company = str(_get(persona, "company", "") or "") if persona is not None else ""
    if ROLE_PREFIX.match(text) or any(p in text for p in AGENT_PHRASES) or AGENT_PATTERN.search(text) or \
            (company and re.match(rf"^(您好|你好)[，,！!\s]*(这里是|欢迎致电)?{re.escape(company)}(?!吗|是吧|吧)", text)
             and "吗" not in text[:len(company) + 8]):
        return "role_inversion"
    if AI_WORDS.search(text):
        return "ai_disclosure"
    if any(label in text for label in PROMPT_LABELS) or mood_word(intent.mood) in text and intent.mood > 5:
        return "echo_instruction"
    cjk, latin = len(CJK.findall(text)), len(LATIN.findall(text))
    if cjk < 2 or cjk < 0.5 * (cjk + latin):
        return "not_chinese"
    channel = str(_get(persona, "channel", "phone") or "phone") if persona is not None else "phone"
    sentences = [s for s in SENTENCE_END.split(text) if len(CJK.findall(s)) >= 3]
    if len(text) > MAX_CHARS.get(channel, 60) or len(sentences) > 2:
        return "too_long"
    if _loops(text) and not _loops(intent.line):
        return "loop"
    agent_lines = [h.text for h in history if h.role == "agent"]
    if _contradicts(text, intent, persona, agent_lines[-1] if agent_lines else ""):
        return "contradicts_fact"
    if agent_lines:
        last = _plain(agent_lines[-1])
        if last and (fuzz.ratio(plain, last) >= 70 or
                     (len(plain) >= 8 and fuzz.partial_ratio(plain, last) >= 90 and len(last) >= 8)):
            return "echo_agent"
        if not re.search(r"[？?！!]", text) and _shared_run(plain, last, _plain(intent.line + intent.instruction), 4):
            return "echo_agent"
    if intent.instruction and fuzz.ratio(plain, _plain(intent.instruction)) >= 70:
        return "echo_instruction"
    line_is_example = any(fuzz.ratio(_plain(intent.line), _plain(ex)) >= 80 for ex in EXAMPLE_LINES)
    if not line_is_example and any(fuzz.ratio(plain, _plain(ex)) >= 80 for ex in EXAMPLE_LINES):
        return "echo_example"
    for earlier in (h.text for h in history if h.role == "caller"):
        if fuzz.ratio(plain, _plain(earlier)) >= 85 and fuzz.ratio(_plain(intent.line), _plain(earlier)) < 85:
            return "repeat_self"
    return None


def _shared_run(plain: str, agent: str, allowed: str, n: int) -> bool:
    """Does the line take n characters in a row from the agent's reply (not from its own script)?"""
    return any(plain[i:i + n] in agent and plain[i:i + n] not in allowed for i in range(len(plain) - n + 1))


def _contradicts(text: str, intent: Intent, persona, last_agent: str) -> bool:
    """A number or surname in the line that the persona, the intent or the agent never gave."""
    known = " ".join([intent.line, " ".join(map(str, (intent.facts or {}).values())), last_agent,
                      " ".join(persona_facts(persona).values()) if persona is not None else ""])
    known_digits = re.sub(r"[\s\-]", "", known).lower()
    for num in NUMBER.findall(text):
        if len(re.findall(r"\d", num)) >= 3 and re.sub(r"[\s\-]", "", num).lower() not in known_digits:
            return True
    caller = _get(persona, "caller") if persona is not None else None
    surname = getattr(caller, "surname", None) or (_get(persona, "surname") if persona is not None else None)
    if not surname:
        return False
    m = SURNAME.search(text)
    if m and m.group(1) != surname:
        return True
    # 我姓何，王。 / 我是王先生 (someone else's surname for the caller themself)
    m = re.search(r"我姓(.)[，,、\s]*([\u4e00-\u9fff])(?:[。！!]|$)", text)
    if m and m.group(2) not in (surname, m.group(1)):
        return True
    m = re.search(r"我是([\u4e00-\u9fff])(先生|女士|小姐)", text)
    return bool(m and m.group(1) != surname and m.group(1) + m.group(2) not in known)


class GuardedLine:
    """The caller's line as the trainee may see it: iterate for pieces; then read the attributes.

    ``text`` (what was shown), ``backend`` (the backend's name, or ``fallback``), ``reject_reason``
    (why a generated line was refused, or an error), ``first_token_s`` / ``total_s`` (generation).
    """

    def __init__(self, backend, persona, intent: Intent, history: Sequence[HistoryLine],
                 timeout: float = 8.0, first_token_timeout: float = 5.0, prepare_timeout: float = 30.0):
        self._args = (backend, persona, intent, list(history))
        self.timeout, self.first_token_timeout = timeout, first_token_timeout
        self.prepare_timeout = prepare_timeout
        self.text = ""
        self.backend = getattr(backend, "name", "unknown")
        self.reject_reason: str | None = None
        self.generated: str | None = None
        self.first_token_s: float | None = None
        self.total_s: float | None = None
        self._pieces: list[str] | None = None

    def __iter__(self) -> Iterator[str]:
        if self._pieces is None:
            self._pieces = self._run()
        return iter(self._pieces)

    def resolve(self) -> "GuardedLine":
        iter(self)
        return self

    def _fallback(self, reason: str) -> list[str]:
        intent = self._args[2]
        self.backend, self.reject_reason, self.text = "fallback", reason, intent.line
        return [intent.line]

    def _run(self) -> list[str]:
        backend, persona, intent, history = self._args
        start = time.monotonic()
        if self.backend == "scripted" or intent.line.startswith("（"):
            # scripted lines and non-speech (（无声）, （杂音很大）…) are shown as written
            pieces = list(backend.voice(persona, intent, history)) if self.backend == "scripted" else [intent.line]
            self.backend = "scripted"
            self.text = "".join(pieces)
            self.total_s = time.monotonic() - start
            return pieces
        pieces, error = self._collect(backend, persona, intent, history, start)
        self.total_s = time.monotonic() - start
        if error:
            return self._fallback(error)
        self.generated = "".join(pieces)
        text = clean_line(self.generated)
        reason = validate_line(text, intent, history, persona)
        if reason:
            return self._fallback(reason)
        self.text = text
        if text != self.generated:      # cleaning changed it: show it as one piece per clause
            return [p for p in re.split(r"(?<=[，。！？,!?])", text) if p]
        return pieces

    def _collect(self, backend, persona, intent, history, start) -> tuple[list[str], str | None]:
        """Run the backend in a thread; give up on an exception, a late first token or a hang.

        A backend's one-time ``prepare(persona)`` (prefilling the persona prefix, seconds on a CPU)
        runs first under its own, longer limit, so the first line of a call is not lost to it.
        The thread is not a daemon: an abandoned generation stops after its next token, and the
        process waits for that instead of dying in the middle of a torch call at exit.
        """
        q: queue.Queue = queue.Queue()
        cancel = threading.Event()

        def work():
            gen = None
            try:
                prepare = getattr(backend, "prepare", None)
                if callable(prepare):
                    prepare(persona)
                q.put(("ready", None))
                gen = iter(backend.voice(persona, intent, history))
                for piece in gen:
                    if cancel.is_set():
                        break
                    q.put(("piece", piece))
                q.put(("done", None))
            except Exception as e:  # noqa: BLE001 - any backend failure means: use the scripted line
                q.put(("error", f"backend error: {type(e).__name__}: {e}"))
            finally:
                close = getattr(gen, "close", None)
                if close:
                    try:
                        close()
                    except Exception:  # noqa: BLE001
                        pass

        threading.Thread(target=work, name="caller-voice").start()
        pieces: list[str] = []
        ready = None
        while True:
            if ready is None:
                wait = self.prepare_timeout - (time.monotonic() - start)
            else:
                limit = self.timeout if pieces else min(self.timeout, self.first_token_timeout)
                wait = limit - (time.monotonic() - ready)
            try:
                kind, value = q.get(timeout=max(0.0, wait))
            except queue.Empty:
                cancel.set()
                if ready is None:
                    return pieces, "timeout: backend not ready"
                return pieces, ("timeout: no first token" if not pieces else "timeout: line not finished")
            if kind == "ready":
                ready = time.monotonic()
            elif kind == "piece":
                if not isinstance(value, str):
                    cancel.set()
                    return pieces, f"backend error: a piece is {type(value).__name__}, not text"
                if not pieces:
                    self.first_token_s = time.monotonic() - ready
                pieces.append(value)
            elif kind == "error":
                return pieces, value
            else:
                return pieces, None


def guarded_voice(backend, persona, intent: Intent, history: Sequence[HistoryLine] = (),
                  timeout: float = 8.0, first_token_timeout: float = 5.0,
                  prepare_timeout: float = 30.0) -> GuardedLine:
    """Voice ``intent`` with ``backend``, validated; see ``GuardedLine``.

    ``timeout`` / ``first_token_timeout`` count from when the backend is ready (after a one-time
    ``prepare(persona)``, limited by ``prepare_timeout``).
    """
    return GuardedLine(backend, persona, intent, history, timeout, first_token_timeout, prepare_timeout)
