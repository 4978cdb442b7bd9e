"""The analysis workbook for analysts without Python (``reviewops export analysis``, issue 6).

Counts are checked against plain SQL over the store, KPI formulas are recomputed here by a small
evaluator of the COUNTA/COUNTIFS/SUMIFS/MAX formulas the writer uses, and the KPI values are compared
with the weekly report's figures (:func:`reviewops.reporting.reports.weekly_top3`) for the same week.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from reviewops import import_file, triage_store
from reviewops.core import store as stmod
from reviewops.reporting.analysis import SHEETS, TABLE_NAMES, export_analysis, parse_period
from reviewops.cli import main
from reviewops.core.errors import ConfigError, NotFound
from reviewops.core.outputs import file_sha256
from reviewops.reporting.reports import weekly_top3
from reviewops.handling.workbench import Workbench
from wb_fixtures import HEADER, access_rows, make_case, make_users

PHONE = "13800138000"
HOSTILE = '=HYPERLINK("http://evil.example","点我")质量太差了'
UTC = dt.UTC


def _import(store: Any, tmp_path: Path, name: str, rows: list[list[str]], shop: str = "测试店") -> None:
    path = tmp_path / f"{name}.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([HEADER, *rows])
    import_file(store, path, platform="taobao", kind="reviews", shop=shop)


def build(store: Any, tmp_path: Path) -> dict[str, Any]:
    """Three cases in 2026-W47 (one resolved with a delivered refund + coupon, one hostile with an odd
    amount proposed, one never contacted), a good review in the period, a bad one in October (outside)."""
    u = make_users(store)
    a = Workbench(store, u["a1"])
    done = make_case(store, tmp_path, text=f"快递太慢了，一个星期才到，电话{PHONE}", customer="c1", paid_fen=5000,
                     nick="张三丰")
    v = a.record_contact(done, 1, channel="phone", note="已电话联系")
    p = a.propose(done, v, [{"kind": "refund", "amount_fen": 5000}, {"kind": "coupon", "amount_fen": 500}])
    a.resolve(done, a.deliver(done, p.version), satisfied=True)
    hostile = make_case(store, tmp_path, text=HOSTILE, customer="c2", paid_fen=12345)
    a.propose(hostile, a.record_contact(hostile, 1, channel="chat", note="已联系"),
              [{"kind": "refund", "amount_fen": 12345}])
    silent = make_case(store, tmp_path, text="尺码偏小，穿不上", customer="c3")  # never contacted
    _import(store, tmp_path, "good", [["28499999999999999", "李四", "好评", "很好，很满意", "2026-11-21 09:00:00",
                                       "外套", "", "", ""]])
    _import(store, tmp_path, "october", [["28488888888888888", "王五", "差评", "质量太差了", "2026-10-05 09:00:00",
                                          "外套", "", "", ""]])
    triage_store(store, model=False)
    return {"done": done, "hostile": hostile, "silent": silent}


def sql_counts(store: Any, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """The period's rows counted with plain SQL (independent of the exporter)."""
    with store.read() as conn:
        rv = conn.execute(sa.text("SELECT id FROM reviews WHERE created_at >= :s AND created_at < :e"),
                          {"s": start, "e": end}).scalars().all()
        cs = conn.execute(sa.text("SELECT c.id FROM cases c JOIN reviews r ON r.id = c.review_pk "
                                  "WHERE r.created_at >= :s AND r.created_at < :e ORDER BY c.id"),
                          {"s": start, "e": end}).scalars().all()
        comp = conn.execute(sa.text(
            "SELECT p.kind, p.amount_fen, p.state, p.order_id FROM compensations p JOIN cases c ON c.id = p.case_id "
            "JOIN reviews r ON r.id = c.review_pk WHERE r.created_at >= :s AND r.created_at < :e ORDER BY p.id"),
            {"s": start, "e": end}).all()
        orders = conn.execute(sa.text("SELECT order_id FROM reviews WHERE created_at >= :s AND created_at < :e"),
                              {"s": start, "e": end}).scalars().all()
    return {"reviews": len(rv), "cases": len(cs), "comp": comp, "orders": sorted(orders)}


# ------------------------------------------------------------ formula evaluator
_RANGE = re.compile(r"'([^']+)'!\$([A-Z]+)\$(\d+):\$([A-Z]+)\$(\d+)")
_CELL = re.compile(r"(?<![A-Za-z$'\"])([A-Z]{1,2})(\d+)(?![\d(])")
_FUNCS = {"COUNTA", "COUNTIFS", "SUMIFS", "MAX"}


def _matches(value: Any, crit: Any) -> bool:
    if isinstance(crit, str):
        m = re.fullmatch(r"(>=|<=|<>|>|<|=)?(.*)", crit)
        op, rhs = m.group(1), m.group(2)
        if op:
            try:
                num = float(rhs)
            except ValueError:
                return False
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return False
            return {">=": value >= num, "<=": value <= num, ">": value > num, "<": value < num,
                    "<>": value != num, "=": value == num}[op]
        return isinstance(value, str) and value.lower() == rhs.lower()
    return value == crit


class Evaluator:
    """Evaluates the KPI sheet's formulas over the workbook's cell values (openpyxl)."""

    def __init__(self, wb: openpyxl.Workbook):
        self.wb = wb
        self.kpi = wb["KPI"]

    def rng(self, sheet: str, c1: str, r1: int, c2: str, r2: int) -> list[Any]:
        assert c1 == c2 and sheet in ("评价分级", "案件", "补偿"), (sheet, c1, c2)
        ws = self.wb[sheet]
        return [ws[f"{c1}{r}"].value for r in range(r1, r2 + 1)]

    def cell(self, ref: str) -> Any:
        value = self.kpi[ref].value
        return self.eval(value) if isinstance(value, str) and value.startswith("=") else value

    def eval(self, formula: str) -> Any:
        assert formula.startswith("=")
        names = set(re.findall(r"([A-Z]+)\(", formula))
        assert names <= _FUNCS, names
        expr = _RANGE.sub(lambda m: f"R({m.group(1)!r},{m.group(2)!r},{m.group(3)},{m.group(4)!r},{m.group(5)})",
                          formula[1:])
        expr = _CELL.sub(lambda m: f"V('{m.group(1)}{m.group(2)}')", expr)

        def countifs(*args: Any) -> int:
            pairs = list(zip(args[::2], args[1::2], strict=True))
            return sum(1 for i in range(len(pairs[0][0])) if all(_matches(r[i], c) for r, c in pairs))

        def sumifs(values: list[Any], *args: Any) -> float:
            pairs = list(zip(args[::2], args[1::2], strict=True))
            return sum(v for i, v in enumerate(values)
                       if isinstance(v, (int, float)) and all(_matches(r[i], c) for r, c in pairs))

        ns = {"R": self.rng, "V": self.cell, "COUNTA": lambda r: sum(1 for v in r if v not in (None, "")),
              "COUNTIFS": countifs, "SUMIFS": sumifs, "MAX": max, "__builtins__": {}}
        return eval(expr, ns)


# ------------------------------------------------------------------ tests
def test_periods_parse_in_beijing_time() -> None:
    p = parse_period("2026-11")
    assert (p.label, p.start.isoformat(), p.end.isoformat()) == (
        "2026-11", "2026-11-01T00:00:00+08:00", "2026-12-01T00:00:00+08:00")
    assert parse_period("2026-12").end.isoformat() == "2027-01-01T00:00:00+08:00"
    w = parse_period("2026-w47")
    assert (w.label, w.start.isoformat(), w.end.isoformat()) == (
        "2026-W47", "2026-11-16T00:00:00+08:00", "2026-11-23T00:00:00+08:00")
    r = parse_period("2026-11-01..2026-11-30")
    assert (r.start.isoformat(), r.end.isoformat()) == ("2026-11-01T00:00:00+08:00", "2026-12-01T00:00:00+08:00")
    assert parse_period("2026-11-20..2026-11-20").end - parse_period("2026-11-20..2026-11-20").start == \
        dt.timedelta(days=1)


@pytest.mark.parametrize("bad", ["2026-13", "2026-W60", "2026/11", "2026-11-30..2026-11-01", "2026-02-30..2026-03-01",
                                 "", "last month", "=1+1"])
def test_a_bad_period_is_refused_naming_the_value(bad: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_period(bad)
    assert repr(bad.strip()) in str(exc.value) and "2026-W47" in str(exc.value)


def test_sheets_tables_and_row_counts_match_the_store(store: Any, tmp_path: Path) -> None:
    build(store, tmp_path)
    res = export_analysis(store, "2026-11", tmp_path / "out" / "分析.xlsx", actor="tester")
    start = dt.datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 2026-11-01 00:00 Beijing
    end = dt.datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    want = sql_counts(store, start, end)
    assert (want["reviews"], want["cases"], len(want["comp"])) == (4, 3, 3)  # the October review is outside
    assert res.rows == {"评价分级": want["reviews"], "案件": want["cases"], "补偿": len(want["comp"])}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["分析.xlsx"]  # no temp file left

    wb = openpyxl.load_workbook(res.path)
    assert wb.sheetnames == list(SHEETS)
    for sheet, table in TABLE_NAMES.items():
        ws = wb[sheet]
        assert list(ws.tables) == [table]
        ref = ws.tables[table].ref
        assert ref.startswith("A1:") and int(re.search(r"(\d+)$", ref).group(1)) == res.rows[sheet] + 1
        assert ws.freeze_panes == "A2"
        assert ws.max_row == res.rows[sheet] + 1
    reviews = wb["评价分级"]
    head = [c.value for c in reviews[1]]
    orders = sorted(reviews.cell(r, head.index("订单号") + 1).value for r in range(2, reviews.max_row + 1))
    assert orders == want["orders"]

    # amounts exact, in yuan, as numbers with two decimals
    comp = wb["补偿"]
    ch = [c.value for c in comp[1]]
    amounts = [comp.cell(r, ch.index("金额(元)") + 1) for r in range(2, comp.max_row + 1)]
    assert [c.value for c in amounts] == [fen / 100 for _, fen, _, _ in want["comp"]]
    assert all(c.data_type == "n" and c.number_format == "0.00" for c in amounts)
    assert 123.45 in [c.value for c in amounts]


def test_ids_text_pii_masked_and_no_formula_outside_kpi(sqlite_store: Any, tmp_path: Path) -> None:
    facts = build(sqlite_store, tmp_path)
    res = export_analysis(sqlite_store, "2026-W47", tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(res.path)
    for sheet in ("评价分级", "案件", "补偿"):
        ws = wb[sheet]
        head = [c.value for c in ws[1]]
        for col in ("订单号", "客户键", "评价键"):
            if col in head:
                cells = [ws.cell(r, head.index(col) + 1) for r in range(2, ws.max_row + 1)]
                assert cells and all(c.data_type == "s" for c in cells if c.value is not None), (sheet, col)
        for row in ws.iter_rows(min_row=2):
            for c in row:
                if isinstance(c.value, str):
                    assert not c.value.startswith(("=", "+", "-", "@")), (sheet, c.coordinate, c.value)
        if "建案时间" in head:
            c = ws.cell(2, head.index("建案时间") + 1)
            assert isinstance(c.value, dt.datetime) and "yy" in c.number_format
    cases = wb["案件"]
    ch = [c.value for c in cases[1]]
    assert "2841234567890" in str(cases.cell(2, ch.index("订单号") + 1).value)
    assert cases.cell(2, ch.index("案件号") + 1).value == facts["done"]

    with zipfile.ZipFile(res.path) as z:
        xml = {n: z.read(n).decode("utf-8") for n in z.namelist() if n.endswith((".xml", ".rels"))}
    everything = "\n".join(xml.values())
    assert PHONE not in everything and "138****8000" in everything
    assert "张三丰" not in everything and "李四" not in everything
    sheet_of = {}
    wbxml = xml["xl/workbook.xml"]
    rels = xml["xl/_rels/workbook.xml.rels"]
    for name, rid in re.findall(r'<sheet name="([^"]+)" sheetId="\d+" r:id="(rId\d+)"', wbxml):
        target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"', rels) or re.search(
            rf'Target="([^"]+)"[^>]*Id="{rid}"', rels)
        sheet_of[name] = "xl/" + target.group(1).lstrip("/").removeprefix("xl/")
    assert set(sheet_of) == set(SHEETS)
    for name, part in sheet_of.items():
        has_f = bool(re.search(r"<f[ >/]", xml[part]))
        assert has_f == (name == "KPI"), name
    # the hostile review is inert text: escaped with an apostrophe, never a formula
    texts = [c.value for c in wb["评价分级"]["J"] if c.value]
    assert "'" + HOSTILE in texts


def test_kpi_formulas_reference_only_our_sheets_and_recompute_to_the_values(sqlite_store: Any,
                                                                            tmp_path: Path) -> None:
    facts = build(sqlite_store, tmp_path)
    now = stmod.utcnow() + dt.timedelta(days=1)  # the never-contacted case is now past its deadline
    res = export_analysis(sqlite_store, "2026-W47", tmp_path / "k.xlsx", now=now)
    wb = openpyxl.load_workbook(res.path)
    ev = Evaluator(wb)
    ws = wb["KPI"]
    assert ws.max_row == len(res.kpis) + 1 >= 20
    for row in range(2, ws.max_row + 1):
        formula = ws.cell(row, 3).value
        assert isinstance(formula, str) and formula.startswith("=")
        assert set(re.findall(r"'([^']+)'!", formula)) <= {"评价分级", "案件", "补偿"}
        assert "[" not in formula and "http" not in formula.lower()
        literals = re.findall(r'"([^"]*)"', formula)
        assert all(re.fullmatch(r"[\u4e00-\u9fff：]+|>=0|[a-z_]+", s) for s in literals), literals
        value = ws.cell(row, 2).value
        assert ev.eval(formula) == pytest.approx(value, abs=1e-9), (ws.cell(row, 1).value, formula)

    cached = openpyxl.load_workbook(res.path, data_only=True)["KPI"]  # what a viewer shows before recalculating
    assert [cached.cell(r, 3).value for r in range(2, ws.max_row + 1)] == [
        pytest.approx(ws.cell(r, 2).value) for r in range(2, ws.max_row + 1)]
    cases = wb["案件"]
    ch = [c.value for c in cases[1]]
    first = {cases.cell(r, 1).value: cases.cell(r, ch.index("首次联系人") + 1).value for r in range(2, cases.max_row + 1)}
    assert first[facts["done"]] == "a1" and first[facts["silent"]] is None

    # the figures equal the library's weekly report for the same week (computed independently there)
    r = weekly_top3(sqlite_store, "2026-W47", now=now)
    assert (res.kpi("reviews"), res.kpi("negative")) == (r.reviews, r.negative) == (4, 3)
    assert (res.kpi("sla_met"), res.kpi("sla_late"), res.kpi("sla_breached")) == (
        r.sla["met"], r.sla["late"], r.sla["breached_unanswered"]) == (2, 0, 1)
    assert res.kpi("sla_compliance") == pytest.approx(r.sla["compliance"])
    assert res.kpi("resolved") == r.resolved == 1 and res.kpi("satisfied") == 1
    delivered = dict(zip(r.remedies["kind"], r.remedies["amount_fen"], strict=True))
    assert delivered == {"refund": 5000, "coupon": 500}
    for kind, fen in delivered.items():
        assert res.kpi(f"delivered_{kind}_yuan") == fen / 100
    assert res.kpi("remedy_delivered_yuan") == pytest.approx(sum(delivered.values()) / 100)
    assert (res.kpi("cases_logistics"), res.kpi("cases_quality"), res.kpi("cases_size")) == (1, 1, 1)


def test_the_export_is_in_the_access_log(sqlite_store: Any, tmp_path: Path) -> None:
    build(sqlite_store, tmp_path)
    res = export_analysis(sqlite_store, "2026-11-16..2026-11-22", tmp_path / "a.xlsx", actor="cli:analyst")
    rows = [r for r in access_rows(sqlite_store, "export") if r["target"] == "analysis"]
    assert len(rows) == 1
    (row,) = rows
    detail = json.loads(row["detail_json"])
    assert (row["actor"], row["outcome"]) == ("cli:analyst", "ok")
    assert detail["sha256"] == file_sha256(res.path) == res.sha256
    assert detail["rows"] == res.rows and detail["period"] == "2026-11-16..2026-11-22"
    assert "评价内容(已打码)" in detail["columns"]["评价分级"]
    assert PHONE not in row["detail_json"]


def test_an_empty_period_and_unknown_shops(sqlite_store: Any, tmp_path: Path) -> None:
    build(sqlite_store, tmp_path)
    res = export_analysis(sqlite_store, "2026-W40", tmp_path / "e.xlsx")
    assert res.rows == {"评价分级": 0, "案件": 0, "补偿": 0} and res.notes
    wb = openpyxl.load_workbook(res.path)
    ev = Evaluator(wb)
    for row in range(2, wb["KPI"].max_row + 1):
        assert ev.eval(wb["KPI"].cell(row, 3).value) == wb["KPI"].cell(row, 2).value == 0
    with pytest.raises(NotFound, match="999"):
        export_analysis(sqlite_store, "2026-11", tmp_path / "x.xlsx", shop_ids=[999])
    with pytest.raises(ConfigError, match=r"\.xlsx"):
        export_analysis(sqlite_store, "2026-11", tmp_path / "x.csv")


def test_cli_export_analysis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    store = stmod.Store.open(db)
    try:
        build(store, tmp_path)
        with store.read() as conn:
            shop_id = conn.execute(sa.select(stmod.shops.c.id)).scalar_one()
    finally:
        store.close()
    out = tmp_path / "cli.xlsx"
    code = main(["export", "analysis", "--period", "2026-11", "--db", db, "--shops", str(shop_id), "--out", str(out),
                 "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    assert data["rows"] == {"评价分级": 4, "案件": 3, "补偿": 3} and data["shops"] == [shop_id]
    assert data["kpis"]["reviews"] == 4 and out.exists()

    code = main(["export", "analysis", "--period", "2026-W99", "--db", db, "--out", str(tmp_path / "bad.xlsx")])
    err = capsys.readouterr().err
    assert code == 2 and "2026-W99" in err and "Traceback" not in err
    assert not (tmp_path / "bad.xlsx").exists()
    code = main(["export", "analysis", "--period", "2026-11", "--db", db, "--shops", "1;2", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "1;2" in err


@settings(max_examples=60, deadline=None)
@given(first=st.dates(min_value=dt.date(2001, 1, 1), max_value=dt.date(2098, 12, 31)),
       days=st.integers(min_value=0, max_value=400))
def test_periods_cover_whole_beijing_days(first: dt.date, days: int) -> None:
    last = first + dt.timedelta(days=days)
    p = parse_period(f"{first.isoformat()}..{last.isoformat()}")
    assert p.end - p.start == dt.timedelta(days=days + 1)
    assert (p.start.hour, p.start.utcoffset()) == (0, dt.timedelta(hours=8))
    m = parse_period(f"{first.year}-{first.month}")
    assert m.start.date() == first.replace(day=1) and m.end.date().day == 1
    assert m.start <= p.start < m.end
    assert (m.end - m.start).days == calendar.monthrange(first.year, first.month)[1]
    y, w, _ = first.isocalendar()
    wk = parse_period(f"{y}-W{w:02d}")
    assert wk.start.date() <= first < wk.end.date() and wk.start.weekday() == 0


_T = st.datetimes(min_value=dt.datetime(2026, 11, 1), max_value=dt.datetime(2026, 11, 3),
                  timezones=st.just(dt.UTC))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.none() | _T, st.none() | _T), min_size=1, max_size=8), now=_T)
def test_sla_outcomes_split_cases_as_the_weekly_report_does(rows: list[tuple[Any, Any]], now: dt.datetime) -> None:
    """The 案件 sheet's 时效结果 counts equal the weekly report's SLA split for the same cases."""
    import pandas as pd
    from reviewops.reporting.analysis import sla_outcome
    from reviewops.reporting.reports import _sla

    created = dt.datetime(2026, 10, 31, tzinfo=dt.UTC)
    frame = pd.DataFrame({"sla_due_at": [d for _, d in rows], "first_contact_at": [c for c, _ in rows],
                          "created_at": [created] * len(rows), "resolved_at": [None] * len(rows)})
    want = _sla(frame, now)
    got = [sla_outcome(c, d, now) for c, d in rows]
    assert (got.count("met"), got.count("late"), got.count("breached")) == (
        want["met"], want["late"], want["breached_unanswered"])
    assert got.count("open") + got.count("none") == want["open_in_time"]


# ---------------------------------------------------------------- export workbook (the Excel kit)
def test_export_workbook_copies_the_installed_kit_and_never_overwrites_an_edited_copy(tmp_path):
    import reviewops_workbooks
    from click.testing import CliRunner

    from reviewops.reporting.analysis import WORKBOOK_FILES
    from reviewops.cli import cli

    src = reviewops_workbooks.workbooks_dir()
    out = tmp_path / "我的工作簿"
    r = CliRunner().invoke(cli, ["export", "workbook", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert sorted(json.loads(r.output)["files"]) == sorted(str(out / n) for n in WORKBOOK_FILES)
    for name in WORKBOOK_FILES:
        assert (out / name).read_bytes() == (src / name).read_bytes()
    # an analyst's edit is kept: a second export refuses and writes nothing
    (out / "lite" / "main.py").write_text("# 我改过\n", encoding="utf-8")
    (out / "ReviewOps.xlsm").unlink()
    r = CliRunner().invoke(cli, ["export", "workbook", "--out", str(out)])
    assert r.exit_code != 0 and "已存在" in str(r.exception) and "main.py" in str(r.exception), r.output
    assert (out / "lite" / "main.py").read_text(encoding="utf-8") == "# 我改过\n"
    assert not (out / "ReviewOps.xlsm").exists()
    r = CliRunner().invoke(cli, ["export", "workbook", "--out", str(out), "--overwrite"])
    assert r.exit_code == 0, r.output
    assert (out / "lite" / "main.py").read_bytes() == (src / "lite" / "main.py").read_bytes()
    assert not list(out.rglob("*.tmp"))
