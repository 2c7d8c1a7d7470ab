"""Phrasebook loading: the built-in book, settings, and errors that name file:line."""

import textwrap

import pytest

from simulator.errors import PhrasebookError
from simulator.grading import load_phrasebook

RULE = """\
- id: forbidden.rule-is-rule
  title: 推托“这是规定”
  dimension: 礼貌
  severity: major
  tags: [rude]
  message: 用“这是规定”推托客户。
  suggestion: 非常抱歉，我帮您登记反馈。
  source: {seed: 000_38188eab8a3aad00.txt, clause: "这是公司的规定。"}
  check:
    op: forbidden
    phrases: [这是公司规定]
"""


def write(tmp_path, text, name="rules.yaml", meta=None):
    (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    if meta is not None:
        (tmp_path / "_meta.yaml").write_text(textwrap.dedent(meta), encoding="utf-8")
    return tmp_path


def error_of(path) -> str:
    with pytest.raises(PhrasebookError) as e:
        load_phrasebook(path)
    return str(e.value)


def test_builtin_phrasebook_loads_with_stable_rule_ids():
    book = load_phrasebook()
    assert book.rules, "the built-in phrasebook has rules"
    assert len(set(book.rule_ids())) == len(book.rules)
    assert book.rule(book.rules[0].id) is book.rules[0]
    assert book.version and book.name


def test_directory_with_defaults(tmp_path):
    book = load_phrasebook(write(tmp_path, RULE))
    assert book.rule_ids() == ["forbidden.rule-is-rule"]
    assert book.pass_mark == 80
    assert book.dimensions == {"礼貌": 30, "耐心": 20, "沟通": 20, "流程": 30}
    assert book.name == "default" and len(book.version) == 12
    rule = book.rule("forbidden.rule-is-rule")
    assert rule.channels == ("phone", "chat") and rule.scenarios == ("all",)
    assert rule.line == 1 and rule.file.endswith("rules.yaml")


def test_meta_settings_and_version(tmp_path):
    meta = "name: 测试\nversion: '1.2'\npass_mark: 70\ndimensions: {礼貌: 50, 流程: 50}\n" \
           "deductions: {minor: 1, major: 5, critical: all}\nscenarios: [angry]\n"
    book = load_phrasebook(write(tmp_path, RULE, meta=meta))
    assert (book.name, book.pass_mark) == ("测试", 70)
    assert book.dimensions == {"礼貌": 50, "流程": 50}
    assert book.version.startswith("1.2+")
    v1 = book.version
    (tmp_path / "rules.yaml").write_text(RULE.replace("这是公司规定", "规定就是规定"), encoding="utf-8")
    assert load_phrasebook(tmp_path).version != v1


def test_single_file_and_rules_mapping(tmp_path):
    f = write(tmp_path, "rules:\n" + textwrap.indent(RULE, "  "), name="one.yaml") / "one.yaml"
    book = load_phrasebook(f)
    assert book.rule_ids() == ["forbidden.rule-is-rule"]


def test_scenarios_collects_names(tmp_path):
    text = RULE + RULE.replace("forbidden.rule-is-rule", "angry.x").replace("  tags:", "  scenarios: [angry, complaint]\n  tags:")
    assert load_phrasebook(write(tmp_path, text)).scenarios == {"angry", "complaint"}


@pytest.mark.parametrize("old,new,line,words", [
    ("op: forbidden", "op: forbiden", 10, "unknown operator 'forbiden'"),
    ("  tags: [rude]", "  tag: [rude]", 5, "unknown key 'tag'"),
    ("  dimension: 礼貌\n", "", 1, "missing required key 'dimension'"),
    ("dimension: 礼貌", "dimension: 态度", 3, "dimension '态度'"),
    ("severity: major", "severity: high", 4, "severity 'high'"),
    ("phrases: [这是公司规定]", "patterns: ['这是(公司规定']", 11, "bad regex"),
    ("phrases: [这是公司规定]", "patterns: ['([说问])什么\\1']", 11, "numbered backreferences"),
    ("phrases: [这是公司规定]", "phrases: [a]\n    words: [b]", 12, "has no key 'words'"),
    ("id: forbidden.rule-is-rule", "id: RuleIsRule", 1, "area.name"),
    ("source: {seed: 000_38188eab8a3aad00.txt, clause: \"这是公司的规定。\"}", "source: {seed: x.txt}", 8, "source"),
    ("  check:\n", "  when: {turn: middle}\n  check:\n", 9, "when.turn"),
    ("  check:\n", "  when: {after_cal: [无声]}\n  check:\n", 9, "unknown key 'after_cal' in when"),
    ("phrases: [这是公司规定]", "similar: [规定]", 11, "shorter than 4"),
])
def test_rule_errors_name_file_and_line(tmp_path, old, new, line, words):
    assert old in RULE
    msg = error_of(write(tmp_path, RULE.replace(old, new)))
    assert msg.startswith(f"{tmp_path / 'rules.yaml'}:{line}: "), msg
    assert words in msg
    assert "\n" not in msg


def test_duplicate_rule_id_across_files(tmp_path):
    write(tmp_path, RULE, name="a.yaml")
    write(tmp_path, "# second\n" + RULE, name="b.yaml")
    msg = error_of(tmp_path)
    assert msg.startswith(f"{tmp_path / 'b.yaml'}:2: duplicate rule id 'forbidden.rule-is-rule'")
    assert f"a.yaml:1" in msg


def test_duplicate_yaml_key(tmp_path):
    msg = error_of(write(tmp_path, RULE.replace("  tags: [rude]\n", "  tags: [rude]\n  tags: [x]\n")))
    assert msg.startswith(f"{tmp_path / 'rules.yaml'}:6: duplicate key 'tags'")


def test_invalid_yaml_has_line(tmp_path):
    msg = error_of(write(tmp_path, RULE + "- id: [unclosed\n"))
    assert msg.startswith(f"{tmp_path / 'rules.yaml'}:") and "invalid YAML" in msg


def test_unsafe_yaml_tag_is_refused(tmp_path):
    msg = error_of(write(tmp_path, RULE.replace("title: 推托“这是规定”", "title: !!python/object/apply:os.system [echo hi]")))
    assert ":2:" in msg


@pytest.mark.parametrize("text", ["- &a\n  id: x.y\n  title: [*a]\n", "- " + "[" * 5000 + "]" * 5000 + "\n"])
def test_self_referencing_or_deep_yaml_is_an_error(tmp_path, text):
    msg = error_of(write(tmp_path, text))
    assert msg.startswith(f"{tmp_path / 'rules.yaml'}:1: ") and ("nests too deeply" in msg or "invalid YAML" in msg)


def test_unknown_scenario_when_meta_lists_them(tmp_path):
    text = RULE.replace("  tags:", "  scenarios: [angri]\n  tags:")
    msg = error_of(write(tmp_path, text, meta="scenarios: [angry]\n"))
    assert "unknown scenario 'angri'" in msg and ":5:" in msg


def test_meta_errors(tmp_path):
    msg = error_of(write(tmp_path, RULE, meta="pass_mark: 80\ncolour: blue\n"))
    assert msg.startswith(f"{tmp_path / '_meta.yaml'}:2: unknown key 'colour'")
    msg = error_of(write(tmp_path, RULE, meta="deductions: {minor: -1}\n"))
    assert "_meta.yaml:1" in msg and "deductions.minor" in msg


def test_missing_path_and_empty_dir(tmp_path):
    assert "no such phrasebook" in error_of(tmp_path / "nope")
    assert "no rule files" in error_of(tmp_path)


def test_rule_file_must_hold_rules(tmp_path):
    msg = error_of(write(tmp_path, "- just a string\n"))
    assert msg.startswith(f"{tmp_path / 'rules.yaml'}:1: each rule must be a mapping")
