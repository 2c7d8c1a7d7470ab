"""``benchmarks/run_all.py --smoke`` runs every benchmark briefly and writes a report with each section.

Slow for a unit test (~2 minutes on 2 busy cores: it starts gunicorn three times and, when the
0.5B caller model is installed, loads it), but it is the only check that the benchmarks still run.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import run_all  # noqa: E402


def test_run_all_smoke_writes_a_report_with_every_section(tmp_path):
    out = tmp_path / "REPORT.md"
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--smoke", "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert p.returncode == 0, p.stderr[-2000:]
    report = out.read_text(encoding="utf-8")
    assert "## Machine" in report and "| nproc |" in report and "| torch |" in report
    assert re.search(r"on \d{4}-\d\d-\d\d \d\d:\d\d UTC", report)
    for name, _what, *_rest, needs_model, _limit in run_all.BENCHMARKS:
        assert f"\n## {name}\n" in report, f"no section for {name}"
        status = re.search(rf"\| {name} \| ([^|]+) \|", report).group(1).strip()
        if not needs_model:  # ours must work; the model ones may be skipped or time out on a busy machine
            assert status == "ok", f"{name}: {status}"
    # real figures, not placeholders
    assert re.search(r"\| store\.lost_turns \| 0 \|", report), "load: turns lost or not checked"
    assert re.search(r"\| failures \| 0 \|", report), "fuzz found failures"
    assert re.search(r"\| reply \| \d+ \| [\d.]+ \|", report), "load: no reply latencies"


def test_a_missing_or_failing_benchmark_is_recorded_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setattr(run_all, "BENCHMARKS", [
        ("nope", "a benchmark that is not there", [], [], False, 10),
        ("grading_speed", "a real one with a wrong flag", ["--no-such-flag"], [], False, 30),
    ])
    out = tmp_path / "r.md"
    assert run_all.main(["--smoke", "--out", str(out)]) == 0
    report = out.read_text(encoding="utf-8")
    assert "| nope | missing |" in report
    assert re.search(r"\| grading_speed \| failed \(exit 2\) \|", report) and "no-such-flag" in report
