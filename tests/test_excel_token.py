"""Issue 15 §6 (low): RO_CASES / RO_KPI know the analyst by a personal token kept by the store, not by a
name in an environment variable anyone can type (REVIEWOPS_USER=boss read every shop before the fix)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from reviewops import excel as x
from reviewops.core import store as stmod
from reviewops.cli import main
from reviewops.core.errors import AccessDenied
from reviewops.core.users import actor_for_token, issue_token, revoke_token, set_active

from wb_fixtures import make_case, make_users


@pytest.fixture
def shop_db(sqlite_store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    make_case(sqlite_store, tmp_path, text="物流太慢了，快递员电话13900139000也打不通", shop="甲店")
    make_case(sqlite_store, tmp_path, text="少发了一件，客服也不理人", shop="乙店")
    with sqlite_store.read() as conn:
        shops = dict(conn.execute(sa.select(stmod.shops.c.name, stmod.shops.c.id)).all())
    make_users(sqlite_store, a1=str(shops["甲店"]))
    tokens = {n: issue_token(sqlite_store, n, actor="test") for n in ("a1", "boss")}
    path = Path(sqlite_store.url[len("sqlite:///"):])
    monkeypatch.setenv("REVIEWOPS_DB", str(path))
    monkeypatch.delenv("REVIEWOPS_TOKEN", raising=False)
    x._close_stores()
    yield sqlite_store, path, tokens
    x._close_stores()


def _refusals(store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(stmod.access_log).where(
            stmod.access_log.c.action == "read", stmod.access_log.c.outcome == "denied")).mappings()]


def test_naming_the_owner_no_longer_reads_every_shop(shop_db, monkeypatch):
    store, _path, tokens = shop_db
    monkeypatch.setenv("REVIEWOPS_USER", "boss")  # what anyone could type before
    out = x.ro_cases()
    assert isinstance(out, str) and out.startswith("#错误") and "令牌" in out
    assert isinstance(x.ro_kpi("评价数", 46342.0, 46348.0), str)
    monkeypatch.setenv("REVIEWOPS_TOKEN", tokens["a1"])  # the agent's own token: 甲店 only, whatever USER says
    assert {r[3] for r in x.ro_cases()[1:]} == {"甲店"}
    monkeypatch.setenv("REVIEWOPS_TOKEN", tokens["boss"])
    assert {r[3] for r in x.ro_cases()[1:]} == {"甲店", "乙店"}
    refused = _refusals(store)
    assert {r["target"] for r in refused} == {"excel:RO_CASES", "excel:RO_KPI"}
    assert all(r["actor"].startswith("excel:") for r in refused)


def test_a_wrong_revoked_or_disabled_token_is_refused_and_logged_without_the_token(shop_db, monkeypatch):
    store, path, tokens = shop_db
    monkeypatch.setenv("REVIEWOPS_TOKEN", tokens["a1"][:-2] + "xx")
    assert "令牌无效" in x.ro_cases()
    new = issue_token(store, "a1", actor="boss")  # a new token replaces the old one
    monkeypatch.setenv("REVIEWOPS_TOKEN", tokens["a1"])
    assert "令牌无效" in x.ro_cases()
    monkeypatch.setenv("REVIEWOPS_TOKEN", new)
    assert x.ro_cases()[0][0] == "案件号"
    set_active(store, "a1", False, actor="boss")
    assert "停用" in x.ro_cases()
    set_active(store, "a1", True, actor="boss")
    assert revoke_token(store, "a1", actor="boss") is True
    assert "令牌无效" in x.ro_cases()
    refused = _refusals(store)
    assert len(refused) == 4
    logged = " ".join(str(v) for r in refused for v in r.values())
    assert new not in logged and tokens["a1"] not in logged
    raw = path.read_bytes() + (Path(str(path) + "-wal").read_bytes() if Path(str(path) + "-wal").exists() else b"")
    assert new.encode() not in raw and tokens["boss"].encode() not in raw  # only hashes are kept


def test_actor_for_token(shop_db):
    store, _path, tokens = shop_db
    assert actor_for_token(store, tokens["a1"]).name == "a1"
    for bad in (None, "", "   ", "boss", "rot_" + "A" * 43):
        with pytest.raises(AccessDenied):
            actor_for_token(store, bad)


def test_cli_users_token_prints_it_once_and_revokes(shop_db, capsys):
    store, path, _tokens = shop_db
    assert main(["users", "token", "a2", "--db", str(path)]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("rot_") and actor_for_token(store, token).name == "a2"
    assert main(["users", "token", "a2", "--revoke", "--db", str(path)]) == 0
    assert "作废" in capsys.readouterr().out
    with pytest.raises(AccessDenied):
        actor_for_token(store, token)
    assert main(["users", "token", "nobody", "--db", str(path)]) != 0
