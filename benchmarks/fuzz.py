"""Fuzz the parsers and the grader for longer than the test suite does: N inputs or T seconds.

Targets: ``transcript.loads`` (random and mutated JSON), ``grading.grade`` (generated calls with
mixed Chinese, control characters, huge and many turns, odd ``at`` values), ``parse_persona_text``
(shipped personas mutated line by line, random YAML, tags, alias bombs, deep nesting) and
``load_phrasebook`` (a rule file broken in a temp dir). A *failure* is any exception other than
the documented ``PeilianError`` subclass, a message that is not one line, or one input taking over
``--slow`` seconds. Prints how many inputs were tried per target and each failure (first few).

    .venv/bin/python benchmarks/fuzz.py --seconds 120
    .venv/bin/python benchmarks/fuzz.py --smoke --json
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator import transcript as tr  # noqa: E402
from simulator.errors import PersonaError, PhrasebookError, TranscriptError  # noqa: E402
from simulator.grading import grade, load_phrasebook  # noqa: E402
from simulator.grading.loader import BUILTIN  # noqa: E402
from simulator.personas import parse_persona_text  # noqa: E402

PHRASES = ["您好", "星海宽带", "请问有什么可以帮您", "贵姓", "先生", "这是公司规定", "不知道", "非常抱歉", "请稍等",
           "感谢您的耐心等待", "还有其他可以帮您的吗", "感谢您的来电", "再见", "（保持）", "（挂机）", "（无声）", "喂",
           "投诉", "13800138000", "多少钱", "您叫什么", "……", "？", "！", "。", "，", "\x00", "\x1b[0m", "\u202e",
           "\ufeff", "🙂", "a" * 50, "𠀀", "\r\n", "\t", "'", '"', "\\", "{", "}"]
JUNK = ["\x00", "\t", "!!python/object:os.system", "*a", "&a", "{", "- ", ": :", "\x1b", "\ufeff", "'", '"', "|",
        ">", "%YAML 1.1", "---", "...", "!!binary", "<<: *a", "[" * 50, "? ", "@", "`"]
SHIPPED = sorted((ROOT / "personas").glob("*.yaml"))


def rtext(rng: random.Random, n=12) -> str:
    return "".join(rng.choice(PHRASES) if rng.random() < 0.7 else chr(rng.randrange(0, 0x2FFFF))
                   for _ in range(rng.randrange(n)))


def at_value(rng):
    return rng.choice([None, 0, 1.5, -1, float("nan"), float("inf"), 1e308, 10**30, "3", True, [1], rng.random() * 600])


def gen_call(rng) -> dict:
    n = rng.choice([0, 1, 2, 5, 20, 80, rng.randrange(300)])
    turns = []
    for i in range(n):
        t = {"role": rng.choice(["caller", "agent", "agent", "caller", "system", ""]) if rng.random() < 0.05
             else ("caller", "agent")[i % 2], "text": rtext(rng)}
        if rng.random() < 0.02:
            t["text"] = rng.choice(PHRASES) * rng.randrange(100, 3000)
        if rng.random() < 0.7:
            t["at"] = at_value(rng) if rng.random() < 0.1 else i * rng.uniform(0.5, 6)
        turns.append(t)
    call = {"turns": turns}
    for key, values in (("channel", ["phone", "chat", "fax", None, 3]), ("company", ["星海宽带", "", None, 5]),
                        ("excerpt", [True, False, "yes"]), ("scenarios", [["angry"], ["x", "price"], "angry", []])):
        if rng.random() < 0.3:
            call[key] = rng.choice(values)
    return call


def mutate_json(rng, text: str) -> str:
    s = list(text)
    for _ in range(rng.randrange(1, 6)):
        if not s:
            break
        i = rng.randrange(len(s))
        op = rng.random()
        if op < 0.4:
            del s[i]
        elif op < 0.8:
            s.insert(i, rng.choice('{}[]",:\\0-eE.' + "\x00您"))
        else:
            s[i:i] = s[max(0, i - 20):i]
    return "".join(s)


def mutate_persona(rng) -> str:
    lines = rng.choice(SHIPPED).read_text(encoding="utf-8").splitlines()
    for _ in range(rng.randrange(1, 4)):
        i = rng.randrange(len(lines))
        op = rng.randrange(6)
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[i])
        elif op == 2:
            lines[i] = lines[i][: len(lines[i]) // 2]
        elif op == 3:
            lines[i] = lines[i] + rng.choice(JUNK)
        elif op == 4:
            lines[i] = " " * rng.randrange(1, 5) + lines[i]
        else:
            lines[i] = lines[i].replace(":", rng.choice([": ", ":", " :", ": " + rng.choice(JUNK)]), 1)
        if not lines:
            break
    return "\n".join(lines)


def special_persona(rng) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        levels = rng.randrange(2, 10)
        s = "a: &a [" + ",".join(["lol"] * 9) + "]\n"
        for k in range(1, levels):
            s += f"a{k}: &a{k} [" + ",".join([f"*a{k - 1}" if k > 1 else "*a"] * 9) + "]\n"
        return s
    if kind == 1:
        d = rng.randrange(5, 400)
        return "a:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(d)) if rng.random() < .5 else "[" * d + "]" * d
    if kind == 2:
        return rng.choice(["!!python/object/apply:os.system ['true']\n", "id: !!binary aGk=\n", "id: !x y\n",
                           "!!python/name:os.system\n"])
    if kind == 3:
        return "id: x\ntitle: " + rtext(rng, 40) * rng.randrange(1, 3000)
    return rtext(rng, 200)


def run_target(name, make, call, allowed, rng, deadline, limit, slow, failures, counts):
    counts[name] = 0
    while counts[name] < limit and time.monotonic() < deadline:
        inp = make(rng)
        counts[name] += 1
        t = time.perf_counter()
        try:
            call(inp)
        except allowed as e:
            msg = str(e)
            if not msg.strip() or "\n" in msg.strip():
                failures.append({"target": name, "kind": "message", "error": msg[:300], "input": repr(inp)[:300]})
        except Exception as e:  # noqa: BLE001 - anything else is what we hunt for
            failures.append({"target": name, "kind": type(e).__name__, "error": str(e)[:300],
                             "where": traceback.format_exc().strip().splitlines()[-3][:200], "input": repr(inp)[:300]})
        took = time.perf_counter() - t
        if took > slow:
            failures.append({"target": name, "kind": "slow", "error": f"{took:.1f} s", "input": repr(inp)[:300]})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=120, help="time budget for all targets together")
    ap.add_argument("--inputs", type=int, default=1_000_000, help="at most this many inputs per target")
    ap.add_argument("--slow", type=float, default=5.0, help="an input taking longer than this is a failure")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--smoke", action="store_true", help="5 seconds in all")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.smoke:
        args.seconds = min(args.seconds, 5)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    book = load_phrasebook()
    tmp = Path(tempfile.mkdtemp(prefix="peilian-fuzz-"))
    rule_file = sorted(p for p in BUILTIN.glob("*.yaml") if p.name != "_meta.yaml")[0]
    rule_text = rule_file.read_text(encoding="utf-8")

    def phrasebook_case(rng):
        d = tmp / f"b{rng.randrange(1 << 30)}"
        shutil.copytree(BUILTIN, d)
        lines = rule_text.splitlines()
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(len(lines))
            lines[i] = rng.choice([lines[i][: len(lines[i]) // 2], lines[i] + rng.choice(JUNK), "", "  " + lines[i]])
        (d / rule_file.name).write_text("\n".join(lines), encoding="utf-8")
        return d

    def load_and_clean(d):
        try:
            load_phrasebook(d)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    targets = [
        ("transcript.loads", lambda r: mutate_json(r, json.dumps(gen_call(r), ensure_ascii=r.random() < 0.5)),
         tr.loads, TranscriptError),
        ("grading.grade", gen_call, lambda c: grade(c, book), TranscriptError),
        ("personas.parse_persona_text", lambda r: mutate_persona(r) if r.random() < 0.7 else special_persona(r),
         lambda t: parse_persona_text(t, source="fuzz.yaml"), PersonaError),
        ("grading.load_phrasebook", phrasebook_case, load_and_clean, PhrasebookError),
    ]
    budget = args.seconds / len(targets)
    failures, counts = [], {}
    t0 = time.monotonic()
    for name, make, call, allowed in targets:
        run_target(name, make, call, allowed, rng, time.monotonic() + budget, args.inputs, args.slow, failures, counts)
    shutil.rmtree(tmp, ignore_errors=True)
    out = {"seed": seed, "seconds": round(time.monotonic() - t0, 1), "inputs": counts,
           "total_inputs": sum(counts.values()), "failures": len(failures), "examples": failures[:10]}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"fuzz seed {seed}: {out['total_inputs']} inputs in {out['seconds']} s, {len(failures)} failures")
        for name, n in counts.items():
            print(f"  {name:30s} {n:7d} inputs, {sum(f['target'] == name for f in failures)} failures")
        for f in failures[:10]:
            print(f"  FAIL {f['target']}: {f['kind']}: {f['error'][:160]} <- {f['input'][:120]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
