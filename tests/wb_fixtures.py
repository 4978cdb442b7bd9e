"""Small builders for workbench tests: a negative review with its order and customer, and users."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from pathlib import Path

import sqlalchemy as sa
from reviewops import import_file, triage_store
from reviewops.core import store as stmod
from reviewops.core.users import add_user, get_actor

HEADER = ["订单编号", "买家昵称", "评价结果", "评价内容", "评价时间", "宝贝标题", "追评内容", "追评时间", "解释内容"]
_seq = itertools.count(1)

USERS = {"a1": "agent", "a2": "agent", "s1": "supervisor", "s2": "supervisor", "l1": "legal", "boss": "admin"}


def make_users(store, **shops) -> dict:
    """The standard cast (agents a1/a2, supervisors s1/s2, legal l1, admin boss) as Actors."""
    out = {}
    for name, role in USERS.items():
        add_user(store, name, role=role, password="password1", actor="test", shops=shops.get(name))
        out[name] = get_actor(store, name)
    return out


def make_case(store, tmp_path: Path, *, paid_fen: int | None = 8900, customer: str = "cust1",
              text: str = "少发了一件，客服也不理人", shop: str = "测试店", platform: str = "taobao",
              created: dt.datetime | None = None, nick: str = "张三") -> int:
    """Import one bad review (and its order for ``customer``), triage it, return the case id."""
    n = next(_seq)
    order_id = f"28412345678901{n:05d}"
    path = tmp_path / f"r{n}.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([HEADER, [order_id, nick, "差评", text, "2026-11-20 10:00:00", "外套", "", "", ""]])
    import_file(store, path, platform=platform, kind="reviews", shop=shop)
    now = created or stmod.utcnow()
    with store.write() as conn:
        shop_id = conn.execute(sa.select(stmod.shops.c.id).where(stmod.shops.c.name == shop,
                                                                 stmod.shops.c.platform == platform)).scalar_one()
        cust = conn.execute(sa.select(stmod.customers.c.id).where(stmod.customers.c.shop_id == shop_id,
                                                                  stmod.customers.c.customer_key == customer)).scalar()
        if cust is None:
            cust = conn.execute(stmod.customers.insert().values(
                shop_id=shop_id, customer_key=customer, nick_masked="张*", nick_is_masked=True, created_at=now)
                .returning(stmod.customers.c.id)).scalar_one()
        if paid_fen is not None:
            conn.execute(stmod.orders.insert().values(shop_id=shop_id, order_id=order_id, customer_id=cust,
                                                      created_at=now - dt.timedelta(days=5), paid_fen=paid_fen,
                                                      goods_fen=paid_fen, receiver_phone_masked="138****8000"))
        conn.execute(stmod.reviews.update().where(stmod.reviews.c.shop_id == shop_id,
                                                  stmod.reviews.c.order_id == order_id).values(customer_id=cust))
    ids = triage_store(store, model=False).case_ids
    assert len(ids) == 1, ids
    return ids[0]


def case_row(store, case_id: int) -> dict:
    with store.read() as conn:
        return dict(conn.execute(sa.select(stmod.cases).where(stmod.cases.c.id == case_id)).mappings().one())


def ledger_rows(store, case_id: int) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(stmod.compensations).where(
            stmod.compensations.c.case_id == case_id).order_by(stmod.compensations.c.id)).mappings()]


def access_rows(store, action: str | None = None) -> list[dict]:
    with store.read() as conn:
        q = sa.select(stmod.access_log).order_by(stmod.access_log.c.id)
        if action:
            q = q.where(stmod.access_log.c.action == action)
        return [dict(r) for r in conn.execute(q).mappings()]


def run_notebook(nb_path: Path, env: dict[str, str]):
    """Execute a form notebook with ``env`` set in this process (the kernel inherits it), restoring the
    environment afterwards; returns the executed notebook."""
    import nbformat
    from nbclient import NotebookClient

    from reviewops.core.environ import patched_environ

    nb = nbformat.read(nb_path, as_version=4)
    with patched_environ(env):  # the kernel inherits it
        NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    return nb
