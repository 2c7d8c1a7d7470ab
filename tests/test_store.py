"""The store on real SQLite files: migrations, transactions, idempotent turns, clear errors."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from simulator.cli import cli
from simulator.errors import StoreError
from simulator.store import DuplicateUser, open_store
from simulator.store import core
from simulator.store.migrations import MIGRATIONS

PERSONA_YAML = "id: p1\ntitle: 测试\n"


@pytest.fixture
def st(tmp_path):
    s = open_store(tmp_path)
    yield s
    s.close()


def _call(st):
    uid = st.get_user_by_name("u") or None
    if uid is None:
        st.add_user("u", "trainee", password="secret-1")
    uid = st.get_user_by_name("u")["id"]
    st.add_persona_version("p1", PERSONA_YAML, title="测试")
    return st.create_session(uid, "p1", 1, mode="practice", backend="scripted", state={"n": 0})


def test_new_file_is_wal_with_foreign_keys_and_latest_schema(st):
    assert st.journal_mode == "wal"
    assert st.schema_version() == len(MIGRATIONS)
    assert st.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert {"users", "groups", "personas", "assignments", "sessions", "turns", "findings",
            "overrides", "comments", "meta", "login_failures"} <= set(st.db.table_names())


def test_old_version_file_is_migrated_and_keeps_its_data(tmp_path):
    path = tmp_path / "peilian.db"
    old = core.StoreBase(path)
    with old.transaction():
        MIGRATIONS[0](old)
        old.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
    old.execute("INSERT INTO users (name, password_hash, roles, created) VALUES ('老王', 'x', 'trainee', 't')")
    old.close()
    assert "login_failures" not in sqlite3.connect(path).execute(
        "SELECT group_concat(name) FROM sqlite_master").fetchone()[0]

    st = open_store(tmp_path)
    assert st.schema_version() == len(MIGRATIONS)
    assert st.get_user_by_name("老王")["roles"] == "trainee"
    st.record_login_failure("k")
    assert st.login_failures("k", 60) == 1
    assert "lock_token" in st.db["sessions"].columns_dict
    st.close()
    # opening again is a no-op
    assert open_store(tmp_path).schema_version() == len(MIGRATIONS)


def test_version_2_file_gains_disabled_and_last_login_and_keeps_its_users(tmp_path):
    old = core.StoreBase(tmp_path / "peilian.db")
    with old.transaction():
        MIGRATIONS[0](old)
        MIGRATIONS[1](old)
        old.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '2')")
    old.execute("INSERT INTO users (name, password_hash, roles, created) VALUES ('老王', 'x', 'trainee', 't')")
    old.close()

    st = open_store(tmp_path)
    assert st.schema_version() == 3
    user = st.get_user_by_name("老王")
    assert (user["disabled"], user["last_login"]) == (0, None)
    st.set_disabled(user["id"], True)
    st.record_login(user["id"])
    listed = st.list_users()[0]
    assert listed["disabled"] == 1 and listed["last_login"].endswith("Z")
    st.set_disabled(user["id"], False)
    assert st.get_user(user["id"])["disabled"] == 0
    with pytest.raises(StoreError, match="no user"):
        st.set_disabled(999, True)
    st.close()


def test_file_from_a_newer_program_is_refused(tmp_path, st):
    st.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer than this program"):
        open_store(tmp_path)


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path):
    (tmp_path / "peilian.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a readable Peilian database"):
        open_store(tmp_path)


def test_users_passwords_and_roles(st):
    generated = st.add_user("小李", "trainee", group="一期")
    assert len(generated) >= 12
    assert st.check_password("小李", generated)["group_name"] == "一期"
    assert st.check_password("小李", "wrong") is None
    assert st.check_password("nobody", generated) is None
    assert "一期" in st.groups()
    assert st.get_user_by_name("小李")["password_hash"] != generated
    with pytest.raises(DuplicateUser, match="already exists"):
        st.add_user("小李", "trainer")
    with pytest.raises(StoreError, match="role"):
        st.add_user("x", "boss")
    with pytest.raises(StoreError, match="too short"):
        st.add_user("y", "trainee", password="123")
    st.add_user("双", "trainer,supervisor", password="secret-2")
    assert [u["name"] for u in st.list_users("supervisor")] == ["双"]


def test_passwords_are_hashed_with_scrypt_by_default(st, monkeypatch):
    from simulator.store import users
    monkeypatch.setattr(users, "PASSWORD_METHOD", "scrypt")
    st.add_user("默认", "trainee", password="secret-9")
    assert st.get_user_by_name("默认")["password_hash"].startswith("scrypt:")
    assert st.check_password("默认", "secret-9")


def test_persona_versions_are_kept_and_unchanged_text_adds_none(st):
    assert st.add_persona_version("p1", PERSONA_YAML, title="一") == (1, True)
    assert st.add_persona_version("p1", PERSONA_YAML, title="一") == (1, False)
    assert st.add_persona_version("p1", PERSONA_YAML + "# v2\n", title="二", scenarios=["angry"]) == (2, True)
    assert st.get_persona("p1")["title"] == "二"
    assert st.get_persona("p1", 1)["yaml"] == PERSONA_YAML
    assert st.get_persona("p1")["scenarios"] == ["angry"]
    assert [p["version"] for p in st.list_personas()] == [2]


def test_append_turn_is_idempotent_and_writes_turn_findings_state_together(st):
    sid = _call(st)
    finding = {"turn": 1, "rule": "opening.greeting", "verdict": "missing", "severity": "major",
               "dimension": "流程", "evidence": "", "span": None, "message": "m", "suggestion": "s",
               "source": {"seed": "a.txt", "clause": "c"}, "tags": ["opening"]}
    assert st.append_turn(sid, 0, {"role": "caller", "text": "喂", "at": 0.0}, state={"n": 1})
    assert st.append_turn(sid, 1, {"role": "agent", "text": "嗯", "at": 3.5}, [finding], {"n": 2})
    assert not st.append_turn(sid, 1, {"role": "agent", "text": "again", "at": 4.0}, [finding], {"n": 9})
    assert [t["text"] for t in st.turns(sid)] == ["喂", "嗯"]
    assert st.get_session(sid)["state"] == {"n": 2}
    [f] = st.findings(sid)
    assert f["rule"] == "opening.greeting" and f["source"]["seed"] == "a.txt" and f["tags"] == ["opening"]


def test_a_failed_turn_write_leaves_nothing_half_written(st):
    sid = _call(st)
    bad = {"turn": 0, "rule": None, "verdict": "ok"}  # rule is NOT NULL
    with pytest.raises(StoreError):
        st.append_turn(sid, 0, {"role": "caller", "text": "喂"}, [bad], state={"n": 5})
    assert st.turns(sid) == []
    assert st.get_session(sid)["state"] == {"n": 0}


def test_finish_session_replaces_live_findings_with_the_report(st):
    sid = _call(st)
    st.add_findings(sid, [{"turn": 1, "rule": "live.only", "verdict": "violation"}])
    report = {"score": 61.5, "passed": False, "auto_fail": False, "phrasebook": {"version": "v7"},
              "findings": [{"turn": None, "rule": "closing.thanks-goodbye", "verdict": "missing"}]}
    st.finish_session(sid, report, end_reason="agent_hangup", state={"n": 3})
    s = st.get_session(sid)
    assert (s["status"], s["end_reason"], s["score"], s["passed"]) == ("ended", "agent_hangup", 61.5, 0)
    assert s["report"]["phrasebook"]["version"] == "v7" and s["phrasebook_version"] == "v7"
    assert [f["rule"] for f in st.findings(sid)] == ["closing.thanks-goodbye"]
    with pytest.raises(StoreError, match="not in the store"):
        st.finish_session("nope", report, end_reason="x")


def test_the_latest_override_wins_and_dismissed_findings_leave_the_progress_counts(st):
    sid = _call(st)
    uid = st.get_session(sid)["user_id"]
    st.finish_session(sid, {"score": 50, "findings": [{"turn": 1, "rule": "a.x", "verdict": "violation"},
                                                      {"turn": 1, "rule": "a.y", "verdict": "violation"}]},
                      end_reason="agent_hangup")
    fx = st.findings(sid)[0]["id"]
    st.execute("INSERT INTO overrides (finding_id, verdict, comment, by, at) VALUES (?, 'violation', '先维持', ?, 't1')",
               (fx, uid))
    assert st.findings(sid)[0]["override"]["verdict"] == "violation"
    assert {r["rule"] for r in st.rule_counts_for_user(uid)} == {"a.x", "a.y"}
    st.execute("INSERT INTO overrides (finding_id, verdict, comment, by, at) VALUES (?, 'dismissed', '误判', ?, 't2')",
               (fx, uid))
    ov = st.findings(sid)[0]["override"]
    assert (ov["verdict"], ov["comment"], ov["by_name"]) == ("dismissed", "误判", "u")
    assert st.findings(sid)[1]["override"] is None
    assert [r["rule"] for r in st.rule_counts_for_user(uid)] == ["a.y"]


def test_call_lock_lets_one_writer_in_at_a_time(st):
    sid = _call(st)
    token = st.lock_call(sid)
    assert token and st.lock_call(sid) is None
    st.unlock_call(sid, token)
    assert st.lock_call(sid, seconds=-1)          # an expired lease can be taken over
    assert st.lock_call(sid)


def test_a_lease_is_renewed_only_by_its_holder(st):
    sid = _call(st)
    token = st.lock_call(sid, seconds=-1)        # ran out, but nobody took it: still ours
    assert st.renew_call(sid, token, 15) and st.lock_call(sid) is None
    assert not st.renew_call(sid, "someone-else", 15)
    st.unlock_call(sid, token)
    late = st.lock_call(sid, seconds=-1)
    newer = st.lock_call(sid)                    # the late holder's lease ran out and was taken
    assert not st.renew_call(sid, late, 15) and st.renew_call(sid, newer, 15)
    st.finish_session(sid, {"score": 1, "findings": []}, end_reason="agent_hangup")
    assert not st.renew_call(sid, newer, 15)     # the call is over: nothing left to hold


def test_recover_interrupted_marks_only_stale_active_calls(st):
    old, fresh = _call(st), _call(st)
    st.execute("UPDATE sessions SET updated_ts = updated_ts - 10000 WHERE id = ?", (old,))
    assert st.recover_interrupted(stale_after_s=3600) == [old]
    assert st.get_session(old)["status"] == "interrupted"
    assert st.get_session(fresh)["status"] == "active"


def test_session_ids_are_not_guessable(st):
    ids = {_call(st) for _ in range(5)}
    assert len(ids) == 5 and all(len(i) >= 16 and not i.isdigit() for i in ids)


def test_a_locked_database_is_a_clear_store_error(tmp_path, monkeypatch):
    monkeypatch.setattr(core, "BUSY_TIMEOUT_MS", 50)
    st = open_store(tmp_path)
    other = sqlite3.connect(tmp_path / "peilian.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="busy"):
            st.add_user("z", "trainee")
    finally:
        other.execute("ROLLBACK")
    st.add_user("z", "trainee")  # nothing was left half-done
    assert st.get_user_by_name("z")


def test_a_full_disk_is_a_clear_store_error_and_nothing_is_half_written(st):
    sid = _call(st)
    st.append_turn(sid, 0, {"role": "caller", "text": "喂"}, state={"n": 1})
    pages = st.db.execute("PRAGMA page_count").fetchone()[0]
    st.db.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: SQLITE_FULL
    big = [{"turn": 1, "rule": f"r.{i}", "verdict": "violation", "message": "长" * 2000} for i in range(20)]
    with pytest.raises(StoreError, match="full; nothing was written"):
        st.append_turn(sid, 1, {"role": "agent", "text": "嗯" * 3000}, big, state={"n": 2})
    assert [t["idx"] for t in st.turns(sid)] == [0] and st.findings(sid) == []
    assert st.get_session(sid)["state"] == {"n": 1}


def test_cli_users_add(tmp_path):
    r = CliRunner().invoke(cli, ["users", "add", "王五", "--role", "trainee", "--group", "一期",
                                 "--data", str(tmp_path)])
    assert r.exit_code == 0, r.output
    password = r.output.strip().rsplit("password: ", 1)[1]
    assert open_store(tmp_path).check_password("王五", password)
    r = CliRunner().invoke(cli, ["users", "add", "王五", "--role", "trainee", "--data", str(tmp_path)])
    assert r.exit_code == 2 and "Error: user 王五 already exists" in r.output


def test_cli_users_list_reset_password_disable(tmp_path):
    data = ["--data", str(tmp_path)]
    run = lambda *args: CliRunner().invoke(cli, ["users", *args, *data])  # noqa: E731
    first = run("add", "王五", "--role", "trainee", "--group", "一期").output.rsplit("password: ", 1)[1].strip()
    run("add", "李主管", "--role", "admin", "--password", "long-secret-1")
    r = run("list")
    assert r.exit_code == 0 and r.output.splitlines() == ["李主管\tadmin\t-\tnever\tactive",
                                                          "王五\ttrainee\t一期\tnever\tactive"]
    assert run("list", "--role", "admin").output.splitlines() == ["李主管\tadmin\t-\tnever\tactive"]
    # a new password replaces the old one
    r = run("reset-password", "王五")
    assert r.exit_code == 0, r.output
    new = r.output.strip().rsplit("new password: ", 1)[1]
    store = open_store(tmp_path)
    assert store.check_password("王五", new) and not store.check_password("王五", first)
    # too short a password, or an unknown name: exit 2, nothing changed
    r = run("reset-password", "王五", "--password", "short")
    assert r.exit_code == 2 and "密码太短" in r.output and store.check_password("王五", new)
    r = run("disable", "张三")
    assert r.exit_code == 2 and "no user named '张三'" in r.output
    assert run("disable", "王五").exit_code == 0
    assert run("list", "--role", "trainee").output.split("\t")[-1].strip() == "disabled"
    assert run("disable", "王五", "--enable").exit_code == 0
    assert run("list", "--role", "trainee").output.split("\t")[-1].strip() == "active"
