"""How often the grader agrees with a QA reviewer, on tests/data/grading_dev.jsonl.

Each case labels one agent turn (``target_turn``) compliant or violation. The grader "flags" a case
when its report has a finding with verdict ``violation`` or ``missing`` on that turn; for whole-call
cases (``scope: call``, e.g. a missing closing or the surname never used) a finding with turn null
counts too, and ``target_turn: null`` means any such finding. Findings on other turns do not count.

  .venv/bin/python benchmarks/grading_accuracy.py                 # dev + heldout + all, per scenario
  .venv/bin/python benchmarks/grading_accuracy.py --split dev     # also lists dev misclassifications
  .venv/bin/python benchmarks/grading_accuracy.py --smoke --json  # 30 cases spread over all scenarios, JSON
  .venv/bin/python benchmarks/grading_accuracy.py --data tests/data/grading_blind.jsonl  # the blind set

Heldout texts are never printed unless --show-errors is given: tune on dev, report heldout.
Exit 0 whatever the accuracy; exit 2 when the dataset is malformed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.errors import PeilianError  # noqa: E402
from simulator.transcript import from_dict  # noqa: E402

DATASET = ROOT / "tests" / "data" / "grading_dev.jsonl"
LABELS = ("compliant", "violation")
SPLITS = ("dev", "heldout", "blind")
FLAG_VERDICTS = ("violation", "missing")


class DatasetError(PeilianError):
    """The dev set file is malformed (bad JSON, field or target turn), with line number."""


def load_cases(path: Path = DATASET) -> list[dict]:
    """Read and check every case; the transcript is validated by simulator.transcript.from_dict."""
    cases, seen = [], set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path.name}:{n}"
        try:
            case = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{where}: malformed JSON ({e.msg})") from None
        if not isinstance(case, dict):
            raise DatasetError(f"{where}: a case must be a JSON object")
        for key in ("id", "split", "scenario", "label", "transcript"):
            if not case.get(key):
                raise DatasetError(f"{where}: missing {key!r}")
        if case["id"] in seen:
            raise DatasetError(f"{where}: duplicate id {case['id']!r}")
        seen.add(case["id"])
        if case["label"] not in LABELS or case["split"] not in SPLITS:
            raise DatasetError(f"{where}: label must be one of {LABELS} and split one of {SPLITS}")
        try:
            transcript = from_dict(case["transcript"])
        except PeilianError as e:
            raise DatasetError(f"{where}: bad transcript: {e}") from None
        target = case.get("target_turn")
        if target is not None:
            if not isinstance(target, int) or isinstance(target, bool) \
                    or not 0 <= target < len(transcript.turns):
                raise DatasetError(f"{where}: target_turn {target!r} is not a turn index")
            if transcript.turns[target].role != "agent":
                raise DatasetError(f"{where}: target_turn {target} is not an agent turn")
        case["_transcript"] = transcript
        cases.append(case)
    return cases


def predict(case: dict, report: dict) -> tuple[str, list[dict]]:
    """'violation' when a flagging finding sits on the judged turn; returns the findings that count."""
    target = case.get("target_turn")
    whole_call = case.get("scope") == "call"
    hits = []
    for f in report.get("findings", []):
        if f.get("verdict") not in FLAG_VERDICTS:
            continue
        turn = f.get("turn")
        if target is None or turn == target or (turn is None and whole_call):
            hits.append(f)
    return ("violation" if hits else "compliant"), hits


def summarize(rows: list[dict]) -> dict:
    """n, accuracy, violation recall and false-flag rate over rows with 'label' and 'pred'."""
    n = len(rows)
    viol = [r for r in rows if r["label"] == "violation"]
    comp = [r for r in rows if r["label"] == "compliant"]
    correct = sum(r["label"] == r["pred"] for r in rows)

    def rate(part, total):
        return round(part / total, 3) if total else None

    return {"n": n, "accuracy": rate(correct, n),
            "violation_recall": rate(sum(r["pred"] == "violation" for r in viol), len(viol)),
            "false_flag_rate": rate(sum(r["pred"] == "violation" for r in comp), len(comp))}


def run(cases: list[dict]) -> list[dict]:
    from simulator.grading import grade, load_phrasebook
    book = load_phrasebook()
    rows = []
    for case in cases:
        report = grade(case["_transcript"], book)
        pred, hits = predict(case, report)
        rows.append({"id": case["id"], "split": case["split"], "scenario": case["scenario"],
                     "label": case["label"], "pred": pred, "hits": hits, "case": case})
    return rows


def _fmt(s: dict) -> str:
    def pct(v):
        return "   -" if v is None else f"{v * 100:4.0f}%"
    return f"n={s['n']:3d}  acc {pct(s['accuracy'])}  recall {pct(s['violation_recall'])}  " \
           f"false-flag {pct(s['false_flag_rate'])}"


def _print_errors(rows: list[dict]) -> None:
    wrong = [r for r in rows if r["label"] != r["pred"]]
    print(f"\nmisclassified ({len(wrong)}):")
    for r in wrong:
        case = r["case"]
        t = case.get("target_turn")
        text = case["transcript"]["turns"][t]["text"] if t is not None else "(whole call)"
        print(f"- {r['id']} [{r['split']}] label={r['label']} pred={r['pred']} turn={t}: {text}")
        print(f"    note: {case.get('note', '')}")
        for f in r["hits"]:
            print(f"    finding {f.get('rule')} {f.get('verdict')} turn={f.get('turn')}: {f.get('evidence')!r}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=SPLITS + ("all",), default=None,
                    help="only this split (dev also lists its misclassified cases)")
    ap.add_argument("--smoke", action="store_true", help="30 cases spread over the file (every k-th)")
    ap.add_argument("--json", action="store_true", help="print a machine-readable summary")
    ap.add_argument("--show-errors", action="store_true", help="list misclassified cases of every split shown")
    ap.add_argument("--data", type=Path, default=DATASET, help="dataset file (JSONL)")
    args = ap.parse_args(argv)
    try:
        cases = load_cases(args.data)
    except DatasetError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    if args.smoke:
        cases = cases[::max(1, len(cases) // 30)][:30]
    if args.split in SPLITS:
        cases = [c for c in cases if c["split"] == args.split]
    t0 = time.perf_counter()
    rows = run(cases)
    elapsed = time.perf_counter() - t0
    present = [s for s in SPLITS if any(r["split"] == s for r in rows)]
    splits = [args.split] if args.split in SPLITS else present + ["all"]
    summary = {"dataset": str(args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data),
               "cases": len(rows), "seconds": round(elapsed, 3), "splits": {}, "scenarios": {}}
    for s in splits:
        part = rows if s == "all" else [r for r in rows if r["split"] == s]
        summary["splits"][s] = summarize(part)
    for scn in sorted({r["scenario"] for r in rows}):
        summary["scenarios"][scn] = summarize([r for r in rows if r["scenario"] == scn])
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(f"grading accuracy on {summary['dataset']}: {len(rows)} cases graded in {elapsed:.2f} s")
    for s, stats in summary["splits"].items():
        print(f"  {s:8s} {_fmt(stats)}")
    print("per scenario" + (" (all splits shown)" if args.split is None else f" ({args.split})") + ":")
    for scn, stats in summary["scenarios"].items():
        print(f"  {scn:22s} {_fmt(stats)}")
    if args.show_errors:
        _print_errors(rows)
    elif args.split == "dev":
        _print_errors(rows)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # piped into head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
