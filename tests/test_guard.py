"""The caller-line guard: real bad lines from the 0.5B are refused, good lines pass, failures fall back."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from simulator.callers.base import HistoryLine, Intent
from simulator.callers.guard import clean_line, guarded_voice, validate_line

DATA = Path(__file__).parent / "data"


def load(name):
    rows = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    assert rows, name
    return rows


def case_args(row):
    intent = Intent(**row["intent"])
    history = [HistoryLine(r, t) for r, t in row["history"]]
    return intent, history, row["persona"]


@pytest.mark.parametrize("row", load("bad_caller_lines.jsonl"), ids=lambda r: r["reason"] + ":" + r["line"][:12])
def test_real_bad_lines_are_refused(row):
    intent, history, persona = case_args(row)
    assert validate_line(clean_line(row["line"]), intent, history, persona) == row["reason"]


@pytest.mark.parametrize("row", load("good_caller_lines.jsonl"), ids=lambda r: r["line"][:16])
def test_good_lines_pass(row):
    intent, history, persona = case_args(row)
    assert validate_line(clean_line(row["line"]), intent, history, persona) is None


PERSONA = {"name": "张先生", "surname": "张", "company": "星海宽带", "channel": "phone",
           "facts": {"account": "87654321"}}
ASK = Intent("answer", "我的宽带账号是87654321。", "客服问了你的宽带账号，告诉他", 5, {"宽带账号": "87654321"})
HIST = [HistoryLine("agent", "您好，星海宽带，请问有什么可以帮您？"), HistoryLine("caller", "我家宽带又断了。"),
        HistoryLine("agent", "请问您的宽带账号是多少？")]


@pytest.mark.parametrize("line,reason", [
    ("", "empty"),
    ("。。。", "empty"),
    ("客服：您好，请问有什么可以帮您？", "role_inversion"),
    ("您好，星海宽带，很高兴为您服务。", "role_inversion"),
    ("请稍等，我帮您查一下。", "role_inversion"),
    ("我是一个AI语言模型，无法扮演客户。", "ai_disclosure"),
    ("作为人工智能助手，我不能提供账号。", "ai_disclosure"),
    ("My account number is 87654321.", "not_chinese"),
    ("啥，啥，啥，啥", "loop"),
    ("我要我要我要投诉", "loop"),
    ("你们赶紧派人来修，宽带一直断，你们赶紧派人来修", "loop"),
    ("我的账号是12345678。", "contradicts_fact"),
    ("我姓李，账号是87654321。", "contradicts_fact"),
    ("请问您的宽带账号是多少？", "role_inversion"),
    ("要做的事：告诉客服账号", "echo_instruction"),
    ("客服问了你的宽带账号，告诉他", "echo_instruction"),
    ("我家宽带又断了。", "repeat_self"),
    ("我都打了三回电话了，到现在还没人来修，你们到底管不管？", "echo_example"),
    ("我的宽带账号是87654321。我家在朝阳区。宽带三天断了两次。你们快来修。", "too_long"),
    ("我的宽带账号是87654321，" + "我真的很着急，" * 7 + "快点", "too_long"),
])
def test_reasons(line, reason):
    assert validate_line(line, ASK, HIST, PERSONA) == reason


@pytest.mark.parametrize("line", [
    "账号是87654321，你快查查。",
    "87654321，就这个号。",
    "喂？喂喂？能听见吗？",         # repetition that is natural on a phone line
    "我姓张，账号87654321。",
    "你们客服怎么回事啊？我都等半天了。",
    "WiFi连不上，账号87654321。",
])
def test_plausible_lines_pass(line):
    assert validate_line(line, ASK, HIST, PERSONA) is None


def test_agent_echo():
    hist = [HistoryLine("agent", "这是公司规定，我们也没办法，您理解一下。")]
    intent = Intent("complain", "什么破规定？我不管，你们得退钱。", "继续抱怨", 7)
    assert validate_line("这是公司规定，我们也没有办法，您理解。", intent, hist, PERSONA) == "echo_agent"
    assert validate_line("什么破规定？我不管，退钱！", intent, hist, PERSONA) is None


@pytest.mark.parametrize("raw,clean", [
    ("客户：我家宽带断了。", "我家宽带断了。"),
    ("张先生：“我家宽带断了。”", "我家宽带断了。"),
    ("“行，谢谢，再见。”", "行，谢谢，再见。"),
    ("我家宽带断了。你们什么时候，", "我家宽带断了。"),
    ("  好的\n客服：还有什么可以帮您", "好的"),
    ("账号是87654321", "账号是87654321"),
])
def test_clean_line(raw, clean):
    assert clean_line(raw) == clean


# -- guarded_voice -------------------------------------------------------------------------------

class Fake:
    def __init__(self, pieces=(), name="transformers", error=None, wait=None, delay=0.0):
        self.pieces, self.name, self.error, self.wait, self.delay = list(pieces), name, error, wait, delay
        self.closed = threading.Event()

    def voice(self, persona, intent, history):
        try:
            for i, p in enumerate(self.pieces):
                if self.wait is not None and i == self.wait[1]:
                    self.wait[0].wait(10)
                time.sleep(self.delay)
                yield p
            if self.error:
                raise self.error
        finally:
            self.closed.set()


class Preparing(Fake):
    """A backend with a slow one-time prepare(persona), like the KV prefill of the persona prefix."""

    def __init__(self, pieces, prepare_s=0.0, prepare_error=None):
        super().__init__(pieces)
        self.prepare_s, self.prepare_error, self.prepared = prepare_s, prepare_error, []

    def prepare(self, persona):
        time.sleep(self.prepare_s)
        if self.prepare_error:
            raise self.prepare_error
        self.prepared.append(persona["name"])


def test_good_line_streams_in_pieces():
    g = guarded_voice(Fake(["账号是", "8765", "4321", "，你查查。"]), PERSONA, ASK, HIST)
    assert list(g) == ["账号是", "8765", "4321", "，你查查。"]
    assert g.text == "账号是87654321，你查查。" and g.backend == "transformers" and g.reject_reason is None
    assert g.first_token_s is not None and g.total_s >= g.first_token_s
    assert list(g) == ["账号是", "8765", "4321", "，你查查。"]   # iterating again replays, no regeneration


def test_cleaned_line_is_shown_clean():
    g = guarded_voice(Fake(["客户：", "“账号是87654321。”"]), PERSONA, ASK, HIST)
    assert "".join(g) == "账号是87654321。" and g.backend == "transformers"


def test_bad_line_falls_back_to_script():
    g = guarded_voice(Fake(["您好，", "请问有什么可以帮您？"]), PERSONA, ASK, HIST)
    assert list(g) == [ASK.line]
    assert g.backend == "fallback" and g.reject_reason == "role_inversion" and g.text == ASK.line
    assert g.generated == "您好，请问有什么可以帮您？"


def test_backend_exception_falls_back():
    g = guarded_voice(Fake(["账号"], error=RuntimeError("CUDA out of memory")), PERSONA, ASK, HIST)
    assert "".join(g) == ASK.line and g.backend == "fallback" and "CUDA out of memory" in g.reject_reason


def test_garbage_pieces_fall_back():
    g = guarded_voice(Fake([b"\xff\xfe", None]), PERSONA, ASK, HIST)
    assert "".join(g) == ASK.line and g.backend == "fallback" and "not text" in g.reject_reason


def test_hang_before_first_token_falls_back():
    release = threading.Event()
    fake = Fake(["账号是87654321。"], wait=(release, 0))
    start = time.monotonic()
    g = guarded_voice(fake, PERSONA, ASK, HIST, timeout=5.0, first_token_timeout=0.3)
    assert "".join(g) == ASK.line and g.reject_reason == "timeout: no first token"
    assert time.monotonic() - start < 4.0
    release.set()
    assert fake.closed.wait(5)          # the abandoned generation stops instead of running on


def test_hang_mid_line_falls_back():
    release = threading.Event()
    fake = Fake(["账号是", "87654321。"], wait=(release, 1))
    g = guarded_voice(fake, PERSONA, ASK, HIST, timeout=0.5, first_token_timeout=0.4)
    assert "".join(g) == ASK.line and g.reject_reason == "timeout: line not finished"
    release.set()
    assert fake.closed.wait(5)


def test_scripted_passes_unvalidated():
    line = Intent("open", "您好，请问有什么可以帮您？", "", 5)   # would fail validation, but scripted is trusted
    g = guarded_voice(Fake([line.line], name="scripted"), PERSONA, line, [])
    assert "".join(g) == line.line and g.backend == "scripted" and g.reject_reason is None


def test_non_speech_is_not_voiced_by_the_model():
    silence = Intent("silence", "（无声）", "", 5)
    fake = Fake(["我说话了"])
    g = guarded_voice(fake, PERSONA, silence, [])
    assert "".join(g) == "（无声）" and g.backend == "scripted" and not fake.closed.is_set()


def test_slow_prepare_does_not_count_against_the_first_token():
    b = Preparing(["账号是87654321。"], prepare_s=0.6)
    g = guarded_voice(b, PERSONA, ASK, HIST, timeout=0.5, first_token_timeout=0.4).resolve()
    assert g.backend == "transformers" and g.text == "账号是87654321。" and b.prepared == ["张先生"]
    assert g.total_s >= 0.6 > g.first_token_s


def test_prepare_failure_or_hang_falls_back():
    g = guarded_voice(Preparing(["x"], prepare_error=MemoryError("no room")), PERSONA, ASK, HIST).resolve()
    assert g.backend == "fallback" and "MemoryError" in g.reject_reason
    g = guarded_voice(Preparing(["x"], prepare_s=1.0), PERSONA, ASK, HIST, prepare_timeout=0.3).resolve()
    assert g.backend == "fallback" and g.reject_reason == "timeout: backend not ready"
