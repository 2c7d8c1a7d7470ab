"""Load test: N simulated trainees take whole calls at once against the app run as a team runs it.

Starts ``gunicorn -w W -k gthread --threads T 'webui:create_app()'`` on 127.0.0.1 with a fresh
data dir, creates N trainee accounts (real scrypt hashes), and runs N trainees in threads. Each
logs in, opens 我的练习, starts a call and, turn by turn, reads the caller's line from the SSE
stream, "types" for ``--think`` seconds and sends a reply (standard and non-standard replies in
turn), hangs up if the caller has not ended the call, and opens the report. Bounded by
``--calls`` per trainee and ``--duration`` seconds. Prints p50/p95/p99 per request kind (login is
reported apart: password hashing is slow on purpose), errors, and turns the trainees were shown
and sent against turns found in the database at the end.

``--backend openai`` puts a caller model behind the app: ``--base-url`` of an OpenAI-compatible
server (vLLM, llama.cpp server), or, without one, a local fake server that streams a canned line
at ``--fake-token-ms`` per token (the report says so). It then raises the number of concurrent
calls step by step and prints how many keep the caller's first piece within 1 s (p95).

    .venv/bin/python benchmarks/load.py --trainees 50
    .venv/bin/python benchmarks/load.py --smoke --json
    .venv/bin/python benchmarks/load.py --backend openai --levels 5,10,20,40
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.store import open_store  # noqa: E402
from simulator.store import users as store_users  # noqa: E402

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
PERSONAS = ["angry-broadband", "hold-billing", "price-quote", "complaint-agent"]
STANDARD = ["您好，星海宽带，请问有什么可以帮您？", "非常抱歉给您添麻烦了，请问您贵姓？", "张先生，请您提供一下宽带账号。",
            "好的，请问您的地址是？", "我马上为您登记，师傅今天下午上门。", "请问还有其他可以帮您的吗？",
            "感谢您的来电，请您先挂机，再见。"]
NON_STANDARD = ["喂，说。", "这是公司规定，我也没办法。", "你自己看说明书吧。", "不知道，你问别人。", "你叫什么？"]
PASSWORD = "load-pass-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.times = defaultdict(list)
        self.errors = []
        self.seen = {}     # session id -> {idx: (role, text)} the trainee was shown
        self.sent = 0      # agent turns the app accepted (replies + hang-ups)

    def add(self, kind, seconds, error=None):
        with self.lock:
            self.times[kind].append(seconds)
            if error:
                self.errors.append(f"{kind}: {error}")

    def summary(self):
        return {k: {"n": len(v), "p50_ms": round(1000 * pct(v, 50), 1), "p95_ms": round(1000 * pct(v, 95), 1),
                    "p99_ms": round(1000 * pct(v, 99), 1), "max_ms": round(1000 * max(v), 1)}
                for k, v in sorted(self.times.items())}


def trainee(base, name, stats: Stats, calls: int, replies: int, think: float, deadline: float, rng: random.Random,
            barrier: threading.Barrier | None = None):
    http = requests.Session()

    def timed(kind, method, url, **kw):
        t = time.perf_counter()
        try:
            r = http.request(method, base + url, timeout=120, **kw)
        except requests.RequestException as e:
            stats.add(kind, time.perf_counter() - t, type(e).__name__)
            raise
        stats.add(kind, time.perf_counter() - t, None if r.status_code < 400 else r.status_code)
        return r

    try:
        token = CSRF.search(timed("page", "GET", "/auth/login").text).group(1)
        timed("login", "POST", "/auth/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
        if barrier is not None:  # everyone logged in (the hashing storm is over) before the calls begin
            try:
                barrier.wait(timeout=300)
            except threading.BrokenBarrierError:
                pass
        token = CSRF.search(timed("page", "GET", "/practice").text).group(1)
        headers = {"X-CSRF-Token": token, "Accept": "application/json"}
        for n in range(calls):
            if time.monotonic() > deadline:
                break
            time.sleep(think * rng.uniform(0, 2))  # reads the practice page before picking a call
            r = timed("start", "POST", "/call/start", allow_redirects=False,
                      data={"persona_id": PERSONAS[rng.randrange(len(PERSONAS))], "csrf_token": token})
            sid = r.headers["Location"].rsplit("/", 1)[1]
            seen = stats.seen.setdefault(sid, {})
            ended = False
            for i in range(replies):
                t = time.perf_counter()
                first = None
                with http.get(f"{base}/call/{sid}/stream", stream=True, timeout=120) as s:
                    body = []
                    for chunk in s.iter_content(chunk_size=None, decode_unicode=True):
                        if first is None and "event: piece" in chunk:
                            first = time.perf_counter() - t
                        body.append(chunk)
                    text = "".join(body)
                stats.add("stream", time.perf_counter() - t, None if s.status_code < 400 else s.status_code)
                if first is not None:
                    stats.add("caller_first_piece", first)
                for m in re.finditer(r"event: turn\ndata: (.*)", text):
                    d = json.loads(m.group(1))
                    seen[d["idx"]] = (d["role"], d["text"])
                if "event: busy" in text or "event: failure" in text:
                    stats.add("stream_retry", 0.0, "busy" if "busy" in text else "failure")
                if "event: end" in text:
                    ended = True
                    break
                time.sleep(think * rng.uniform(0.5, 1.5))
                reply = STANDARD[i % len(STANDARD)] if (i + n) % 3 != 2 else NON_STANDARD[rng.randrange(len(NON_STANDARD))]
                r = timed("reply", "POST", f"/call/{sid}/reply", headers=headers,
                          json={"text": reply, "expect": len(seen)})
                if r.status_code != 200:
                    break
                d = r.json()
                if d.get("turn"):
                    seen[d["turn"]["idx"]] = (d["turn"]["role"], d["turn"]["text"])
                    with stats.lock:
                        stats.sent += d["turn"]["role"] == "agent"
                else:  # the caller hung up before this reply arrived: answered, nothing to store
                    stats.add("reply_after_caller_ended", 0.0)
                if d["ended"]:
                    ended = True
                    break
            if not ended:
                r = timed("hangup", "POST", f"/call/{sid}/hangup", headers=headers, json={})
                if r.status_code == 200 and r.json().get("turn"):
                    t = r.json()["turn"]
                    seen[t["idx"]] = (t["role"], t["text"])
                    with stats.lock:
                        stats.sent += 1
            timed("report", "GET", f"/report/{sid}")
    except (requests.RequestException, AttributeError, KeyError, ValueError) as e:
        with stats.lock:
            stats.errors.append(f"trainee {name} stopped: {type(e).__name__}: {e}"[:200])


# ---------------------------------------------------------------- a stand-in OpenAI-compatible server

FAKE_LINES = ["喂？我家宽带三天没网了，你们到底管不管？", "我姓张，弓长张。", "账号是零五七一八八二三一四五六，你查查。",
              "行吧，那你们今天下午一定要来啊。", "好，没别的了，再见。"]


def fake_openai_server(token_ms: float, first_ms: float):
    """A chat-completions server streaming a canned caller line two characters per token."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            line = random.choice(FAKE_LINES)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            time.sleep(first_ms / 1000)
            for i in range(0, len(line), 2):
                ev = {"choices": [{"index": 0, "delta": {"content": line[i:i + 2]}}]}
                self.wfile.write(f"data: {json.dumps(ev, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()
                time.sleep(token_ms / 1000)
            self.wfile.write(b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n'
                             b"data: [DONE]\n\n")
            self.close_connection = True

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/v1"


# ---------------------------------------------------------------- the server


def prepare_data(data: Path, trainees: int, cheap_hash: bool):
    if cheap_hash:
        store_users.PASSWORD_METHOD = "pbkdf2:sha256:2000"
    from webui import create_app
    from webui.setup import prepare
    prepare(create_app({"DATA_DIR": str(data), "SECRET_KEY": "load", "CALLER_BACKEND": "scripted"}))
    store = open_store(data)
    for n in range(trainees):
        store.add_user(f"load{n}", role="trainee", password=PASSWORD)
    store.add_user("warmup", role="trainee", password=PASSWORD)
    store.close()


def start_server(data: Path, workers: int, threads: int, backend: str, base_url: str | None):
    port = free_port()
    env = dict(os.environ, PEILIAN_DATA=str(data), PEILIAN_SECRET="load-secret", PEILIAN_CALLER_BACKEND=backend)
    if base_url:
        env["PEILIAN_CALLER_BASE_URL"] = base_url
    proc = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "-w", str(workers), "-k", "gthread",
                             "--threads", str(threads), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                             "--timeout", "120", "webui:create_app()"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(base + "/auth/login", timeout=2)
            return proc, base
        except requests.RequestException:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


def run_wave(base, names, stats, args, deadline):
    rngs = [random.Random(hash((args.seed, n))) for n in names]
    barrier = threading.Barrier(len(names))
    threads = []
    for name, rng in zip(names, rngs):
        th = threading.Thread(target=trainee, args=(base, name, stats, args.calls, args.replies, args.think,
                                                    deadline, rng, barrier), daemon=True)
        threads.append(th)
    t0 = time.perf_counter()
    for th in threads:  # a ramp, as a shift arrives: not everyone hits login in the same millisecond
        th.start()
        time.sleep(args.ramp / max(1, len(threads)))
    for th in threads:
        th.join(timeout=max(1.0, deadline - time.monotonic() + 120))
    return time.perf_counter() - t0


def warm_up(base, workers: int, stats: Stats):
    """Start a few calls as ``warmup`` so each worker loads the phrasebook and personas (~1 s each, once);
    their times are kept apart as ``start_cold_worker``."""
    http = requests.Session()
    token = CSRF.search(http.get(base + "/auth/login", timeout=60).text).group(1)
    http.post(base + "/auth/login", data={"name": "warmup", "password": PASSWORD, "csrf_token": token}, timeout=60)
    token = CSRF.search(http.get(base + "/practice", timeout=60).text).group(1)

    def one(persona):
        t = time.perf_counter()
        r = requests.post(base + "/call/start", data={"persona_id": persona, "csrf_token": token},
                          cookies=http.cookies, allow_redirects=False, timeout=120)
        stats.add("start_cold_worker", time.perf_counter() - t, None if r.status_code < 400 else r.status_code)
    threads = [threading.Thread(target=one, args=(PERSONAS[i % len(PERSONAS)],)) for i in range(3 * workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def check_store(data: Path, stats: Stats):
    store = open_store(data)
    try:
        stored = {}
        for r in store.rows("SELECT session_id, idx, role, text FROM turns"):
            stored.setdefault(r["session_id"], {})[r["idx"]] = (r["role"], r["text"])
        seen = sum(len(v) for v in stats.seen.values())
        lost = [(sid, i) for sid, turns in stats.seen.items() for i, t in turns.items()
                if stored.get(sid, {}).get(i) != t]
        agent_stored = store.one("SELECT count(*) AS n FROM turns WHERE role = 'agent'")["n"]
        mine = "FROM sessions JOIN users ON users.id = sessions.user_id WHERE users.name != 'warmup'"
        return {"calls": store.one(f"SELECT count(*) AS n {mine}")["n"],
                "calls_ended": store.one(f"SELECT count(*) AS n {mine} AND status = 'ended'")["n"],
                "turns_shown": seen, "turns_stored": sum(len(v) for v in stored.values()),
                "agent_turns_sent": stats.sent, "agent_turns_stored": agent_stored, "lost_turns": len(lost),
                "integrity": store.one("PRAGMA integrity_check")["integrity_check"]}
    finally:
        store.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trainees", type=int, default=50)
    ap.add_argument("--calls", type=int, default=1, help="calls per trainee")
    ap.add_argument("--replies", type=int, default=7, help="at most this many replies per call")
    ap.add_argument("--think", type=float, default=1.0, help="seconds a trainee takes to answer (x0.5-1.5)")
    ap.add_argument("--ramp", type=float, default=5.0, help="seconds over which the trainees arrive")
    ap.add_argument("--duration", type=float, default=240, help="stop starting calls after this many seconds")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--backend", choices=["scripted", "openai"], default="scripted")
    ap.add_argument("--base-url", default=None, help="openai: an OpenAI-compatible server; default a local fake")
    ap.add_argument("--fake-token-ms", type=float, default=20.0)
    ap.add_argument("--fake-first-ms", type=float, default=60.0)
    ap.add_argument("--levels", default="5,10,20,40", help="openai: concurrent calls to try, in order")
    ap.add_argument("--cheap-hash", action="store_true", help="cheap password hashes (the smoke run uses them)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-warmup", action="store_true", help="measure the workers' first calls too")
    ap.add_argument("--smoke", action="store_true", help="a short run: 6 trainees, 3 replies, no think time")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.smoke:
        args.trainees, args.replies, args.think, args.ramp, args.duration = min(args.trainees, 6), 3, 0.0, 0.5, 30
        args.cheap_hash, args.levels = True, "2,4"

    data = Path(tempfile.mkdtemp(prefix="peilian-load-")) / "data"
    levels = [int(x) for x in args.levels.split(",")] if args.backend == "openai" else [args.trainees]
    total = sum(levels) if args.backend == "openai" else args.trainees
    prepare_data(data, total, args.cheap_hash)
    fake = None
    base_url = args.base_url
    if args.backend == "openai" and not base_url:
        fake, base_url = fake_openai_server(args.fake_token_ms, args.fake_first_ms)
    proc, base = start_server(data, args.workers, args.threads, args.backend, base_url)
    out = {"trainees": total, "workers": args.workers, "threads": args.threads, "backend": args.backend,
           "think_s": args.think, "replies": args.replies, "cpus": os.cpu_count(), "smoke": args.smoke}
    try:
        cold = Stats()
        if not args.no_warmup:
            warm_up(base, args.workers, cold)
            out["start_cold_worker"] = cold.summary().get("start_cold_worker")
        if args.backend == "scripted":
            stats = Stats()
            wall = run_wave(base, [f"load{n}" for n in range(args.trainees)], stats, args,
                            time.monotonic() + args.duration)
            out.update(wall_s=round(wall, 1), requests=stats.summary(), errors=stats.errors[:20],
                       error_count=len(stats.errors))
            waves = [stats]
        else:
            out.update(base_url=base_url if args.base_url else f"local fake ({args.fake_first_ms:g} ms to the first "
                       f"token, {args.fake_token_ms:g} ms a token)", levels=[])
            waves, start = [], 0
            for level in levels:
                stats = Stats()
                run_wave(base, [f"load{n}" for n in range(start, start + level)], stats, args,
                         time.monotonic() + args.duration)
                start += level
                first = stats.times.get("caller_first_piece", [])
                out["levels"].append({"concurrent": level, "first_piece_p50_ms": round(1000 * pct(first, 50), 1) if first else None,
                                      "first_piece_p95_ms": round(1000 * pct(first, 95), 1) if first else None,
                                      "errors": len(stats.errors)})
                waves.append(stats)
            ok = [lv["concurrent"] for lv in out["levels"] if lv["first_piece_p95_ms"] is not None
                  and lv["first_piece_p95_ms"] <= 1000 and not lv["errors"]]
            out["max_concurrent_first_piece_within_1s"] = max(ok) if ok else 0
            fb = open_store(data).one("SELECT count(*) AS n FROM turns WHERE backend = 'fallback'")["n"]
            out["fallback_turns"] = fb
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if fake:
            fake.shutdown()
    merged = Stats()
    for w in waves:
        merged.seen.update(w.seen)
        merged.sent += w.sent
    out["store"] = check_store(data, merged)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return out
    s = out["store"]
    print(f"{args.trainees if args.backend == 'scripted' else total} trainees, gunicorn {args.workers} workers x "
          f"{args.threads} threads, {args.backend} caller, think {args.think:g} s, {os.cpu_count()} CPUs")
    if out.get("start_cold_worker"):
        c = out["start_cold_worker"]
        print(f"  warm-up: {c['n']} first calls on fresh workers p50 {c['p50_ms']} ms, max {c['max_ms']} ms (not counted below)")
    if "requests" in out:
        print(f"  wall {out['wall_s']} s, {out['error_count']} errors {out['errors'][:3]}")
        for kind, r in out["requests"].items():
            print(f"  {kind:18s} n={r['n']:5d}  p50 {r['p50_ms']:7.1f}  p95 {r['p95_ms']:7.1f}  "
                  f"p99 {r['p99_ms']:7.1f}  max {r['max_ms']:7.1f} ms")
    for lv in out.get("levels", []):
        print(f"  {lv['concurrent']:3d} concurrent calls: caller's first piece p50 {lv['first_piece_p50_ms']} ms, "
              f"p95 {lv['first_piece_p95_ms']} ms, {lv['errors']} errors")
    if "levels" in out:
        print(f"  caller server: {out['base_url']}; up to {out['max_concurrent_first_piece_within_1s']} concurrent "
              f"calls keep the first piece within 1 s (p95); {out['fallback_turns']} fallback turns")
    print(f"  store: {s['calls']} calls ({s['calls_ended']} ended), turns shown {s['turns_shown']}, stored "
          f"{s['turns_stored']}, lost {s['lost_turns']}; agent turns sent {s['agent_turns_sent']}, stored "
          f"{s['agent_turns_stored']}; integrity {s['integrity']}")
    return out


if __name__ == "__main__":
    main()
