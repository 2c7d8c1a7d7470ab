"""The blind grading set (tests/data/grading_blind.jsonl) is well-formed, so accuracy measured on it means something.

The cases were labelled from the seed standards alone, without looking at the phrasebook or the grader;
this test checks only the file's shape and balance, never the grader's verdicts.
"""

import json
from collections import Counter
from pathlib import Path

import pytest

from simulator.transcript import from_dict

DATA = Path(__file__).parent / "data" / "grading_blind.jsonl"
SEEDS = {"000_38188eab8a3aad00.txt", "001_7a40c701cdd24f13.txt", "002_dbf4bcf9b196fba5.txt",
         "003_ce7e8b6d8796a706.txt", "004_f19f12e0c170e4e4.txt"}
KEYS = {"id", "split", "scenario", "label", "target_turn", "note", "source_seed", "transcript"}


def load_cases():
    cases = []
    with DATA.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                cases.append((n, json.loads(line)))
    return cases


CASES = load_cases()


def test_size_and_balance():
    labels = Counter(c["label"] for _, c in CASES)
    assert len(CASES) >= 140
    assert set(labels) == {"compliant", "violation"}
    for label in labels:
        assert labels[label] / len(CASES) >= 0.40, labels


def test_ids_unique():
    ids = [c["id"] for _, c in CASES]
    assert len(ids) == len(set(ids))


def test_many_scenarios_and_both_channels():
    scenarios = {c["scenario"] for _, c in CASES}
    assert len(scenarios) >= 20
    assert {c["transcript"].get("channel", "phone") for _, c in CASES} == {"phone", "chat"}
    # whole-call cases exist (opening, surname, closing) next to excerpts
    assert {c["transcript"]["excerpt"] for _, c in CASES} == {True, False}


@pytest.mark.parametrize("line,case", CASES, ids=[c["id"] for _, c in CASES])
def test_case_is_valid(line, case):
    assert set(case) == KEYS, f"line {line}: keys {sorted(case)}"
    assert case["split"] == "blind"
    assert case["id"].startswith(f"blind-{case['scenario']}-")
    assert case["label"] in ("compliant", "violation")
    assert case["source_seed"] in SEEDS
    assert case["note"].strip()
    transcript = from_dict(case["transcript"])  # raises TranscriptError on a malformed transcript
    target = case["target_turn"]
    assert isinstance(target, int) and 0 <= target < len(transcript.turns)
    assert transcript.turns[target].role == "agent", f"line {line}: target turn {target} is not an agent turn"
    # `at` is given only where response time is what the case is about
    timed = [t.at is not None for t in transcript.turns]
    if case["scenario"] == "response_time":
        assert all(timed)
    else:
        assert not any(timed)
    # whole-call cases start with the caller and give the opening to the first agent turn
    if not transcript.excerpt:
        assert transcript.turns[0].role == "caller" and transcript.turns[1].role == "agent"
