"""How fast the local caller speaks: time to first token and tokens/s, transformers vs llama.cpp.

Targets (a caller on the phone): first token <= 1 s, a whole caller line <= 3 s (the guard shows a
line only once it is complete, so the line time is what the trainee waits).

Measured in one run on the same machine and the same GGUF weights:
  - transformers (our backend): prefill of the whole prompt in bf16 vs fp32, with 1 and N threads;
    first token with the persona prefix KV-cached (what the backend does) vs a full prefill;
    decode tokens/s; whole lines through ``TransformersBackend.voice`` and through the guard.
  - reference: llama.cpp through llama-cpp-python (benchmark-only, the ``bench`` extra) on model.gguf;
    its first call prefills everything, later calls reuse the matching prompt prefix.

    .venv/bin/python benchmarks/caller_speed.py              # ~2-3 min on 2 CPU cores
    .venv/bin/python benchmarks/caller_speed.py --smoke      # a quick check (~40 s)
    .venv/bin/python benchmarks/caller_speed.py --model 1.5b --json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simulator.callers.hf  # noqa: E402,F401  (sets OMP_WAIT_POLICY before torch is imported)
from simulator.callers.base import HistoryLine, Intent  # noqa: E402
from simulator.callers.prompt import build_messages  # noqa: E402

PERSONA = {"name": "张先生", "surname": "张", "company": "星海宽带", "channel": "phone",
           "background": "在家办公的程序员，宽带三天前突然断网，已经打过一次电话，师傅一直没来。",
           "goal": "让客服尽快派维修师傅上门，并给个准确的上门时间。", "style": "语速快，带着火气，喜欢反问。",
           "facts": {"account": "0571-88231456"}}
INTENTS = [
    Intent("open", "喂？你们星海宽带怎么回事啊，我家网断了三天了！", "说出你打电话的原因", 7),
    Intent("answer", "宽带账号是0571-88231456，你记一下。", "客服问了你的宽带账号，告诉他", 6, {"宽带账号": "0571-88231456"}),
    Intent("complain", "三天了！你们到底能不能派人来修？", "继续抱怨问题没解决", 8),
    Intent("calm_down", "行吧，那你们今天下午一定要来。", "客服道歉并给了办法，你稍微消气", 5),
    Intent("escalate", "你这是什么态度？我要投诉你！", "客服态度不好，你更生气了", 9),
    Intent("accept", "好，那我等师傅电话。", "接受客服给的解决办法", 4),
    Intent("confused", "你说啥？我没听明白。", "你没听懂客服的话", 6),
    Intent("goodbye", "行，谢谢你，再见。", "问题解决了，道谢并说再见", 2),
]
HIST = [HistoryLine("agent", "您好，星海宽带，请问有什么可以帮您？")]
TTFT_TARGET, LINE_TARGET = 1.0, 3.0


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def p95(xs):
    return sorted(xs)[max(0, int(round(0.95 * len(xs))) - 1)] if xs else float("nan")


def transformers_numbers(size: str, reps: int, threads: list[int]) -> dict:
    import torch
    from simulator.callers.guard import guarded_voice
    from simulator.callers.hf import TransformersBackend

    t = time.perf_counter()
    b = TransformersBackend(size, seed=1)
    out = {"load_s": time.perf_counter() - t, "device": b.device}
    intent = INTENTS[1]
    prefix, suffix = b._split_prompt(PERSONA, intent)
    full_ids = b._encode(prefix + suffix)
    out["prompt_tokens"] = int(full_ids.shape[1])
    out["prefix_tokens"] = int(b._encode(prefix).shape[1])

    def prefill(model, ids):
        with torch.inference_mode():
            s = time.perf_counter()
            model(input_ids=ids, use_cache=True)
            return time.perf_counter() - s

    fp32 = copy.deepcopy(b.model).float() if b.device == "cpu" else None
    for n in threads:
        torch.set_num_threads(n)
        prefill(b.model, full_ids)            # warm-up
        out[f"prefill_bf16_t{n}_s"] = med([prefill(b.model, full_ids) for _ in range(reps)])
        if fp32 is not None:
            prefill(fp32, full_ids)
            out[f"prefill_fp32_t{n}_s"] = med([prefill(fp32, full_ids) for _ in range(reps)])
    del fp32
    torch.set_num_threads(max(threads))

    # first token: cached persona prefix (what the backend does) vs a full prefill
    def first_token(cached: bool) -> float:
        with torch.inference_mode():
            s = time.perf_counter()
            if cached:
                _, pc = b._prefix_cache(prefix)
                o = b.model(input_ids=b._encode(suffix), past_key_values=copy.deepcopy(pc), use_cache=True)
            else:
                o = b.model(input_ids=b._encode(prefix + suffix), use_cache=True)
            b._sample(o.logits[0, -1], [])
            return time.perf_counter() - s
    first_token(True)
    out["first_token_cached_s"] = med([first_token(True) for _ in range(reps)])
    out["first_token_full_s"] = med([first_token(False) for _ in range(reps)])

    # whole lines through the backend and through the guard (what the trainee waits for)
    firsts, totals, toks, guarded, fallbacks = [], [], [], [], 0
    for i in range(reps * 2):
        it = INTENTS[i % len(INTENTS)]
        s = time.perf_counter()
        first = None
        text = ""
        for piece in b.voice(PERSONA, it, HIST):
            first = first if first is not None else time.perf_counter() - s
            text += piece
        total = time.perf_counter() - s
        n = len(b.tok(text, add_special_tokens=False).input_ids) + 1
        firsts.append(first or total)
        totals.append(total)
        toks.append(n / total)
        g = guarded_voice(b, PERSONA, it, HIST, timeout=30, first_token_timeout=30).resolve()
        guarded.append(g.total_s)
        fallbacks += g.backend == "fallback"
    out.update(first_piece_s=med(firsts), line_s=med(totals), line_p95_s=p95(totals),
               tokens_per_s=med(toks), guarded_line_s=med(guarded), guarded_line_p95_s=p95(guarded),
               guarded_fallbacks=f"{fallbacks}/{len(guarded)}")
    return out


def llamacpp_numbers(size: str, reps: int, threads: int) -> dict:
    try:
        from llama_cpp import Llama
    except ImportError as e:
        return {"unavailable": f"llama-cpp-python is not installed ({e.name}); pip install '.[bench]'"}
    from simulator.models import gguf_path
    path = gguf_path(size)
    if path is None:
        return {"unavailable": f"no verified GGUF for {size}; run peilian model install --size {size}"}
    t = time.perf_counter()
    llm = Llama(model_path=str(path), n_ctx=2048, n_threads=threads, verbose=False, seed=1)
    out = {"load_s": time.perf_counter() - t}

    def line(it):
        s = time.perf_counter()
        first, n, text = None, 0, ""
        for ev in llm.create_chat_completion(build_messages(PERSONA, it), stream=True, max_tokens=32,
                                             temperature=0.7, top_p=0.9, repeat_penalty=1.15,
                                             stop=["\n", "客服：", "坐席："]):
            piece = ev["choices"][0]["delta"].get("content") or ""
            if piece:
                first = first if first is not None else time.perf_counter() - s
                n += 1
                text += piece
        total = time.perf_counter() - s
        return first or total, total, n

    f0, _, _ = line(INTENTS[0])            # cold: the whole prompt is prefilled
    out["first_token_full_s"] = f0
    firsts, totals, rates = [], [], []
    for i in range(reps * 2):
        f, tot, n = line(INTENTS[i % len(INTENTS)])   # warm: the persona prefix is reused
        firsts.append(f)
        totals.append(tot)
        rates.append((n + 1) / tot)
    out.update(first_token_cached_s=med(firsts), line_s=med(totals), line_p95_s=p95(totals),
               tokens_per_s=med(rates))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="0.5b", help="0.5b (default) or 1.5b")
    ap.add_argument("--smoke", action="store_true", help="fewer repetitions")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    reps = 2 if args.smoke else 5
    cores = os.cpu_count() or 1
    threads = sorted({1, cores})
    from simulator.errors import PeilianError
    try:
        tf = transformers_numbers(args.model, reps, threads)
    except PeilianError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    ref = llamacpp_numbers(args.model, reps, cores)
    result = {"model": args.model, "cpu_cores": cores, "transformers": tf, "llama.cpp": ref}
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    print(f"caller speed, model {args.model}, {cores} CPU cores, device {tf['device']}")
    print(f"  prompt {tf['prompt_tokens']} tokens, of which the persona prefix {tf['prefix_tokens']}; "
          f"weights load {tf['load_s']:.1f} s")
    for n in threads:
        fp = tf.get(f"prefill_fp32_t{n}_s")
        print(f"  full prefill, {n} thread(s): bf16 {tf[f'prefill_bf16_t{n}_s']:.3f} s" +
              (f", fp32 {fp:.3f} s (bf16 is {fp / tf[f'prefill_bf16_t{n}_s']:.1f}x faster)" if fp else ""))
    rows = [("first token, full prefill", "first_token_full_s"),
            ("first token, cached prefix", "first_token_cached_s"),
            ("whole line (median)", "line_s"), ("whole line (p95)", "line_p95_s"),
            ("decode tokens/s (median)", "tokens_per_s")]
    print(f"  {'':32}{'transformers':>14}{'llama.cpp':>12}{'ratio':>8}")
    for label, key in rows:
        a, r = tf.get(key), ref.get(key)
        ratio = f"{a / r:.2f}x" if isinstance(r, float) and r else "-"
        rs = f"{r:.3f}" if isinstance(r, float) else "-"
        print(f"  {label:32}{a:>14.3f}{rs:>12}{ratio:>8}")
    print(f"  guarded line (what the trainee waits): median {tf['guarded_line_s']:.2f} s, "
          f"p95 {tf['guarded_line_p95_s']:.2f} s, fallbacks {tf['guarded_fallbacks']}")
    if "unavailable" in ref:
        print(f"  reference: unavailable ({ref['unavailable']})")
    else:
        print(f"  llama.cpp load {ref['load_s']:.1f} s")
    ok_first = tf["first_token_cached_s"] <= TTFT_TARGET
    ok_line = tf["guarded_line_p95_s"] <= LINE_TARGET
    print(f"  target first token <= {TTFT_TARGET:.0f} s: {'met' if ok_first else 'NOT met'} "
          f"({tf['first_token_cached_s']:.2f} s with the cached prefix)")
    print(f"  target whole line <= {LINE_TARGET:.0f} s (p95, guarded): {'met' if ok_line else 'NOT met'} "
          f"({tf['guarded_line_p95_s']:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
