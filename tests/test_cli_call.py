"""``peilian call``: a call played from standard input, as text or as JSON events."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from simulator.cli import cli
from simulator.personas import find_persona
from standard_agent import standard_replies

REPO = Path(__file__).resolve().parents[1]
PEILIAN = Path(sys.executable).with_name("peilian")


def run_call(persona_id, replies, *extra):
    stdin = "".join(r + "\n" for r in replies)
    return CliRunner().invoke(cli, ["call", "--persona", persona_id, "--jsonl", *extra], input=stdin)


def events(output):
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_jsonl_events_for_a_standard_call():
    persona = find_persona("angry-broadband")
    result = run_call(persona.id, standard_replies(persona))
    assert result.exit_code == 0, result.output
    evs = events(result.output)
    assert evs[0]["event"] == "caller" and set(evs[0]) == {"event", "text", "mood", "backend"}
    assert evs[0]["backend"] == "scripted" and evs[0]["mood"] == persona.mood.start
    kinds = [e["event"] for e in evs]
    assert kinds[-1] == "end" and kinds.count("end") == 1
    assert kinds.count("agent") == kinds.count("grade")
    for i, e in enumerate(evs):
        if e["event"] == "agent":
            assert evs[i + 1]["event"] == "grade" and isinstance(evs[i + 1]["findings"], list)
    turns = [e for e in evs if e["event"] in ("caller", "agent")]
    grades = [e["turn"] for e in evs if e["event"] == "grade"]
    assert grades == [i for i, e in enumerate(turns) if e["event"] == "agent"]
    end = evs[-1]
    assert end["reason"] == "satisfied"
    assert {"score", "passed", "findings", "dimensions"} <= set(end["report"])


def test_rude_replies_make_the_caller_hang_up():
    result = run_call("angry-broadband", ["你烦不烦啊！", "这是规定！", "有意见找领导去！"])
    evs = events(result.output)
    assert result.exit_code == 0
    assert evs[-1]["reason"] == "hangup" and evs[-2]["event"] == "caller"


def test_end_of_input_closes_the_call():
    result = run_call("price-quote", ["您好，优品家电，请问有什么可以帮您？"])
    evs = events(result.output)
    assert [e["event"] for e in evs] == ["caller", "agent", "grade", "caller", "end"]
    assert evs[-1]["reason"] == "input_closed"


def test_text_mode_shows_lines_grades_and_report():
    persona = find_persona("wrong-number")
    stdin = "".join(r + "\n" for r in standard_replies(persona))
    result = CliRunner().invoke(cli, ["call", "--persona", persona.id], input=stdin)
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"【来电】{persona.title}" in out
    assert "客户：" in out and "客服：您好，这里是星海宽带，请您查证后再拨。" in out
    assert "✓ opening.greeting" in out
    assert "（satisfied）" in out and "得分" in out


def test_unknown_persona_lists_the_available_ones():
    result = CliRunner().invoke(cli, ["call", "--persona", "nobody"], input="")
    assert result.exit_code == 2
    assert result.output.startswith("Error: 没有这个人设（unknown persona 'nobody'; available: angry-broadband, ")
    assert "silent-line" in result.output


def test_real_subprocess_pipes_a_silent_line_call():
    persona = find_persona("silent-line")
    stdin = "".join(r + "\n" for r in standard_replies(persona))
    proc = subprocess.run([str(PEILIAN), "call", "--persona", "silent-line", "--jsonl", "--seed", "5"],
                          input=stdin, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    evs = events(proc.stdout)
    assert [e["text"] for e in evs if e["event"] == "caller"] == ["（无声）"] * 3
    assert evs[-1]["event"] == "end" and evs[-1]["reason"] == "silence"
