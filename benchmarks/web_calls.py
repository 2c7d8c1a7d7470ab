"""Many trainees taking calls at once against gunicorn workers on one SQLite file.

Starts ``gunicorn 'webui:create_app()'`` on a fresh data dir with the scripted caller, creates
N trainee accounts, and runs N simulated trainees in threads: each logs in, starts a call, and
for each reply streams the caller's line (GET /call/<id>/stream) and posts a reply. Prints the
latency of each kind of request and any errors (409 busy, 503 store busy). The caller model is
left out on purpose: this measures the web app and the store, not the model.

    .venv/bin/python benchmarks/web_calls.py --trainees 8 --replies 6 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.store import open_store  # noqa: E402
from simulator.store import users as store_users  # noqa: E402

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
REPLIES = ["您好，星海宽带，请问有什么可以帮您？", "非常抱歉给您添麻烦了，请问您贵姓？", "张先生，请您提供一下宽带账号。",
           "好的，请问您的地址是？", "我马上为您登记，师傅今天下午上门。", "请问还有其他可以帮您的吗？",
           "感谢您的来电，请您先挂机，再见。"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trainee(base: str, name: str, replies: int, timings: dict, errors: list, lock: threading.Lock):
    http = requests.Session()

    def timed(kind, fn):
        t = time.perf_counter()
        r = fn()
        with lock:
            timings[kind].append(time.perf_counter() - t)
            if r.status_code >= 400:
                errors.append(f"{kind} {r.status_code}")
        return r

    token = CSRF.search(http.get(base + "/auth/login").text).group(1)
    timed("login", lambda: http.post(base + "/auth/login",
                                     data={"name": name, "password": "bench-pass-1", "csrf_token": token}))
    token = CSRF.search(http.get(base + "/practice").text).group(1)
    r = timed("start", lambda: http.post(base + "/call/start", allow_redirects=False,
                                         data={"persona_id": "angry-broadband", "csrf_token": token}))
    sid = r.headers["Location"].rsplit("/", 1)[1]
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    turns = 0
    for i in range(replies):
        s = timed("stream", lambda: http.get(f"{base}/call/{sid}/stream", timeout=60))
        turns += s.text.count("event: turn")
        if "event: end" in s.text:
            break
        r = timed("reply", lambda: http.post(f"{base}/call/{sid}/reply", headers=headers, timeout=60,
                                             json={"text": REPLIES[i % len(REPLIES)], "expect": turns}))
        if r.status_code != 200:
            break
        turns = r.json()["turns"]
        if r.json()["ended"]:
            break
    else:
        timed("hangup", lambda: http.post(f"{base}/call/{sid}/hangup", headers=headers, json={}, timeout=60))
    timed("report", lambda: http.get(f"{base}/report/{sid}", timeout=60))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trainees", type=int, default=8)
    ap.add_argument("--replies", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    data = Path(tempfile.mkdtemp(prefix="peilian-bench-")) / "data"
    store_users.PASSWORD_METHOD = "pbkdf2:sha256:2000"  # logins are not what is measured
    store = open_store(data)
    for n in range(args.trainees):
        store.add_user(f"bench{n}", role="trainee", password="bench-pass-1")
    store.close()
    from webui import create_app
    from webui.setup import prepare
    prepare(create_app({"DATA_DIR": str(data)}))

    port = free_port()
    env = dict(os.environ, PEILIAN_DATA=str(data), PEILIAN_BACKEND="scripted")
    server = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "-w", str(args.workers),
                               "--threads", str(args.threads), "-b", f"127.0.0.1:{port}", "-k", "gthread",
                               "--log-level", "warning", "webui:create_app()"],
                              cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(base + "/auth/login", timeout=10)
                break
            except requests.RequestException:
                time.sleep(0.3)
        timings, errors, lock = defaultdict(list), [], threading.Lock()
        t0 = time.perf_counter()
        threads = [threading.Thread(target=trainee, args=(base, f"bench{n}", args.replies, timings, errors, lock))
                   for n in range(args.trainees)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=10)

    store = open_store(data)
    ended = store.one("SELECT count(*) AS n FROM sessions WHERE status = 'ended'")["n"]
    stored = store.one("SELECT count(*) AS n FROM turns")["n"]
    summary = {"trainees": args.trainees, "workers": args.workers, "threads": args.threads, "wall_s": round(wall, 2),
               "calls_ended": ended, "turns_stored": stored, "errors": errors, "cpus": os.cpu_count(),
               "requests": {k: {"n": len(v), "p50_ms": round(1000 * statistics.median(v), 1),
                                "p95_ms": round(1000 * sorted(v)[int(0.95 * (len(v) - 1))], 1),
                                "max_ms": round(1000 * max(v), 1)} for k, v in sorted(timings.items())}}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return
    print(f"{args.trainees} trainees at once, gunicorn {args.workers} workers x {args.threads} threads, "
          f"scripted caller, {os.cpu_count()} CPUs: {wall:.1f} s wall, {ended} calls ended, "
          f"{stored} turns stored, {len(errors)} errors {sorted(set(errors))}")
    for kind, s in summary["requests"].items():
        print(f"  {kind:7s} n={s['n']:4d}  p50 {s['p50_ms']:7.1f} ms  p95 {s['p95_ms']:7.1f} ms  max {s['max_ms']:7.1f} ms")


if __name__ == "__main__":
    main()
