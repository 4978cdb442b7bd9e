"""The live dashboard (SPEC D1): what the 数据看板 form shows, for the signed-in user.

The figures themselves come from :func:`reviewops.reporting.reports.report_figures` — the same computation as
the weekly 差评TOP3 report — so the dashboard and the Monday report never disagree. This module only
turns the form's inputs into that call (Beijing days → a period, single choices → filters, the
user's shops as the limit), offers the filter choices a user may pick, and draws the two charts.

* **Period.** ``first`` … ``last`` are Beijing calendar days, both included. The form opens on
  :func:`opening_range`: the last seven days ending today (:func:`default_period`) when they hold a
  review the user may see, otherwise the **latest week with data** (the seven days ending on the day of
  the newest such review, :func:`latest_week`) with a sentence saying so; on a store without any review it
  stays on the last seven days. Whenever the chosen range and filters hold no review,
  :func:`empty_range` gives the sentence the form shows (所选范围 … 没有评价) and the latest week with data
  for the same shop, platform and SKU filters, which the form offers as a button.
* **Who sees what.** :func:`dashboard_figures` passes the :class:`~reviewops.core.users.Actor` to
  ``report_figures``: a user limited to some shops sees only those shops' reviews and cases (no shop
  chosen = all of the user's shops); asking for another shop raises :class:`AccessDenied`.
  :func:`dashboard_options` offers only the user's shops and the platforms of those shops.
* **Agent** = who made a case's first contact (see ``report_figures``); the choices are the users
  who share at least one shop with the signed-in user.
* **Charts** are PNG bytes drawn by matplotlib with a CJK font (:mod:`reviewops.reporting.charts`); no user
  text reaches the page as markup through them. :func:`dashboard_charts` gives each chart either its PNG
  or, when there is nothing to draw (no review in the range, no 中差评 to classify), a short Chinese
  message instead — never empty axes.
* **Alert delays** (SPEC E1): :func:`alert_delay_table` turns ``fig.alert_delays`` into the table the
  dashboard and the weekly playbook both show — Chinese headers, seconds with one decimal, shares in %.
* **Platform appeals** (SPEC H3, issue 17 §3): :func:`appeal_table` turns ``fig.appeals``
  (:func:`reviewops.reporting.reports.appeal_figures`) into the 指标/数值 table the dashboard and the weekly
  playbook both show — filed, won, lost, pending, and the share of malicious cases appealed in time.
* **Review ambassadors** (SPEC V3, issue 20): :func:`ambassador_table` turns ``fig.ambassadors``
  (:func:`reviewops.reporting.reports.ambassador_figures`) into a 指标/数值 table — referred orders, their
  revenue, coupon and gift cost, total cost and revenue per yuan of cost; ``figures_summary`` carries
  ``ambassador_cost_fen``.
* **Alert service** (SPEC E1/E2): :func:`alert_service` reduces :func:`reviewops.alerting.watch.watch_status` to
  its global, non-personal parts (is a watcher beating, the delivery queue by state, the oldest waiting
  alert, the problems); :func:`dead_letter_list` / :func:`dead_letter_table` are the dead letters of the
  signed-in user's shops as the dashboard shows them; :func:`may_resend` says whether the user gets the
  re-send buttons (:data:`reviewops.alerting.alerts.RESEND_ROLES`; :func:`reviewops.alerting.alerts.resend` checks again).
* **Holiday calendar** (R-11): :func:`calendar_notice` is the sentence the form shows on top when the next
  60 days lack holiday data (:func:`reviewops.core.clock.calendar_warning` — ``chinese_calendar`` and the
  policy's 节假日 sheet); the 提醒服务 panel leaves that problem to it instead of repeating it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..alerting.channels import alert_title
from .reports import ALERT_DELAY_COLUMNS, SHANGHAI, ReportFigures, day_bounds, report_figures

if TYPE_CHECKING:
    import pandas as pd

    from ..core.store import Store
    from ..core.users import Actor

__all__ = [
    "ALERT_DELAY_TITLE",
    "AMBASSADOR_TITLE",
    "APPEAL_LABELS",
    "APPEAL_TITLE",
    "ALERT_SERVICE_TITLE",
    "DEAD_LETTER_HEAD",
    "DEAD_LETTER_LIMIT",
    "DEAD_LETTER_TITLE",
    "DELIVERY_STATE_ZH",
    "WATCHER_STATE_ZH",
    "AlertService",
    "DashboardChart",
    "DashboardOptions",
    "EmptyRange",
    "OpeningRange",
    "COMMITMENT_EMPTY",
    "COMMITMENT_TITLE",
    "alert_delay_table",
    "ambassador_table",
    "appeal_table",
    "commitment_breach_table",
    "commitment_table",
    "sla_table",
    "alert_kind_zh",
    "alert_service",
    "calendar_notice",
    "category_chart_png",
    "category_figure",
    "daily_chart_png",
    "daily_figure",
    "dashboard_charts",
    "dashboard_figures",
    "dashboard_options",
    "dead_letter_list",
    "dead_letter_table",
    "default_period",
    "empty_range",
    "latest_week",
    "may_resend",
    "opening_range",
]

DEFAULT_DAYS = 7
ALERT_DELAY_TITLE = "提醒时效（E1：到达→送达，目标 1 分钟内）"
# the columns the table shows (all of ALERT_DELAY_COLUMNS but the source code), in that order
ALERT_DELAY_SHOWN = ("source_zh", "alerts", "detect_p50_s", "detect_p95_s", "delivered", "deliver_p50_s",
                     "deliver_p95_s", "within_60s", "within_60s_rate", "pending", "dead", "no_channel", "note")


def default_period(today: dt.date | None = None, days: int = DEFAULT_DAYS) -> tuple[dt.date, dt.date]:
    """The last ``days`` Beijing days ending ``today`` (default: today in Beijing), both included."""
    if today is None:
        today = dt.datetime.now(SHANGHAI).date()
    return today - dt.timedelta(days=days - 1), today


def _period_text(first: dt.date, last: dt.date) -> str:
    return f"{first:%Y-%m-%d} 至 {last:%Y-%m-%d}（北京时间）"


def _current(store: Store, actor: Actor) -> Actor:
    """``actor`` as the store says now (:func:`reviewops.core.users.current_actor`, one small query): an open
    dashboard of a user disabled or moved to other shops shows only what they may see at this refresh; a
    disabled user gets :class:`AccessDenied`, logged as a refused read (target ``dashboard``)."""
    from ..core.users import current_actor

    return current_actor(store, actor, view="dashboard")


def _visible_shops(store: Store, actor: Actor, shop: int | None = None, platform: str | None = None) -> list[int] | None:
    """The shops whose reviews count for ``actor`` and the shop/platform choice (None = every shop)."""
    import sqlalchemy as sa

    from ..core.store import shops

    actor = _current(store, actor)
    if shop is None and not platform and actor.shops is None:
        return None
    with store.read() as conn:
        rows = conn.execute(sa.select(shops.c.id, shops.c.platform)).all()
    return sorted(int(r.id) for r in rows
                  if actor.may_see_shop(int(r.id)) and (shop is None or int(r.id) == shop)
                  and (not platform or r.platform == platform))


def latest_week(store: Store, actor: Actor, *, shop: int | None = None, platform: str | None = None, sku: str = "",
                days: int = DEFAULT_DAYS) -> tuple[dt.date, dt.date] | None:
    """The latest week with data: the ``days`` Beijing days ending on the day of the newest review ``actor``
    may see that matches the shop, platform and SKU choices; None when there is no such review."""
    from .reports import latest_review_at

    sku = (sku or "").strip()
    t = latest_review_at(store, shop_ids=_visible_shops(store, actor, shop, platform), skus=[sku] if sku else None)
    if t is None:
        return None
    last = t.astimezone(SHANGHAI).date()
    return last - dt.timedelta(days=days - 1), last


@dataclass(frozen=True)
class OpeningRange:
    """The range the dashboard opens on (:func:`opening_range`): ``first`` … ``last`` (Beijing days);
    ``moved`` — the last days were empty, so this is the latest week with data; ``message`` — the
    sentence the form shows about it ("" when nothing needs saying)."""

    first: dt.date
    last: dt.date
    moved: bool
    message: str


def opening_range(store: Store, actor: Actor, today: dt.date | None = None, days: int = DEFAULT_DAYS) -> OpeningRange:
    """Where the dashboard opens for ``actor``: the last ``days`` days ending ``today`` (Beijing) when they
    hold a review the user may see; otherwise the latest week with data (:func:`latest_week`) and a sentence
    saying why; on a store with no review at all, the last ``days`` days (the form then shows
    :func:`empty_range`'s message)."""
    import sqlalchemy as sa

    from ..core.store import reviews

    first, last = default_period(today, days)
    start, end = day_bounds(first, last)
    visible = _visible_shops(store, actor)
    q = sa.select(reviews.c.id).where(reviews.c.created_at >= start, reviews.c.created_at < end).limit(1)
    if visible is not None:
        q = q.where(reviews.c.shop_id.in_(visible or [-1]))
    with store.read() as conn:
        if conn.execute(q).first() is not None:
            return OpeningRange(first, last, False, "")
    latest = latest_week(store, actor, days=days)
    if latest is None:
        return OpeningRange(first, last, False, "")
    return OpeningRange(latest[0], latest[1], True,
                        f"最近 {days} 天（{first:%m-%d} 至 {last:%m-%d}）没有评价，已打开有数据的最近一周："
                        f"{_period_text(*latest)}。/ no reviews in the last {days} days; showing the latest week with data.")


@dataclass(frozen=True)
class EmptyRange:
    """What the dashboard says about a range without reviews (:func:`empty_range`): ``message``;
    ``latest`` — the latest week with data for the same filters (None = none at all); ``button`` — the
    label of the button that opens it ("" when ``latest`` is None)."""

    message: str
    latest: tuple[dt.date, dt.date] | None
    button: str


def empty_range(store: Store, actor: Actor, fig: ReportFigures, *, shop: int | None = None,
                platform: str | None = None, sku: str = "") -> EmptyRange | None:
    """None when ``fig`` (from :func:`dashboard_figures` with these filters) counts a review; otherwise the
    plain statement that the range is empty and the latest week with data to offer instead."""
    if fig.reviews:
        return None
    first = fig.start.astimezone(SHANGHAI).date()
    last = (fig.end - dt.timedelta(microseconds=1)).astimezone(SHANGHAI).date()
    filtered = shop is not None or bool(platform) or bool((sku or "").strip())
    said = f"所选范围 {_period_text(first, last)}{'在所选筛选条件下' if filtered else ''}没有评价，图表和表格为空。"
    latest = latest_week(store, actor, shop=shop, platform=platform, sku=sku)
    if latest is None:
        if filtered:
            return EmptyRange(said + "所选筛选条件下还没有任何评价；请放宽筛选条件。/ no reviews match these filters at all.",
                              None, "")
        return EmptyRange(said + "还没有任何评价数据：请先导入评价（reviewops import）或生成演示数据（reviewops demo）。"
                          "/ the store holds no reviews yet.", None, "")
    return EmptyRange(said + f"有数据的最近一周是 {_period_text(*latest)}。/ the range holds no reviews.", latest,
                      f"查看有数据的最近一周（{latest[0]:%m-%d} 至 {latest[1]:%m-%d}）")


@dataclass(frozen=True)
class DashboardOptions:
    """Filter choices for one user: ``shops`` (label, shop id), ``platforms`` (label, code), ``agents`` (label, name)."""

    shops: list[tuple[str, int]]
    platforms: list[tuple[str, str]]
    agents: list[tuple[str, str]]


def _user_shops(text: str | None) -> set[int] | None:
    text = (text or "").strip()
    if text in ("", "*"):
        return None
    return {int(s) for s in text.split(";") if s.strip().isdigit()}


def dashboard_options(store: Store, actor: Actor) -> DashboardOptions:
    """The shops and platforms ``actor`` may see, and the users who may have worked their cases."""
    import sqlalchemy as sa

    from ..core.columns import PLATFORM_ZH
    from ..core.store import shops
    from ..core.users import list_users

    actor = _current(store, actor)
    with store.read() as conn:
        rows = conn.execute(sa.select(shops.c.id, shops.c.name, shops.c.platform).order_by(shops.c.id)).all()
    visible = [r for r in rows if actor.may_see_shop(int(r.id))]
    shop_opts = [(f"{r.name}（{PLATFORM_ZH.get(r.platform, r.platform)}）#{r.id}", int(r.id)) for r in visible]
    platforms = sorted({r.platform for r in visible})
    platform_opts = [(f"{PLATFORM_ZH.get(p, p)}（{p}）", p) for p in platforms]
    mine = {int(r.id) for r in visible}
    agents = []
    for u in list_users(store):
        theirs = _user_shops(u["shops"])
        if theirs is None or actor.shops is None or theirs & mine:
            agents.append((f"{u['display_name'] or u['name']}（{u['name']}）", u["name"]))
    return DashboardOptions(shops=shop_opts, platforms=platform_opts, agents=agents)


def dashboard_figures(store: Store, actor: Actor, first: dt.date, last: dt.date, *, shop: int | None = None,
                      platform: str | None = None, sku: str = "", agent: str | None = None,
                      now: dt.datetime | None = None) -> ReportFigures:
    """The figures for Beijing days ``first`` … ``last`` (inclusive) and the chosen filters, as ``actor`` may see them.

    ``shop``/``platform``/``agent``: one choice or None (all); ``sku``: text to look for in the product
    id, title or SKU ("" = all). Errors: :class:`ConfigError` (bad dates, unknown shop/platform/agent),
    :class:`AccessDenied` (a shop outside the user's shops).
    """
    from ..core.errors import AccessDenied
    from ..core.users import log_denied

    actor = _current(store, actor)
    start, end = day_bounds(first, last)
    sku = (sku or "").strip()
    try:
        return report_figures(store, start, end, actor=actor, shop_ids=None if shop is None else [shop],
                              platforms=None if not platform else [platform], skus=[sku] if sku else None,
                              agents=None if not agent else [agent], now=now)
    except AccessDenied as e:  # another shop's figures: refused and recorded in the access log
        log_denied(store, actor, "dashboard", e, shop_id=shop)
        raise


DAILY_CHART_TITLE = "每日中差评（北京时间）"
CATEGORY_CHART_TITLE = "中差评分类"


def daily_figure(fig: ReportFigures) -> Any:
    """The daily chart as a matplotlib Figure (:func:`daily_chart_png`); no review: a message figure."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from .charts import message_figure, use_cjk_font

    if not fig.reviews:
        return message_figure(f"{DAILY_CHART_TITLE}：所选范围内没有评价")
    use_cjk_font()
    d = fig.daily
    labels = [str(x)[5:] for x in d["date"]]  # MM-DD
    f = Figure(figsize=(6.4, 2.8), dpi=100)
    ax = f.add_subplot(1, 1, 1)
    counts = [int(x) for x in d["negative"]]
    ax.bar(labels, counts, color="#e57373", label="中差评数")
    ax.set_ylabel("中差评数")
    ax.set_ylim(bottom=0, top=max(counts + [1]) * 1.15)  # a count axis starts at 0, never below
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax2 = ax.twinx()
    rates = [None if r is None or math.isnan(float(r)) else float(r) * 100 for r in d["rate"]]
    ax2.plot(labels, [float("nan") if r is None else r for r in rates], color="#1565c0", marker="o", label="中差评率")
    ax2.set_ylabel("中差评率（%）")
    ax2.set_ylim(bottom=0, top=max([r for r in rates if r is not None] + [1.0]) * 1.25)
    ax.set_title(DAILY_CHART_TITLE)
    if len(labels) > 14:
        step = max(1, len(labels) // 10)
        ax.set_xticks(range(0, len(labels), step))
        ax.set_xticklabels(labels[::step])
    ax.tick_params(axis="x", labelsize=8)
    f.tight_layout()
    return f


def category_figure(fig: ReportFigures) -> Any:
    """The category chart as a matplotlib Figure (:func:`category_chart_png`); no 中差评: a message figure."""
    from .charts import bar_figure

    c = fig.categories
    return bar_figure([str(x) for x in c["category_zh"]], [int(x) for x in c["cases"]], title=CATEGORY_CHART_TITLE,
                      unit="案件数", empty="所选范围内没有评价" if not fig.reviews else "所选范围内没有中差评")


def daily_chart_png(fig: ReportFigures) -> bytes:
    """Bars of the daily 中差评 count with the daily 中差评率 (%) as a line on a second axis; a range
    without reviews gives the message chart (:func:`reviewops.reporting.charts.message_figure`) instead."""
    from .charts import png

    return png(daily_figure(fig), dpi=100)


def category_chart_png(fig: ReportFigures) -> bytes:
    """Horizontal bars of the cases per primary category (Chinese names); none: the message chart."""
    from .charts import png

    return png(category_figure(fig), dpi=100)


@dataclass(frozen=True)
class DashboardChart:
    """One chart of the dashboard: ``key`` (daily | categories), ``title``, and either ``png`` (the chart)
    or ``message`` (the Chinese sentence shown instead when there is nothing to draw; ``png`` is then None)."""

    key: str
    title: str
    png: bytes | None
    message: str | None


def dashboard_charts(fig: ReportFigures) -> list[DashboardChart]:
    """The dashboard's two charts for ``fig``: each a PNG, or a message when it would have no data."""
    from .charts import figure_message, png

    out = []
    for key, title, draw in (("daily", DAILY_CHART_TITLE, daily_figure),
                             ("categories", CATEGORY_CHART_TITLE, category_figure)):
        f = draw(fig)
        message = figure_message(f)
        out.append(DashboardChart(key, title, None if message is not None else png(f, dpi=100), message))
    return out


def figures_summary(fig: ReportFigures) -> dict[str, Any]:
    """The headline numbers as plain values (for tests and the form's header)."""
    return {"reviews": fig.reviews, "negative": fig.negative, "rate": fig.rate, "compliance": fig.sla["compliance"],
            "first_contact_hours_median": fig.sla["first_contact_hours_median"],
            "resolution_hours_median": fig.sla["resolution_hours_median"], "revision_rate": fig.revision_rate,
            "remedy_fen": fig.remedy_fen, **{f"appeals_{k}": v for k, v in fig.appeals.items()},
            "ambassador_cost_fen": int(fig.ambassadors.get("total", 0))}


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def alert_delay_table(df: pd.DataFrame) -> pd.DataFrame:
    """``ReportFigures.alert_delays`` as shown: the Chinese headers of :data:`ALERT_DELAY_COLUMNS`, every
    value text — seconds with one decimal, the within-1-minute share in % (one decimal), ``—`` when there
    is nothing to measure. The same table on the dashboard and in the weekly playbook."""
    import pandas as pd

    zh = {c: h for c, h, _ in ALERT_DELAY_COLUMNS}

    def seconds(x: Any) -> str:
        return "—" if _missing(x) else f"{float(x):.1f}"

    def share(x: Any) -> str:
        return "—" if _missing(x) else f"{float(x):.1%}"

    shown = {"detect_p50_s": seconds, "detect_p95_s": seconds, "deliver_p50_s": seconds, "deliver_p95_s": seconds,
             "within_60s_rate": share}
    out = pd.DataFrame({zh[c]: [shown[c](x) if c in shown else ("" if _missing(x) else str(x)) for x in df[c]]
                        for c in ALERT_DELAY_SHOWN}, columns=[zh[c] for c in ALERT_DELAY_SHOWN])
    return out.reset_index(drop=True)


def sla_table(sla: dict[str, Any], *, cases_label: str = "案件数") -> pd.DataFrame:
    """``ReportFigures.sla`` as shown: 指标 / 数值 rows named by the one SLA status
    (:data:`reviewops.core.sla.SLA_STATUS_ZH` — the words the queue, RO_CASES and the analysis export use),
    every value text (rate in %, hours with one decimal, ``—`` when there is nothing to measure).
    The same table on the dashboard and in the weekly playbook."""
    import pandas as pd

    from ..core.sla import SLA_STATUS_ZH

    def share(x: Any) -> str:
        return "—" if _missing(x) else f"{float(x):.1%}"

    def hours(x: Any) -> str:
        return "—" if _missing(x) else f"{float(x):.1f} 小时"

    rows = [
        (cases_label, str(sla["cases"])),
        (f"{SLA_STATUS_ZH['met']}（截止前首次联系）", str(sla["met"])),
        (f"{SLA_STATUS_ZH['late']}（截止后才首次联系）", str(sla["late"])),
        (f"{SLA_STATUS_ZH['breached']}（到截止仍未联系）", str(sla["breached_unanswered"])),
        (f"{SLA_STATUS_ZH['running']}（未到截止、尚未联系）", str(sla["open_in_time"])),
        ("SLA 达成率", share(sla["compliance"])),
        ("首次联系用时中位数", hours(sla["first_contact_hours_median"])),
        ("解决用时中位数", hours(sla["resolution_hours_median"])),
    ]
    return pd.DataFrame(rows, columns=["指标", "数值"])


APPEAL_TITLE = "平台申诉（恶意差评）"
#: ``fig.appeals`` key → the row's Chinese label (the weekly playbook and the dashboard)
APPEAL_LABELS = {
    "filed": "提交申诉数（本期提交平台）",
    "won": "申诉成功（本期平台受理）",
    "lost": "申诉被驳回（本期平台驳回）",
    "pending": "待平台处理（期末）",
    "due": "申诉截止在本期的恶意差评",
    "in_time": "其中按时申诉",
    "in_time_rate": "按时申诉率",
}


def appeal_table(appeals: dict[str, Any]) -> pd.DataFrame:
    """``ReportFigures.appeals`` as shown: 指标 / 数值 rows (:data:`APPEAL_LABELS`), every value text (counts as
    integers, the in-time share in %, ``—`` when no malicious case's deadline fell in the period).
    The same table on the dashboard and in the weekly playbook."""
    import pandas as pd

    rows = [(label, ("—" if _missing(appeals.get(k)) else f"{float(appeals[k]):.1%}") if k == "in_time_rate"
             else str(int(appeals.get(k) or 0))) for k, label in APPEAL_LABELS.items()]
    return pd.DataFrame(rows, columns=["指标", "数值"])


AMBASSADOR_TITLE = "推荐大使（V3：推荐奖励成本与推荐订单）"


def ambassador_table(amb: dict[str, Any]) -> pd.DataFrame:
    """``ReportFigures.ambassadors`` as shown: 指标 / 数值 rows, money in yuan with two decimals, the revenue per
    yuan of reward cost (``—`` without cost). The same table on the dashboard and in the weekly playbook."""
    import pandas as pd

    def yuan(k: str) -> str:
        return f"{int(amb.get(k) or 0) / 100:,.2f} 元"

    cost = int(amb.get("total") or 0)
    rows = [("推荐订单（未取消、未全额退款）", str(int(amb.get("referred_orders") or 0))),
            ("推荐订单收入（实付减退款）", yuan("referred_revenue_fen")),
            ("推荐优惠券成本", yuan("referral_coupon")), ("推荐满额礼品成本", yuan("threshold_gift")),
            ("奖励成本合计", yuan("total")),
            ("每 1 元奖励带来的收入", "—" if not cost else f"{int(amb.get('referred_revenue_fen') or 0) / cost:.2f}")]
    return pd.DataFrame(rows, columns=["指标", "数值"])


COMMITMENT_TITLE = "服务承诺（P6：达成率与违约）"
COMMITMENT_EMPTY = "本期没有需要履约的事件（没有付款订单、售后申请、买家咨询、破损理赔或退货入库）。"
BREACH_LIMIT = 200  # breach rows shown (the weekly playbook's XLSX keeps them all)


def _unit_value(v: Any, unit: str) -> str:
    return "—" if _missing(v) else f"{float(v):.1f} {unit}"


def commitment_table(adherence: pd.DataFrame) -> pd.DataFrame:
    """``ReportFigures.commitments`` as shown: one row per commitment — 承诺, 时限, 应履约, 守约, 违约, 进行中, 达成率
    (``—`` when nothing was eligible), 用时中位数, 用时P90, 展示商品数 — every value text. The same table on the
    dashboard and in the weekly playbook."""
    import pandas as pd

    rows = [(r.name_zh, f"{r.limit:g} {r.unit_zh}", str(int(r.eligible)), str(int(r.kept)), str(int(r.breached)),
             str(int(r.open)), "—" if _missing(r.rate) else f"{float(r.rate):.1%}", _unit_value(r.median, r.unit_zh),
             _unit_value(r.p90, r.unit_zh), str(int(r.listings))) for r in adherence.itertuples(index=False)]
    return pd.DataFrame(rows, columns=["承诺", "时限", "应履约", "守约", "违约", "进行中", "达成率", "用时中位数",
                                       "用时P90", "展示商品数"])


def commitment_breach_table(breaches: pd.DataFrame, *, limit: int | None = BREACH_LIMIT) -> pd.DataFrame:
    """``ReportFigures.commitment_breaches`` as shown (Beijing time, order ids as the redaction leaves them), the
    first ``limit`` rows (None = all). 用时 is given for closed events only: an event still open grows with the
    clock, and a report of a past week must read the same whenever it is run (its 状态 says it is open)."""
    import pandas as pd

    b = breaches if limit is None else breaches.head(limit)
    rows = [(r.name_zh, str(r.shop_id), r.event_id, r.order_id or "—", _beijing(r.started_at), _beijing(r.due_at),
             "—" if _missing(r.closed_at) else _beijing(r.closed_at),
             "—" if _missing(r.closed_at) else f"{float(r.elapsed):.1f} {r.unit_zh}", r.status_zh)
            for r in b.itertuples(index=False)]
    return pd.DataFrame(rows, columns=["承诺", "店铺编号", "事件", "订单号", "开始(北京)", "时限(北京)", "结束(北京)",
                                       "用时", "状态"])


# ------------------------------------------------------------------------------ alert service (E1/E2)
ALERT_SERVICE_TITLE = "提醒服务"
DEAD_LETTER_TITLE = "发送失败的提醒（死信）"
#: the delivery states in the order the dashboard shows them
DELIVERY_STATE_ZH = {"pending": "待发送", "sending": "发送中", "delivered": "已送达", "dead": "死信"}
#: the watcher as a whole: a heartbeat within ``watch_status``'s 30 s, only older ones, or none ever
WATCHER_STATE_ZH = {"running": "运行中", "stale": "无心跳", "never": "从未运行"}
#: the newest dead letters the dashboard lists (re-sending "all" covers every one of the user's shops)
DEAD_LETTER_LIMIT = 200
#: the columns of :func:`dead_letter_table`, in order (Chinese headers)
DEAD_LETTER_HEAD = {"delivery_id": "投递编号", "kind": "提醒类型", "case_id": "案件编号", "shop": "店铺",
                    "channel": "渠道", "channel_type": "渠道类型", "attempts": "已尝试次数", "last_error": "失败原因",
                    "arrived_at": "评价到达（北京时间）", "updated_at": "进入死信（北京时间）", "key": "提醒编号"}
CHANNEL_PROBLEM_NOTE = "（在看板服务器的环境中检查；监控服务的环境变量可能不同 / checked in the dashboard server's environment）"


@dataclass(frozen=True)
class AlertService:
    """What the 提醒服务 panel shows — global and without personal data (no host, pid or counters).

    ``state``: running | stale | never (:data:`WATCHER_STATE_ZH`); ``age_s``: seconds since the newest
    heartbeat (None = never); ``watchers``: one dict per watcher (``name state state_zh age_s``);
    ``queue``: (state, 中文, count) for every delivery state, :data:`DELIVERY_STATE_ZH` first;
    ``oldest_pending_s``: how long the oldest pending/sending alert has waited (None = none waiting);
    ``problems``: ``watch_status``'s problems (channel checks marked as done in this environment) except the
    missing holiday data, which the dashboard shows on top (:func:`calendar_notice`); ``ok``: no problem left."""

    state: str
    state_zh: str
    age_s: float | None
    watchers: list[dict[str, Any]]
    queue: list[tuple[str, str, int]]
    oldest_pending_s: float | None
    problems: list[str]
    ok: bool


def alert_service(store: Store, *, now: dt.datetime | None = None) -> AlertService:
    """:func:`reviewops.alerting.watch.watch_status` reduced to what any signed-in user may see."""
    from ..alerting.watch import watch_status

    st = watch_status(store, now=now)
    watchers = []
    for w in st["watchers"]:
        state = "running" if w["alive"] else "stale"
        watchers.append({"name": str(w["name"]), "state": state, "state_zh": WATCHER_STATE_ZH[state],
                         "age_s": float(w["age_s"])})
    if not watchers:
        state, age = "never", None
    else:
        state = "running" if any(w["state"] == "running" for w in watchers) else "stale"
        age = min(w["age_s"] for w in watchers)
    counts = {str(k): int(v) for k, v in (st["deliveries"] or {}).items()}
    queue = [(k, zh, counts.pop(k, 0)) for k, zh in DELIVERY_STATE_ZH.items()]
    queue += [(k, k, v) for k, v in sorted(counts.items())]  # a state this version does not know: as stored
    waiting = sum(n for k, _zh, n in queue if k in ("pending", "sending"))
    channel_problems = {f"渠道 {c['channel']}：{c['problem']}" for c in st["channels"] if c.get("problem")}
    calendar = st.get("calendar")  # shown on top of the dashboard by calendar_notice, not again in this panel
    shown = [p for p in st["problems"] if calendar is None or p != f"{calendar['message_zh']} / {calendar['message_en']}"]
    problems = [p + CHANNEL_PROBLEM_NOTE if p in channel_problems else p for p in shown]
    return AlertService(state=state, state_zh=WATCHER_STATE_ZH[state], age_s=age, watchers=watchers, queue=queue,
                        oldest_pending_s=float(st["oldest_pending_s"]) if waiting else None, problems=problems,
                        ok=bool(st["ok"]) or not shown)


def calendar_notice(store: Store, *, now: dt.datetime | None = None) -> str | None:
    """The dashboard's holiday-data notice at ``now`` (default: the current time), or None: the next 60 days
    lack holiday data under the current policy (:func:`reviewops.core.clock.calendar_warning`, the sentence
    triage, ``reviewops watch --status`` and the daily sweep show too)."""
    from ..core.clock import calendar_warning
    from ..core.policy import current_policy

    gap = calendar_warning(current_policy(store), now)
    return None if gap is None else str(gap)


def may_resend(actor: Actor) -> bool:
    """Whether ``actor`` gets the re-send buttons (a hint: :func:`reviewops.alerting.alerts.resend` decides)."""
    from ..alerting.alerts import RESEND_ROLES

    return actor.role in RESEND_ROLES


def alert_kind_zh(kind: str) -> str:
    """新中差评 / 时效预警 NN% / 超时升级, the other kinds by their alert headline (an unknown kind as stored)."""
    if kind == "new_case":
        return "新中差评"
    if kind.startswith("warn_"):
        return f"时效预警 {kind.removeprefix('warn_')}%"
    if kind == "breach":
        return "超时升级"
    title = alert_title(kind)  # the alert kinds' headlines (malicious, appeals, commitments …)
    return kind if title == alert_title("") else title


def dead_letter_list(store: Store, actor: Actor, *, limit: int = DEAD_LETTER_LIMIT) -> pd.DataFrame:
    """The newest dead letters of ``actor``'s shops (all shops for a user without a limit): the columns of
    :data:`reviewops.alerting.alerts.DEAD_LETTER_COLUMNS` and ``shop`` (``店名（平台）#id``)."""
    import sqlalchemy as sa

    from ..alerting.alerts import dead_letters
    from ..core.columns import PLATFORM_ZH
    from ..core.store import shops

    actor = _current(store, actor)
    df = dead_letters(store, limit=limit, shop_ids=None if actor.shops is None else sorted(actor.shops))
    with store.read() as conn:
        names = {int(r.id): f"{r.name}（{PLATFORM_ZH.get(r.platform, r.platform)}）#{r.id}"
                 for r in conn.execute(sa.select(shops.c.id, shops.c.name, shops.c.platform))}
    df["shop"] = [names.get(int(s), f"#{s}") for s in df["shop_id"]]
    return df


def _beijing(t: Any) -> str:
    import pandas as pd

    if t is None or pd.isna(t):
        return "—"
    from ..core.outputs import fmt_time  # Beijing time (naive = UTC, as stored), the one formatter for people

    return fmt_time(t, "%Y-%m-%d %H:%M:%S")


def dead_letter_table(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`dead_letter_list` as shown: :data:`DEAD_LETTER_HEAD` headers, every value text — the kind and
    channel type in Chinese, times in Beijing time."""
    import pandas as pd

    from ..core.policy import CHANNEL_TYPE_ZH

    def cell(col: str, x: Any) -> str:
        if col in ("arrived_at", "updated_at"):
            return _beijing(x)
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return ""
        if col == "kind":
            return alert_kind_zh(str(x))
        if col == "channel_type":
            return CHANNEL_TYPE_ZH.get(str(x), str(x))
        return str(x)

    out = pd.DataFrame({h: [cell(c, x) for x in df[c]] for c, h in DEAD_LETTER_HEAD.items()},
                       columns=list(DEAD_LETTER_HEAD.values()))
    return out.reset_index(drop=True)
