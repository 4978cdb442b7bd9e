"""Users, roles and the access log (issue 4): password hashing, user changes, self-elevation (S-08),
the append-only access log, the ``reviewops users`` commands and the demo users."""

from __future__ import annotations

import getpass
import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from reviewops.core import store as st
from reviewops.cli import cli, main
from reviewops.demo import DEMO_USERS, create_demo_users
from reviewops.core.errors import AccessDenied, ConfigError, NotFound
from reviewops.core.users import (
    add_user,
    get_actor,
    hash_password,
    list_users,
    log_denied,
    set_active,
    set_password,
    set_role,
    user_row,
    verify_password,
)


def _log(store, **where):
    with store.read() as conn:
        q = sa.select(st.access_log).order_by(st.access_log.c.id)
        for k, v in where.items():
            q = q.where(st.access_log.c[k] == v)
        return [dict(r) for r in conn.execute(q).mappings()]


# ------------------------------------------------------------------ passwords
def test_password_hash_is_salted_scrypt_and_verifies():
    h1, h2 = hash_password("correct horse"), hash_password("correct horse")
    assert h1.startswith("scrypt$16384$8$1$") and h1 != h2  # random salt
    assert "correct horse" not in h1
    assert verify_password("correct horse", h1) and verify_password("correct horse", h2)
    assert not verify_password("correct hors", h1)
    assert not verify_password("Correct horse", h1)


@pytest.mark.parametrize("stored", [None, "", "plain", "md5$x$y", "scrypt$16384$8$1$!!!$???",
                                    "scrypt$16384$8$1$c2FsdA==", "scrypt$3$8$1$c2FsdA==$ZGlnZXN0"])
def test_verify_password_refuses_missing_or_damaged_hashes(stored):
    assert verify_password("whatever1", stored) is False


def test_short_password_is_refused_with_a_clear_message():
    with pytest.raises(ConfigError, match="至少 8 位.*at least 8"):
        hash_password("short")


# ---------------------------------------------------------------------- users
def test_add_list_disable_enable_and_actor(store):
    add_user(store, "xiaowang", role="agent", password="password1", shops=[2, 1], display_name="客服小王", actor="t")
    add_user(store, "boss", role="admin", actor="t")  # no password: proxy sign-in only
    rows = {r["name"]: r for r in list_users(store)}
    assert list(rows) == ["boss", "xiaowang"]
    assert rows["xiaowang"] | {"created_at": None} == {
        "name": "xiaowang", "display_name": "客服小王", "role": "agent", "shops": "1;2", "active": True,
        "has_password": True, "created_at": None}
    assert rows["boss"]["has_password"] is False and rows["boss"]["shops"] == "*"
    assert all("password_hash" not in r for r in rows.values())
    actor = get_actor(store, "xiaowang")
    assert (actor.role, actor.role_zh, actor.shops, actor.can_unmask) == ("agent", "普通客服", frozenset({1, 2}), False)
    assert actor.may_see_shop(1) and not actor.may_see_shop(3)
    with pytest.raises(AccessDenied, match="店铺 3"):
        actor.check_shop(3, what="案件")
    assert get_actor(store, "boss").shops is None

    set_active(store, "xiaowang", False, actor="t")
    with pytest.raises(AccessDenied, match="不存在或已停用"):
        get_actor(store, "xiaowang")
    set_active(store, "xiaowang", True, actor="t")
    assert get_actor(store, "xiaowang").name == "xiaowang"

    old = user_row(store, "xiaowang")["password_hash"]
    set_password(store, "xiaowang", "new-password-2", actor="t")
    new = user_row(store, "xiaowang")["password_hash"]
    assert new != old and verify_password("new-password-2", new) and not verify_password("password1", new)


@pytest.mark.parametrize("name", ["", "with space", "a" * 65, "名字", "x:y", "<script>"])
def test_bad_user_names_are_refused(sqlite_store, name):
    with pytest.raises(ConfigError, match="用户名"):
        add_user(sqlite_store, name, role="agent", password="password1", actor="t")


def test_duplicate_unknown_role_and_missing_user(sqlite_store):
    add_user(sqlite_store, "a1", role="agent", password="password1", actor="t")
    with pytest.raises(ConfigError, match="已存在"):
        add_user(sqlite_store, "a1", role="agent", password="password1", actor="t")
    with pytest.raises(ConfigError, match="未知角色 'boss'.*agent、supervisor、legal、admin"):
        add_user(sqlite_store, "a2", role="boss", password="password1", actor="t")
    with pytest.raises(ConfigError, match="店铺编号应为数字"):
        add_user(sqlite_store, "a3", role="agent", shops="1,x", actor="t")
    with pytest.raises(NotFound, match="'ghost'"):
        set_active(sqlite_store, "ghost", False, actor="t")
    with pytest.raises(NotFound):
        set_role(sqlite_store, "ghost", "agent", actor="boss")
    assert [r["name"] for r in list_users(sqlite_store)] == ["a1"]


def test_set_role_changes_role_and_shops(store):
    add_user(store, "a1", role="agent", password="password1", shops=[1], actor="t")
    set_role(store, "a1", "supervisor", actor="boss", shops="*")
    actor = get_actor(store, "a1")
    assert (actor.role, actor.shops) == ("supervisor", None)
    rows = _log(store, action="user_change", target="a1")
    assert rows[-1]["actor"] == "boss" and rows[-1]["outcome"] == "ok"
    assert json.loads(rows[-1]["detail_json"]) == {"role": "supervisor", "shops": "*"}


@pytest.mark.parametrize("actor", ["a1", "cli:a1", "user:a1"])
def test_self_elevation_is_denied_and_audited(store, actor):
    """S-08: an agent cannot edit their own role — directly or through the CLI as the same OS user."""
    add_user(store, "a1", role="agent", password="password1", actor="t")
    with pytest.raises(AccessDenied, match="不能修改自己的角色"):
        set_role(store, "a1", "admin", actor=actor)
    assert get_actor(store, "a1").role == "agent"
    denied = _log(store, action="user_change", outcome="denied")
    assert len(denied) == 1 and denied[0]["actor"] == actor and denied[0]["target"] == "a1"
    assert json.loads(denied[0]["detail_json"]) == {"role": "admin"}


def test_access_log_rows_and_append_only(store):
    add_user(store, "a1", role="agent", password="password1", actor="cli:root")
    set_password(store, "a1", "password-2", actor="cli:root")
    log_denied(store, get_actor(store, "a1"), "approve", AccessDenied("不能批准自己的申请"), case_id=7, shop_id=1)
    rows = _log(store)
    assert [(r["actor"], r["action"], r["outcome"], r["target"]) for r in rows] == [
        ("cli:root", "user_add", "ok", "a1"), ("cli:root", "user_change", "ok", "a1"), ("a1", "approve", "denied", None)]
    assert json.loads(rows[0]["detail_json"]) == {"role": "agent", "shops": "*"}
    assert json.loads(rows[1]["detail_json"]) == {"password": "changed"}  # never the password itself
    assert (rows[2]["role"], rows[2]["case_id"], rows[2]["shop_id"]) == ("agent", 7, 1)
    assert "password-2" not in json.dumps(rows, default=str)
    assert all(r["at"].tzinfo is not None for r in rows)
    for stmt in (st.access_log.update().values(outcome="ok"), st.access_log.delete()):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.write() as conn:
            conn.execute(stmt)
    assert len(_log(store)) == 3


# ------------------------------------------------------------------ demo users
def test_create_demo_users_once_with_the_given_password(sqlite_store, monkeypatch):
    monkeypatch.delenv("REVIEWOPS_DEMO_PASSWORD", raising=False)
    add_user(sqlite_store, "laoli", role="supervisor", password="his-own-pw", actor="t")
    made = create_demo_users(sqlite_store, "demo-pass-1")
    assert [(u["name"], u["role"], u["display_name"]) for u in made] == list(DEMO_USERS)
    assert [u["created"] for u in made] == [True, False, True, True, True, True]
    assert [u["password"] for u in made] == ["demo-pass-1", None, "demo-pass-1", "demo-pass-1", "demo-pass-1",
                                             "demo-pass-1"]
    assert verify_password("his-own-pw", user_row(sqlite_store, "laoli")["password_hash"])  # left alone
    for name, role, display in DEMO_USERS:
        actor = get_actor(sqlite_store, name)
        assert (actor.role, actor.display_name if name != "laoli" else display, actor.shops) == (role, display, None)
    assert all(not u["created"] for u in create_demo_users(sqlite_store, "other-pass-2"))  # idempotent
    assert verify_password("demo-pass-1", user_row(sqlite_store, "xiaowang")["password_hash"])


def test_demo_password_from_env_or_random(tmp_path, monkeypatch):
    from reviewops.core.store import Store

    monkeypatch.setenv("REVIEWOPS_DEMO_PASSWORD", "env-pass-123")
    with Store.open(tmp_path / "a.db") as s:
        assert {u["password"] for u in create_demo_users(s)} == {"env-pass-123"}
    monkeypatch.delenv("REVIEWOPS_DEMO_PASSWORD")
    with Store.open(tmp_path / "b.db") as s:
        pws = {u["password"] for u in create_demo_users(s)}
        assert len(pws) == 1 and len(pws.pop()) >= 12


def test_demo_refuses_a_short_password_before_building(tmp_path, capsys):
    assert main(["demo", "--db", str(tmp_path / "d.db"), "--demo-password", "short"]) == 2
    assert "至少 8 位" in capsys.readouterr().err
    assert not (tmp_path / "d.db").exists()


# ------------------------------------------------------------------------ CLI
@pytest.fixture
def runner():
    return CliRunner()


def _ok(result):
    assert result.exit_code == 0, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result.output


def test_cli_users_add_list_disable_enable(runner, sqlite_db_url):
    db = ["--db", sqlite_db_url]
    out = _ok(runner.invoke(cli, ["users", "add", "xiaowang", "--role", "agent", "--shop", "1", "--shop", "2",
                                  "--display-name", "客服小王", "--password-stdin", *db], input="pw-from-stdin\n"))
    assert "已添加用户 xiaowang" in out and "added user xiaowang" in out
    out = _ok(runner.invoke(cli, ["users", "add", "laoli", "--role", "supervisor", "--all-shops", *db],
                            input="typed-twice-1\ntyped-twice-1\n"))  # prompted twice
    assert "全部" in out
    out = _ok(runner.invoke(cli, ["users", "list", *db]))
    assert "xiaowang" in out and "客服小王" in out and "普通客服" in out and "1,2" in out and "scrypt" not in out
    rows = json.loads(_ok(runner.invoke(cli, ["users", "list", "--json", *db])))
    assert {r["name"]: (r["role"], r["shops"], r["active"]) for r in rows} == {
        "laoli": ("supervisor", "*", True), "xiaowang": ("agent", "1;2", True)}
    _ok(runner.invoke(cli, ["users", "disable", "xiaowang", *db]))
    assert [r["active"] for r in json.loads(_ok(runner.invoke(cli, ["users", "list", "--json", *db])))] == [True, False]
    _ok(runner.invoke(cli, ["users", "enable", "xiaowang", *db]))

    from reviewops.core.store import Store

    with Store.open(sqlite_db_url) as s:
        assert verify_password("pw-from-stdin", user_row(s, "xiaowang")["password_hash"])
        assert verify_password("typed-twice-1", user_row(s, "laoli")["password_hash"])
        me = f"cli:{getpass.getuser()}"
        assert [(r["actor"], r["action"]) for r in _log(s)] == [
            (me, "user_add"), (me, "user_add"), (me, "user_change"), (me, "user_change")]


def test_cli_prompt_mismatch_and_passwd(runner, sqlite_db_url):
    db = ["--db", sqlite_db_url]
    res = runner.invoke(cli, ["users", "add", "a1", "--role", "agent", *db], input="first-pw-1\nother-pw-2\n")
    assert res.exit_code != 0  # click re-prompts, then input runs out: nothing created
    _ok(runner.invoke(cli, ["users", "add", "a1", "--role", "agent", "--password-stdin", *db], input="first-pw-1\n"))
    out = _ok(runner.invoke(cli, ["users", "passwd", "a1", *db], input="second-pw-2\nsecond-pw-2\n"))
    assert "已更改 a1 的密码" in out
    from reviewops.core.store import Store

    with Store.open(sqlite_db_url) as s:
        assert verify_password("second-pw-2", user_row(s, "a1")["password_hash"])


def test_cli_set_role_and_self_elevation(runner, sqlite_db_url, capsys):
    db = ["--db", sqlite_db_url]
    me = getpass.getuser()
    for name in ("a1", me):
        _ok(runner.invoke(cli, ["users", "add", name, "--role", "agent", "--password-stdin", *db], input="password1\n"))
    out = _ok(runner.invoke(cli, ["users", "set-role", "a1", "supervisor", "--shop", "3", *db]))
    assert "supervisor" in out
    # the OS user cannot raise their own workbench role (S-08); refused, audited, exit 2 without a traceback
    assert main(["users", "set-role", me, "admin", *db]) == 2
    err = capsys.readouterr().err
    assert "不能修改自己的角色" in err and "Traceback" not in err
    from reviewops.core.store import Store

    with Store.open(sqlite_db_url) as s:
        assert (get_actor(s, "a1").role, get_actor(s, "a1").shops) == ("supervisor", frozenset({3}))
        assert get_actor(s, me).role == "agent"
        denied = _log(s, outcome="denied")
        assert [(r["actor"], r["target"]) for r in denied] == [(f"cli:{me}", me)]


@pytest.mark.parametrize("args, message", [
    (["users", "add", "a1", "--role", "nope", "--password-stdin"], "未知角色 'nope'"),
    (["users", "add", "a1", "--role", "agent", "--shop", "1", "--all-shops", "--password-stdin"], "二选一"),
    (["users", "add", "a b", "--role", "agent", "--password-stdin"], "用户名只能用"),
    (["users", "add", "a1", "--role", "agent", "--password-stdin"], "至少 8 位"),
    (["users", "passwd", "ghost", "--password-stdin"], "'ghost' 不存在"),
    (["users", "disable", "ghost"], "'ghost' 不存在"),
    (["users", "set-role", "ghost", "nope"], "未知角色"),
])
def test_cli_user_errors_are_bilingual_exit_2(sqlite_db_url, capsys, monkeypatch, args, message):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main([*args, "--db", sqlite_db_url]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_serve_refuses_before_starting(sqlite_db_url, capsys):
    """S-09 at the command line: no non-loopback --ip without --allow-remote; no users, no server."""
    assert main(["serve", "--db", sqlite_db_url, "--ip", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
    assert main(["serve", "--db", sqlite_db_url]) == 2
    err = capsys.readouterr().err
    assert "reviewops users add" in err and "reviewops demo" in err
    assert main(["serve", "--db", sqlite_db_url, "--trusted-proxy", "10.0.0.1"]) == 2
    assert "--trusted-header" in capsys.readouterr().err
