"""Bad input, generated: the parsers and the grader either work or raise their documented error.

Property-based (hypothesis): transcripts (JSON text and decoded objects), whole calls through the
grader (mixed Chinese, control characters, huge and many turns, odd ``at`` values), persona YAML
(random documents, deep nesting, tags, alias bombs, huge files) and broken phrasebook files. The
only exception allowed out is the documented ``PeilianError`` subclass, with a one-sentence message;
a per-example deadline catches a hang. ``benchmarks/fuzz.py`` runs the same idea for longer.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from simulator import transcript as tr
from simulator.errors import PersonaError, PhrasebookError, TranscriptError
from simulator.grading import grade, load_phrasebook
from simulator.grading.loader import BUILTIN
from simulator.personas import parse_persona_text

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "personas").glob("*.yaml"))
# deadlines catch a hang, with room for a CPU shared with other work (a re-run that is fast would be "flaky")
FAST = settings(max_examples=150, deadline=10_000, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=40, deadline=30_000, suppress_health_check=list(HealthCheck))

# words the rules react to, so generated replies reach deep into the rule engine
PHRASES = ["您好", "星海宽带", "请问有什么可以帮您", "贵姓", "先生", "女士", "这是公司规定", "不知道", "你自己看",
           "非常抱歉", "请稍等", "感谢您的耐心等待", "还有其他可以帮您的吗", "感谢您的来电", "再见", "（保持）",
           "（挂机）", "（无声）", "（杂音很大）", "（方言）", "喂", "听不清", "投诉", "领导电话", "13800138000",
           "多少钱", "价格", "您叫什么", "催什么催", "我们这边", "……", "？？？", "！", "。", "，"]
TEXT = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(PHRASES), max_size=12).map("".join),
    st.lists(st.one_of(st.sampled_from(PHRASES), st.characters(codec="utf-8"),
                       st.characters(min_codepoint=0, max_codepoint=31)), max_size=40).map("".join),
    st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=200),
)
AT = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20),
               st.text(max_size=5), st.booleans(), st.lists(st.integers(), max_size=2))
TURN = st.fixed_dictionaries({"role": st.sampled_from(["caller", "agent"]), "text": TEXT},
                             optional={"at": AT})
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                       lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                       max_leaves=30)
TRANSCRIPT = st.fixed_dictionaries(
    {"turns": st.lists(TURN, max_size=30)},
    optional={"channel": st.sampled_from(["phone", "chat", "fax", 1, None]), "company": st.one_of(TEXT, st.integers()),
              "excerpt": st.one_of(st.booleans(), st.text(max_size=3)), "agent_name": TEXT,
              "scenarios": st.one_of(st.lists(st.sampled_from(["angry", "price", "x"]), max_size=3), st.text(max_size=3)),
              "persona": JSONISH})


@pytest.fixture(scope="module")
def book():
    return load_phrasebook()


def assert_clear(err: Exception, kind: type) -> None:
    """A documented error type with a short one-line message."""
    assert isinstance(err, kind), f"wrong error type {type(err).__name__}: {err}"
    msg = str(err)
    assert msg.strip() and "\n" not in msg.strip() and len(msg) < 600, f"unclear message: {msg[:300]!r}"
    assert "Traceback" not in msg


def check_grade(obj, book):
    """Grade ``obj`` (a dict): a DESIGN report or a TranscriptError, nothing else."""
    try:
        report = grade(obj, book)
    except TranscriptError as e:
        assert_clear(e, TranscriptError)
        return None
    assert 0 <= report["score"] <= 100 and isinstance(report["passed"], bool)
    assert all(f["turn"] is None or 0 <= f["turn"] < len(obj["turns"]) for f in report["findings"])
    json.dumps(report, ensure_ascii=False, allow_nan=False)   # the report is JSON as DESIGN.md says
    return report


# ---------------------------------------------------------------- transcripts


@FAST
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_loads_random_text_raises_only_transcript_error(text):
    try:
        tr.loads(text)
    except TranscriptError as e:
        assert_clear(e, TranscriptError)


@FAST
@given(JSONISH)
def test_from_dict_random_objects_raise_only_transcript_error(obj):
    try:
        tr.from_dict(obj)
    except TranscriptError as e:
        assert_clear(e, TranscriptError)


@FAST
@given(TRANSCRIPT)
def test_loads_round_trips_or_refuses_generated_transcripts(obj):
    text = json.dumps(obj, ensure_ascii=False)
    try:
        t = tr.loads(text)
    except TranscriptError as e:
        assert_clear(e, TranscriptError)
        return
    assert len(t.turns) == len(obj["turns"])
    assert [x.text for x in t.turns] == [x["text"] for x in obj["turns"]]


def test_deeply_nested_json_is_refused_clearly():
    for text in ("[" * 100_000 + "]" * 100_000, '{"turns":' * 50_000 + "[]" + "}" * 50_000):
        with pytest.raises(TranscriptError) as e:
            tr.loads(text)
        assert_clear(e.value, TranscriptError)


def test_oversized_transcripts_are_refused_by_the_documented_limits():
    too_long = {"turns": [{"role": "agent", "text": "您" * (tr.MAX_TURN_CHARS + 1)}]}
    too_many = {"turns": [{"role": "agent", "text": "好"}] * (tr.MAX_TURNS + 1)}
    for obj in (too_long, too_many):
        with pytest.raises(TranscriptError, match="too"):
            tr.from_dict(obj)
    with pytest.raises(TranscriptError, match="too large"):
        tr.loads(b" " * (tr.MAX_BYTES + 1))


# ---------------------------------------------------------------- grading


@FAST
@given(TRANSCRIPT)
def test_grade_random_calls_reports_or_refuses(book, obj):
    check_grade(obj, book)


@SLOW
@given(st.lists(st.sampled_from(PHRASES), min_size=1, max_size=8), st.integers(1, 200))
def test_grade_many_turns(book, words, n):
    turns = [{"role": ("caller", "agent")[i % 2], "text": words[i % len(words)], "at": i * 1.5} for i in range(n)]
    check_grade({"turns": turns}, book)


@SLOW
@given(st.sampled_from(PHRASES + ["啊", "a", "\x00", "（", "）"]), st.booleans())
def test_grade_huge_turns_at_the_limit(book, piece, control):
    text = (piece * (tr.MAX_TURN_CHARS // len(piece) + 1))[: tr.MAX_TURN_CHARS]
    if control:
        text = "\x1b[31m" + text[5:]
    report = check_grade({"turns": [{"role": "caller", "text": "喂"}, {"role": "agent", "text": text, "at": 1.0},
                                    {"role": "caller", "text": text}, {"role": "agent", "text": text, "at": 2}]}, book)
    assert report is not None


@pytest.mark.parametrize("at", [float("nan"), float("inf"), -float("inf"), -5.0, 1e308, 10**30, True, "3", [1]])
def test_grade_weird_at_values_are_refused_or_graded(at, book):
    obj = {"turns": [{"role": "caller", "text": "喂？", "at": 0}, {"role": "agent", "text": "您好，星海宽带。", "at": at}]}
    report = check_grade(obj, book)
    if isinstance(at, float) and not math.isfinite(at) or isinstance(at, (str, list, bool)):
        assert report is None, f"at={at!r} should be refused, not graded"


# ---------------------------------------------------------------- personas

YAML_SCALAR = st.one_of(TEXT, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
YAMLISH = st.recursive(YAML_SCALAR, lambda kids: st.lists(kids, max_size=4)
                       | st.dictionaries(st.text(min_size=1, max_size=10), kids, max_size=5), max_leaves=40)


def check_persona(text):
    try:
        p = parse_persona_text(text, source="fuzz.yaml")
    except PersonaError as e:
        assert_clear(e, PersonaError)
        assert "fuzz.yaml" in str(e), f"the message does not name the file: {e}"
        return None
    return p


@FAST
@given(st.one_of(st.text(max_size=400), st.binary(max_size=400)))
def test_persona_random_text(text):
    check_persona(text)


@FAST
@given(YAMLISH)
def test_persona_random_yaml_documents(data):
    import yaml
    check_persona(yaml.safe_dump(data, allow_unicode=True))


@FAST
@given(st.sampled_from(SHIPPED), st.data())
def test_persona_shipped_files_mutated(path, data):
    """A real persona with one line removed, duplicated, truncated or salted with junk."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    how = data.draw(st.sampled_from(["drop", "dup", "cut", "junk", "indent"]))
    junk = data.draw(st.sampled_from(["\x00", "\t", "!!python/object:os.system", "*a", "&a", "{", "- ", ": :",
                                      "\x1b", "\ufeff", "'", '"', "|", ">", "%YAML 1.1", "---", "..."]))
    if how == "drop":
        del lines[i]
    elif how == "dup":
        lines.insert(i, lines[i])
    elif how == "cut":
        lines = lines[:i] + [lines[i][: len(lines[i]) // 2]]
    elif how == "junk":
        lines[i] = lines[i] + junk
    else:
        lines[i] = "   " + lines[i]
    check_persona("\n".join(lines))


@pytest.mark.parametrize("text", [
    "!!python/object/apply:os.system ['touch /tmp/peilian-pwned']\n",
    "id: x\ntitle: !!python/object:__main__.Evil {}\n",
    "id: !!binary aGVsbG8=\n",
    "id: !custom x\n",
    "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n"
    + "".join(f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n"
              for p, c in zip("abcdefgh", "bcdefghi")),
    "<<: *missing\n",
    "a:\n" + "".join("  " * (d + 1) + f"k{d}:\n" for d in range(200)),
    "[" * 5000 + "]" * 5000,
    "id: x\n" * 3,
    "\x00\x01\x02",
    "",
    "   \n\n",
    "id: 'unterminated\n",
    "id: " + "长" * 70_000,
    b"\xff\xfe\x00id: x",
])
def test_persona_adversarial_yaml_is_refused_clearly(text):
    assert check_persona(text) is None
    assert not Path("/tmp/peilian-pwned").exists()


def test_persona_oversized_file_is_refused_quickly():
    big = SHIPPED[0].read_text(encoding="utf-8") + "\n# " + "x" * 200_000
    with pytest.raises(PersonaError, match="too large"):
        parse_persona_text(big, source="big.yaml")


# ---------------------------------------------------------------- phrasebook


def _broken_books(tmp: Path):
    """Copies of the built-in phrasebook, each with one file broken in one way."""
    base = sorted(p for p in BUILTIN.glob("*.yaml") if p.name != "_meta.yaml")[0]
    text = base.read_text(encoding="utf-8")
    cases = {
        "truncated": text[: len(text) // 3] + "\n  - {",
        "tag": "!!python/object/apply:os.system ['true']\n",
        "not-a-list": "id: x\n",
        "unknown-op": text.replace("op: required", "op: telepathy", 1) if "op: required" in text
        else "- id: a.b\n  check: {op: telepathy}\n",
        "bad-regex": "- id: opening.zz\n  title: x\n  scenarios: [all]\n  dimension: 礼貌\n  severity: minor\n"
                     "  message: m\n  check: {op: forbidden, any: ['(unclosed']}\n",
        "duplicate-id": text + "\n" + text,
        "binary": "\xff\x00\x1b",
        "empty": "",
        "bomb": "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"   # billion laughs: 9**9 strings if expanded
                + "".join(f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, c in zip("abcdefgh", "bcdefghi")),
        "meta-broken": None,
    }
    for name, broken in cases.items():
        d = tmp / name
        shutil.copytree(BUILTIN, d)
        if broken is None:
            (d / "_meta.yaml").write_text("pass_mark: [1, 2\n", encoding="utf-8")
        elif name == "binary":
            (d / base.name).write_bytes(b"\xff\x00\x1b")
        else:
            (d / base.name).write_text(broken, encoding="utf-8")
        yield name, d


def test_broken_phrasebooks_raise_phrasebook_error_naming_the_file(tmp_path):
    refused = []
    for name, d in _broken_books(tmp_path):
        try:
            load_phrasebook(d)
        except PhrasebookError as e:
            assert_clear(e, PhrasebookError)
            assert str(d) in str(e) or ".yaml" in str(e), f"{name}: message does not name the file: {e}"
            refused.append(name)
    # an empty rule file may be tolerated; everything else is broken and must be refused
    assert set(refused) >= {"truncated", "tag", "not-a-list", "unknown-op", "bad-regex", "duplicate-id",
                            "binary", "bomb", "meta-broken"}, refused


@SLOW
@given(st.text(max_size=300))
def test_phrasebook_random_rule_file(tmp_path_factory, text):
    d = tmp_path_factory.mktemp("book")
    (d / "rules.yaml").write_text(text, encoding="utf-8")
    try:
        load_phrasebook(d)
    except PhrasebookError as e:
        assert_clear(e, PhrasebookError)


@SLOW
@given(YAMLISH)
def test_phrasebook_random_yaml_rules(tmp_path_factory, data):
    import yaml
    assume(data is not None)
    d = tmp_path_factory.mktemp("book")
    (d / "rules.yaml").write_text(yaml.safe_dump([data], allow_unicode=True), encoding="utf-8")
    try:
        load_phrasebook(d)
    except PhrasebookError as e:
        assert_clear(e, PhrasebookError)


# ---------------------------------------------------------------- lone surrogates ("\ud83d": half an emoji)


def test_lone_surrogate_in_a_transcript_is_refused_not_crashing_later():
    with pytest.raises(TranscriptError, match="not valid Unicode"):
        tr.loads('{"turns": [{"role": "agent", "text": "\\ud83d这是公司规定"}]}')
    with pytest.raises(TranscriptError, match="not valid Unicode"):
        tr.loads('{"turns": [{"role": "agent", "text": "\ud83d"}]}')


def test_lone_surrogate_in_a_trainee_reply_is_400_and_stores_nothing(client, auth, store):
    auth.login_as("trainee")
    sid = auth.post("/call/start", {"persona_id": "angry-broadband"}).headers["Location"].rsplit("/", 1)[1]
    client.get(f"/call/{sid}/stream").get_data()
    r = client.post(f"/call/{sid}/reply", data='{"text": "\\ud83d您好", "expect": 1}', content_type="application/json",
                    headers={"X-CSRF-Token": auth.csrf(), "Accept": "application/json"})
    assert r.status_code == 400 and "无法识别" in r.get_json()["error"]
    assert len(store.turns(sid)) == 1 and store.get_session(sid)["lock_token"] is None


def test_lone_surrogate_in_persona_text_is_a_persona_error():
    text = SHIPPED[0].read_text(encoding="utf-8").replace("title: ", "title: \ud83d", 1)
    with pytest.raises(PersonaError, match="not valid Unicode"):
        parse_persona_text(text, source="x.yaml")
