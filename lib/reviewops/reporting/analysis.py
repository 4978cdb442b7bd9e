"""The analysis workbook: one period's reviews, cases, compensations and KPIs as an XLSX that needs no
Python (for analysts on WPS, which xlwings does not support) — ``reviewops export analysis``.

Sheets:

=========  =====================================================================================
说明        what the file holds, the period and shops, how the KPIs are made, the masking
评价分级    the period's reviews with their triage result (masked text, rating, category, severity,
           SLA hours, due time, case state) — Excel table ``Reviews``
案件        the cases of those reviews: state, times, first contact, SLA outcome, resolved, satisfied,
           agent — Excel table ``Cases``
补偿        the compensations of those cases: kind, amount in yuan (numbers, ``0.00``), state,
           requested / decided by — Excel table ``Compensations``
KPI        each figure as a value **and** as a native formula (COUNTIFS / SUMIFS over the three
           sheets, cached with the same value) so an analyst sees how it is made
=========  =====================================================================================

Rules: a review belongs to the period it was **posted** in (Beijing time), as in
:mod:`reviewops.reporting.reports`; cases and compensations follow their review. Formulas appear only on the KPI
sheet and only the ones written here (never user text); every text cell is an explicit string with
formula triggers escaped (:func:`reviewops.core.outputs.formula_safe`, S-01/S-02); order IDs, customer keys
and review keys are text; review text is masked (:func:`reviewops.core.privacy.mask_text`) and nicknames
shown masked; amounts are exact (fen → yuan, two decimals); times are Beijing time. The file is
written to a temporary name and renamed; the export is recorded in the access log (action
``export``, target ``analysis``, with row counts, columns and the file's SHA-256 — P-05).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ..core.errors import ConfigError, NotFound
from ..core.sla import SLA_STATUS_ZH, sla_status

if TYPE_CHECKING:
    from ..core.store import Store
    from .reports import ReportFigures

__all__ = [
    "SHEETS",
    "TABLE_NAMES",
    "AnalysisExport",
    "Period",
    "export_analysis",
    "export_workbooks",
    "parse_period",
    "sla_outcome",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Sheet names, in order.
SHEETS = ("说明", "评价分级", "案件", "补偿", "KPI")
#: Excel table name of each data sheet (ASCII: Excel and WPS both accept them in structured references).
TABLE_NAMES = {"评价分级": "Reviews", "案件": "Cases", "补偿": "Compensations"}
#: SLA outcome of a case as of the export, named as everywhere else (:data:`reviewops.core.sla.SLA_STATUS_ZH`):
#: first contact by the due time, after it, none yet and due time reached, none yet and not yet due, no due
#: time at all (the same split as the weekly report's SLA figures and the queue's status).
SLA_OUTCOME_ZH = {"met": SLA_STATUS_ZH["met"], "late": SLA_STATUS_ZH["late"], "breached": SLA_STATUS_ZH["breached"],
                  "open": SLA_STATUS_ZH["running"], "none": "无时效"}
YES, NO = "是", "否"

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_RANGE = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2})\s*\.\.\s*(\d{4}-\d{1,2}-\d{1,2})$")


@dataclass(frozen=True)
class Period:
    """A period in Beijing time: ``label`` as given (normalised), ``start`` inclusive, ``end`` exclusive."""

    label: str
    start: dt.datetime
    end: dt.datetime


def parse_period(text: str) -> Period:
    """``2026-11`` (a month), ``2026-W47`` (an ISO week) or ``2026-11-01..2026-11-30`` (days, both
    included) → :class:`Period` in Beijing time. Anything else raises :class:`ConfigError` naming it."""
    from .reports import week_bounds

    raw = str(text).strip()

    def bad(why_zh: str, why_en: str) -> ConfigError:
        return ConfigError(f"期间 {raw!r} 无效：{why_zh}。请写成 2026-11、2026-W47 或 2026-11-01..2026-11-30 / "
                           f"invalid period {raw!r}: {why_en}; write 2026-11, 2026-W47 or 2026-11-01..2026-11-30")

    if "W" in raw.upper():
        try:
            start, end = week_bounds(raw)
        except ConfigError:
            raise bad("不是有效的 ISO 周", "not a valid ISO week") from None
        return Period(f"{start.isocalendar()[0]}-W{start.isocalendar()[1]:02d}", start, end)
    m = _MONTH.match(raw)
    if m:
        y, mo = int(m.group(1)), int(m.group(2))
        if not 1 <= mo <= 12 or y < 2000:
            raise bad("没有这个月份", "no such month")
        start = dt.datetime(y, mo, 1, tzinfo=SHANGHAI)
        end = dt.datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=SHANGHAI)
        return Period(f"{y}-{mo:02d}", start, end)
    m = _RANGE.match(raw)
    if m:
        try:
            first, last = (dt.date.fromisoformat("-".join(f"{int(p):02d}" for p in g.split("-")))
                           for g in (m.group(1), m.group(2)))
        except ValueError:
            raise bad("日期不存在", "no such date") from None
        if last < first:
            raise bad("结束日期早于开始日期", "the end date is before the start date")
        start = dt.datetime.combine(first, dt.time(0), tzinfo=SHANGHAI)
        return Period(f"{first.isoformat()}..{last.isoformat()}", start,
                      dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=SHANGHAI))
    raise bad("格式不对", "unknown format")


def sla_outcome(first_contact_at: dt.datetime | None, due_at: dt.datetime | None, now: dt.datetime) -> str:
    """``met`` / ``late`` / ``breached`` / ``open`` / ``none`` for one case as of ``now``
    (see :data:`SLA_OUTCOME_ZH`) — :func:`reviewops.core.sla.sla_status`, the status the queue and the reports use
    (a contacted case without a due time counts as met); an uncontacted case without a due time is ``none``."""
    if due_at is None and first_contact_at is None:
        return "none"
    status = sla_status(first_contact_at, due_at, now)  # the one SLA status (reviewops.core.sla); no warning here
    return "open" if status in ("running", "warning") else status


@dataclass
class AnalysisExport:
    """What :func:`export_analysis` wrote: the file, its hash, rows per sheet and the KPI values."""

    path: Path
    period: Period
    shop_ids: list[int] | None
    rows: dict[str, int]
    kpis: list[dict[str, Any]]
    sha256: str
    notes: list[str] = field(default_factory=list)

    def kpi(self, key: str) -> Any:
        """One KPI value by key (``reviews``, ``negative``, ``sla_met`` …)."""
        return next(k["value"] for k in self.kpis if k["key"] == key)


# ---------------------------------------------------------------- data
def _local(t: dt.datetime | None) -> dt.datetime | None:
    """Aware (UTC) → naive Beijing time, as Excel shows it (:func:`reviewops.core.outputs.local_naive`)."""
    from ..core.outputs import local_naive

    return local_naive(t)


def _hours(a: dt.datetime | None, b: dt.datetime | None) -> float | None:
    return None if a is None or b is None else (b - a).total_seconds() / 3600


def _collect(store: Store, period: Period, shop_ids: list[int] | None, now: dt.datetime
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """The three sheets' rows (display-ready: masked text, Chinese labels, Beijing times, yuan)."""
    from ..core.columns import PLATFORM_ZH
    from ..core.policy import CATEGORY_ZH, SEVERITY_ZH
    from ..core.privacy import mask_text
    from ..core.store import cases, compensations, customers, reviews, shops
    from ..handling.cases import STATE_ZH
    from ..handling.ledger import KIND_ZH
    from ..handling.ledger import STATE_ZH as COMP_STATE_ZH
    from ..intake.clean import RATING_CLASS_ZH

    start, end = period.start, period.end
    with store.read() as conn:
        shop_names = {int(r.id): (r.name, r.platform) for r in conn.execute(
            sa.select(shops.c.id, shops.c.name, shops.c.platform))}
        if shop_ids is not None:
            unknown = [s for s in shop_ids if s not in shop_names]
            if unknown:
                known = "、".join(str(s) for s in sorted(shop_names)) or "（无 none）"
                raise NotFound(f"店铺编号不存在：{unknown}；已有店铺：{known} / unknown shop id(s) {unknown}; "
                               f"known: {known} (see `reviewops status`)")
        q = (sa.select(reviews.c.id, reviews.c.shop_id, reviews.c.review_key, reviews.c.order_id,
                       reviews.c.product_title, reviews.c.buyer_nick_masked, reviews.c.created_at,
                       reviews.c.rating_score, reviews.c.rating_class, reviews.c.content, reviews.c.append_content,
                       cases.c.id.label("case_id"), cases.c.primary_category, cases.c.severity,
                       cases.c.negative_score, cases.c.sla_hours, cases.c.sla_due_at, cases.c.state)
             .select_from(reviews.outerjoin(cases, cases.c.review_pk == reviews.c.id))
             .where(reviews.c.created_at >= start, reviews.c.created_at < end)
             .order_by(reviews.c.created_at, reviews.c.id))
        if shop_ids is not None:
            q = q.where(reviews.c.shop_id.in_(shop_ids))
        review_rows = conn.execute(q).mappings().all()
        case_ids = [int(r["case_id"]) for r in review_rows if r["case_id"] is not None]
        case_rows: list[Any] = []
        comp_rows: list[Any] = []
        if case_ids:
            for chunk in (case_ids[i:i + 900] for i in range(0, len(case_ids), 900)):
                case_rows += conn.execute(
                    sa.select(cases.c.id, cases.c.shop_id, cases.c.state, cases.c.primary_category, cases.c.severity,
                              cases.c.owner_role, cases.c.assignee, cases.c.created_at, cases.c.sla_due_at,
                              cases.c.sla_hours, cases.c.first_contact_at, cases.c.resolved_at, cases.c.satisfied,
                              reviews.c.order_id, customers.c.customer_key)
                    .select_from(cases.join(reviews, reviews.c.id == cases.c.review_pk)
                                 .outerjoin(customers, customers.c.id == reviews.c.customer_id))
                    .where(cases.c.id.in_(chunk))).mappings().all()
                comp_rows += conn.execute(
                    sa.select(compensations, customers.c.customer_key)
                    .select_from(compensations.outerjoin(customers, customers.c.id == compensations.c.customer_id))
                    .where(compensations.c.case_id.in_(chunk))).mappings().all()
    case_rows.sort(key=lambda r: r["id"])
    comp_rows.sort(key=lambda r: r["id"])

    def shop(sid: int) -> tuple[str, str]:
        name, platform = shop_names.get(int(sid), (str(sid), ""))
        return name, PLATFORM_ZH.get(platform, platform or "")

    nicks = _mask_nicks([r["buyer_nick_masked"] for r in review_rows])
    out_reviews = []
    for r, nick in zip(review_rows, nicks, strict=True):
        name, platform = shop(r["shop_id"])
        has_case = r["case_id"] is not None
        out_reviews.append({
            "店铺": name, "平台": platform, "评价键": r["review_key"], "订单号": r["order_id"],
            "商品": r["product_title"],
            "买家昵称(已打码)": nick,
            "评价时间": _local(r["created_at"]), "评分(星)": r["rating_score"],
            "评价结果": RATING_CLASS_ZH.get(r["rating_class"] or "", r["rating_class"]),
            "评价内容(已打码)": mask_text(r["content"]), "追评(已打码)": mask_text(r["append_content"]),
            "中差评": YES if has_case else NO, "案件号": int(r["case_id"]) if has_case else None,
            "分类": CATEGORY_ZH.get(r["primary_category"] or "", r["primary_category"]),
            "严重程度": SEVERITY_ZH.get(r["severity"] or "", r["severity"]),
            "负面分": r["negative_score"], "时效(小时)": r["sla_hours"], "截止时间": _local(r["sla_due_at"]),
            "案件状态": STATE_ZH.get(r["state"] or "", r["state"]),
        })
    out_cases = []
    for r in case_rows:
        name, platform = shop(r["shop_id"])
        outcome = sla_outcome(r["first_contact_at"], r["sla_due_at"], now)
        out_cases.append({
            "案件号": int(r["id"]), "店铺": name, "平台": platform, "订单号": r["order_id"],
            "客户键": r["customer_key"], "分类": CATEGORY_ZH.get(r["primary_category"] or "", r["primary_category"]),
            "严重程度": SEVERITY_ZH.get(r["severity"] or "", r["severity"]), "负责角色": r["owner_role"],
            "处理人": r["assignee"], "状态": STATE_ZH.get(r["state"], r["state"]),
            "建案时间": _local(r["created_at"]), "截止时间": _local(r["sla_due_at"]), "时效(小时)": r["sla_hours"],
            "首次联系时间": _local(r["first_contact_at"]),
            "首次响应(小时)": _hours(r["created_at"], r["first_contact_at"]),
            "时效结果": SLA_OUTCOME_ZH[outcome], "解决时间": _local(r["resolved_at"]),
            "解决用时(小时)": _hours(r["created_at"], r["resolved_at"]),
            "已解决": YES if r["resolved_at"] is not None else NO,
            "客户满意": None if r["satisfied"] is None else (YES if r["satisfied"] else NO),
        })
    out_comp = []
    for r in comp_rows:
        out_comp.append({
            "补偿编号": int(r["id"]), "案件号": int(r["case_id"]), "订单号": r["order_id"],
            "客户键": r["customer_key"], "方式": KIND_ZH.get(r["kind"], r["kind"]), "方式代码": r["kind"],
            "金额(元)": _Fen(int(r["amount_fen"])), "状态": COMP_STATE_ZH.get(r["state"], r["state"]),
            "申请人": r["requested_by"], "申请角色": r["requested_role"], "申请时间": _local(r["requested_at"]),
            "审批人": r["decided_by"], "审批时间": _local(r["decided_at"]), "送达时间": _local(r["delivered_at"]),
        })
    notes = []
    if not out_reviews:
        notes.append(f"期间 {period.label} 没有评价 / no reviews in {period.label}")
    return out_reviews, out_cases, out_comp, notes


def _mask_nicks(values: list[str | None]) -> list[str | None]:
    """Nicknames in their masked display form (:func:`reviewops.core.privacy.mask_name` with ``nick``, for a
    whole column at once); values the importer already masked or marked encrypted stay as they are."""
    import pandas as pd

    from ..core.privacy import CIPHER_SHOWN, name_frame

    if not values:
        return []
    masked = name_frame(pd.Series(values, dtype=object), b"mask-only", nick=True)["masked"].tolist()
    return [None if v is None or v == "" else (v if v == CIPHER_SHOWN else m) for v, m in zip(values, masked,
                                                                                              strict=True)]


class _Fen(int):
    """An amount in fen that the writer shows as yuan (a number with two decimals)."""


#: Columns written as text even when they look numeric (IDs, keys).
_TEXT_COLUMNS = {"评价键", "订单号", "客户键"}
_COLUMNS = {
    "评价分级": ("店铺", "平台", "评价键", "订单号", "商品", "买家昵称(已打码)", "评价时间", "评分(星)", "评价结果",
             "评价内容(已打码)", "追评(已打码)", "中差评", "案件号", "分类", "严重程度", "负面分", "时效(小时)",
             "截止时间", "案件状态"),
    "案件": ("案件号", "店铺", "平台", "订单号", "客户键", "分类", "严重程度", "负责角色", "处理人", "首次联系人", "状态",
           "建案时间",
           "截止时间", "时效(小时)", "首次联系时间", "首次响应(小时)", "时效结果", "解决时间", "解决用时(小时)",
           "已解决", "客户满意"),
    "补偿": ("补偿编号", "案件号", "订单号", "客户键", "方式", "方式代码", "金额(元)", "状态", "申请人", "申请角色",
           "申请时间", "审批人", "审批时间", "送达时间"),
}


# ---------------------------------------------------------------- KPIs
def _kpis(rv: list[dict[str, Any]], cs: list[dict[str, Any]], cp: list[dict[str, Any]], fig: ReportFigures
          ) -> list[dict[str, Any]]:
    """Each KPI: key, Chinese name, value, formula (over the sheets), format, help.

    Values are the library's report figures (:func:`reviewops.reporting.reports.report_figures`: counts, rate,
    SLA split and compliance, resolved, delivered remedies, cases per category) where it has them; the
    rest (satisfaction, average hours, pending amounts) are computed from the sheets' rows. A ratio with
    nothing to divide is 0 (the formulas divide by ``MAX(…,1)``). Formulas use plain absolute ranges (``'案件'!$P$2:$P$9``), which Excel, WPS and LibreOffice all read,
    and only COUNTA / COUNTIFS / SUMIFS / MAX, so an analyst can follow every figure back to the rows.
    """
    from xlsxwriter.utility import xl_col_to_name

    from ..core.policy import CATEGORY_CODES, CATEGORY_ZH
    from ..handling.ledger import KIND_ZH

    sizes = {"评价分级": len(rv), "案件": len(cs), "补偿": len(cp)}

    def rng(sheet: str, col: str) -> str:
        letter = xl_col_to_name(_COLUMNS[sheet].index(col))
        return f"'{sheet}'!${letter}$2:${letter}${max(sizes[sheet], 1) + 1}"

    out: list[dict[str, Any]] = []

    def add(key: str, name: str, value: Any, formula: str, fmt: str, help_zh: str) -> str:
        out.append({"key": key, "name": name, "value": value, "formula": formula, "format": fmt, "help": help_zh})
        return f"C{len(out) + 1}"  # the formula cell of this KPI on the KPI sheet (row 1 is the header)

    def count(rows: list[dict[str, Any]], col: str, value: Any) -> int:
        return sum(1 for r in rows if r.get(col) == value)

    def hours_avg(col: str) -> float:
        vals = [r[col] for r in cs if r[col] is not None and r[col] >= 0]
        return sum(vals) / max(len(vals), 1)

    n_rev = add("reviews", "评价数", fig.reviews, f"=COUNTA({rng('评价分级', '评价键')})", "0", "期间内发布的评价")
    n_neg = add("negative", "中差评数", fig.negative, f'=COUNTIFS({rng("评价分级", "中差评")},"{YES}")',
                "0", "转为案件的评价")
    add("negative_rate", "中差评率", fig.rate or 0, f"={n_neg}/MAX({n_rev},1)", "0.0%",
        "中差评数 ÷ 评价数")
    resolved = fig.resolved
    n_res = add("resolved", "已解决案件", resolved, f'=COUNTIFS({rng("案件", "已解决")},"{YES}")', "0", "有解决时间的案件")
    n_sat = add("satisfied", "客户满意案件", count(cs, "客户满意", YES),
                f'=COUNTIFS({rng("案件", "客户满意")},"{YES}")', "0", "解决时客户确认满意")
    add("satisfied_rate", "满意率", count(cs, "客户满意", YES) / max(resolved, 1), f"={n_sat}/MAX({n_res},1)", "0.0%",
        "客户满意案件 ÷ 已解决案件")
    cells = {}
    lib_sla = {"met": fig.sla["met"], "late": fig.sla["late"], "breached": fig.sla["breached_unanswered"]}
    for key in ("met", "late", "breached"):
        cells[key] = add(f"sla_{key}", f"时效：{SLA_OUTCOME_ZH[key]}", lib_sla[key],
                         f'=COUNTIFS({rng("案件", "时效结果")},"{SLA_OUTCOME_ZH[key]}")', "0",
                         "首次联系与截止时间比较（导出时）")
    add("sla_compliance", "时效达成率", fig.sla["compliance"] or 0,
        f"={cells['met']}/MAX({cells['met']}+{cells['late']}+{cells['breached']},1)", "0.0%",
        f"{SLA_OUTCOME_ZH['met']} ÷（{SLA_OUTCOME_ZH['met']} + {SLA_OUTCOME_ZH['late']} + {SLA_OUTCOME_ZH['breached']}）")
    for col, key, name in (("首次响应(小时)", "first_contact_hours_avg", "平均首次响应(小时)"),
                           ("解决用时(小时)", "resolution_hours_avg", "平均解决用时(小时)")):
        add(key, name, hours_avg(col),
            f'=SUMIFS({rng("案件", col)},{rng("案件", col)},">=0")/MAX(COUNTIFS({rng("案件", col)},">=0"),1)',
            "0.00", "有该时间的案件的平均值")
    delivered = "已送达"
    for state, key, name in ((delivered, "remedy_delivered_yuan", "已送达补偿(元)"),
                             ("待审批", "remedy_pending_yuan", "待审批补偿(元)")):
        fen = fig.remedy_fen if state == delivered else sum(int(r["金额(元)"]) for r in cp if r["状态"] == state)
        add(key, name, fen / 100, f'=SUMIFS({rng("补偿", "金额(元)")},{rng("补偿", "状态")},"{state}")', "0.00",
            f"状态为“{state}”的补偿金额")
    by_cat = dict(zip(fig.categories["category"], fig.categories["cases"], strict=True))
    for code in CATEGORY_CODES:
        zh = CATEGORY_ZH[code]
        add(f"cases_{code}", f"案件：{zh}", int(by_cat.get(code, 0)), f'=COUNTIFS({rng("案件", "分类")},"{zh}")', "0",
            "按主分类计的案件数")
    by_kind = dict(zip(fig.remedies["kind"], fig.remedies["amount_fen"], strict=True))
    for kind, zh in KIND_ZH.items():
        fen = int(by_kind.get(kind, 0))
        add(f"delivered_{kind}_yuan", f"已送达：{zh}(元)", fen / 100,
            f'=SUMIFS({rng("补偿", "金额(元)")},{rng("补偿", "方式代码")},"{kind}",{rng("补偿", "状态")},"{delivered}")',
            "0.00", "按补偿方式计的已送达金额")
    return out


# ---------------------------------------------------------------- writer
def _write(path: Path, period: Period, shop_ids: list[int] | None, data: dict[str, list[dict[str, Any]]],
           kpis: list[dict[str, Any]], generated: dt.datetime, policy_version: int | None) -> None:
    import xlsxwriter

    from ..core.outputs import formula_safe

    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                         "strings_to_urls": False})
    try:
        bold = wb.add_format({"bold": True})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        text = wb.add_format({"num_format": "@"})
        when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        yuan = wb.add_format({"num_format": "0.00"})
        num2 = wb.add_format({"num_format": "0.00"})
        fmts = {"0": wb.add_format({"num_format": "0"}), "0.00": num2, "0.0%": wb.add_format({"num_format": "0.0%"})}

        def put_text(ws: Any, i: int, j: int, value: Any, fmt: Any = None) -> None:
            ws.write_string(i, j, str(formula_safe(str(value))), fmt)

        ws = wb.add_worksheet("说明")
        ws.set_column(0, 0, 22)
        ws.set_column(1, 1, 100, wrap)
        shops = "全部店铺 all shops" if shop_ids is None else "、".join(map(str, shop_ids))
        info = [
            ("ReviewOps 分析工作簿", "analysis workbook — 无需 Python，Excel 与 WPS 均可打开 / no Python needed"),
            ("期间 period", f"{period.label}（北京时间 {period.start:%Y-%m-%d %H:%M} 至 {period.end:%Y-%m-%d %H:%M}，不含结束时刻）"),
            ("店铺 shops", shops),
            ("导出时间 exported", f"{generated:%Y-%m-%d %H:%M}（北京时间）"),
            ("策略版本 policy", "—" if policy_version is None else f"v{policy_version}"),
            ("评价分级", "期间内发布的评价及分级结果：评分、分类、严重程度、时效、截止时间、案件状态（表 Reviews）"),
            ("案件", "这些评价的案件：状态、建案/截止/首次联系/解决时间、时效结果、是否满意、处理人、首次联系人（表 Cases）"),
            ("补偿", "这些案件的补偿：方式、金额(元)、状态、申请与审批人（表 Compensations）"),
            ("KPI", ("B 列为导出时的数值（与周报/看板的 report_figures 一致）；C 列是可在 Excel/WPS 中重算的公式（COUNTIFS/SUMIFS 引用上面三张表），"
                     "点击 C 列单元格即可在编辑栏看到计算方法。数据表可直接插入数据透视表。")),
            ("时效结果", f"{SLA_OUTCOME_ZH['met']} = 截止前（含截止时刻）首次联系；{SLA_OUTCOME_ZH['late']} = 截止后才首次联系；"
                         f"{SLA_OUTCOME_ZH['breached']} = 导出时已到截止仍未联系；{SLA_OUTCOME_ZH['open']} = 尚未联系且未到截止；"
                         "无时效 = 没有截止时间且未联系（不计入达成率）"),
            ("时间与金额", "时间均为北京时间；金额单位为元，精确到分（两位小数）；订单号、客户键、评价键为文本"),
            ("个人信息", "评价与追评中的手机号、身份证号等已打码，昵称为打码形式；本文件不含收件人信息。导出已记录在访问日志。"),
        ]
        for i, (a, b) in enumerate(info):
            put_text(ws, i, 0, a, bold)
            put_text(ws, i, 1, b, wrap)

        for sheet in ("评价分级", "案件", "补偿"):
            ws = wb.add_worksheet(sheet)
            cols = _COLUMNS[sheet]
            rows = data[sheet]
            last = max(len(rows), 1)
            ws.add_table(0, 0, last, len(cols) - 1, {
                "name": TABLE_NAMES[sheet], "style": "Table Style Light 9",
                "columns": [{"header": c} for c in cols]})
            ws.freeze_panes(1, 0)
            for j, c in enumerate(cols):
                width = 40 if "已打码" in c and "昵称" not in c else (17 if "时间" in c else max(10, len(c) * 2 + 2))
                ws.set_column(j, j, width, text if c in _TEXT_COLUMNS else None)
            for i, r in enumerate(rows, start=1):
                for j, c in enumerate(cols):
                    v = r.get(c)
                    if v is None:
                        continue
                    if isinstance(v, _Fen):
                        ws.write_number(i, j, int(v) / 100, yuan)
                    elif isinstance(v, dt.datetime):
                        ws.write_datetime(i, j, v, when)
                    elif isinstance(v, bool):
                        put_text(ws, i, j, YES if v else NO)
                    elif isinstance(v, (int, float)) and c not in _TEXT_COLUMNS:
                        ws.write_number(i, j, v, num2 if isinstance(v, float) else None)
                    else:
                        put_text(ws, i, j, v, text if c in _TEXT_COLUMNS else None)

        ws = wb.add_worksheet("KPI")
        ws.freeze_panes(1, 0)
        for j, (h, w) in enumerate((("指标", 24), ("数值(导出时)", 14), ("公式重算", 14), ("说明", 50))):
            ws.write_string(0, j, h, bold)
            ws.set_column(j, j, w)
        for i, k in enumerate(kpis, start=1):
            fmt = fmts[k["format"]]
            put_text(ws, i, 0, k["name"])
            ws.write_number(i, 1, k["value"], fmt)
            ws.write_formula(i, 2, k["formula"], fmt, k["value"])
            put_text(ws, i, 3, k["help"])
    finally:
        wb.close()


def export_analysis(store: Store, period: str | Period, out: str | os.PathLike[str], *,
                    shop_ids: list[int] | None = None, actor: str = "system", purpose: str | None = None,
                    now: dt.datetime | None = None) -> AnalysisExport:
    """Write the analysis workbook of ``period`` (see :func:`parse_period`) for ``shop_ids`` (default
    all) to ``out`` and record the export in the access log. Returns what was written."""
    from ..core.outputs import file_sha256
    from ..core.policy import current_policy
    from ..core.store import utcnow
    from ..core.users import log_access
    from .reports import report_figures

    p = period if isinstance(period, Period) else parse_period(period)
    shops = None if shop_ids is None else sorted({int(s) for s in shop_ids})
    now = now or utcnow()
    path = Path(out)
    if path.suffix.lower() != ".xlsx":
        raise ConfigError(f"输出文件应以 .xlsx 结尾，收到 {str(path)!r} / the output file must end in .xlsx, got {str(path)!r}")
    rv, cs, cp, notes = _collect(store, p, shops, now)
    policy = current_policy(store, actor=actor)
    fig = report_figures(store, p.start, p.end, shop_ids=shops, now=now, policy=policy)
    agent_of = dict(zip(fig.cases["case_id"].astype(int), fig.cases["agent"], strict=True))
    for r in cs:  # the report's agent of a case: who made its first contact
        agent = agent_of.get(r["案件号"])
        r["首次联系人"] = agent if isinstance(agent, str) and agent else None
    kpis = _kpis(rv, cs, cp, fig)
    data = {"评价分级": rv, "案件": cs, "补偿": cp}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        _write(Path(tmp), p, shops, data, kpis, now.astimezone(SHANGHAI), policy.version)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    sha = file_sha256(path)
    rows = {k: len(v) for k, v in data.items()}
    with store.write() as conn:
        log_access(conn, actor=actor, role=None, action="export", outcome="ok", target="analysis",
                   purpose=purpose or "analysis workbook",
                   shop_id=shops[0] if shops and len(shops) == 1 else None,
                   detail={"period": p.label, "shops": shops, "file": path.name, "sha256": sha, "rows": rows,
                           "columns": {k: list(v) for k, v in _COLUMNS.items()}, "masked": True})
    return AnalysisExport(path=path, period=p, shop_ids=shops, rows=rows, kpis=kpis, sha256=sha, notes=notes)


#: The files of the Excel kit that ``reviewops export workbook`` hands out (paths inside the installed
#: ``reviewops_workbooks`` package): the classic xlwings workbook and the xlwings Lite tabs.
WORKBOOK_FILES = ("ReviewOps.xlsm", "lite/main.py", "lite/requirements.txt")


def export_workbooks(out_dir: str | os.PathLike[str], *, overwrite: bool = False) -> list[Path]:
    """Copy the installed Excel kit (:data:`WORKBOOK_FILES`) into ``out_dir`` and return the written paths.

    An existing file is never replaced unless ``overwrite`` (an analyst's edited copy must not be lost):
    all names are checked before anything is written, and the refusal names every file in the way.
    """
    try:
        import reviewops_workbooks
    except ImportError:
        raise ConfigError("没有安装 Excel 工作簿（reviewops_workbooks）：请安装完整的 reviewops（pip install reviewops），"
                          "reviewops-core 不带工作簿 / the Excel workbooks are not installed: install the full kit, "
                          "reviewops-core does not ship them") from None
    src = reviewops_workbooks.workbooks_dir()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"输出位置应为文件夹，收到文件 {str(out)!r} / the output must be a folder, got the file {str(out)!r}")
    missing = [name for name in WORKBOOK_FILES if not (src / name).is_file()]
    if missing:
        raise ConfigError(f"安装不完整，缺少 {', '.join(missing)}（在 {src}）：请重新安装 reviewops / "
                          f"incomplete install, missing {', '.join(missing)} in {src}: reinstall reviewops")
    existing = [str(out / name) for name in WORKBOOK_FILES if (out / name).exists()]
    if existing and not overwrite:
        raise ConfigError(f"文件已存在，未写入任何文件：{', '.join(existing)}。换一个文件夹，或加 --overwrite 覆盖 / "
                          f"files already exist, nothing written: {', '.join(existing)}; choose another folder or "
                          f"pass --overwrite")
    written = []
    for name in WORKBOOK_FILES:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            Path(tmp).write_bytes((src / name).read_bytes())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        written.append(target)
    return written
