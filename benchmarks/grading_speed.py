"""How fast the grader is: one reply graded live, and a whole 40-turn call graded at once.

Targets: live LiveGrader.add_turn p95 <= 2 ms; grade() of a 40-turn call p95 <= 20 ms.
Uses the built-in phrasebook and generated calls built from realistic lines (good and bad replies).

    .venv/bin/python benchmarks/grading_speed.py            # full run (~10 s)
    .venv/bin/python benchmarks/grading_speed.py --smoke    # a quick check
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.grading import LiveGrader, grade, load_phrasebook  # noqa: E402
from simulator.transcript import Transcript, Turn  # noqa: E402

CALLER = ["我家宽带从昨天开始就上不了网了，你们怎么回事？", "姓王。", "装机电话是 88123456。", "可能？你们就不能给个准话吗？",
          "什么破规定！我要投诉！", "那行吧，你们尽快。", "没有了。", "（无声）", "喂？喂？听得到吗？", "（杂音很大）",
          "你们这个套餐多少钱一个月？", "能不能帮我查一下你们经理的手机号？", "我讲的你听不懂吗？", "好的，谢谢。",
          "是张三家吗？", "我就是想问问，为什么又扣了我二十块钱？", "你们客服就是这个态度？"]
AGENT = ["您好，星海宽带，请问有什么可以帮您？", "非常抱歉给您带来不便，我理解您的心情，请问您贵姓？",
         "王先生，麻烦您提供一下宽带账号或者装机电话，我马上帮您查询。", "好的，请您稍等，我帮您查询一下。（保持）",
         "王先生，感谢您的耐心等待。查到您所在的小区光缆故障，可能今天下午能修好吧。", "这是公司的规定，我也没办法。",
         "王先生，非常抱歉，我已经为您登记了加急报修，维修师傅会在两小时内联系您。", "好的，请问您还有其他问题吗？",
         "感谢您的来电，请您先挂机，再见！", "您好，您的电话已接通，请问有什么可以帮您？", "喂，说话。", "不知道。",
         "您好，很抱歉，您的电话声音太小，请您大声一点好吗？", "具体资费以营业厅公布为准，我给您介绍一下我们的套餐。",
         "对不起，领导的联系方式不方便透露，您的意见我会如实转达。", "您打错了，请查证后再拨，再见。", "好像不是吧。",
         "随便你投诉好了。", "李女士，您反映的问题我已经记录，会在24小时内给您回复。", "嗯。"]


def make_call(rng: random.Random, n_turns: int = 40) -> Transcript:
    turns, at = [Turn("caller", "（电话接通）喂，你好。", 0.0)], 0.0
    for k in range(1, n_turns):
        at += rng.uniform(0.5, 6.0)
        role = "agent" if k % 2 else "caller"
        if rng.random() < 0.1:                      # sometimes the agent speaks twice (hold, follow-up)
            role = "agent"
        text = AGENT[0] if k == 1 else rng.choice(AGENT if role == "agent" else CALLER)
        turns.append(Turn(role, text, round(at, 1)))
    return Transcript(turns=tuple(turns), company="星海宽带")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="a few calls only")
    ap.add_argument("--calls", type=int, default=None, help="number of generated 40-turn calls")
    ap.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    args = ap.parse_args(argv)
    n_calls = args.calls or (20 if args.smoke else 300)
    rng = random.Random(7)

    t0 = time.perf_counter()
    book = load_phrasebook()
    load_ms = (time.perf_counter() - t0) * 1000
    calls = [make_call(rng) for _ in range(n_calls)]
    grade(calls[0], book)  # warm the per-company regex cache, as a running server would be

    live_ms, live_cpu, final_ms, whole_ms, whole_cpu = [], [], [], [], []
    for c in calls:
        live = LiveGrader(book, channel=c.channel, company=c.company)
        for t in c.turns:
            s, sc = time.perf_counter(), time.process_time()
            live.add_turn(t)
            if t.role == "agent":
                live_ms.append((time.perf_counter() - s) * 1000)
                live_cpu.append((time.process_time() - sc) * 1000)
        s = time.perf_counter()
        live.report(final=True)
        final_ms.append((time.perf_counter() - s) * 1000)
    for c in calls:
        s, sc = time.perf_counter(), time.process_time()
        grade(c, book)
        whole_ms.append((time.perf_counter() - s) * 1000)
        whole_cpu.append((time.process_time() - sc) * 1000)

    def summary(xs, nd=3):
        return {"p50": round(pct(xs, 50), nd), "p95": round(pct(xs, 95), nd)}

    result = {"rules": len(book.rules), "calls": n_calls, "load_ms": round(load_ms, 1),
              "live_reply_ms": {**summary(live_ms), "n": len(live_ms)}, "live_reply_cpu_ms": summary(live_cpu),
              "final_report_ms": summary(final_ms, 2),
              "grade_40_turns_ms": {**summary(whole_ms, 2), "mean": round(statistics.mean(whole_ms), 2)},
              "grade_40_turns_cpu_ms": summary(whole_cpu, 2)}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        r = result
        print(f"phrasebook: {r['rules']} rules, loaded in {r['load_ms']} ms")
        print(f"live, one reply (LiveGrader.add_turn), {len(live_ms)} replies, target p95 <= 2 ms:")
        print(f"    wall p50 {r['live_reply_ms']['p50']} ms  p95 {r['live_reply_ms']['p95']} ms    "
              f"CPU p50 {r['live_reply_cpu_ms']['p50']} ms  p95 {r['live_reply_cpu_ms']['p95']} ms")
        print(f"end of call, report(final=True): wall p50 {r['final_report_ms']['p50']} ms  "
              f"p95 {r['final_report_ms']['p95']} ms")
        print(f"whole call, grade() of 40 turns, {n_calls} calls, target p95 <= 20 ms:")
        print(f"    wall p50 {r['grade_40_turns_ms']['p50']} ms  p95 {r['grade_40_turns_ms']['p95']} ms    "
              f"CPU p50 {r['grade_40_turns_cpu_ms']['p50']} ms  p95 {r['grade_40_turns_cpu_ms']['p95']} ms")
        print("(wall time includes waiting for a CPU when the machine is busy; CPU time does not)")
    return result


if __name__ == "__main__":
    main()
