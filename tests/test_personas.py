"""Persona files: the shipped ones are valid and varied; broken ones get line-precise errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.callers.base import INTENT_KINDS
from simulator.cli import cli
from simulator.errors import PersonaError
from simulator.personas import (MAX_BYTES, check_files, find_persona, load_all, load_persona, parse_persona_text,
                                persona_schema)

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "personas").glob("*.yaml"))

GOOD = textwrap.dedent("""\
    id: tiny
    title: 测试用的小客户
    difficulty: easy
    company: 星海宽带
    scenarios: [angry]
    caller:
      surname: 张
      gender: male
      address_as: 张先生
    goal: 测试
    facts:
      account:
        value: "123"
        ask_patterns: ["账号"]
    mood:
      start: 5
      triggers:
        - {on: phrase, phrases: [抱歉], delta: -1}
        - {on: finding, rule: "opening.*", verdict: ok, delta: -1}
        - {on: finding, tag: rude, delta: 2}
    lines:
      open: [喂，你好。]
      answer:
        calm: ["{value}。"]
        angry: ["{value}！"]
    end:
      max_turns: 6
    """)


def write(tmp_path, text, name="p.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_for(tmp_path, text):
    path = write(tmp_path, text)
    return [e.replace(str(path), "p.yaml") for e in check_files([path])]


def test_shipped_personas_are_valid_and_enough():
    assert len(SHIPPED) >= 13
    assert check_files(SHIPPED) == []
    personas = load_all()
    assert len({p.id for p in personas}) == len(personas) == len(SHIPPED)


def test_shipped_personas_cover_the_kinds_of_callers():
    personas = load_all()
    scenarios = {s for p in personas for s in p.scenarios}
    for needed in ("angry", "dialect", "nuisance", "silent", "noisy", "low-volume", "wrong-number",
                   "private-call", "price", "confidential", "complaint", "suggestion", "chat"):
        assert needed in scenarios, needed
    assert {p.difficulty for p in personas} == {"easy", "medium", "hard"}
    assert {p.channel for p in personas} == {"phone", "chat"}
    assert {p.speech.line for p in personas} >= {"silent", "noisy", "low_volume", "clear"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_persona_has_several_lines_to_vary(path):
    p = load_persona(path)
    assert p.id == path.stem
    if p.speech.line == "silent":
        return
    assert len(p.lines["open"].all_lines()) >= 2
    main = [kind for kind in ("state_need", "complain", "nuisance", "noise", "dialect") if kind in p.lines]
    assert main and all(len(p.lines[k].all_lines()) >= 2 for k in main)
    assert "goodbye" in p.lines
    for lines in p.lines.values():
        for line in lines.all_lines():
            assert line.count("。") + line.count("！") + line.count("？") <= 3, line  # one or two sentences


def test_cli_personas_check_passes_on_shipped_files():
    result = CliRunner().invoke(cli, ["personas", "check", *map(str, SHIPPED)])
    assert result.exit_code == 0, result.output
    assert f"{len(SHIPPED)} persona file(s) OK" in result.output


def test_cli_personas_check_reports_line_and_exit_code(tmp_path):
    path = write(tmp_path, GOOD.replace("difficulty: easy", "difficulty: extreme"))
    result = CliRunner().invoke(cli, ["personas", "check", str(path)])
    assert result.exit_code == 2
    assert f"{path}:3: difficulty: 不是允许的取值（Input should be 'easy', 'medium' or 'hard'）" in result.output


def test_good_persona_loads_and_round_trips_through_yaml(tmp_path):
    p = load_persona(write(tmp_path, GOOD))
    assert p.mood.triggers[0].on == "phrase" and p.lines["open"].any == ["喂，你好。"]
    again = parse_persona_text(p.to_yaml())
    assert again == p


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_persona_round_trips(path):
    p = load_persona(path)
    assert parse_persona_text(p.to_yaml()) == p


def test_bad_yaml_names_the_line(tmp_path):
    errs = errors_for(tmp_path, GOOD.replace("  gender: male", "  gender: [male"))
    assert len(errs) == 1 and errs[0].startswith("p.yaml:") and "invalid YAML" in errs[0]
    assert int(errs[0].split(":")[1]) in (8, 9, 10)


def test_unknown_key_names_the_line(tmp_path):
    errs = errors_for(tmp_path, GOOD.replace("  address_as: 张先生", "  address_as: 张先生\n  nickname: 老张"))
    assert errs == ["p.yaml:10: caller.nickname: 不认识的键，请检查拼写（unknown key）"]


def test_unknown_top_level_key(tmp_path):
    assert errors_for(tmp_path, GOOD + "colour: red\n") == [f"p.yaml:{GOOD.count(chr(10)) + 1}: colour: 不认识的键，请检查拼写（unknown key）"]


def test_bad_rule_reference_names_the_line(tmp_path):
    errs = errors_for(tmp_path, GOOD.replace('rule: "opening.*"', "rule: forbiden.x"))
    assert errs == ["p.yaml:19: mood.triggers[1].rule: 话术库中没有匹配的规则（unknown rule 'forbiden.x' (no such phrasebook rule)）"]


def test_reference_errors_are_reported_with_schema_errors(tmp_path):
    text = GOOD.replace('rule: "opening.*"', "rule: forbiden.x").replace("start: 5", "start: 11")
    assert errors_for(tmp_path, text) == [
        "p.yaml:16: mood.start: 不能大于 10（Input should be less than or equal to 10）",
        "p.yaml:19: mood.triggers[1].rule: 话术库中没有匹配的规则（unknown rule 'forbiden.x' (no such phrasebook rule)）"]


def test_unknown_scenario(tmp_path):
    errs = errors_for(tmp_path, GOOD.replace("scenarios: [angry]", "scenarios: [angry, angery]"))
    assert len(errs) == 1 and errs[0].startswith("p.yaml:5: scenarios[1]: 话术库中没有这个场景（unknown scenario 'angery' (phrasebook scenarios: ")


def test_bad_tag_reference(tmp_path):
    errs = errors_for(tmp_path, GOOD.replace("tag: rude", "tag: rudeness"))
    assert errs == ["p.yaml:20: mood.triggers[2].tag: 没有规则带这个标签（unknown tag 'rudeness' (no phrasebook rule has it)）"]


def test_wrong_type_names_the_line(tmp_path):
    errs = errors_for(tmp_path, GOOD.replace("max_turns: 6", "max_turns: lots"))
    assert len(errs) == 1 and errs[0].startswith("p.yaml:27: end.max_turns: ")
    assert "integer" in errs[0]


def test_mood_out_of_range_names_the_line(tmp_path):
    errs = errors_for(tmp_path, GOOD.replace("start: 5", "start: 12"))
    assert errs == ["p.yaml:16: mood.start: 不能大于 10（Input should be less than or equal to 10）"]


def test_delta_out_of_range_and_unknown_trigger(tmp_path):
    text = GOOD.replace("phrases: [抱歉], delta: -1", "phrases: [抱歉], delta: -30")
    text = text.replace("{on: finding, tag: rude, delta: 2}", "{on: weather, delta: 2}")
    errs = errors_for(tmp_path, text)
    assert errs[0] == "p.yaml:18: mood.triggers[0].delta: 不能小于 -10（Input should be greater than or equal to -10）"
    assert errs[1].startswith("p.yaml:20: mood.triggers[2]: on 的取值不对（Input tag 'weather' found using 'on'")


def test_missing_required_key_points_at_its_mapping(tmp_path):
    errs = errors_for(tmp_path, GOOD.replace("  surname: 张\n", ""))
    assert errs == ["p.yaml:6: caller.surname: 缺少必填项（missing required key）"]


def test_unknown_intent_kind_and_placeholder(tmp_path):
    text = GOOD.replace("  open: [喂，你好。]", "  open: [\"喂，{name}你好。\"]\n  chat: [随便聊聊]")
    errs = errors_for(tmp_path, text)
    assert any(e.startswith("p.yaml:23: lines.chat: 不是允许的取值（Input should be 'open'") for e in errs), errs
    fixed = text.replace("  chat: [随便聊聊]\n", "")
    assert errors_for(tmp_path, fixed) == ["p.yaml:22: lines.open[0]: 未知的占位符（unknown placeholder {name}）"]


def test_fact_without_ask_patterns_and_bad_regex(tmp_path):
    errs = errors_for(tmp_path, GOOD.replace('ask_patterns: ["账号"]', "ask_patterns: []"))
    assert errs == ["p.yaml:12: facts.account: 问了才说的信息需要写 ask_patterns（a when_asked fact needs ask_patterns (what the agent must ask)）"]
    errs = errors_for(tmp_path, GOOD.replace('ask_patterns: ["账号"]', 'ask_patterns: ["账号("]'))
    assert len(errs) == 1 and errs[0].startswith("p.yaml:14: facts.account.ask_patterns[0]: 正则表达式写错了（not a valid pattern")


def test_start_mood_at_hangup_threshold_is_an_error(tmp_path):
    errs = errors_for(tmp_path, GOOD.replace("start: 5", "start: 9"))
    assert errs == ["p.yaml:16: mood.start: 起始情绪必须低于挂机阈值（must be below the hang-up threshold 9, or the caller hangs up at once）"]


def test_unknown_satisfied_fact(tmp_path):
    errs = errors_for(tmp_path, GOOD.replace("max_turns: 6", "max_turns: 6\n  satisfied_when: {facts: [adress]}"))
    assert errs == ["p.yaml:28: end.satisfied_when.facts[0]: facts 里没有这一项（unknown fact 'adress' (not under facts)）"]


@pytest.mark.parametrize("text, message", [
    ("a: &x [1]\nb: *x\n", "p.yaml:1: 不允许使用锚点和别名（anchors and aliases (& and *) are not allowed）"),
    ("id: !!python/object:os.system x\n", "p.yaml:1: 不允许使用 YAML 标签（YAML tags such as tag:yaml.org,2002:python/object:os.system are not allowed）"),
    ("x:\n" + "".join("  " * i + "- \n" for i in range(1, 20)), "nested too deeply"),
    ("id: a\nid: b\n", "p.yaml:2: 重复的键（duplicate key 'id'）"),
    # found by benchmarks/fuzz.py: a 26,000-digit title made Python's int() raise a bare ValueError
    ("id: x\ntitle: " + "1380013800" * 2000 + "\n", "p.yaml:2: YAML 格式错误（invalid YAML: a number of 20000 digits"),
    ("- 1\n- 2\n", "p.yaml:1: 人设文件应是键值映射（a persona must be a mapping"),
    ("", "p.yaml: 文件是空的（the file is empty"),
])
def test_unsafe_or_odd_yaml_is_refused(tmp_path, text, message):
    errs = errors_for(tmp_path, text)
    assert len(errs) == 1 and message in errs[0], errs


def test_upload_size_limit_and_encoding():
    with pytest.raises(PersonaError, match="too large"):
        parse_persona_text(GOOD + "#" * MAX_BYTES)
    with pytest.raises(PersonaError, match="not UTF-8"):
        parse_persona_text(b"id: \xff\xfe")
    with pytest.raises(PersonaError, match=r"^<upload>:3: difficulty: 不是允许的取值（Input should be .*） \(and 1 more\)$"):
        parse_persona_text(GOOD.replace("easy", "x").replace("start: 5", "start: 99"))


def test_yaml_booleans_do_not_eat_the_on_key():
    p = parse_persona_text(GOOD.replace("{on: phrase, phrases: [抱歉]", "{on: phrase, phrases: [yes, no, 抱歉]"))
    assert p.mood.triggers[0].phrases == ["yes", "no", "抱歉"]


def test_load_all_uses_env_dir_and_rejects_duplicate_ids(tmp_path, monkeypatch):
    write(tmp_path, GOOD, "a.yaml")
    monkeypatch.setenv("PEILIAN_PERSONAS", str(tmp_path))
    assert [p.id for p in load_all()] == ["tiny"]
    write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(PersonaError, match="persona id 'tiny' is also used by"):
        load_all()
    with pytest.raises(PersonaError, match="does not exist"):
        load_all(tmp_path / "nope")


def test_find_persona_lists_available_ids():
    assert find_persona("silent-line").speech.line == "silent"
    with pytest.raises(PersonaError, match=r"没有这个人设（unknown persona 'nobody'; available: angry-broadband, "):
        find_persona("nobody")


def test_persona_schema_is_json_schema():
    import jsonschema

    schema = persona_schema()
    assert {"id", "mood", "lines", "end"} <= set(schema["properties"])
    data = load_persona(SHIPPED[0]).model_dump(mode="json")
    jsonschema.validate(data, schema)
    data["difficulty"] = "extreme"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)
