"""Run one rule on one example (the harness behind the phrasebook's example tests)."""

from __future__ import annotations

from ..transcript import from_dict
from .engine import LiveGrader

DEFAULT_CONTEXT = ({"role": "caller", "text": "（电话接通）喂，你好。"},)
DEFAULT_COMPANY = "星海宽带"


def run_example(book, rule_id: str, example) -> list[dict]:
    """Findings of rule ``rule_id`` for a string example (one agent reply) or a transcript dict."""
    rule = book.rule(rule_id)
    company = rule.example_company or DEFAULT_COMPANY
    if isinstance(example, str):
        turns = [dict(t) for t in (rule.example_context or DEFAULT_CONTEXT)] + [{"role": "agent", "text": example}]
        data = {"turns": turns}
    elif isinstance(example, dict):
        data = dict(example)
    else:
        raise TypeError(f"example for {rule_id} must be a string or a transcript mapping")
    data.setdefault("channel", rule.channels[0])
    data.setdefault("company", company)
    t = from_dict(data)
    live = LiveGrader(_only(book, rule), channel=t.channel, company=t.company,
                      scenarios=t.scenarios, excerpt=t.excerpt)
    for turn in t.turns:
        live.add_turn(turn)
    return [f for f in live.findings(final=True) if f["rule"] == rule_id]


def _only(book, rule):
    """A view of the book with just this rule (so one example runs one rule)."""
    from dataclasses import replace
    return replace(book, rules=[rule])
