"""Triage: golden decisions on inline reviews, store cases (idempotent, audited), SLA recompute (R-10/R-11)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewops import (
    ConfigError,
    ConflictError,
    Policy,
    default_policy,
    import_file,
    open_queue,
    save_policy,
    triage,
    triage_store,
)
from reviewops.core import store as stmod
from reviewops.handling.cases import OPEN_STATES
from reviewops.cli import main
from reviewops.core.policy import TABLES, _json_to_cell
from reviewops.grading.triage import TRIAGE_OUTPUT
from reviewops.handling.opening import recategorize_case, recompute_due

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 10, 1, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai, a holiday


def _policy_with(**settings_: str) -> Policy:
    raw = {k: [{c: _json_to_cell(TABLES[k], c, v) for c, v in r.items()} for r in rows]
           for k, rows in default_policy().tables.items()}
    for r in raw["settings"]:
        if r["key"] in settings_:
            r["value"] = settings_[r["key"]]
    return Policy.from_tables(raw, source="test")


# ------------------------------------------------------------------ golden decisions
GOLDEN = [
    # text, rating, negative?, primary, owner, sla hours, severity
    ("物流太慢了，等了一个星期才到", 5, True, "logistics", "agent", 2.0, "medium"),
    ("质量太差，用了两天就坏了", 1, True, "quality", "supervisor", 4.0, "high"),
    ("不赔钱就差评，说到做到", None, True, "malicious", "legal", 1.0, "high"),
    ("说好的赠品没有送，少发了一件", 4, True, "missing_wrong", "agent", 2.0, "high"),
    ("很好，下次还来", 5, False, "", None, None, None),
    ("一般", "差评", True, None, None, None, None),  # bad rating alone is enough; category from text or other
]


def test_golden_decisions():
    df = pd.DataFrame({"content": [g[0] for g in GOLDEN], "rating": [g[1] for g in GOLDEN]})
    out = triage(df, now=NOW)
    assert list(out.columns[:2]) == ["content", "rating"]
    assert [c.name for c in TRIAGE_OUTPUT] == list(out.columns[2:])
    for (text, _r, neg, primary, owner, hours, sev), row in zip(GOLDEN, out.itertuples(index=False)):
        assert row.is_negative is neg or row.is_negative == neg, text
        if primary is not None:
            assert row.primary_category == primary, text
        if owner is not None:
            assert row.owner_role == owner and row.sla_hours == hours and row.severity == sev, text
        if neg:
            assert row.due_at == pd.Timestamp(NOW) + pd.Timedelta(hours=row.sla_hours), text
            assert "中差评" in row.reasons and "截止" in row.reasons
        else:
            assert pd.isna(row.due_at) and pd.isna(row.sla_hours) and pd.isna(row.owner_role)
            assert row.reasons.startswith("非中差评")
    malicious = out.iloc[2]
    assert bool(malicious.needs_appeal) and "需平台申诉" in malicious.reasons


def test_complaint_under_five_stars_is_a_case_and_says_why():
    out = triage(pd.DataFrame({"content": ["衣服好看，就是快递太慢了"], "rating": [5]}), now=NOW)
    row = out.iloc[0]
    assert row.is_negative and row.primary_category == "logistics"
    assert "文本负面分" in row.reasons and "快递太慢" in row.reasons


def test_alarm_word_raises_severity_and_forces_negative():
    out = triage(pd.DataFrame({"content": ["价格有点贵，再这样我就打12315"], "rating": [4]}), now=NOW)
    row = out.iloc[0]
    assert row.is_negative and row.severity == "high" and "12315" in row.reasons


def test_detected_and_posted_clock_start():
    df = pd.DataFrame({"content": ["物流太慢"], "rating": [1],
                       "created_at": ["2025-09-30 08:00:00"],  # Shanghai local
                       "detected_at": [dt.datetime(2025, 10, 2, 1, 0, tzinfo=UTC)]})
    detected = triage(df, now=NOW).iloc[0]
    assert detected.sla_start == pd.Timestamp("2025-10-02 01:00", tz="UTC")
    assert detected.due_at == pd.Timestamp("2025-10-02 03:00", tz="UTC")
    posted = triage(df, _policy_with(sla_start="posted"), now=NOW).iloc[0]
    assert posted.sla_start == pd.Timestamp("2025-09-30 00:00", tz="UTC")
    assert posted.due_at == pd.Timestamp("2025-09-30 02:00", tz="UTC")


def test_business_hours_skip_the_national_day_holiday():
    p = _policy_with(sla_clock="business", sla_start="posted")
    df = pd.DataFrame({"content": ["物流太慢"], "rating": [1], "created_at": ["2025-09-30 21:30:00"]})
    row = triage(df, p, now=NOW).iloc[0]
    # 30 min on Sep 30 (until 22:00), Oct 1–8 off, 90 min from 09:00 on Oct 9
    assert row.due_at == pd.Timestamp("2025-10-09 10:30", tz="Asia/Shanghai")
    assert "仅工作时间" in row.reasons


def test_missing_calendar_year_falls_back_visibly():
    p = _policy_with(sla_clock="business", sla_start="posted")
    df = pd.DataFrame({"content": ["物流太慢"], "rating": [1], "created_at": ["2031-02-03 10:00:00"]})
    row = triage(df, p, now=NOW).iloc[0]
    assert row.due_at == pd.Timestamp("2031-02-03 12:00", tz="Asia/Shanghai")
    assert "缺少 2031 年节假日数据" in row.reasons


def test_text_alias_extra_columns_and_order_are_kept():
    df = pd.DataFrame({"order_id": ["2841234567890123456", "2841234567890123457"], "text": ["很好", "太差了"]},
                      index=[10, 5])
    out = triage(df, now=NOW)
    assert list(out.index) == [10, 5] and list(out["order_id"]) == ["2841234567890123456", "2841234567890123457"]
    assert list(out["is_negative"]) == [False, True]


def test_bad_input_is_named():
    with pytest.raises(ConfigError, match="content"):
        triage(pd.DataFrame({"words": ["x"]}))
    with pytest.raises(ConfigError, match="created_at"):
        triage(pd.DataFrame({"content": ["太差"], "rating": [1], "created_at": ["03/09/2024"]}),
               _policy_with(sla_start="posted"), now=NOW)
    with pytest.raises(ConfigError, match="timezone"):
        triage(pd.DataFrame({"content": ["太差"]}), now=dt.datetime(2025, 1, 1))


def test_append_review_is_read_with_the_content():
    df = pd.DataFrame({"content": ["挺好的"], "append_content": ["用了一周就坏了，质量太差"], "rating": [5]})
    row = triage(df, now=NOW).iloc[0]
    assert row.is_negative and row.primary_category == "quality"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=40), st.sampled_from([None, 1, 2, 3, 4, 5, "好评", "中评", "差评"])),
                max_size=30))
def test_triage_never_drops_or_duplicates_and_is_idempotent(rows):
    df = pd.DataFrame({"content": [r[0] for r in rows], "rating": [r[1] for r in rows]})
    out = triage(df, now=NOW)
    assert len(out) == len(df) and list(out.index) == list(df.index)
    assert list(out["content"]) == list(df["content"])
    again = triage(out, now=NOW)  # output fed back in: output columns are recomputed, not duplicated
    pd.testing.assert_frame_equal(again, out)
    neg = out[out["is_negative"]]
    assert neg["due_at"].notna().all() and neg["owner_role"].notna().all()
    assert set(neg["primary_category"]) <= {r["code"] for r in default_policy().tables["categories"]}
    bad_rating = df["rating"].isin([1, 2, 3, "中评", "差评"])
    assert out.loc[bad_rating, "is_negative"].all()


# ------------------------------------------------------------------------- store
REVIEW_HEADER = ["订单编号", "买家昵称", "评价结果", "评价内容", "评价时间", "宝贝标题", "追评内容", "追评时间", "解释内容"]


def _write_reviews(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([REVIEW_HEADER, *rows])
    return path


def _rows() -> list[list[str]]:
    return [
        ["2841234567890123401", "张三", "好评", "衣服好看，就是快递太慢了，等了五天", "2025-09-28 10:00:00", "外套", "", "", ""],
        ["2841234567890123402", "李四", "差评", "质量太差，洗一次就掉色", "2025-09-28 11:00:00", "外套", "", "", ""],
        ["2841234567890123403", "王五", "好评", "很好，下次还来", "2025-09-28 12:00:00", "外套", "", "", ""],
        ["2841234567890123404", "赵六", "中评", "一般", "2025-09-28 13:00:00", "外套", "", "", ""],
    ]


def _cases(store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(stmod.cases).order_by(stmod.cases.c.id)).mappings()]


def test_triage_store_opens_cases_once_with_reasons(store, tmp_path):
    import_file(store, _write_reviews(tmp_path / "r.csv", _rows()), platform="taobao", kind="reviews", shop="测试店")
    first = triage_store(store, model=False, now=NOW, actor="tester")
    assert (first.examined, first.negative, first.created) == (4, 3, 3)
    assert first.policy_version == 1
    cases = _cases(store)
    assert [c["primary_category"] for c in cases] == ["logistics", "quality", "other"]
    for c in cases:
        record = json.loads(c["triage_json"])
        assert record["reasons"] and record["policy_version"] == 1
        assert c["sla_due_at"] is not None and c["state"] == "new" and c["policy_version"] == 1
    with store.read() as conn:
        events = conn.execute(sa.select(stmod.case_events.c.action, stmod.case_events.c.after_json)).all()
    assert len(events) == 3 and all(a == "create" and "triage_json" in j for a, j in events)
    again = triage_store(store, model=False, now=NOW)
    assert (again.examined, again.created) == (1, 0)  # only the positive review is still without a case
    assert len(_cases(store)) == 3
    # the same export again, then a 追评 complaint on the good review: one more case, never a duplicate
    import_file(store, tmp_path / "r.csv", platform="taobao", kind="reviews", shop="测试店")
    rows = _rows()
    rows[2][6:8] = ["穿了一周就开线了，质量太差", "2025-10-05 10:00:00"]
    import_file(store, _write_reviews(tmp_path / "r2.csv", rows), platform="taobao", kind="reviews", shop="测试店")
    third = triage_store(store, model=False, now=NOW)
    assert third.created == 1 and len(_cases(store)) == 4 and _cases(store)[-1]["primary_category"] == "quality"


def test_queue_is_ordered_by_deadline_and_masks_phones(sqlite_store, tmp_path):
    rows = _rows()
    rows[1][3] = "质量太差，打我电话13812345678"
    import_file(sqlite_store, _write_reviews(tmp_path / "r.csv", rows), platform="taobao", kind="reviews",
                shop="测试店")
    triage_store(sqlite_store, model=False)
    started = _cases(sqlite_store)[0]["sla_started_at"]  # the clock starts when the import first saw the review
    q = open_queue(sqlite_store, now=started)
    assert list(q["due_at"]) == sorted(q["due_at"])
    assert q.iloc[0]["primary_category"] == "logistics"  # 2 h beats 4 h and 8 h
    assert list(q["minutes_left"]) == [120, 240, 480]
    assert "13812345678" not in " ".join(q["excerpt"]) and "138****5678" in " ".join(q["excerpt"])


def test_policy_edit_changes_new_cases_and_is_versioned(sqlite_store, tmp_path):
    raw = {k: [{c: _json_to_cell(TABLES[k], c, v) for c, v in r.items()} for r in rows]
           for k, rows in default_policy().tables.items()}
    for r in raw["categories"]:
        if r["code"] == "logistics":
            r["sla_hours"], r["owner_role"] = "3", "supervisor"
    saved = save_policy(sqlite_store, Policy.from_tables(raw, source="edit"), actor="lead")
    import_file(sqlite_store, _write_reviews(tmp_path / "r.csv", _rows()), platform="taobao", kind="reviews",
                shop="测试店")
    triage_store(sqlite_store, model=False, now=NOW)
    logistics = _cases(sqlite_store)[0]
    assert (logistics["sla_hours"], logistics["owner_role"], logistics["policy_version"]) == (3.0, "supervisor",
                                                                                             saved.version)


def test_recategorize_moves_sla_and_keeps_the_audit(store, tmp_path):
    import_file(store, _write_reviews(tmp_path / "r.csv", _rows()), platform="taobao", kind="reviews", shop="测试店")
    triage_store(store, model=False)
    case = _cases(store)[0]
    started = case["sla_started_at"]
    assert case["sla_due_at"] == started + dt.timedelta(hours=2)
    assert recompute_due(store, case["id"]) == case["sla_due_at"]
    v = recategorize_case(store, case["id"], case["version"], "quality", actor="op", via="test",
                          at=started + dt.timedelta(minutes=30))
    after = next(c for c in _cases(store) if c["id"] == case["id"])
    assert v == 2 and after["owner_role"] == "supervisor" and after["sla_hours"] == 4.0
    assert after["sla_due_at"] == started + dt.timedelta(hours=4)
    assert after["categories"].startswith("quality")
    assert recompute_due(store, case["id"]) == after["sla_due_at"]
    with pytest.raises(ConflictError):
        recategorize_case(store, case["id"], 1, "service", actor="op", via="test")
    with pytest.raises(ConfigError):
        recategorize_case(store, case["id"], 2, "shipping", actor="op", via="test")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mode=st.sampled_from(["always", "business"]),
    start=st.datetimes(min_value=dt.datetime(2025, 9, 25), max_value=dt.datetime(2025, 10, 12),
                       timezones=st.just(UTC)),
    steps=st.lists(st.tuples(st.integers(0, 3000), st.sampled_from(
        ["logistics", "quality", "malicious", "price", "service", "other"])), max_size=5),
)
def test_sla_recomputed_from_events_equals_stored(tmp_path_factory, mode, start, steps):
    from reviewops.core.store import Store

    path = tmp_path_factory.mktemp("r10") / "s.db"
    with Store.open(path) as store:
        save_policy(store, _policy_with(sla_clock=mode), actor="t")
        csvp = _write_reviews(path.parent / "r.csv", _rows()[:2])
        import_file(store, csvp, platform="taobao", kind="reviews", shop="店")
        triage_store(store, model=False, now=start)
        case = _cases(store)[0]
        assert recompute_due(store, case["id"]) == case["sla_due_at"]
        version, at = case["version"], start
        with store.read() as conn:  # the clock starts when the review was first seen (import time)
            at = max(at, conn.execute(sa.select(stmod.cases.c.sla_started_at)).scalar())
        for minutes, cat in steps:
            at = at + dt.timedelta(minutes=minutes)
            version = recategorize_case(store, case["id"], version, cat, actor="t", via="test", at=at)
            stored = next(c for c in _cases(store) if c["id"] == case["id"])
            assert recompute_due(store, case["id"]) == stored["sla_due_at"]


# ---------------------------------------------------------------------------- CLI
def test_cli_triage_and_queue(tmp_path, capsys):
    db = str(tmp_path / "cli.db")
    assert main(["import", "--db", db, "--platform", "taobao", "--kind", "reviews", "--shop", "测试店", "--no-progress",
                 str(_write_reviews(tmp_path / "r.csv", _rows()))]) == 0
    capsys.readouterr()
    assert main(["triage", "--db", db, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["created"] == 3 and data["open_cases"] == 3 and len(data["queue"]) == 3
    assert main(["triage", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "新建案件 0 个" in out and "物流" in out
    assert main(["queue", "--db", db, "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "共 3 个待处理案件" in out and out.count("\n") == 3


def test_cli_train_refuses_too_few_reviews_then_trains(tmp_path, capsys):
    db = str(tmp_path / "t.db")
    assert main(["import", "--db", db, "--platform", "taobao", "--kind", "reviews", "--shop", "店", "--no-progress",
                 str(_write_reviews(tmp_path / "r.csv", _rows()))]) == 0
    capsys.readouterr()
    assert main(["train", "--db", db]) == 2
    err = capsys.readouterr()
    assert "至少需要 200" in err.out + err.err and "Traceback" not in err.out + err.err
    neg = ["质量太差了", "物流慢得要死", "完全不能用", "客服态度恶劣", "颜色发错了", "尺码偏小穿不上", "垃圾产品别买"]
    pos = ["很好很满意", "物流很快包装好", "质量不错推荐", "客服耐心周到", "颜色正尺码准", "物超所值会回购", "非常喜欢"]
    rows = []
    for i in range(60):
        good = i % 2 == 0
        text = (pos if good else neg)[i % 7] + "！" * (i % 3)
        rows.append([f"28412345678901{i:05d}", f"买家{i}", "好评" if good else "差评", text, "2025-09-01 10:00:00",
                     "杯子", "", "", ""])
    assert main(["import", "--db", db, "--platform", "taobao", "--kind", "reviews", "--shop", "店", "--no-progress",
                 str(_write_reviews(tmp_path / "many.csv", rows))]) == 0
    capsys.readouterr()
    assert main(["train", "--db", db, "--min-reviews", "40", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["version"] == 1 and info["n_negative"] >= 30 and info["n_positive"] >= 30
    assert main(["triage", "--db", db, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model_version"] == 1 and data["created"] >= 30


def test_platform_default_reviews_are_not_read_as_complaints(sqlite_store, tmp_path):
    rows = [["2841234567890123411", "张三", "好评", "评价方未及时做出评价,系统默认好评!", "2025-09-28 10:00:00", "外套", "", "", ""],
            ["2841234567890123412", "李四", "好评", "此用户未填写评价内容", "2025-09-28 10:00:00", "外套", "", "", ""]]
    import_file(sqlite_store, _write_reviews(tmp_path / "d.csv", rows), platform="taobao", kind="reviews", shop="店")
    res = triage_store(sqlite_store, model=False)
    assert (res.examined, res.negative, res.created) == (2, 0, 0)


def test_readme_main_command_triages_and_prints_the_queue(tmp_path, capsys):
    """`reviewops demo` (the Quick start command) imports, triages and shows the queue by deadline."""
    db = str(tmp_path / "demo.db")
    as_of = (dt.datetime.now(UTC) - dt.timedelta(hours=1)).isoformat(timespec="seconds")  # a rerun: same files
    assert main(["demo", "--db", db, "--scale", "0.05", "--as-of", as_of, "--json", "--limit", "500"]) == 0
    data = json.loads(capsys.readouterr().out)
    # the worked history resolved the older cases: only those awaiting action are open, and all are listed
    assert 0 < data["open_cases"] < data["triage"]["created"] and len(data["queue"]) == data["open_cases"]
    assert {q["state"] for q in data["queue"]} <= set(OPEN_STATES)
    waiting = [q["sla_status"] in ("running", "warning", "breached") for q in data["queue"]]
    assert waiting == sorted(waiting, reverse=True)  # not yet contacted first …
    due = [q["due_at"] for q, w in zip(data["queue"], waiting) if w]
    assert due == sorted(due)  # … by deadline
    with stmod.Store.open(db) as st:  # every case, open or worked: the categories, and complaints under good ratings
        with st.read() as conn:
            rows = conn.execute(sa.select(stmod.cases.c.primary_category, stmod.reviews.c.rating_raw).select_from(
                stmod.cases.join(stmod.reviews, stmod.reviews.c.id == stmod.cases.c.review_pk))).all()
    assert {"logistics", "quality"} <= {c for c, _ in rows}
    assert {r for _, r in rows} & {"好评", "5"}
    assert main(["demo", "--db", db, "--scale", "0.05", "--as-of", as_of, "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert "新建案件 0 个" in out and "待处理案件（最紧急在前）" in out and "截止(北京时间)" in out


def test_concurrent_triage_runs_never_duplicate_a_case(store, tmp_path):
    """Two triage runs at once (two operators, or the watcher and a person): each review gets one case."""
    import threading

    import_file(store, _write_reviews(tmp_path / "r.csv", _rows()), platform="taobao", kind="reviews", shop="测试店")
    results, errors = [], []

    def run():
        try:
            results.append(triage_store(store, model=False, actor="t"))
        except Exception as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.created for r in results) == 3
    assert len(_cases(store)) == 3


def test_a_column_mixing_strings_and_aware_datetimes_is_read():
    df = pd.DataFrame({"content": ["物流太慢", "物流太慢"], "rating": [1, 1],
                       "created_at": ["2025-09-30 08:00:00", dt.datetime(2025, 9, 30, 0, 0, tzinfo=UTC)]})
    out = triage(df, _policy_with(sla_start="posted"), now=NOW)
    assert list(out["sla_start"]) == [pd.Timestamp("2025-09-30 00:00", tz="UTC")] * 2


def test_a_category_named_by_the_default_model_says_so(monkeypatch):
    """When no lexicon phrase names the primary category, the reason credits the default category model
    (issue 18) instead of claiming 'no category words, so other'."""
    import reviewops.grading.classify as cl

    real = cl.default_model()

    class PriceOnly:
        def __getattr__(self, name):
            return getattr(real, name)

        def rank_batch(self, idx, probs, lex_scores):
            return [["price"] for _ in lex_scores]

    monkeypatch.setattr(cl, "default_model", lambda: PriceOnly())
    out = triage(pd.DataFrame({"content": ["垃圾，非常失望，再也不来了"], "rating": [1]}), now=NOW)
    assert out["primary_category"].iloc[0] == "price"
    assert "默认分类模型" in out["reasons"].iloc[0]
