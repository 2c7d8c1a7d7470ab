"""The phrasebook's own examples are its tests (the sqlfluff pattern), plus checks that every rule
is traceable to a verbatim clause of a seed standard."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from simulator.grading import load_phrasebook, run_example

BOOK = load_phrasebook()
SEEDS = Path(os.environ.get("PEILIAN_SEEDS") or Path(__file__).resolve().parents[2] / "shared" / "seeds")

STABLE_IDS = [
    "opening.greeting", "surname.ask", "surname.use", "closing.ask-more", "closing.thanks-goodbye",
    "angry.soothe", "hold.thanks-after", "response.3s", "silent.procedure", "dialect.request-mandarin",
    "wrong-number.standard", "nuisance.hotline-sentence", "price.no-quote", "confidential.no-contact",
    "apology.standard",
]
KNOWN_TAGS = {"rude", "soothing", "closing", "opening", "hold", "confidential", "price", "line-problem", "slow"}
# Lottery and site advertisements scraped along with seed 002 (seeds/README.md): never a source.
AD_NOISE = ["六合", "开奖", "财神", "图库", "心水", "论坛", "中特", "买马", "生肖", "一肖一码", "ymz789"]


def _examples():
    for rule in BOOK.rules:
        for kind in ("pass", "fail"):
            for i, example in enumerate((rule.examples or {}).get(kind, [])):
                yield pytest.param(rule.id, kind, example, id=f"{rule.id}-{kind}-{i}")


def pytest_generate_tests(metafunc):
    if {"rule_id", "kind", "example"} <= set(metafunc.fixturenames):
        metafunc.parametrize("rule_id,kind,example", list(_examples()))


def test_example(rule_id, kind, example):
    findings = run_example(BOOK, rule_id, example)
    bad = [f for f in findings if f["verdict"] in ("violation", "missing")]
    if kind == "fail":
        assert bad, f"{rule_id}: expected a violation or missing finding, got {findings}"
    else:
        assert not bad, f"{rule_id}: expected no violation, got {[(f['verdict'], f['evidence']) for f in bad]}"


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def seed_texts():
    if not SEEDS.is_dir():
        pytest.skip(f"seed standards not found at {SEEDS} (set PEILIAN_SEEDS)")
    return {p.name: _norm(p.read_text(encoding="utf-8")) for p in SEEDS.glob("*.txt")}


@pytest.mark.parametrize("rule", BOOK.rules, ids=lambda r: r.id)
def test_rule_has_pass_and_fail_examples(rule):
    examples = rule.examples or {}
    assert len(examples.get("pass", [])) >= 2, f"{rule.id} needs at least two pass examples"
    assert len(examples.get("fail", [])) >= 2, f"{rule.id} needs at least two fail examples"


@pytest.mark.parametrize("rule", BOOK.rules, ids=lambda r: r.id)
def test_rule_clause_is_verbatim_in_its_seed(rule, seed_texts):
    seed, clause = rule.source["seed"], rule.source["clause"]
    assert seed in seed_texts, f"{rule.id} cites {seed}, which is not a seed file"
    assert len(_norm(clause)) >= 6, f"{rule.id}: the quoted clause is too short to identify"
    assert _norm(clause) in seed_texts[seed], f"{rule.id}: clause not found verbatim in {seed}: {clause}"


@pytest.mark.parametrize("rule", BOOK.rules, ids=lambda r: r.id)
def test_rule_not_sourced_from_ad_noise(rule):
    clause = rule.source["clause"]
    assert not any(word in clause for word in AD_NOISE), f"{rule.id} quotes advertisement text: {clause}"


@pytest.mark.parametrize("rule_id", STABLE_IDS)
def test_stable_ids_exist(rule_id):
    assert rule_id in BOOK.rule_ids()


def test_soothing_rule_gives_ok_with_tag():
    findings = run_example(BOOK, "angry.soothe", "您消消气，我理解您的心情，我马上帮您处理。")
    assert [f["verdict"] for f in findings] == ["ok"]
    assert "soothing" in findings[0]["tags"]


def test_tags_are_the_known_ones():
    used = {tag for rule in BOOK.rules for tag in rule.tags}
    assert used <= KNOWN_TAGS, f"unknown tags: {used - KNOWN_TAGS}"


def test_every_area_has_the_meta_dimensions():
    assert BOOK.pass_mark == 80
    assert {rule.dimension for rule in BOOK.rules} <= {"礼貌", "耐心", "沟通", "流程"}
