"""`peilian grade`: JSON and text reports, --jsonl, and one-line errors with exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from simulator.cli import cli
from simulator.transcript import MAX_BYTES

ROOT = Path(__file__).parents[1]
DEMO = ROOT / "tests" / "data" / "demo_call.json"
RULE = {"id": "forbidden.rule-is-rule", "dimension": "礼貌", "severity": "major", "message": "推托",
        "suggestion": "我帮您登记反馈。", "source": {"seed": "000_38188eab8a3aad00.txt", "clause": "这是公司的规定。"},
        "check": {"op": "forbidden", "patterns": ["这是(公司的?)?规定"]}}


@pytest.fixture
def book(tmp_path):
    d = tmp_path / "book"
    d.mkdir()
    (d / "rules.yaml").write_text(yaml.safe_dump([RULE], allow_unicode=True), encoding="utf-8")
    return str(d)


def run(*args, input=None):
    return CliRunner().invoke(cli, ["grade", *args], input=input)


def call(agent_text):
    return {"turns": [{"role": "caller", "text": "喂？"}, {"role": "agent", "text": agent_text}]}


def test_grade_file_json(book):
    r = run(str(DEMO), "--phrasebook", book)
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["score"] == 92 and rep["passed"] is True
    assert [(f["turn"], f["rule"], f["evidence"]) for f in rep["findings"]] == [(10, "forbidden.rule-is-rule", "这是公司的规定")]


def test_grade_stdin_and_text_format(book):
    r = run("-", "--format", "text", "--phrasebook", book, input=json.dumps(call("这是规定，没办法。")))
    assert r.exit_code == 0
    assert r.stdout.startswith("得分 Score: 92 / 100    通过 PASS")
    assert "原话 Evidence: 「这是规定」" in r.stdout and "建议 Say: 我帮您登记反馈。" in r.stdout


def test_grade_builtin_phrasebook_on_demo():
    r = run(str(DEMO))
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["phrasebook"]["name"] and rep["findings"]
    for f in rep["findings"]:
        text = json.loads(DEMO.read_text(encoding="utf-8"))["turns"][f["turn"]]["text"]
        if f["span"] is not None:
            assert text[f["span"][0]:f["span"][1]] == f["evidence"]


@pytest.mark.parametrize("data,message", [
    (b"{\"turns\": [", "Error: malformed JSON at line 1 column 12: Expecting value"),
    (b"{\"channel\": \"phone\"}", "Error: transcript has no \"turns\" field"),
    (json.dumps({"turns": [{"role": "caller", "text": "喂"}, {"role": "boss", "text": "hi"}]}).encode(),
     "Error: turn 1 has role 'boss'; it must be \"caller\" or \"agent\""),
    (json.dumps({"turns": [{"role": "agent"}]}).encode(), "Error: turn 0 has no \"text\" string"),
    (b"[1, 2]", "Error: transcript must be a JSON object with a \"turns\" list"),
    (b"\xff\xfe{}", "Error: transcript is not UTF-8 text (byte 0)"),
])
def test_bad_input_is_one_line_exit_2(book, data, message):
    r = run("-", "--phrasebook", book, input=data)
    assert r.exit_code == 2
    assert r.stderr == message + "\n"
    assert r.stdout == ""


def test_oversized_input(book):
    big = json.dumps({"turns": [], "pad": "x" * (MAX_BYTES + 10)}).encode()
    r = run("-", "--phrasebook", book, input=big)
    assert r.exit_code == 2
    assert r.stderr == f"Error: transcript is too large ({len(big)} bytes; the limit is {MAX_BYTES})\n"


def test_missing_file_and_bad_phrasebook(tmp_path, book):
    r = run(str(tmp_path / "nope.json"), "--phrasebook", book)
    assert (r.exit_code, r.stderr) == (2, f"Error: cannot read {tmp_path / 'nope.json'}: No such file or directory\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump([{**RULE, "check": {"op": "nope"}}], allow_unicode=True), encoding="utf-8")
    r = run(str(DEMO), "--phrasebook", str(bad))
    assert r.exit_code == 2
    assert r.stderr.startswith(f"Error: {bad}:") and "unknown operator 'nope'" in r.stderr
    assert r.stderr.count("\n") == 1


def test_jsonl_grades_each_line_and_reports_bad_ones(book):
    lines = [json.dumps(call("您好，请讲。")), "{broken", json.dumps(call("这是规定。")),
             json.dumps({"turns": [{"role": "robot", "text": "x"}]})]
    r = run("--jsonl", "-", "--phrasebook", book, input="\n".join(lines) + "\n")
    assert r.exit_code == 0
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(out) == 4
    assert out[0]["score"] == 100 and out[2]["score"] == 92
    assert out[1] == {"error": "line 2: malformed JSON at line 1 column 2: Expecting property name enclosed in double quotes"}
    assert out[3] == {"error": "line 4: turn 0 has role 'robot'; it must be \"caller\" or \"agent\""}


def test_jsonl_bad_utf8_line_does_not_spoil_the_others(book):
    data = json.dumps(call("这是规定。")).encode() + b"\n\xff{}\r\n\n" + json.dumps(call("好的。")).encode()
    r = run("--jsonl", "-", "--phrasebook", book, input=data)
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o.get("score", o.get("error")) for o in out] == [92, "line 2: transcript is not UTF-8 text (byte 0)", 100]


def test_real_subprocess():
    exe = Path(sys.prefix) / "bin" / "peilian"
    if not exe.exists():
        exe = ROOT / ".venv" / "bin" / "peilian"
    ok = subprocess.run([str(exe), "grade", str(DEMO), "--format", "text"], capture_output=True, text=True,
                        cwd=ROOT, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("得分 Score: ")
    bad = subprocess.run([str(exe), "grade", "-"], input="{", capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr == "Error: malformed JSON at line 1 column 2: Expecting property name enclosed in double quotes\n"
