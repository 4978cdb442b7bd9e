"""The 2027 holiday calendar (issue 15 §3): the shop's 节假日 sheet and the warning ahead of time.

The installed ``chinesecalendar`` knows 2004–2026. Every test here hides 2027 and later from it
(``no_package_2027``), so the tests keep meaning the same when a newer package learns 2027. Every "now"
is fixed: nothing depends on the real date.

* The SLA clock: a shop day wins over the package and makes its year known; without one, a deadline
  across New Year counts 1 January as a working day and says so.
* ``calendar_gap`` / ``calendar_warning``: the one rule and sentence for "the next 60 days lack holiday data".
* The policy's 节假日 sheet: validated like every sheet, optional, round-trips, versioned, noted where it
  differs from the package.
* Every surface that computes deadlines shows the warning: triage (``TriageResult`` and
  ``reviewops triage`` text and ``--json``), ``watch_status`` / ``reviewops watch --status``, the dashboard
  (lib and form), the daily sweep (lib and playbook).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import sqlalchemy as sa
from reviewops import import_file
from reviewops.core import sla
from reviewops.core import store as stmod
from reviewops.cli import main
from reviewops.core.errors import ConfigError, PolicyInvalid
from reviewops.core.policy import (
    TABLES,
    Policy,
    _json_to_cell,
    default_policy,
    export_policy,
    import_policy,
    load_policy,
    save_policy,
)
from reviewops.core.sla import (
    CALENDAR_LOOKAHEAD_DAYS,
    ShopDay,
    SlaCalendar,
    SlaWarning,
    add_working_time,
    calendar_gap,
    is_working_day,
    package_working_day,
)
from reviewops.core.clock import calendar_of, calendar_warning
from reviewops.handling.opening import triage_store

SH = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
NEW_YEAR_EVE = dt.datetime(2026, 12, 31, 21, 0, tzinfo=SH)  # a review found one hour before closing
DEC_7 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=SH)  # "today" in the issue: 2027 is 25 days away
BUSINESS = {"sla_clock": "business", "use_cn_holidays": "是"}
JAN_1 = [("2027-01-01", "假日", "元旦")]
REVIEW_HEADER = ["订单编号", "买家昵称", "评价结果", "评价内容", "评价时间", "宝贝标题", "追评内容", "追评时间", "解释内容"]


@pytest.fixture
def no_package_2027(monkeypatch: pytest.MonkeyPatch) -> None:
    """chinese_calendar without 2027 and later (as v1.11.0 installed today), whatever version is installed."""
    real = sla._cn_working_days
    monkeypatch.setattr(sla, "_cn_working_days", lambda year: None if year >= 2027 else real(year))


def policy_with(holidays: list[tuple[Any, str, str]] = (), **settings: str) -> Policy:  # type: ignore[assignment]
    raw = {k: [{c: _json_to_cell(TABLES[k], c, v) for c, v in r.items()} for r in rows]
           for k, rows in default_policy().tables.items()}
    for r in raw["settings"]:
        if r["key"] in settings:
            r["value"] = settings[r["key"]]
    raw["holidays"] = [{"date": d, "kind": k, "name": n} for d, k, n in holidays]
    return Policy.from_tables(raw, source="策略.xlsx")


def sh(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


# ----------------------------------------------------------------------------- the SLA clock
def test_a_shop_day_wins_over_the_package_and_makes_its_year_known(no_package_2027: None) -> None:
    plain = SlaCalendar(mode="business")
    assert is_working_day(dt.date(2027, 1, 1), plain) == (True, SlaWarning.missing_year(2027))  # R-11 fallback
    package_workday = dt.date(2026, 10, 9)  # a Friday the package knows as a working day
    assert package_working_day(package_workday) is True
    shop = SlaCalendar(mode="business", shop_days=(
        ShopDay(dt.date(2027, 1, 1), False, "元旦"),
        ShopDay(dt.date(2027, 2, 20), True, "春节调休"),  # a Saturday worked
        ShopDay(package_workday, False, "店休"),
    ))
    assert is_working_day(dt.date(2027, 1, 1), shop) == (False, None)
    assert is_working_day(dt.date(2027, 2, 20), shop) == (True, None)
    assert is_working_day(dt.date(2027, 2, 21), shop) == (False, None)  # an ordinary Sunday
    assert is_working_day(dt.date(2027, 3, 1), shop) == (True, None)  # the year is known now: no warning
    assert is_working_day(package_workday, shop) == (False, None)  # the shop's entry wins over the package
    assert is_working_day(dt.date(2026, 10, 1), shop) == (False, None)  # the rest of the package stands
    assert shop.covers(2027) and not plain.covers(2027) and plain.covers(2026)
    assert not shop.covers(2028)
    # the shop's days also apply to a plain Monday–Friday clock, which never warns
    assert is_working_day(dt.date(2027, 1, 1), SlaCalendar(mode="business", holidays=False,
                                                           shop_days=shop.shop_days)) == (False, None)


def test_a_deadline_across_new_year_skips_the_shops_1_january(no_package_2027: None) -> None:
    due, warnings = add_working_time(NEW_YEAR_EVE, 120, SlaCalendar(mode="business"))
    assert due == sh(2027, 1, 1, 10, 0)  # 60 min on Dec 31, then 1 January counted as a working day
    assert warnings == [SlaWarning.missing_year(2027)]
    cal = SlaCalendar(mode="business", shop_days=(ShopDay(dt.date(2027, 1, 1), False, "元旦"),))
    due, warnings = add_working_time(NEW_YEAR_EVE, 120, cal)
    assert due == sh(2027, 1, 4, 10, 0) and warnings == []  # Fri 1 Jan off, the weekend, Mon 4 Jan 10:00


def test_bad_shop_days_are_refused() -> None:
    day = ShopDay(dt.date(2027, 1, 1), False)
    with pytest.raises(ConfigError, match="2027-01-01.*两次"):
        SlaCalendar(mode="business", shop_days=(day, ShopDay(dt.date(2027, 1, 1), True)))
    with pytest.raises(ConfigError, match="ShopDay"):
        SlaCalendar(mode="business", shop_days=((dt.date(2027, 1, 1), False),))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="datetime.date"):
        ShopDay("2027-01-01", False)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="True 或 False"):
        ShopDay(dt.date(2027, 1, 1), "假日")  # type: ignore[arg-type]
    assert SlaCalendar(mode="business", shop_days=[day]).shop_days == (day,)  # a list is kept as a tuple


# ----------------------------------------------------------------------------- the one rule, ahead of time
def test_the_next_60_days_without_data_are_named_ahead_of_time(no_package_2027: None) -> None:
    gap = calendar_gap(SlaCalendar(mode="business"), DEC_7)
    assert gap is not None and CALENDAR_LOOKAHEAD_DAYS == 60
    assert (gap.years, gap.first_day, gap.days) == ((2027,), dt.date(2027, 1, 1), 60)
    assert "缺少 2027 年节假日数据" in gap.message_zh and "2027-01-01 起" in gap.message_zh
    assert "「节假日」表" in gap.message_zh and "周一至周五" in gap.message_zh
    assert "2027" in gap.message_en and "节假日 sheet" in gap.message_en
    assert str(gap) == f"{gap.message_zh} / {gap.message_en}"
    # the window is [today, today + 60 days]: 2 Nov reaches 1 January, 1 Nov does not
    assert calendar_gap(SlaCalendar(mode="business"), sh(2026, 11, 2, 23, 0)) is not None
    assert calendar_gap(SlaCalendar(mode="business"), sh(2026, 11, 1, 23, 0)) is None
    # nothing to say: a shop day in 2027, the 24×7 clock, plain Monday–Friday
    assert calendar_gap(SlaCalendar(mode="business", shop_days=(ShopDay(dt.date(2027, 1, 1), False),)), DEC_7) is None
    assert calendar_gap(SlaCalendar(), DEC_7) is None
    assert calendar_gap(SlaCalendar(mode="business", holidays=False), DEC_7) is None
    # inside a missing year: that year and the next, from today
    late = calendar_gap(SlaCalendar(mode="business"), sh(2027, 12, 20, 9, 0))
    assert late is not None and late.years == (2027, 2028) and late.first_day == dt.date(2027, 12, 20)
    with pytest.raises(ConfigError, match="缺少时区"):
        calendar_gap(SlaCalendar(mode="business"), dt.datetime(2026, 12, 7))


def test_calendar_warning_reads_the_policy(no_package_2027: None) -> None:
    assert calendar_warning(policy_with(), DEC_7) is None  # the default clock is 24×7
    gap = calendar_warning(policy_with(**BUSINESS), DEC_7)
    assert gap is not None and gap.years == (2027,)
    assert calendar_warning(policy_with(JAN_1, **BUSINESS), DEC_7) is None
    assert calendar_warning(policy_with(sla_clock="business", use_cn_holidays="否"), DEC_7) is None


# ----------------------------------------------------------------------------- the 节假日 sheet
def test_the_sheet_validates_and_feeds_the_clock() -> None:
    p = policy_with([("2027-01-01", "假日", "元旦"), ("2027/2/20", "调休上班", "春节"),
                     (dt.datetime(2027, 2, 7), "workday", ""), ("2027年2月11日", "holiday", "春节")], **BUSINESS)
    assert [dict(r) for r in p.tables["holidays"]] == [
        {"date": "2027-01-01", "kind": "holiday", "name": "元旦"},
        {"date": "2027-02-20", "kind": "workday", "name": "春节"},
        {"date": "2027-02-07", "kind": "workday", "name": None},  # an Excel date cell
        {"date": "2027-02-11", "kind": "holiday", "name": "春节"},
    ]
    assert p.notes == ()  # the package has no 2027 to differ from
    assert calendar_of(p).shop_days == (ShopDay(dt.date(2027, 1, 1), False, "元旦"),
                                        ShopDay(dt.date(2027, 2, 20), True, "春节"),
                                        ShopDay(dt.date(2027, 2, 7), True, ""),
                                        ShopDay(dt.date(2027, 2, 11), False, "春节"))


@pytest.mark.parametrize(("rows", "row", "column", "value", "reason"), [
    ([("2027-01-01", "假日", "元旦"), ("2027-01-01", "假日", "元旦")], 3, "日期", "2027-01-01", "与第2行重复"),
    ([("2027-01-04", "调休上班", "")], 2, "类型", "2027-01-04 调休上班", "2027-01-04 是周一，本来就上班"),
    ([("2027-02-30", "假日", "")], 2, "日期", "2027-02-30", "应为日期 年-月-日"),
    ([("明年元旦", "假日", "")], 2, "日期", "明年元旦", "应为日期"),
    ([("1999-10-01", "假日", "")], 2, "日期", "1999-10-01", "年份应在 2000–2099 之间"),
    ([("2027-01-01", "放假", "")], 2, "类型", "放假", "不是可选值；可选：holiday（假日）、workday（调休上班）"),
    ([("", "假日", "元旦")], 2, "日期", "", "不能为空"),
])
def test_each_bad_row_names_sheet_row_column_and_value(rows, row, column, value, reason) -> None:
    with pytest.raises(PolicyInvalid) as info:
        policy_with(rows)
    (problem,) = info.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == ("策略.xlsx [节假日]", row, column, value)
    assert reason in problem.reason_zh and problem.reason_en


def test_an_entry_that_differs_from_the_package_wins_with_a_note() -> None:
    workday, holiday = dt.date(2026, 10, 9), dt.date(2026, 10, 1)
    assert package_working_day(workday) is True and package_working_day(holiday) is False
    p = policy_with([("2026-10-01", "假日", "国庆"), ("2026-10-09", "假日", "店休"), ("2026-10-04", "调休上班", "")])
    notes = [(n.row, n.column, n.value, n.code) for n in p.notes]
    assert notes == [(3, "类型", "2026-10-09 假日", "policy_note"), (4, "类型", "2026-10-04 调休上班", "policy_note")]
    assert "以店铺录入的“假日”为准" in p.notes[0].reason_zh and "takes precedence" in p.notes[0].reason_en
    cal = calendar_of(policy_with([("2026-10-09", "假日", "店休")], **BUSINESS))
    assert is_working_day(workday, cal) == (False, None)


def test_older_policies_and_workbooks_load_with_an_empty_sheet(tmp_path: Path) -> None:
    default = default_policy()
    assert default.tables["holidays"] == ()
    data = json.loads(default.to_json())
    assert "holidays" not in data["tables"]  # empty: the JSON (and SHA-256) is what it was before the sheet
    assert Policy.from_json(json.dumps(data)).tables["holidays"] == ()
    path = export_policy(default, tmp_path / "旧策略.xlsx")
    wb = openpyxl.load_workbook(path)
    del wb["节假日"]  # a workbook exported before the sheet existed
    wb.save(path)
    old = import_policy(path)
    assert old.tables["holidays"] == () and old.sha256 == default.sha256
    p = policy_with(JAN_1)
    assert "holidays" in json.loads(p.to_json())["tables"] and p.sha256 != default.sha256


def test_the_sheet_round_trips_through_the_workbook(tmp_path: Path) -> None:
    p = policy_with([("2027-01-01", "假日", "元旦"), ("2027-02-20", "调休上班", "春节"), ("2027-02-11", "假日", "")],
                    **BUSINESS)
    path = export_policy(p, tmp_path / "策略.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb["节假日"]
    assert [c.value for c in ws[1]] == ["日期", "类型", "名称"]
    assert [[c.value for c in r] for r in ws.iter_rows(min_row=2, max_row=4)] == [
        ["2027-01-01", "假日", "元旦"], ["2027-02-20", "调休上班", "春节"], ["2027-02-11", "假日", None]]
    assert all(c.data_type == "s" for r in ws.iter_rows(min_row=2, max_row=4) for c in r if c.value is not None)
    assert "调休上班" in ws["B1"].comment.text and "2027-01-01" in ws["A1"].comment.text
    back = import_policy(path)
    assert back.sha256 == p.sha256 and back.tables["holidays"] == p.tables["holidays"]
    # a shop adds rows as it would in Excel: a real date cell and a Chinese date
    ws["A5"], ws["B5"], ws["C5"] = dt.datetime(2027, 2, 12), "假日", "春节"
    ws["A6"], ws["B6"] = "2027年2月7日", "调休上班"
    wb.save(path)
    edited = import_policy(path)
    assert [r["date"] for r in edited.tables["holidays"]][-2:] == ["2027-02-12", "2027-02-07"]
    again = import_policy(export_policy(edited, tmp_path / "again.xlsx"))
    assert again.sha256 == edited.sha256
    # a bad row in the workbook names sheet, Excel row, column and value
    ws["A7"], ws["B7"] = "2027-01-05", "调休上班"
    wb.save(path)
    with pytest.raises(PolicyInvalid) as info:
        import_policy(path)
    assert [(x.file, x.row, x.column) for x in info.value.problems] == [("策略.xlsx [节假日]", 7, "类型")]


def test_the_sheet_is_versioned_like_the_rest(sqlite_store) -> None:
    v1 = save_policy(sqlite_store, policy_with(**BUSINESS), actor="lead")
    v2 = save_policy(sqlite_store, policy_with(JAN_1, **BUSINESS), actor="lead", note="2027 节假日")
    assert v2.version == v1.version + 1
    assert save_policy(sqlite_store, policy_with(JAN_1, **BUSINESS), actor="lead").version == v2.version
    assert load_policy(sqlite_store, v1.version).tables["holidays"] == ()
    assert calendar_of(load_policy(sqlite_store, v2.version)).shop_days == (ShopDay(dt.date(2027, 1, 1), False, "元旦"),)


def test_policy_import_prints_the_notes(sqlite_db_url: str, tmp_path: Path, capsys) -> None:
    path = export_policy(policy_with([("2026-10-09", "假日", "店休")]), tmp_path / "策略.xlsx")
    assert main(["policy", "import", str(path), "--db", sqlite_db_url]) == 0
    out = capsys.readouterr().out
    assert "策略已保存为 v1" in out and "注意 note" in out and "[节假日] 第2行" in out and "以店铺录入的“假日”为准" in out
    assert main(["policy", "import", str(path), "--db", sqlite_db_url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["changed"] is False and len(data["notes"]) == 1 and "2026-10-09" in data["notes"][0]


# ----------------------------------------------------------------------------- triage
def _review_file(path: Path, order: str, text: str = "物流太慢了，等了一个星期才到") -> Path:
    """One logistics complaint, posted on 1 December (the SLA clock starts when the shop finds it)."""
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([REVIEW_HEADER, [order, "张三", "差评", text, "2026-12-01 10:00:00", "外套", "", "", ""]])
    return path


@pytest.fixture
def new_year_eve(monkeypatch: pytest.MonkeyPatch, no_package_2027: None) -> dt.datetime:
    """The store's clock stands at 2026-12-31 21:00 Beijing time: imports are detected then."""
    now = NEW_YEAR_EVE.astimezone(UTC)
    monkeypatch.setattr(stmod, "utcnow", lambda: now)
    return now


def _due(store, case_id: int) -> dt.datetime:
    with store.read() as conn:
        return conn.execute(sa.select(stmod.cases.c.sla_due_at).where(stmod.cases.c.id == case_id)).scalar_one()


def test_triage_across_new_year_without_2027_data_warns(sqlite_store, tmp_path: Path, new_year_eve) -> None:
    save_policy(sqlite_store, policy_with(**BUSINESS), actor="lead")
    import_file(sqlite_store, _review_file(tmp_path / "r.csv", "2841234567890123401"), platform="taobao",
                kind="reviews", shop="测试店")
    result = triage_store(sqlite_store, model=False, now=new_year_eve)
    (case_id,) = result.case_ids
    assert _due(sqlite_store, case_id) == sh(2027, 1, 1, 10, 0)  # 1 January counted as a working day
    case_line, ahead = result.warnings
    assert f"案件 {case_id} 的响应截止时间用到 2027 年" in case_line and "缺少 2027 年节假日数据" in case_line
    assert ahead == str(calendar_warning(policy_with(**BUSINESS), new_year_eve))
    assert result.to_dict()["warnings"] == result.warnings
    # with the shop's 2027 sheet the deadline skips 1 January and the warnings go
    save_policy(sqlite_store, policy_with(JAN_1, **BUSINESS), actor="lead", note="2027 节假日")
    import_file(sqlite_store, _review_file(tmp_path / "r2.csv", "2841234567890123402"), platform="taobao",
                kind="reviews", shop="测试店")
    result = triage_store(sqlite_store, model=False, now=new_year_eve)
    (case_id,) = result.case_ids
    assert _due(sqlite_store, case_id) == sh(2027, 1, 4, 10, 0)
    assert result.warnings == []


def test_an_empty_triage_still_warns_ahead(sqlite_store, no_package_2027: None) -> None:
    save_policy(sqlite_store, policy_with(**BUSINESS), actor="lead")
    result = triage_store(sqlite_store, model=False, now=DEC_7)
    assert result.examined == 0 and len(result.warnings) == 1 and "缺少 2027 年节假日数据" in result.warnings[0]


def test_cli_triage_shows_the_warning_in_text_and_json(sqlite_db_url: str, tmp_path: Path, new_year_eve,
                                                       capsys) -> None:
    db = sqlite_db_url
    assert main(["policy", "import", str(export_policy(policy_with(**BUSINESS), tmp_path / "p1.xlsx")),
                 "--db", db]) == 0
    assert main(["import", "--db", db, "--platform", "taobao", "--kind", "reviews", "--shop", "测试店",
                 "--no-progress", str(_review_file(tmp_path / "r.csv", "2841234567890123401"))]) == 0
    capsys.readouterr()
    assert main(["triage", "--db", db, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["created"] == 1 and len(data["warnings"]) == 2
    assert "用到 2027 年" in data["warnings"][0] and "缺少 2027 年节假日数据" in data["warnings"][1]
    assert data["queue"][0]["due_local"].startswith("2027-01-01 10:00")
    assert main(["triage", "--db", db]) == 0  # nothing new, but the 60 days ahead still lack data
    out = capsys.readouterr().out
    assert "⚠ 缺少 2027 年节假日数据" in out and "「节假日」表" in out
    # the shop enters 2027 in the workbook: the next case skips 1 January and nothing is missing
    assert main(["policy", "import", str(export_policy(policy_with(JAN_1, **BUSINESS), tmp_path / "p2.xlsx")),
                 "--db", db]) == 0
    assert main(["import", "--db", db, "--platform", "taobao", "--kind", "reviews", "--shop", "测试店",
                 "--no-progress", str(_review_file(tmp_path / "r2.csv", "2841234567890123402"))]) == 0
    capsys.readouterr()
    assert main(["triage", "--db", db, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["created"] == 1 and data["warnings"] == []
    assert main(["triage", "--db", db]) == 0
    assert "⚠" not in capsys.readouterr().out


# ----------------------------------------------------------------------------- the other surfaces
def test_watch_status_uses_the_shops_sheet(sqlite_store, sqlite_db_url: str, no_package_2027: None,
                                           monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from reviewops.alerting.watch import watch_status

    save_policy(sqlite_store, policy_with(**BUSINESS), actor="lead")
    st = watch_status(sqlite_store, now=DEC_7)
    gap = str(calendar_warning(policy_with(**BUSINESS), DEC_7))
    assert gap in st["problems"] and st["calendar"]["years"] == [2027] and not st["ok"]
    monkeypatch.setattr(stmod, "utcnow", lambda: DEC_7.astimezone(UTC))
    main(["watch", "--status", "--json", "--db", sqlite_db_url])
    assert gap in json.loads(capsys.readouterr().out)["problems"]
    main(["watch", "--status", "--db", sqlite_db_url])
    assert f"问题 problem: {gap}" in capsys.readouterr().out
    save_policy(sqlite_store, policy_with(JAN_1, **BUSINESS), actor="lead")
    st = watch_status(sqlite_store, now=DEC_7)
    assert st["calendar"] is None and not [p for p in st["problems"] if "节假日" in p]


def test_the_dashboard_shows_the_notice(sqlite_store, no_package_2027: None) -> None:
    from reviewops.reporting.dashboard import alert_service, calendar_notice
    from reviewops.handling.workbench import Workbench
    from reviewops_widgets import build_dashboard
    from wb_fixtures import make_users

    save_policy(sqlite_store, policy_with(**BUSINESS), actor="lead")
    gap = str(calendar_warning(policy_with(**BUSINESS), DEC_7))
    assert calendar_notice(sqlite_store, now=DEC_7) == gap
    assert gap not in alert_service(sqlite_store, now=DEC_7).problems  # shown on top, not twice
    users = make_users(sqlite_store)
    form = build_dashboard(Workbench(sqlite_store, users["s1"]), auto_refresh=False, today=DEC_7.date())
    try:
        form.refresh(now=DEC_7)
        assert form.calendar_note == gap and "ro-msg-warn" in form.calendar.value
        assert "缺少 2027 年节假日数据" in form.calendar.value and "ro-dash-calendar" in form.calendar._dom_classes
        assert form.root.children.index(form.calendar) < form.root.children.index(form.headline)
        save_policy(sqlite_store, policy_with(JAN_1, **BUSINESS), actor="lead")
        form.refresh(now=DEC_7)
        assert form.calendar_note is None and form.calendar.value == ""
    finally:
        form.close()


def test_the_daily_sweep_says_it(sqlite_store, no_package_2027: None) -> None:
    from reviewops.handling.sweep import daily_sweep

    save_policy(sqlite_store, policy_with(**BUSINESS), actor="lead")
    assert daily_sweep(sqlite_store, now=DEC_7, apply=False).warnings == [
        str(calendar_warning(policy_with(**BUSINESS), DEC_7))]
    assert daily_sweep(sqlite_store, now=sh(2026, 10, 1, 9, 0), apply=False).warnings == []
    save_policy(sqlite_store, policy_with(JAN_1, **BUSINESS), actor="lead")
    assert daily_sweep(sqlite_store, now=DEC_7, apply=False).warnings == []


def test_the_daily_sweep_playbook_shows_it(sqlite_store, sqlite_db_url: str, tmp_path: Path) -> None:
    """Papermill runs in its own kernel, where the package cannot be patched: ``now`` is 7 December of the
    year before the first year the installed package does not know."""
    pm = pytest.importorskip("papermill")
    from reviewops.runner import playbooks_dir

    year = next(y for y in range(2026, 2100) if not sla.has_holiday_data(y))
    save_policy(sqlite_store, policy_with(**BUSINESS), actor="lead")
    nb = pm.execute_notebook(str(playbooks_dir() / "daily_sweep.ipynb"), str(tmp_path / "out.ipynb"),
                             kernel_name="python3", cwd=str(tmp_path), progress_bar=False,
                             parameters={"db": sqlite_db_url, "now": f"{year - 1}-12-07T09:00:00+08:00",
                                         "apply": False})
    texts = [o.get("data", {}).get("text/markdown", "") for c in nb.cells for o in c.get("outputs", [])]
    shown = [t for t in texts if "日历提醒" in t]
    assert len(shown) == 1 and f"缺少 {year} 年节假日数据" in shown[0] and "「节假日」表" in shown[0]


def test_excel_ro_sla_counts_on_the_shops_sheet(sqlite_store, sqlite_db_url: str, no_package_2027: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from reviewops import excel

    monkeypatch.setenv("REVIEWOPS_DB", sqlite_db_url)
    save_policy(sqlite_store, policy_with(**BUSINESS), actor="lead")
    assert excel.ro_sla("物流", "2026-12-31 21:00")[2] == dt.datetime(2027, 1, 1, 10, 0)  # Beijing wall time
    save_policy(sqlite_store, policy_with(JAN_1, **BUSINESS), actor="lead")
    monkeypatch.setattr(excel, "POLICY_TTL_S", 0)  # read the new version at once
    assert excel.ro_sla("物流", "2026-12-31 21:00")[2] == dt.datetime(2027, 1, 4, 10, 0)
