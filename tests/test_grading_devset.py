"""The labelled grading dev set (tests/data/grading_dev.jsonl) is well-formed and balanced.

Accuracy is not asserted here: that is benchmarks/grading_accuracy.py's job.
"""

import collections
import json
import sys
from pathlib import Path

import pytest

from simulator.transcript import from_dict

ROOT = Path(__file__).parents[1]
DATA = ROOT / "tests" / "data" / "grading_dev.jsonl"
SEEDS = {"000_38188eab8a3aad00.txt", "001_7a40c701cdd24f13.txt", "002_dbf4bcf9b196fba5.txt",
         "003_ce7e8b6d8796a706.txt", "004_f19f12e0c170e4e4.txt"}
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "benchmarks" / "data_tools"))

import grading_accuracy  # noqa: E402


def _cases():
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


CASES = _cases()


def test_size_ids_and_splits():
    assert len(CASES) >= 200
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    splits = collections.Counter(c["split"] for c in CASES)
    assert set(splits) == {"dev", "heldout"}
    assert 0.5 <= splits["dev"] / len(CASES) <= 0.7


def test_labels_roughly_balanced_overall_and_per_scenario():
    labels = collections.Counter(c["label"] for c in CASES)
    assert set(labels) == {"compliant", "violation"}
    assert 0.4 <= labels["violation"] / len(CASES) <= 0.6
    per = collections.defaultdict(collections.Counter)
    for c in CASES:
        per[c["scenario"]][c["label"]] += 1
    assert len(per) >= 20
    for scenario, counts in per.items():
        assert counts["compliant"] and counts["violation"], f"{scenario} lacks one label"
        assert abs(counts["compliant"] - counts["violation"]) <= 2, scenario


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_is_well_formed(case):
    assert case["label"] in ("compliant", "violation")
    assert case["split"] in ("dev", "heldout")
    assert case["source_seed"] in SEEDS
    assert case["note"].strip()
    assert case.get("scope", "turn") in ("turn", "call")
    transcript = from_dict(case["transcript"])
    target = case["target_turn"]
    if target is not None:
        assert transcript.turns[target].role == "agent"
    if case.get("scope") == "call":
        assert transcript.excerpt is False, "whole-call cases need the whole call"
    times = [t.at for t in transcript.turns if t.at is not None]
    assert times == sorted(times), "turn times must not go backwards"
    if times:
        assert len(times) == len(transcript.turns), "give every turn a time, or none"


def test_loader_accepts_the_file_and_rejects_a_bad_target(tmp_path):
    assert len(grading_accuracy.load_cases(DATA)) == len(CASES)
    bad = dict(CASES[0])
    bad["target_turn"] = next(i for i, t in enumerate(bad["transcript"]["turns"]) if t["role"] == "caller")
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(grading_accuracy.DatasetError, match="bad.jsonl:1: target_turn"):
        grading_accuracy.load_cases(path)
    assert grading_accuracy.main(["--data", str(path)]) == 2


def test_predict_counts_only_flags_on_the_judged_turn():
    case = {"target_turn": 3, "scope": "turn"}
    report = {"findings": [{"turn": 1, "verdict": "violation"}, {"turn": 3, "verdict": "ok"},
                           {"turn": None, "verdict": "missing"}]}
    assert grading_accuracy.predict(case, report)[0] == "compliant"
    assert grading_accuracy.predict({**case, "scope": "call"}, report)[0] == "violation"
    report["findings"].append({"turn": 3, "verdict": "missing"})
    assert grading_accuracy.predict(case, report)[0] == "violation"
    assert grading_accuracy.predict({"target_turn": None}, {"findings": [{"turn": 0, "verdict": "violation"}]})[0] \
        == "violation"


def test_summary_rates():
    rows = [{"label": "violation", "pred": "violation"}, {"label": "violation", "pred": "compliant"},
            {"label": "compliant", "pred": "violation"}, {"label": "compliant", "pred": "compliant"},
            {"label": "compliant", "pred": "compliant"}]
    s = grading_accuracy.summarize(rows)
    assert s == {"n": 5, "accuracy": 0.6, "violation_recall": 0.5, "false_flag_rate": 0.333}


def test_file_matches_its_builder():
    """The JSONL is generated; a hand edit that the builder would undo is caught here."""
    import build_grading_dev
    built = [json.dumps(c, ensure_ascii=False) for c in build_grading_dev.build()]
    assert built == DATA.read_text(encoding="utf-8").splitlines()
