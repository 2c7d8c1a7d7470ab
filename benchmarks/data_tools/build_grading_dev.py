"""Build tests/data/grading_dev.jsonl from the hand-written cases in this folder.

The cases are written the way a QA reviewer labels calls (from the seed standards, not from the
phrasebook's rule ids), so the set measures the grader instead of mirroring it.
Run: .venv/bin/python benchmarks/data_tools/build_grading_dev.py
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from devset_common import COMPANIES, SURNAMES, skeleton  # noqa: E402
import devset_added  # noqa: E402
import devset_calls  # noqa: E402
import devset_turns_a  # noqa: E402
import devset_turns_b  # noqa: E402

OUT = HERE.parent.parent / "tests" / "data" / "grading_dev.jsonl"
DEV_SHARE = 0.6


def _h(text: str) -> int:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)


def _fill_vars(case_id: str) -> dict:
    """Per-case caller identity: surname, title and a mobile number, derived from the id."""
    h = _h(case_id)
    surname = SURNAMES[h % len(SURNAMES)]
    title = surname + ("先生" if (h >> 8) % 2 else "女士")
    prefix = ("138", "139", "136", "158", "159", "186", "187", "133", "177", "150")[(h >> 16) % 10]
    rest = f"{(h >> 24) % 100000000:08d}"
    return {"S": surname, "T": title, "P": prefix + rest, "PS": f"{prefix} {rest[:4]} {rest[4:]}"}


def _render(text: str, v: dict) -> str:
    for key in ("PS", "P", "T", "S", "C"):
        text = text.replace("{" + key + "}", v[key])
    return text


def _excerpt_case(spec: dict, case_id: str) -> dict:
    v = _fill_vars(case_id)
    v["C"] = COMPANIES[spec["co"]]["name"] if spec["co"] else ""
    turns, target = [], None
    for item in spec["turns"]:
        at = None
        if isinstance(item, tuple):
            item, at = item
        tag, text = item.split(":", 1)
        role = "caller" if tag == "C" else "agent"
        if tag == "T":
            target = len(turns)
        turn = {"role": role, "text": _render(text, v)}
        if at is not None:
            turn["at"] = at
        turns.append(turn)
    if target is None:
        raise ValueError(f"{case_id}: no target turn")
    return _wrap(spec, case_id, turns, target, excerpt=True, v=v)


def _call_case(spec: dict, case_id: str) -> dict:
    v = _fill_vars(case_id)
    v["C"] = COMPANIES[spec["co"]]["name"] if spec["co"] else ""
    slots = skeleton(spec["co"], spec.get("over", {}))
    turns, target = [], None
    for slot, role, text in slots:
        if slot == spec.get("target"):
            target = len(turns)
        turns.append({"role": role, "text": _render(text, v)})
    if spec.get("target") == "last":
        target = max(i for i, t in enumerate(turns) if t["role"] == "agent")
    if target is None:
        raise ValueError(f"{case_id}: target slot {spec.get('target')!r} not found")
    if spec.get("timing"):
        _add_times(turns, target, spec["timing"])
    return _wrap(spec, case_id, turns, target, excerpt=False, v=v)


def _add_times(turns: list, target: int, gap: float) -> None:
    """Plausible completion times: agent replies 1.2-2.6 s after the caller, the target `gap` s."""
    t = 0.0
    for i, turn in enumerate(turns):
        if i == 0:
            t = 0.0
        elif turn["role"] == "agent":
            t += gap if i == target else 1.2 + (i % 4) * 0.45
        else:
            t += 1.5 + len(turn["text"]) * 0.22
        turn["at"] = round(t, 1)


def _wrap(spec: dict, case_id: str, turns: list, target: int, excerpt: bool, v: dict) -> dict:
    transcript = {"call_id": case_id, "channel": spec.get("chan", "phone"), "excerpt": excerpt,
                  "turns": turns}
    if spec["co"]:
        transcript["company"] = v["C"]
    case = {"id": case_id, "split": spec.get("split"), "scenario": spec["scn"], "label": spec["label"],
            "target_turn": target, "scope": spec.get("scope", "turn"), "note": spec["note"],
            "source_seed": spec["seed"], "transcript": transcript}
    return case


def _assign_splits(cases: list) -> None:
    """60 % dev / 40 % heldout per (scenario, label), ordered by a hash of the id.

    Cases whose spec pins a split (devset_added: written after the grader was fixed, so dev) keep it
    and stay out of the groups, so adding them moves no other case between dev and heldout."""
    groups: dict = {}
    for c in cases:
        if c["split"] is not None:
            continue
        groups.setdefault((c["scenario"], c["label"]), []).append(c)
    for group in groups.values():
        group.sort(key=lambda c: _h("split:" + c["id"]))
        n_dev = max(1, round(len(group) * DEV_SHARE)) if len(group) > 1 else 1
        for i, c in enumerate(group):
            c["split"] = "dev" if i < n_dev else "heldout"


def build() -> list:
    cases, counters = [], {}
    for module in (devset_calls, devset_turns_a, devset_turns_b, devset_added):
        for spec in module.CASES:
            n = counters[spec["scn"]] = counters.get(spec["scn"], 0) + 1
            case_id = f"{spec['scn']}-{n:03d}"
            make = _call_case if spec.get("whole") else _excerpt_case
            cases.append(make(spec, case_id))
    _assign_splits(cases)
    return cases


def main() -> None:
    cases = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    labels = sum(c["label"] == "violation" for c in cases)
    print(f"wrote {len(cases)} cases ({labels} violation) to {OUT}")


if __name__ == "__main__":
    main()
