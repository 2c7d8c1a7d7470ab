"""A readable text report (Chinese first, English beside) for `peilian grade --format text`."""

from __future__ import annotations

VERDICTS = {"violation": "✗ 违规 violation", "missing": "✗ 缺少 missing", "ok": "✓ 做到 ok"}


def format_text(report: dict) -> str:
    """The report as plain text: score, pass/fail, dimensions, then each finding with its evidence."""
    lines = []
    verdict = "通过 PASS" if report["passed"] else "未通过 FAIL"
    if report.get("auto_fail"):
        verdict += "（一票否决 auto-fail）"
    lines.append(f"得分 Score: {report['score']} / 100    {verdict}")
    pb = report.get("phrasebook") or {}
    lines.append(f"标准 Phrasebook: {pb.get('name', '')} {pb.get('version', '')}")
    dims = "  ".join(f"{d} {v['score']}/{v['max']}" for d, v in report["dimensions"].items())
    lines.append(f"维度 Dimensions: {dims}")
    problems = [f for f in report["findings"] if f["verdict"] != "ok"]
    done = [f for f in report["findings"] if f["verdict"] == "ok"]
    lines.append("")
    lines.append(f"问题 Problems ({len(problems)}):" if problems else "问题 Problems: 无 none")
    for f in problems:
        lines.extend(_finding(f))
    if done:
        lines.append("")
        lines.append(f"做得好 Done right ({len(done)}):")
        for f in done:
            where = "全程" if f["turn"] is None else f"第 {f['turn']} 句"
            lines.append(f"  ✓ [{where}] {f['rule']}: 「{f['evidence']}」")
    return "\n".join(lines)


def _finding(f: dict) -> list[str]:
    where = "全程 whole call" if f["turn"] is None else f"第 {f['turn']} 句 turn {f['turn']}"
    out = [f"  {VERDICTS.get(f['verdict'], f['verdict'])} · {f['severity']} · {f['dimension']} · "
           f"{f['rule']} [{where}]"]
    if f.get("evidence"):
        out.append(f"    原话 Evidence: 「{f['evidence']}」")
    out.append(f"    问题 Why: {f['message']}")
    if f.get("suggestion"):
        out.append(f"    建议 Say: {f['suggestion']}")
    src = f.get("source") or {}
    out.append(f"    依据 Source: {src.get('seed', '')} 「{src.get('clause', '')}」")
    return out
