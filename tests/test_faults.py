"""Faults: the server killed mid-call, the caller model failing, the database locked or full.

The kill test runs the real app under gunicorn (2 workers, as a team runs it) in a subprocess on
127.0.0.1, drives several trainees over HTTP and SIGKILLs the whole process group while they
talk; after a restart on the same data dir every turn a trainee was shown is in the store, every
open call resumes, and no report is half-written. The other faults go through the Flask app in
process: the failure is injected below the app (a backend object, an SQLite lock or error).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from simulator.errors import CallerError
from simulator.store import open_store
from webui import create_app
from webui.setup import prepare

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).with_name("gunicorn")
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
GREETING = "您好，星海宽带，请问有什么可以帮您？"
REPLIES = [GREETING, "非常抱歉给您添麻烦了，请问您贵姓？", "这是公司规定，我也没办法。", "请您提供一下宽带账号。",
           "好的，我马上为您登记，师傅今天下午上门。", "请问还有其他可以帮您的吗？", "感谢您的来电，再见。"]


def parse_events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.split("\n\n"):
        m = re.match(r"event: (\w+)\ndata: (.*)", block.strip(), re.S)
        if m:
            out.append((m.group(1), json.loads(m.group(2))))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """``gunicorn -w 2 'webui:create_app()'`` on a data dir; ``kill()`` is SIGKILL to every process."""

    def __init__(self, data: Path, secret: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PEILIAN_DATA=str(data), PEILIAN_SECRET=secret, PEILIAN_BACKEND="scripted")
        self.proc = subprocess.Popen([str(GUNICORN), "-w", "2", "-k", "gthread", "--threads", "4",
                                      "-b", f"127.0.0.1:{self.port}", "--log-level", "warning",
                                      "webui:create_app()"], cwd=ROOT, env=env, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                requests.get(self.base + "/auth/login", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.1)
        self.kill()
        pytest.fail("gunicorn did not start")

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


class Trainee:
    """One browser: logs in with the CSRF token and remembers every turn it was shown, per call."""

    def __init__(self, base: str, name: str, password: str):
        self.base, self.http = base, requests.Session()
        self.seen: dict[str, dict[int, tuple[str, str]]] = {}
        token = CSRF.search(self.http.get(base + "/auth/login", timeout=10).text).group(1)
        r = self.http.post(base + "/auth/login", data={"name": name, "password": password, "csrf_token": token},
                           timeout=10, allow_redirects=False)
        assert r.status_code == 302, r.text[:300]
        self.token = CSRF.search(self.http.get(base + "/practice", timeout=10).text).group(1)

    def start(self, persona="angry-broadband") -> str:
        r = self.http.post(self.base + "/call/start", data={"persona_id": persona, "csrf_token": self.token},
                           allow_redirects=False, timeout=10)
        sid = r.headers["Location"].rsplit("/", 1)[1]
        self.seen[sid] = {}
        return sid

    def stream(self, sid) -> list[tuple[str, dict]]:
        evs = parse_events(self.http.get(f"{self.base}/call/{sid}/stream", timeout=30).text)
        for kind, d in evs:
            if kind == "turn":
                self.seen[sid][d["idx"]] = (d["role"], d["text"])
        return evs

    def post(self, sid, action, payload=None):
        r = self.http.post(f"{self.base}/call/{sid}/{action}", json=payload or {}, timeout=30,
                           headers={"X-CSRF-Token": self.token, "Accept": "application/json"})
        if r.status_code == 200 and r.json().get("turn"):
            t = r.json()["turn"]
            self.seen[sid][t["idx"]] = (t["role"], t["text"])
        return r


def whole_calls(trainee: Trainee, stop: threading.Event):
    """Calls back to back until ``stop`` or the server dies (the error is kept in ``trainee.error``)."""
    trainee.error = None
    try:
        while not stop.is_set():
            sid = trainee.start()
            for i, text in enumerate(REPLIES):
                evs = trainee.stream(sid)
                if any(k == "end" for k, _ in evs):
                    break
                r = trainee.post(sid, "reply", {"text": text, "expect": len(trainee.seen[sid])})
                if r.status_code != 200 or r.json()["ended"]:
                    break
            else:
                trainee.post(sid, "hangup")
    except (requests.RequestException, AttributeError, KeyError, ValueError) as e:
        trainee.error = e  # the server was killed under us


def check_store_consistent(store):
    assert store.one("PRAGMA integrity_check")["integrity_check"] == "ok"
    for s in store.rows("SELECT id, status, score, report_json FROM sessions"):
        if s["report_json"]:
            report = json.loads(s["report_json"])
            n = store.one("SELECT count(*) AS n FROM findings WHERE session_id = ?", (s["id"],))["n"]
            assert n == len(report["findings"]), f"call {s['id']}: report has {len(report['findings'])} findings, store {n}"
            assert s["score"] is not None and s["status"] in ("ended", "interrupted")
        else:
            assert s["status"] in ("active", "interrupted"), f"call {s['id']} {s['status']} without a report"
        idx = [r["idx"] for r in store.rows("SELECT idx FROM turns WHERE session_id = ? ORDER BY idx", (s["id"],))]
        assert idx == list(range(len(idx))), f"call {s['id']}: turn indexes have a gap {idx}"


@pytest.mark.parametrize("kill_after", [0.0, 0.3, 1.1])
def test_sigkill_mid_call_loses_no_shown_turn_and_calls_resume(tmp_path, kill_after):
    from simulator.store import users as store_users
    store_users.PASSWORD_METHOD = "pbkdf2:sha256:2000"
    data = tmp_path / "data"
    app = create_app({"DATA_DIR": str(data), "SECRET_KEY": "s", "CALLER_BACKEND": "scripted"})
    lock_s = app.config["CALL_LOCK_S"]  # what the gunicorn workers run with (the same defaults)
    prepare(app)
    store = open_store(data)
    for n in range(4):
        store.add_user(f"kill{n}", role="trainee", password="pw-kill-1")
    store.close()

    server = Gunicorn(data, secret="fault-secret")
    try:
        trainees = [Trainee(server.base, f"kill{n}", "pw-kill-1") for n in range(4)]
        stop = threading.Event()
        threads = [threading.Thread(target=whole_calls, args=(t, stop)) for t in trainees]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while sum(len(x) for t in trainees for x in list(t.seen.values())) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(kill_after)
    finally:
        server.kill()
    killed_at = time.time()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    seen = {sid: turns for t in trainees for sid, turns in t.seen.items()}
    assert sum(map(len, seen.values())) >= 2, \
        f"no turn was shown before the kill: the test proved nothing {[t.error for t in trainees]}"

    store = open_store(data)
    check_store_consistent(store)
    for sid, turns in seen.items():
        stored = {t["idx"]: (t["role"], t["text"]) for t in store.turns(sid)}
        for idx, turn in turns.items():
            assert stored.get(idx) == turn, f"call {sid} turn {idx} was shown to the trainee but is not stored"

    server = Gunicorn(data, secret="fault-secret")
    try:
        for t in trainees:
            t.base = server.base  # same cookie: the secret is the same, so the login survives the restart
        for t in trainees:
            for sid in list(t.seen):
                row = store.get_session(sid)
                if row["status"] != "active":
                    assert t.http.get(f"{server.base}/report/{sid}", timeout=30).status_code == 200
                    continue
                assert t.http.get(f"{server.base}/call/{sid}", timeout=30).status_code == 200
                evs = t.stream(sid)
                if evs and evs[0][0] == "busy":
                    # a request was in flight when the server died: its lease, renewed by nobody
                    # now, runs out within CALL_LOCK_S of the kill; wait for it for real
                    lease = store.get_session(sid)["lock_until"]
                    assert lease is not None and lease <= killed_at + lock_s + 1, "a stale lease outlives CALL_LOCK_S"
                    time.sleep(max(0.0, lease - time.time()) + 0.2)
                    evs = t.stream(sid)
                assert evs and evs[-1][0] in ("idle", "end"), f"call {sid} does not resume: {evs}"
                if evs[-1][0] == "idle":
                    n = evs[-1][1]["turns"]
                    r = t.post(sid, "reply", {"text": "请问还有其他可以帮您的吗？", "expect": n})
                    assert r.status_code == 200 and r.json()["turns"] == n + 1, r.text[:200]
                    assert t.post(sid, "hangup").json()["ended"]
                assert store.get_session(sid)["status"] == "ended"
        check_store_consistent(store)
        for sid, turns in seen.items():  # still there after the resumed calls were finished
            stored = {t["idx"]: (t["role"], t["text"]) for t in store.turns(sid)}
            assert all(stored.get(i) == turn for i, turn in turns.items())
    finally:
        server.kill()
        store.close()


# ---------------------------------------------------------------- the caller model failing


class FailingBackend:
    """A model backend that fails one way: raise, hang, garbage, a role inversion, or die mid-line."""

    name = "openai"

    def __init__(self, how: str):
        self.how = how

    def voice(self, persona, intent, history):
        if self.how == "raises":
            raise CallerError("the caller server at http://gpu:8000 is unreachable: ConnectionError")
        if self.how == "hangs":
            time.sleep(30)
        if self.how == "garbage":
            yield from (b"\x00\xff", None, 42)
        if self.how == "english":
            yield "As an AI language model, I cannot roleplay."
        if self.how == "role_inversion":
            yield from ("您好，星海宽带，", "请问有什么可以帮您？")
        if self.how == "dies_mid_line":
            yield "我家宽带"
            raise ConnectionResetError("peer went away")
        yield "喂？"


@pytest.mark.parametrize("how", ["raises", "hangs", "garbage", "english", "role_inversion", "dies_mid_line"])
def test_failing_caller_model_over_http_shows_the_scripted_line(app, client, auth, store, monkeypatch, how):
    fake = FailingBackend(how)
    monkeypatch.setattr("webui.calls.backend", lambda: fake)
    auth.login_as("trainee")
    r = auth.post("/call/start", {"persona_id": "angry-broadband"})
    sid = r.headers["Location"].rsplit("/", 1)[1]
    scripted = store.get_session(sid)["state"]["pending"]["line"]
    t0 = time.monotonic()
    evs = parse_events(client.get(f"/call/{sid}/stream").get_data(as_text=True))
    assert time.monotonic() - t0 < 20, "the guard did not cut a hanging model off"
    shown = "".join(d["text"] for k, d in evs if k == "piece")
    assert shown == scripted, f"{how}: the trainee saw {shown!r}, not the scripted line"
    assert [k for k, _ in evs][-2:] == ["turn", "idle"]
    [turn] = store.turns(sid)
    assert turn["text"] == scripted and turn["backend"] == "fallback"
    assert store.get_session(sid)["lock_token"] is None
    # the call goes on normally
    r = auth.post_json(f"/call/{sid}/reply", {"text": GREETING, "expect": 1})
    assert r.status_code == 200 and r.get_json()["turns"] == 2


# ---------------------------------------------------------------- the database locked or full


def call_with_one_turn(client, auth, store):
    auth.login_as("trainee")
    sid = auth.post("/call/start", {"persona_id": "angry-broadband"}).headers["Location"].rsplit("/", 1)[1]
    client.get(f"/call/{sid}/stream").get_data()
    assert len(store.turns(sid)) == 1
    return sid


def db_rows(store):
    return {t: store.rows(f"SELECT * FROM {t} ORDER BY rowid") for t in ("sessions", "turns", "findings")}


def test_database_locked_by_another_writer_gives_a_chinese_503_and_loses_nothing(app, client, auth, store):
    sid = call_with_one_turn(client, auth, store)
    before = db_rows(store)
    holder = sqlite3.connect(Path(app.config["DATA_DIR"]) / "peilian.db", timeout=1, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        r = auth.post_json(f"/call/{sid}/reply", {"text": GREETING, "expect": 1})
        assert r.status_code == 503, r.get_data(as_text=True)[:300]
        assert "系统繁忙" in r.get_json()["error"] and "没有丢失" in r.get_json()["error"]
        r = auth.post("/call/start", {"persona_id": "angry-broadband"})
        assert r.status_code == 503 and "系统繁忙" in r.get_data(as_text=True) and "Traceback" not in r.get_data(as_text=True)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.one("PRAGMA integrity_check")["integrity_check"] == "ok"
    assert db_rows(store) == before, "a refused write under the lock changed the store"
    r = auth.post_json(f"/call/{sid}/reply", {"text": GREETING, "expect": 1})
    assert r.status_code == 200 and len(store.turns(sid)) == 2


class DiskFull(sqlite3.Connection):
    """A connection whose writes fail as SQLite does when the disk is full."""

    def execute(self, sql, *args):
        if re.match(r"\s*(INSERT|UPDATE|DELETE|REPLACE)", sql, re.I):
            raise sqlite3.OperationalError("database or disk is full")
        return super().execute(sql, *args)


def test_disk_full_gives_a_chinese_error_and_the_database_stays_whole(app, client, auth, store, monkeypatch):
    sid = call_with_one_turn(client, auth, store)
    before = db_rows(store)
    real_connect = sqlite3.connect
    monkeypatch.setattr("simulator.store.core.sqlite3.connect",
                        lambda *a, **k: real_connect(*a, **dict(k, factory=DiskFull)))
    r = auth.post_json(f"/call/{sid}/reply", {"text": GREETING, "expect": 1})
    assert r.status_code in (500, 503) and re.search(r"[\u4e00-\u9fff]", r.get_json()["error"]), r.get_data(as_text=True)
    r = client.get(f"/call/{sid}")   # reading still works: the trainee sees the call so far
    assert r.status_code == 200 and store.turns(sid)[0]["text"] in r.get_data(as_text=True)
    r = auth.post("/call/start", {"persona_id": "angry-broadband"})
    assert r.status_code in (500, 503) and "系统繁忙" in r.get_data(as_text=True)
    monkeypatch.undo()
    assert store.one("PRAGMA integrity_check")["integrity_check"] == "ok"
    assert db_rows(store) == before, "a failed write under a full disk changed the store"
    assert auth.post_json(f"/call/{sid}/reply", {"text": GREETING, "expect": 1}).status_code == 200


def test_disk_full_for_real_max_page_count(app, client, auth, store, monkeypatch):
    """SQLite's own SQLITE_FULL: the database may not grow by a page; a long reply cannot be stored."""
    sid = call_with_one_turn(client, auth, store)
    before = db_rows(store)
    real_connect = sqlite3.connect

    def capped(*a, **k):
        conn = real_connect(*a, **k)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn
    monkeypatch.setattr("simulator.store.core.sqlite3.connect", capped)
    text = "您好，星海宽带，" + "请您稍等" * 240   # ~1000 characters, ~3 KB: needs new pages
    failed = 0
    for _ in range(3):
        r = auth.post_json(f"/call/{sid}/reply", {"text": text, "expect": len(store.turns(sid))})
        if r.status_code == 200:
            continue
        failed += 1
        assert r.status_code == 503 and "系统繁忙" in r.get_json()["error"], r.get_data(as_text=True)[:300]
    assert failed, "the capped database took every write: nothing was tested"
    monkeypatch.undo()
    assert store.one("PRAGMA integrity_check")["integrity_check"] == "ok"
    after = db_rows(store)
    assert after["turns"][: len(before["turns"])] == before["turns"], "a stored turn changed"
    turns = store.turns(sid)
    assert [t["idx"] for t in turns] == list(range(len(turns)))


# ---------------------------------------------------------------- the app on a caller-model server


def test_app_configured_from_env_voices_the_caller_through_an_openai_server(tmp_path, monkeypatch):
    """PEILIAN_CALLER_BACKEND/_BASE_URL/_MODEL point the app at a server; when it dies, calls go on scripted."""
    from webhelpers import AuthActions
    from test_backend_openai import Server, sse

    server = Server()
    line = "喂，我家宽带断了整整三天了，你们到底管不管？"
    server.reply = (200, sse(line[:4], line[4:12], line[12:]))
    monkeypatch.setenv("PEILIAN_CALLER_BACKEND", "openai")
    monkeypatch.setenv("PEILIAN_CALLER_BASE_URL", server.url)
    monkeypatch.setenv("PEILIAN_CALLER_MODEL", "qwen2.5-1.5b-instruct")
    try:
        app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": "k"})
        assert any("caller: openai" in x for x in prepare(app))
        store = open_store(app.config["DATA_DIR"])
        store.add_user("t1", role="trainee", password="pw-t1-long")
        client = app.test_client()
        auth = AuthActions(client)
        assert auth.login("t1", "pw-t1-long").status_code == 302
        sid = auth.post("/call/start", {"persona_id": "angry-broadband"}).headers["Location"].rsplit("/", 1)[1]
        evs = parse_events(client.get(f"/call/{sid}/stream").get_data(as_text=True))
        assert "".join(d["text"] for k, d in evs if k == "piece") == line
        assert store.turns(sid)[0]["backend"] == "openai" and store.get_session(sid)["backend"] == "openai"
        path, _, body = server.requests[0]
        assert path == "/v1/chat/completions" and body["model"] == "qwen2.5-1.5b-instruct"
        assert auth.post_json(f"/call/{sid}/reply", {"text": GREETING, "expect": 1}).status_code == 200
        server.close()  # the model server goes away mid-call
        evs = parse_events(client.get(f"/call/{sid}/stream").get_data(as_text=True))
        turn = store.turns(sid)[2]
        assert turn["backend"] == "fallback" and "".join(d["text"] for k, d in evs if k == "piece") == turn["text"]
        store.close()
    finally:
        server.close()


def test_a_lease_left_by_a_dead_worker_runs_out_within_seconds(app, client, auth, store):
    """A worker killed mid-request leaves its lease, which nothing renews any more: the call answers
    busy until it runs out (CALL_LOCK_S: seconds, not minutes), then resumes by itself."""
    assert app.config["CALL_LOCK_S"] <= 15
    app.config.update(CALL_WAIT_S=0.3, CALL_LOCK_S=1.0)  # the same, with a lease short enough to wait for
    sid = call_with_one_turn(client, auth, store)
    taken = time.time()
    assert store.lock_call(sid, app.config["CALL_LOCK_S"])      # the dead worker's request: no heartbeat
    evs = parse_events(client.get(f"/call/{sid}/stream").get_data(as_text=True))
    assert [k for k, _ in evs] == ["busy"]
    r = auth.post_json(f"/call/{sid}/reply", {"text": GREETING, "expect": 1})
    assert r.status_code == 409 and re.search(r"[\u4e00-\u9fff]", r.get_json()["error"])
    assert len(store.turns(sid)) == 1
    time.sleep(max(0.0, taken + 1.0 - time.time()) + 0.1)     # CALL_LOCK_S later, for real
    assert auth.post_json(f"/call/{sid}/reply", {"text": GREETING, "expect": 1}).status_code == 200
    assert [t["role"] for t in store.turns(sid)] == ["caller", "agent"]


class SlowBackend:
    """A model that takes ``seconds`` for its line (a slow GPU server), then says something fine."""

    name = "openai"

    def __init__(self, seconds: float):
        self.seconds = seconds

    def voice(self, persona, intent, history):
        time.sleep(self.seconds)
        yield intent.line


def _later(seconds: float, fn):
    """Run ``fn`` on another thread after ``seconds``; the thread, to join, and its result."""
    out = {}
    t = threading.Thread(target=lambda: (time.sleep(seconds), out.update(result=fn())))
    t.start()
    return t, out


def test_a_working_request_keeps_its_short_lease_alive(app, client, auth, store, monkeypatch):
    """The heartbeat renews the lease while a slow line is voiced (past CALL_LOCK_S), then lets go."""
    app.config.update(CALL_LOCK_S=0.6)
    monkeypatch.setattr("webui.calls.backend", lambda: SlowBackend(1.8))
    auth.login_as("trainee")
    sid = auth.post("/call/start", {"persona_id": "angry-broadband"}).headers["Location"].rsplit("/", 1)[1]
    other = open_store(app.config["DATA_DIR"], migrate=False)   # another worker, trying to take the call
    try:
        t, out = _later(1.2, lambda: other.lock_call(sid, 5))
        evs = parse_events(client.get(f"/call/{sid}/stream").get_data(as_text=True))
        t.join()
    finally:
        other.close()
    assert out["result"] is None, "the lease of a request still working ran out"
    assert [k for k, _ in evs][-2:] == ["turn", "idle"]
    assert len(store.turns(sid)) == 1 and store.get_session(sid)["lock_token"] is None


def test_a_request_that_lost_its_lease_writes_nothing(app, client, auth, store, monkeypatch):
    """If the lease ran out anyway (a stalled worker) and another request took the call, the late
    request must not write over it: the trainee is told to reload, the store keeps the newer state."""
    monkeypatch.setattr("webui.calls.backend", lambda: SlowBackend(1.0))
    auth.login_as("trainee")
    sid = auth.post("/call/start", {"persona_id": "angry-broadband"}).headers["Location"].rsplit("/", 1)[1]
    t, _ = _later(0.3, lambda: store.execute("UPDATE sessions SET lock_token = 'newer' WHERE id = ?", (sid,)))
    evs = parse_events(client.get(f"/call/{sid}/stream").get_data(as_text=True))
    t.join()
    assert "failure" in [k for k, _ in evs] and "turn" not in [k for k, _ in evs]
    assert store.turns(sid) == [] and store.get_session(sid)["lock_token"] == "newer"


def test_a_hung_request_stops_renewing_after_call_lock_max_s(app, client, auth, store):
    from webui.calls import Heartbeat
    sid = call_with_one_turn(client, auth, store)
    token = store.lock_call(sid, 0.3)
    beat = Heartbeat(app.config["DATA_DIR"], sid, token, seconds=0.3, max_s=0.5)
    try:
        time.sleep(0.45)
        assert store.lock_call(sid, 5) is None      # renewed past its 0.3 s
        time.sleep(0.7)
        assert store.lock_call(sid, 5)              # hung past max_s: no longer renewed, the lease ran out
    finally:
        beat.stop()
