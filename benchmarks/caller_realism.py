"""How often each caller backend produces a bad line, and how often the guard had to fall back.

Plays whole calls with the shipped personas through ``CallSession`` (the real engine picks every
intent), with a trainee who mostly follows the standard and sometimes is rude or says too little.
Every line a backend generates is checked with the guard's own ``validate_line`` and the rates of
each reason are printed: role inversions (speaks as the agent), AI disclosures, non-Chinese lines,
overlong lines, contradicted facts, echoes (of the agent, the instruction, an example, itself),
loops, and fallbacks used. The scripted backend's lines are checked too: they are written by people,
so any "bad" rate there is the validator's false-positive rate.

    .venv/bin/python benchmarks/caller_realism.py                 # 200 lines per backend
    .venv/bin/python benchmarks/caller_realism.py --smoke         # 10 lines per backend
    .venv/bin/python benchmarks/caller_realism.py --lines 100 --backends scripted,0.5b --json
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.callers.guard import clean_line, validate_line  # noqa: E402

REASONS = ("role_inversion", "ai_disclosure", "not_chinese", "too_long", "contradicts_fact", "echo_agent",
           "echo_instruction", "echo_example", "repeat_self", "loop", "empty")
OFF_SCRIPT = ["嗯。", "你烦不烦啊！", "这是规定，我也没办法。", "您说什么？", "这个我不清楚。",
              "请您稍等。", "好的，我知道了。"]


class Recording:
    """Wraps a backend: same name and lines, but keeps every generated line with its verdict."""

    def __init__(self, inner, persona_ref):
        self.inner, self.name, self.persona_ref = inner, inner.name, persona_ref
        self.lines: list[dict] = []

    def voice(self, persona, intent, history):
        start, text = time.perf_counter(), ""
        for piece in self.inner.voice(persona, intent, history):
            text += piece
            yield piece
        if intent.line.startswith("（"):     # non-speech / noisy lines: the guard shows them as written
            return
        reason = validate_line(clean_line(text), intent, history, persona)
        self.lines.append({"persona": persona.id, "intent": intent.kind, "scripted": intent.line,
                           "instruction": intent.instruction, "mood": intent.mood, "line": text,
                           "reason": reason, "seconds": time.perf_counter() - start})


def play_until(backend, personas, book, n_lines: int, seed: int) -> tuple[list[dict], collections.Counter]:
    from simulator.session import CallSession
    sys.path.insert(0, str(ROOT / "tests"))
    from standard_agent import standard_replies

    rng = random.Random(seed)
    rec = Recording(backend, None)
    shown = collections.Counter()
    call = 0
    while len(rec.lines) < n_lines and call < n_lines * 4:
        persona = personas[call % len(personas)]
        call += 1
        session = CallSession(persona, rec, book, seed=seed + call)
        replies = standard_replies(persona)
        for turn in range(24):
            "".join(session.caller_turn())
            if session.ended or len(rec.lines) >= n_lines:
                break
            reply = rng.choice(OFF_SCRIPT) if rng.random() < 0.3 or turn >= len(replies) else replies[turn]
            session.agent_turn(reply)
            if session.ended:
                break
        for t in session.turns:
            if t["role"] == "caller":
                shown[t.get("backend", "?")] += 1
    return rec.lines, shown


def summarize(lines: list[dict], shown: collections.Counter) -> dict:
    n = len(lines)
    reasons = collections.Counter(line["reason"] for line in lines if line["reason"])
    secs = [line["seconds"] for line in lines]
    return {"lines": n, "bad": sum(reasons.values()), "bad_rate": sum(reasons.values()) / n if n else 0.0,
            "reasons": {r: reasons.get(r, 0) for r in REASONS}, "turns_shown_by_backend": dict(shown),
            "median_line_s": statistics.median(secs) if secs else 0.0,
            "examples": {r: next(line["line"] for line in lines if line["reason"] == r) for r in reasons}}


def make_backend(name: str):
    from simulator.callers import get_backend
    if name == "scripted":
        return get_backend("scripted", seed=1)
    if name.startswith("llamacpp"):        # llamacpp or llamacpp:1.5b (optional backend)
        from simulator.callers.llamacpp import LlamaCppBackend
        return LlamaCppBackend(name.partition(":")[2] or "0.5b", seed=1)
    return get_backend("transformers", model=name, seed=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=200, help="generated lines per backend (default 200)")
    ap.add_argument("--backends", default=None, help="comma list: scripted,0.5b,1.5b,llamacpp[:size] (default: scripted + installed models)")
    ap.add_argument("--smoke", action="store_true", help="10 lines per backend")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--dump", default=None, help="write every generated line as JSON lines to this file")
    args = ap.parse_args(argv)
    from simulator import models
    from simulator.grading import load_phrasebook
    from simulator.personas import load_all

    n = 10 if args.smoke else args.lines
    names = args.backends.split(",") if args.backends else \
        ["scripted"] + [s for s in ("0.5b", "1.5b") if models.is_installed(s)]
    personas, book = load_all(), load_phrasebook()
    results, dump = {}, []
    skipped = {}
    for name in list(names):  # a size asked for but not installed is reported, not a crash
        size = name.split(":", 1)[1] if name.startswith("llamacpp:") else name
        if size in models.SPECS and not models.is_installed(size):
            skipped[name] = f"not installed (peilian model install --size {size})"
            names.remove(name)
    for name in names:
        t = time.perf_counter()
        lines, shown = play_until(make_backend(name), personas, book, n, seed=7)
        results[name] = summarize(lines, shown)
        results[name]["wall_s"] = time.perf_counter() - t
        dump += [{"backend": name, **line} for line in lines]
    if args.dump:
        Path(args.dump).write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in dump), encoding="utf-8")
    if args.json:
        print(json.dumps({**results, **({"skipped": skipped} if skipped else {})}, ensure_ascii=False, indent=1))
        return 0
    print(f"caller realism: {n} generated lines per backend, {len(personas)} personas, engine-chosen intents")
    for name, why in skipped.items():
        print(f"  {name}: skipped, {why}")
    print(f"  {'':18}" + "".join(f"{name:>12}" for name in names))
    for key in ("lines", "bad_rate") + REASONS:
        cells = []
        for name in names:
            r = results[name]
            if key == "lines":
                cells.append(f"{r['lines']:>12}")
            elif key == "bad_rate":
                cells.append(f"{100 * r['bad_rate']:>11.1f}%")
            else:
                cells.append(f"{100 * r['reasons'][key] / max(1, r['lines']):>11.1f}%")
        print(f"  {key:18}" + "".join(cells))
    for name in names:
        r = results[name]
        shown = r["turns_shown_by_backend"]
        total = sum(shown.values()) or 1
        print(f"  {name}: caller turns shown {total}, fallback {shown.get('fallback', 0)} "
              f"({100 * shown.get('fallback', 0) / total:.1f}%), median {r['median_line_s']:.2f} s a line, "
              f"run {r['wall_s']:.0f} s")
        for reason, example in r["examples"].items():
            print(f"    e.g. {reason}: {example}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
