"""Survey answers and training records (reviewops.intake.surveys): validation, links, idempotent import."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from reviewops.core import store as st
from reviewops.core.errors import ConfigError, ImportRejected, NotFound
from reviewops.intake.surveys import KINDS, import_surveys, record_survey, record_training
from reviewops.core.users import add_user

AT = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
HEAD = "问卷编号,类型,分数,订单号,回答时间\n"


def _shop(store) -> int:
    with store.write() as conn:
        return store.shop_id(conn, "taobao", "问卷店")


def _rows(store) -> list[tuple]:
    with store.read() as conn:
        return [tuple(r) for r in conn.execute(sa.select(st.surveys.c.survey_key, st.surveys.c.kind,
                                                         st.surveys.c.score, st.surveys.c.order_id,
                                                         st.surveys.c.customer_id, st.surveys.c.answered_at)
                                               .order_by(st.surveys.c.survey_key))]


def test_record_survey_links_the_order_and_is_idempotent(store):
    shop = _shop(store)
    with store.write() as conn:
        cust = conn.execute(st.customers.insert().values(shop_id=shop, customer_key="c1", nick_masked="张*",
                                                         nick_is_masked=True, created_at=AT)
                            .returning(st.customers.c.id)).scalar_one()
        conn.execute(st.orders.insert().values(shop_id=shop, order_id="0012", customer_id=cust, created_at=AT,
                                               paid_fen=100))
    assert record_survey(store, shop_id=shop, survey_key="k1", kind="csat", score=5, answered_at=AT, order_id="0012")
    assert not record_survey(store, shop_id=shop, survey_key="k1", kind="csat", score=1, answered_at=AT)
    assert _rows(store) == [("k1", "csat", 5, "0012", cust, AT)]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"kind": "ces", "score": 3}, "ces"),
    ({"kind": "csat", "score": 0}, "1–5.*0"),
    ({"kind": "csat", "score": 6}, "6"),
    ({"kind": "nps", "score": 11}, "0–10.*11"),
    ({"kind": "nps", "score": 7.5}, "7.5"),
    ({"kind": "nps", "score": True}, "True"),
    ({"kind": "csat", "score": 4, "answered_at": dt.datetime(2026, 11, 20)}, "时区"),
    ({"kind": "csat", "score": 4, "survey_key": " "}, "问卷编号为空"),
])
def test_record_survey_refuses_bad_values(sqlite_store, kwargs, match):
    shop = _shop(sqlite_store)
    args = {"shop_id": shop, "survey_key": "k", "answered_at": AT, **kwargs}
    with pytest.raises(ConfigError, match=match):
        record_survey(sqlite_store, **args)
    assert _rows(sqlite_store) == []


def test_record_survey_unknown_shop(sqlite_store):
    with pytest.raises(NotFound, match="99"):
        record_survey(sqlite_store, shop_id=99, survey_key="k", kind="nps", score=9, answered_at=AT)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=hs.sampled_from(sorted(KINDS)), score=hs.integers(-3, 13))
def test_scores_accepted_exactly_in_range(sqlite_store, kind, score):
    shop = _shop(sqlite_store)
    lo, hi = {"csat": (1, 5), "nps": (0, 10)}[kind]
    key = f"p-{kind}-{score}"
    if lo <= score <= hi:
        record_survey(sqlite_store, shop_id=shop, survey_key=key, kind=kind, score=score, answered_at=AT)
    else:
        with pytest.raises(ConfigError):
            record_survey(sqlite_store, shop_id=shop, survey_key=key, kind=kind, score=score, answered_at=AT)


def test_import_csv_reports_every_bad_row_and_writes_nothing(sqlite_store, tmp_path):
    shop = _shop(sqlite_store)
    f = tmp_path / "s.csv"
    f.write_text(HEAD + "a1,csat,5,001,2026-11-20 10:00\n"
                        ",nps,9,,2026-11-20 10:00\n"
                        "a3,csat,9,,2026-11-20 10:00\n"
                        "a4,ces,3,,2026-11-20 10:00\n"
                        "a1,nps,x,,2026-11-20 10:00\n"
                        "a6,nps,8,,yesterday\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as e:
        import_surveys(sqlite_store, f, shop_id=shop)
    got = [(p.row, p.column, p.value) for p in e.value.problems]
    assert got == [(3, "问卷编号", ""), (4, "分数", "9"), (5, "类型", "ces"), (6, "问卷编号", "a1"), (6, "分数", "x"),
                   (7, "回答时间", "yesterday")]
    assert "第4行" in str(e.value) and "分数" in str(e.value) and "'9'" in str(e.value)
    assert _rows(sqlite_store) == []
    res = import_surveys(sqlite_store, f, shop_id=shop, skip_bad_rows=True)
    assert (res.inserted, len(res.problems)) == (1, 6)
    # the answer time without a zone is Asia/Shanghai: 10:00 +08 = 02:00 UTC
    assert _rows(sqlite_store) == [("a1", "csat", 5, "001", None, AT)]


def test_import_xlsx_idempotent_and_missing_column(sqlite_store, tmp_path):
    shop = _shop(sqlite_store)
    f = tmp_path / "s.xlsx"
    pd.DataFrame({"问卷编号": ["x1", "x2"], "类型": ["NPS", "csat"], "分数": [10, 3], "订单号": ["0099", None],
                  "回答时间": ["2026-11-20 10:00:00", "2026-11-21 08:00:00"]}).to_excel(f, index=False)
    first = import_surveys(sqlite_store, f, shop_id=shop)
    again = import_surveys(sqlite_store, f, shop_id=shop)
    assert (first.inserted, first.duplicates, again.inserted, again.duplicates) == (2, 0, 0, 2)
    assert [r[:4] for r in _rows(sqlite_store)] == [("x1", "nps", 10, "0099"), ("x2", "csat", 3, None)]
    bad = tmp_path / "b.csv"
    bad.write_text("问卷编号,类型,分数\nz,csat,4\n", encoding="utf-8")
    with pytest.raises(ImportRejected, match="订单号"):
        import_surveys(sqlite_store, bad, shop_id=shop)
    with pytest.raises(NotFound):
        import_surveys(sqlite_store, f, shop_id=42)


def test_record_training_validation(store):
    add_user(store, "xiaozhang", role="agent", password="password1", actor="t")
    rid = record_training(store, agent="xiaozhang", module="emotion", at=AT, passed=True, recorded_by="laoli")
    record_training(store, agent="xiaozhang", module="knowledge", at=AT, score=88.5, recorded_by="laoli")
    with store.read() as conn:
        rows = conn.execute(sa.select(st.training_records.c.id, st.training_records.c.module,
                                      st.training_records.c.passed, st.training_records.c.score)
                            .order_by(st.training_records.c.id)).all()
    assert [tuple(r) for r in rows] == [(rid, "emotion", True, None), (rid + 1, "knowledge", None, 88.5)]
    for kwargs, match in [({"module": "yoga", "passed": True}, "yoga"), ({"module": "emotion"}, "passed"),
                          ({"module": "knowledge", "score": 101}, "101"), ({"module": "knowledge"}, "score"),
                          ({"module": "emotion", "passed": "yes"}, "passed"),
                          ({"module": "emotion", "passed": True, "at": dt.datetime(2026, 1, 1)}, "时区")]:
        args = {"agent": "xiaozhang", "at": AT, "recorded_by": "laoli", **kwargs}
        with pytest.raises(ConfigError, match=match):
            record_training(store, **args)
    with pytest.raises(NotFound, match="nobody"):
        record_training(store, agent="nobody", module="emotion", at=AT, passed=False, recorded_by="laoli")


def test_cli_surveys_import(sqlite_db_url, tmp_path):
    from reviewops.cli import main
    from reviewops.core.store import Store

    with Store.open(sqlite_db_url) as s:
        shop = _shop(s)
    f = tmp_path / "s.csv"
    f.write_text(HEAD + "c1,nps,9,,2026-11-20 10:00\nc2,nps,99,,2026-11-20 10:00\n", encoding="utf-8")
    assert main(["surveys", "import", str(f), "--shop", str(shop), "--db", sqlite_db_url]) != 0
    assert main(["surveys", "import", str(f), "--shop", str(shop), "--skip-bad-rows", "--db", sqlite_db_url]) == 0
    with Store.open(sqlite_db_url) as s:
        assert [r[0] for r in _rows(s)] == ["c1"]
