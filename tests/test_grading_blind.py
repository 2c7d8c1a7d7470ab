"""The blind grading sets (tests/data/grading_blind*.jsonl) are well-formed, so accuracy on them means something.

The cases were labelled from the seed standards alone, without looking at the phrasebook or the grader;
this test checks only the file's shape and balance, never the grader's verdicts.
"""

import json
from collections import Counter
from pathlib import Path

import pytest

from simulator.transcript import from_dict

DATA_DIR = Path(__file__).parent / "data"
# blind*: written from the seeds alone by reviewers who never saw the phrasebook or the grader (each
# measured once before its errors were read); tune*: written the same way, used for tuning from the start
FILES = {"blind": DATA_DIR / "grading_blind.jsonl",
         **{f"blind{n}": DATA_DIR / f"grading_blind{n}.jsonl" for n in range(2, 12)},
         **{f"tune{n}": DATA_DIR / f"grading_tune{n}.jsonl" for n in range(1, 7)}}
SEEDS = {"000_38188eab8a3aad00.txt", "001_7a40c701cdd24f13.txt", "002_dbf4bcf9b196fba5.txt",
         "003_ce7e8b6d8796a706.txt", "004_f19f12e0c170e4e4.txt"}
KEYS = {"id", "split", "scenario", "label", "target_turn", "note", "source_seed", "transcript"}


def load_cases(path):
    cases = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                cases.append((n, json.loads(line)))
    return cases


SETS = {name: load_cases(path) for name, path in FILES.items()}
CASES = [(name, n, c) for name, cases in SETS.items() for n, c in cases]


@pytest.mark.parametrize("name", FILES)
def test_size_and_balance(name):
    labels = Counter(c["label"] for _, c in SETS[name])
    assert len(SETS[name]) >= 140
    assert set(labels) == {"compliant", "violation"}
    for label in labels:
        assert labels[label] / len(SETS[name]) >= 0.40, labels


def test_ids_unique():
    ids = [c["id"] for _, _, c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", FILES)
def test_many_scenarios_and_both_channels(name):
    cases = [c for _, c in SETS[name]]
    assert len({c["scenario"] for c in cases}) >= 20
    assert {c["transcript"].get("channel", "phone") for c in cases} == {"phone", "chat"}
    # whole-call cases exist (opening, surname, closing) next to excerpts
    assert {c["transcript"]["excerpt"] for c in cases} == {True, False}


@pytest.mark.parametrize("name,line,case", CASES, ids=[c["id"] for _, _, c in CASES])
def test_case_is_valid(name, line, case):
    assert set(case) == KEYS, f"line {line}: keys {sorted(case)}"
    assert case["split"] == "blind"   # the dataset loader's split name for every case of these files
    assert case["id"].startswith(f"{name}-{case['scenario']}-")
    assert case["label"] in ("compliant", "violation")
    assert case["source_seed"] in SEEDS
    assert case["note"].strip()
    transcript = from_dict(case["transcript"])  # raises TranscriptError on a malformed transcript
    target = case["target_turn"]
    if target is None:  # a whole-call judgement (e.g. the surname never used) has no single turn
        assert not transcript.excerpt, f"line {line}: only a whole call may have target_turn null"
    else:
        assert isinstance(target, int) and 0 <= target < len(transcript.turns)
        assert transcript.turns[target].role == "agent", f"line {line}: target turn {target} is not an agent turn"
    # `at` is given only where response time is what the case is about
    timed = [t.at is not None for t in transcript.turns]
    if case["scenario"] == "response_time":
        assert all(timed)
    else:
        assert not any(timed)
    # whole-call cases start with the caller (the line connecting, perhaps a 喂？有人吗？) and have an agent
    if not transcript.excerpt:
        assert transcript.turns[0].role == "caller" and any(t.role == "agent" for t in transcript.turns)
