"""数据看板 — the live dashboard (SPEC D1): the weekly report's figures for any dates and filters.

``build_dashboard(wb)`` shows, for the signed-in ``wb.actor`` and the chosen Beijing days, shop, platform,
SKU text and agent: reviews, 中差评 and rate, SLA compliance, median hours to
first contact and to resolution, revision rate and compensation cost as headline figures; the daily
chart and the category chart (PNG, drawn server-side); and tables of the category mix, SLA (with the
alert delays per source, SPEC E1, below it), remedies (with the 推荐大使 programme's reward cost and referred
orders below them, SPEC V3 — dates and shop filter only) and the breakdowns by shop, platform, SKU and agent. Everything is computed by
:func:`reviewops.reporting.dashboard.dashboard_figures` (which calls :func:`reviewops.reporting.reports.report_figures`, as
the weekly report does); this form only reads the filters and shows the result, every value escaped.

It opens on :func:`reviewops.reporting.dashboard.opening_range` (the last 7 days, or the latest week with data when
those are empty — the notice line 「ro-dash-notice」 says so). When the chosen range holds no review the
notice says so plainly (:func:`reviewops.reporting.dashboard.empty_range`) and the button 「查看有数据的最近一周」
(``ro-dash-latest``) sets the dates to the latest week with data; a chart with nothing to draw is a short
message (``ro-dash-chart-empty``), never empty axes.

On top, 「ro-dash-calendar」 says plainly when the next 60 days lack holiday data (deadlines would count
Monday–Friday; :func:`reviewops.reporting.dashboard.calendar_notice`) and is empty otherwise.

Below the SLA panel: 「提醒服务」 (is ``reviewops watch`` beating, the delivery queue by state, the oldest
waiting alert, the problems — :func:`reviewops.reporting.dashboard.alert_service`) and 「发送失败的提醒（死信）」, the
dead letters of the user's shops; a supervisor or admin (``reviewops.alerting.alerts.RESEND_ROLES``) also gets a
selection with 重新发送 and 全部重新发送, which call :func:`reviewops.alerting.alerts.resend` as ``wb.actor`` and
show the outcome in the status line (agents see the list only).

Changing a filter or clicking 刷新 recomputes (the alert panels too); with 自动刷新 ticked a background thread recomputes every
60 s (``refresh_seconds``) until it is unticked, ``form.stop()``/``form.close()`` is called or the form's
widget is closed.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import threading
from typing import Any

import ipywidgets as widgets

from .common import (
    STYLE,
    Form,
    button,
    esc,
    guard,
    kv_html,
    msg_html,
    table_html,
    title_html,
)

__all__ = ["DashboardForm", "build_dashboard"]

ALL = "__all__"
BREAKDOWN_HEAD = ("名称", "评价数", "中差评", "中差评率", "SLA 达成率", "首次联系（中位，小时）", "解决（中位，小时）",
                  "改评率", "补偿（元）")
SKU_ROWS = 20  # the by-SKU table shows the SKUs with the most 中差评


def missing(x: Any) -> bool:
    """None or NaN (pandas fills missing figures with NaN)."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def pct_text(x: Any) -> str:
    return "—" if missing(x) else f"{float(x):.1%}"


def hours_text(x: Any) -> str:
    return "—" if missing(x) else f"{float(x):.1f}"


def yuan_text(fen: Any) -> str:
    from reviewops.core.policy import fen_to_yuan_text

    return fen_to_yuan_text(int(fen or 0)) or "0"


def who_html(actor: Any) -> str:
    shops = "全部店铺" if actor.shops is None else "店铺 " + "、".join(str(s) for s in sorted(actor.shops))
    return (f'<div class="ro-dash-head"><span class="ro-title">数据看板 Dashboard</span> '
            f'<span class="ro-sub">当前用户：<b class="ro-dash-user-name">{esc(actor.label)}</b>'
            f'（{esc(actor.name)} · {esc(shops)}）</span></div>')


def kpi_html(name: str, label: str, value: Any, sub: str = "") -> str:
    return (f'<div class="ro-dash-kpi"><div class="ro-sub">{esc(label)}</div>'
            f'<div class="ro-dash-kpi-value ro-dash-{esc(name)}">{esc(value)}</div>'
            f'<div class="ro-muted ro-dash-kpi-sub">{esc(sub)}</div></div>')


def headline_html(fig: Any, updated: str) -> str:
    """The headline figures (every value escaped) and the period they cover."""
    from reviewops.core.sla import SLA_STATUS_ZH

    sla = fig.sla
    last = (fig.end - dt.timedelta(days=1)).astimezone(fig.start.tzinfo)
    cards = "".join([
        kpi_html("reviews", "评价数 reviews", fig.reviews),
        kpi_html("negative", "中差评数 bad reviews", fig.negative),
        kpi_html("rate", "中差评率 rate", pct_text(fig.rate)),
        kpi_html("compliance", "SLA 达成率 compliance", pct_text(sla["compliance"]),
                 f"{SLA_STATUS_ZH['met']} {sla['met']} · {SLA_STATUS_ZH['late']} {sla['late']} · "
                 f"{SLA_STATUS_ZH['breached']} {sla['breached_unanswered']}"),
        kpi_html("first-contact", "首次联系用时（中位）", hours_text(sla["first_contact_hours_median"]), "小时 hours"),
        kpi_html("resolution", "解决用时（中位）", hours_text(sla["resolution_hours_median"]), "小时 hours"),
        kpi_html("revision", "改评率 revision rate", pct_text(fig.revision_rate),
                 f"改为好评 {fig.revised} / 已解决 {fig.resolved}"),
        kpi_html("cost", "补偿成本（元）cost", yuan_text(fig.remedy_fen)),
    ])
    return (f'<div class="ro-dash-period ro-sub">{esc(f"{fig.start:%Y-%m-%d} 至 {last:%Y-%m-%d}（北京时间）")}'
            f' · 更新于 <span class="ro-dash-updated">{esc(updated)}</span></div>'
            f'<div class="ro-dash-kpis">{cards}</div>')


def chart_html(png: bytes, cls: str, alt: str) -> str:
    """A PNG chart as an inline ``data:`` image (no user text in the markup)."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="{esc(cls)}" alt="{esc(alt)}" src="data:image/png;base64,{esc(data)}"/>'


def chart_item_html(chart: Any) -> str:
    """One :class:`reviewops.reporting.dashboard.DashboardChart`: its image, or its message when there is nothing to draw."""
    if chart.png is None:
        return f'<div class="ro-dash-chart-empty ro-dash-chart-{esc(chart.key)}">{esc(chart.message)}</div>'
    return chart_html(chart.png, f"ro-dash-chart-{chart.key}", chart.title)


def charts_html(charts: list[Any]) -> str:
    """The dashboard's charts (:func:`reviewops.reporting.dashboard.dashboard_charts`): an image each, or its message."""
    return "".join(chart_item_html(c) for c in charts)


def categories_html(fig: Any) -> str:
    c = fig.categories
    rows = [(r.category_zh, r.category, r.cases, pct_text(r.share), r.department, r.action)
            for r in c.itertuples(index=False)]
    return table_html(("分类", "代码", "案件数", "占比", "负责部门", "建议措施"), rows, cls="ro-dash-table",
                      empty="所选范围内没有中差评")


def sla_html(fig: Any) -> str:
    s = fig.sla
    from reviewops.reporting.dashboard import sla_table

    rows = [*sla_table(s).itertuples(index=False, name=None), ("已解决 / 改为好评", f"{fig.resolved} / {fig.revised}")]
    return table_html(("指标", "数值"), rows, cls="ro-dash-table")


def alert_delays_html(fig: Any) -> str:
    """The alert delays per source (SPEC E1): :func:`reviewops.reporting.dashboard.alert_delay_table`, every cell escaped."""
    from reviewops.reporting.dashboard import alert_delay_table

    t = alert_delay_table(fig.alert_delays)
    return table_html(list(t.columns), t.itertuples(index=False), cls="ro-dash-table",
                      empty="所选范围内没有新案件提醒")


def appeals_html(fig: Any) -> str:
    """Platform appeals of the period (issue 17 §3): :func:`reviewops.reporting.dashboard.appeal_table`, escaped."""
    from reviewops.reporting.dashboard import appeal_table

    return table_html(("指标", "数值"), appeal_table(fig.appeals).itertuples(index=False, name=None),
                      cls="ro-dash-table")


COMMITMENT_BREACH_ROWS = 20  # breaches listed on the dashboard (the weekly playbook's XLSX has them all)


def commitments_html(fig: Any) -> str:
    """P6 service commitments of the period (issue 19): :func:`reviewops.reporting.dashboard.commitment_table` and the
    first breaches (:func:`~reviewops.reporting.dashboard.commitment_breach_table`), escaped; an empty period says so."""
    from reviewops.reporting.dashboard import COMMITMENT_EMPTY, commitment_breach_table, commitment_table

    t = commitment_table(fig.commitments)
    note = (f'<div class="ro-muted">{esc(COMMITMENT_EMPTY)}</div>'
            if not len(fig.commitments) or int(fig.commitments["eligible"].sum()) == 0 else "")
    b = commitment_breach_table(fig.commitment_breaches, limit=COMMITMENT_BREACH_ROWS)
    more = len(fig.commitment_breaches) - len(b)
    tail = f'<div class="ro-muted">{esc(f"另有 {more} 条违约未列出（周报 XLSX 含全部）")}</div>' if more > 0 else ""
    return (note + table_html(list(t.columns), t.itertuples(index=False, name=None), cls="ro-dash-table",
                              empty="策略中没有启用的服务承诺")
            + table_html(list(b.columns), b.itertuples(index=False, name=None), cls="ro-dash-table",
                         empty="所选范围内没有违约") + tail)


def ambassadors_html(fig: Any) -> str:
    """The 推荐大使 programme's cost and referred orders of the period (SPEC V3, issue 20):
    :func:`reviewops.reporting.dashboard.ambassador_table` of ``fig.ambassadors``, escaped. It follows the dates and
    the shop filter; platform, SKU and agent do not narrow it (a referral belongs to a shop, not to a review)."""
    from reviewops.reporting.dashboard import ambassador_table

    return table_html(("指标", "数值"), ambassador_table(fig.ambassadors or {}).itertuples(index=False, name=None),
                      cls="ro-dash-table")


def remedies_html(fig: Any) -> str:
    r = fig.remedies
    rows = [(x.kind_zh, x.kind, x.count, yuan_text(x.amount_fen)) for x in r.itertuples(index=False)]
    if rows:
        rows.append(("合计", "", int(r["count"].sum()), yuan_text(fig.remedy_fen)))
    return table_html(("补偿方式", "代码", "次数", "金额（元）"), rows, cls="ro-dash-table", empty="没有已发放的补偿")


def breakdown_html(df: Any, limit: int | None = None) -> str:
    """One breakdown table (by shop / platform / SKU / agent); every cell escaped."""
    rows = []
    for r in df.itertuples(index=False):
        reviews = "—" if missing(r.reviews) else int(r.reviews)
        rows.append((r.label, reviews, r.negative, pct_text(r.rate), pct_text(r.compliance),
                     hours_text(r.first_contact_hours_median), hours_text(r.resolution_hours_median),
                     pct_text(r.revision_rate), yuan_text(r.remedy_fen)))
    more = len(rows) - limit if limit is not None and len(rows) > limit else 0
    out = table_html(BREAKDOWN_HEAD, rows[:limit] if limit is not None else rows, cls="ro-dash-table",
                     empty="（无数据）")
    if more:
        out += f'<div class="ro-muted">另有 {esc(more)} 项未显示（按中差评数排序）</div>'
    return out


def seconds_text(x: Any) -> str:
    return "—" if missing(x) else f"{float(x):.0f}"


def watcher_state_html(svc: Any) -> str:
    """运行中 / 无心跳 with the seconds since the newest heartbeat / 从未运行 (class ``ro-dash-alert-<state>``)."""
    if svc.state == "never":
        text = f"{svc.state_zh}（没有监控服务的心跳；请启动 reviewops watch / no watcher has ever run）"
    elif svc.state == "running":
        text = f"{svc.state_zh}（{seconds_text(svc.age_s)} 秒前心跳）"
    else:
        text = f"{svc.state_zh}（最后一次心跳在 {seconds_text(svc.age_s)} 秒前）"
    return (f'<span class="ro-dash-alert-state ro-dash-alert-{esc(svc.state)}">{esc(text)}</span>')


def alert_service_html(svc: Any) -> str:
    """The 提醒服务 panel: watcher state, the queue by state (Chinese), the oldest waiting alert, problems."""
    from reviewops.reporting.dashboard import ALERT_SERVICE_TITLE

    waiting = "—（没有待发送的提醒）" if svc.oldest_pending_s is None else f"已等待 {seconds_text(svc.oldest_pending_s)} 秒"
    watchers = ""
    if len(svc.watchers) > 1:
        watchers = table_html(("监控服务", "状态", "距上次心跳（秒）"),
                              [(w["name"], w["state_zh"], seconds_text(w["age_s"])) for w in svc.watchers],
                              cls="ro-dash-table ro-dash-alert-watchers")
    queue = table_html([zh for _k, zh, _n in svc.queue], [[n for _k, _zh, n in svc.queue]],
                       cls="ro-dash-table ro-dash-alert-queue")
    if svc.problems:
        problems = "".join(msg_html("warn", p) for p in svc.problems)
    else:
        problems = msg_html("ok", "运行正常，没有问题 / healthy")
    return (title_html(ALERT_SERVICE_TITLE, "alert service · reviewops watch")
            + f'<div class="ro-dash-alert-watcher">监控服务：{watcher_state_html(svc)}</div>' + watchers
            + kv_html([("最早的待发送提醒", waiting)])
            + title_html("提醒队列", "deliveries by state") + queue
            + f'<div class="ro-dash-alert-problems">{problems}</div>')


def dead_letters_html(table: Any, shown: int, limit: int, may_resend: bool) -> str:
    """The 死信 list (every cell escaped) and what the user can do about it."""
    from reviewops.reporting.dashboard import DEAD_LETTER_TITLE

    head = title_html(DEAD_LETTER_TITLE, "dead letters of your shops")
    if may_resend:
        hint = ("选择后点「重新发送」，或「全部重新发送」；监控服务会在几秒内重新投递 / select rows and click 重新发送, "
                "or 全部重新发送; the watcher sends them again within seconds")
    else:
        hint = "只有客服主管或店长可以重新发送 / only a supervisor or admin can re-send"
    more = f'<div class="ro-muted">只显示最新的 {esc(limit)} 条</div>' if shown >= limit else ""
    body = table_html(list(table.columns), table.itertuples(index=False), cls="ro-dash-table ro-dash-dead-rows",
                      empty="没有发送失败的提醒")
    note = f'<div class="ro-muted ro-dash-dead-hint">{esc(hint)}</div>' if shown else ""
    return head + body + more + note


DASH_CSS = """<style>
.ro-dash-kpis { display: grid; grid-template-columns: repeat(4, minmax(150px, 1fr)); gap: 6px; margin: 4px 0; }
.ro-dash-kpi { border: 1px solid #e0e4e8; border-radius: 6px; padding: 6px 10px; background: #fff; }
.ro-dash-kpi-value { font-size: 22px; font-weight: 600; color: #263238; }
.ro-dash-charts img { max-width: 49%; height: auto; margin-right: 1%; vertical-align: top; }
.ro-dash-chart-empty { display: inline-block; box-sizing: border-box; width: 49%; margin-right: 1%; padding: 28px 12px;
  border: 1px dashed #c8ced3; border-radius: 6px; color: #546e7a; text-align: center; vertical-align: top; }
.ro-dash-alert-running { color: #1b5e20; font-weight: 600; }
.ro-dash-alert-stale { color: #c62828; font-weight: 600; }
.ro-dash-alert-never { color: #7a5b00; font-weight: 600; }
</style>"""


class DashboardForm(Form):
    """数据看板: handles ``who start end shop platform sku agent refresh_button auto notice latest_button
    headline charts categories
    sla alert_service dead_letters dead_table dead_select resend_button resend_all_button remedies by_shop
    by_platform by_sku by_agent`` (the three re-send widgets are None unless the user may re-send);
    ``figures`` (the last :class:`ReportFigures`), ``service`` (the last ``AlertService``), ``dead`` (the
    dead letters listed), ``refresh(now=None)``, ``refresh_alerts(now=None)``, ``resend_selected()``,
    ``resend_all()``, ``show_latest()``, ``start_timer(interval)``, ``stop()``, ``running``, ``refreshes``;
    ``opening`` (the :class:`OpeningRange` it opened on), ``empty`` (the last :class:`EmptyRange` or None);
    ``calendar`` (the holiday-data notice) and ``calendar_note`` (its last text or None)."""

    name = "dash"

    def __init__(self, wb: Any, *, refresh_seconds: float = 60.0, today: dt.date | None = None):
        super().__init__(wb)
        from reviewops.reporting.dashboard import dashboard_options, may_resend, opening_range

        self.refresh_seconds = float(refresh_seconds)
        self.figures: Any = None
        self.service: Any = None
        self.dead: Any = None
        self.refreshes = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._quiet = False  # set while the form itself changes several filters at once
        self.empty: Any = None
        opts = dashboard_options(wb.store, wb.actor)
        self.opening = opening_range(wb.store, wb.actor, today)  # the rule lives in lib: last 7 days or latest data
        self._opening_note = self.opening.message
        first, last = self.opening.first, self.opening.last
        self.who = widgets.HTML(who_html(wb.actor))
        self.who.add_class("ro-dash-user")
        self.start = widgets.DatePicker(description="开始日期", value=first, style=STYLE)
        self.start.add_class("ro-dash-start")
        self.end = widgets.DatePicker(description="结束日期", value=last, style=STYLE)
        self.end.add_class("ro-dash-end")
        self.shop = widgets.Dropdown(description="店铺", options=[("全部（我的店铺）", ALL), *opts.shops], value=ALL,
                                     style=STYLE)
        self.shop.add_class("ro-dash-shop")
        self.platform = widgets.Dropdown(description="平台", options=[("全部", ALL), *opts.platforms], value=ALL,
                                         style=STYLE)
        self.platform.add_class("ro-dash-platform")
        self.sku = widgets.Text(description="SKU / 商品", placeholder="商品编号、标题或规格中的文字", style=STYLE,
                                continuous_update=False)
        self.sku.add_class("ro-dash-sku")
        self.agent = widgets.Dropdown(description="首次联系客服", options=[("全部", ALL), *opts.agents], value=ALL,
                                      style=STYLE)
        self.agent.add_class("ro-dash-agent")
        self.refresh_button = button("刷新", "ro-dash-refresh", icon="refresh")
        self.refresh_button.on_click(guard(self.status, lambda _b: self.refresh()))
        self.auto = widgets.Checkbox(description="每 60 秒自动刷新", value=False, indent=False)
        self.auto.add_class("ro-dash-auto")
        self.auto.observe(guard(self.status, self._auto_changed), names="value")
        for w in (self.start, self.end, self.shop, self.platform, self.sku, self.agent):
            w.observe(guard(self.status, self._filter_changed), names="value")
        self.calendar = widgets.HTML("")  # the next 60 days lack holiday data (refreshed with the alert panels)
        self.calendar.add_class("ro-dash-calendar")
        self.calendar_note: str | None = None
        self.notice = widgets.HTML("")
        self.notice.add_class("ro-dash-notice")
        self.latest_button = button("查看有数据的最近一周", "ro-dash-latest", icon="calendar",
                                    tooltip="把日期设为有评价数据的最近一周 / jump to the latest week with data")
        self.latest_button.layout.display = "none"
        self.latest_button.layout.flex = "0 0 auto"  # the whole label (with its dates), never cut to …
        self.notice.layout.flex = "1 1 auto"
        self.latest_button.on_click(guard(self.status, lambda _b: self.show_latest()))
        notice_box = widgets.HBox([self.notice, self.latest_button])
        notice_box.add_class("ro-dash-notice-box")
        self.headline = self._panel("ro-dash-headline")
        self.charts = self._panel("ro-dash-charts")
        self.categories = self._panel("ro-dash-categories")
        self.sla = self._panel("ro-dash-sla")
        self.alert_service = self._panel("ro-dash-alert-service")
        self.dead_table = widgets.HTML("")
        self.dead_table.add_class("ro-dash-dead-table")
        self.may_resend = may_resend(wb.actor)
        self.dead_select: widgets.SelectMultiple | None = None
        self.resend_button: widgets.Button | None = None
        self.resend_all_button: widgets.Button | None = None
        dead_children: list[widgets.Widget] = [self.dead_table]
        if self.may_resend:  # agents get no buttons (and resend() would refuse them anyway)
            self.dead_select = widgets.SelectMultiple(description="选择提醒", options=[], rows=5, style=STYLE,
                                                      layout=widgets.Layout(width="60%"))
            self.dead_select.add_class("ro-dash-dead-select")
            self.resend_button = button("重新发送", "ro-dash-resend", icon="repeat",
                                        tooltip="把所选的死信重新排队 / re-queue the selected dead letters")
            self.resend_button.on_click(guard(self.status, lambda _b: self.resend_selected()))
            self.resend_all_button = button("全部重新发送", "ro-dash-resend-all", icon="repeat",
                                            tooltip="把我店铺的全部死信重新排队 / re-queue every dead letter of my shops")
            self.resend_all_button.on_click(guard(self.status, lambda _b: self.resend_all()))
            actions = widgets.HBox([self.dead_select, widgets.VBox([self.resend_button, self.resend_all_button])])
            actions.add_class("ro-dash-dead-actions")
            dead_children.append(actions)
        self.dead_letters = widgets.VBox(dead_children)
        self.dead_letters.add_class("ro-dash-dead-letters")
        self.dead_letters.add_class("ro-section")
        self.remedies = self._panel("ro-dash-remedies")
        self.by_shop = self._panel("ro-dash-by-shop")
        self.by_platform = self._panel("ro-dash-by-platform")
        self.by_sku = self._panel("ro-dash-by-sku")
        self.by_agent = self._panel("ro-dash-by-agent")
        filters = widgets.VBox([
            widgets.HBox([self.start, self.end, self.shop, self.platform]),
            widgets.HBox([self.sku, self.agent, self.refresh_button, self.auto]),
        ])
        filters.add_class("ro-dash-filters")
        self._finish(widgets.HTML(DASH_CSS, layout=widgets.Layout(display="none")), self.who, self.status.widget,
                     self.calendar, filters, notice_box, self.headline, self.charts, self.categories, self.sla, self.alert_service,
                     self.dead_letters, self.remedies, self.by_shop, self.by_platform, self.by_sku, self.by_agent)

    @staticmethod
    def _panel(css_class: str) -> widgets.HTML:
        w = widgets.HTML("")
        w.add_class(css_class)
        w.add_class("ro-section")
        return w

    # ------------------------------------------------------------ filters → figures
    def _choice(self, w: widgets.Dropdown) -> Any:
        return None if w.value in (ALL, None) else w.value

    def refresh(self, now: dt.datetime | None = None) -> None:
        """Recompute the alert panels and the figures for the current filters and show them. When the store
        refuses the read (the user was disabled or moved to other shops while the page was open), every
        figure is cleared and the auto-refresh stops (:meth:`revoke`); a revoked page shows nothing again."""
        from reviewops.core.errors import AccessDenied

        if self.revoked:
            return
        try:
            self._refresh(now)
        except AccessDenied as e:
            self.revoke(e)

    def clear_data(self) -> None:
        self.figures, self.dead = None, None
        for w in (self.headline, self.charts, self.categories, self.sla, self.alert_service, self.remedies,
                  self.by_shop, self.by_platform, self.by_sku, self.by_agent, self.dead_table, self.notice,
                  self.calendar):
            w.value = ""
        if self.dead_select is not None:
            self.dead_select.options = []

    def _refresh(self, now: dt.datetime | None) -> None:
        from reviewops.reporting.dashboard import dashboard_charts, dashboard_figures, empty_range
        from reviewops.core.errors import ConfigError

        self.refresh_alerts(now)  # first: a bad date must not leave the alert panels stale
        if self.start.value is None or self.end.value is None:
            raise ConfigError("请选择开始日期和结束日期 / pick a start and an end date")
        with self._lock:
            filters = {"shop": self._choice(self.shop), "platform": self._choice(self.platform), "sku": self.sku.value}
            fig = dashboard_figures(self.wb.store, self.wb.actor, self.start.value, self.end.value,
                                    agent=self._choice(self.agent), now=now, **filters)
            self.empty = empty_range(self.wb.store, self.wb.actor, fig, **filters)
            self._show_notice()
            from reviewops.core.outputs import now_text  # Beijing time, the one formatter for people

            updated = now_text(now=now)
            self.figures = fig
            self.headline.value = headline_html(fig, updated)
            self.charts.value = charts_html(dashboard_charts(fig))
            self.categories.value = title_html("中差评分类", "category mix") + categories_html(fig)
            from reviewops.reporting.dashboard import ALERT_DELAY_TITLE, APPEAL_TITLE, COMMITMENT_TITLE

            self.sla.value = (title_html("响应时效（SLA）", "as of now") + sla_html(fig)
                              + title_html(ALERT_DELAY_TITLE, "real delay per source, by arrival time")
                              + alert_delays_html(fig)
                              + title_html(APPEAL_TITLE, "platform appeals of malicious reviews")
                              + appeals_html(fig)
                              + title_html(COMMITMENT_TITLE, "service commitments kept, by event start")
                              + commitments_html(fig))
            from reviewops.reporting.dashboard import AMBASSADOR_TITLE

            self.remedies.value = (title_html("补偿成本", "delivered remedies") + remedies_html(fig)
                                   + title_html(AMBASSADOR_TITLE, "referral rewards and referred orders, by shop only")
                                   + ambassadors_html(fig))
            self.by_shop.value = title_html("按店铺", "by shop") + breakdown_html(fig.by_shop)
            self.by_platform.value = title_html("按平台", "by platform") + breakdown_html(fig.by_platform)
            self.by_sku.value = (title_html("按商品 / SKU", f"by SKU, top {SKU_ROWS}")
                                 + breakdown_html(fig.by_sku, SKU_ROWS))
            self.by_agent.value = (title_html("按首次联系客服", "by agent (who made the first contact)")
                                   + breakdown_html(fig.by_agent))
            self.refreshes += 1

    # ------------------------------------------------------------ alert service and dead letters
    def refresh_alerts(self, now: dt.datetime | None = None) -> None:
        """Show the holiday-data notice, the alert service's state and the dead letters of the user's shops
        (the filters do not apply)."""
        from reviewops.reporting.dashboard import (
            DEAD_LETTER_LIMIT,
            alert_kind_zh,
            alert_service,
            calendar_notice,
            dead_letter_list,
            dead_letter_table,
        )

        with self._lock:
            self.calendar_note = calendar_notice(self.wb.store, now=now)
            self.calendar.value = msg_html("warn", self.calendar_note) if self.calendar_note else ""
            svc = alert_service(self.wb.store, now=now)
            dead = dead_letter_list(self.wb.store, self.wb.actor, limit=DEAD_LETTER_LIMIT)
            self.service, self.dead = svc, dead
            self.alert_service.value = alert_service_html(svc)
            self.dead_table.value = dead_letters_html(dead_letter_table(dead), len(dead), DEAD_LETTER_LIMIT,
                                                      self.may_resend)
            if self.dead_select is not None:
                options = [(f"#{int(r.delivery_id)} · {alert_kind_zh(str(r.kind))} · 案件 {int(r.case_id)} · {r.channel}",
                            int(r.delivery_id)) for r in dead.itertuples(index=False)]
                if list(self.dead_select.options) != options:  # keep the user's choice across refreshes
                    keep = tuple(v for v in self.dead_select.value if v in {i for _l, i in options})
                    self.dead_select.options = options
                    self.dead_select.value = keep
                self.resend_button.disabled = self.resend_all_button.disabled = not options

    def resend_selected(self) -> int:
        """Re-queue the dead letters chosen in ``dead_select``; the outcome shows in the status line."""
        from reviewops.core.errors import ConfigError

        ids = [int(i) for i in self.dead_select.value] if self.dead_select is not None else []
        if not ids:
            raise ConfigError("请先在列表中选择要重新发送的提醒 / select the alerts to re-send first")
        return self._resend(ids)

    def resend_all(self) -> int:
        """Re-queue every dead letter of the user's shops."""
        return self._resend(None)

    def _resend(self, ids: list[int] | None) -> int:
        """:func:`reviewops.alerting.alerts.resend` as the signed-in user (it refuses other roles and other shops)."""
        from reviewops.alerting import alerts
        from reviewops.core.errors import ConfigError

        try:
            n = alerts.resend(self.wb.store, ids, actor=self.wb.actor)
        except ConfigError:  # someone else re-sent them first: show the list as it is now, then the message
            self.refresh_alerts()
            raise
        self.refresh_alerts()
        if n:
            self.status.ok(f"已重新排队 {n} 条，监控服务将在几秒内重新发送 / {n} re-queued")
        else:
            self.status.info("没有可重新发送的死信 / no dead letters to re-send")
        return n

    def _show_notice(self) -> None:
        """The empty-range sentence and button, or the opening note, or nothing."""
        e = self.empty
        if e is not None:
            self.notice.value = msg_html("warn", e.message)
            self.latest_button.description = e.button or "查看有数据的最近一周"
            self.latest_button.layout.display = "" if e.latest is not None else "none"
        else:
            self.notice.value = msg_html("info", self._opening_note) if self._opening_note else ""
            self.latest_button.layout.display = "none"

    def show_latest(self) -> None:
        """Set the dates to the latest week with data (:attr:`empty`'s) and recompute once."""
        from reviewops.core.errors import ConfigError

        if self.empty is None or self.empty.latest is None:
            raise ConfigError("没有可跳转的有数据的一周 / there is no week with data to show")
        first, last = self.empty.latest
        self._quiet = True
        try:
            self.start.value = first
            self.end.value = last
        finally:
            self._quiet = False
        self._opening_note = ""
        self.refresh()

    def _filter_changed(self, _change: Any) -> None:
        if self._quiet:
            return
        self._opening_note = ""  # the user chose: the note about the opening range no longer applies
        self.refresh()

    # ------------------------------------------------------------ auto-refresh
    def _auto_changed(self, change: Any) -> None:
        if change["new"]:
            self.start_timer()
        else:
            self.stop()

    def _closed(self) -> bool:
        return getattr(self.root, "comm", None) is None  # Widget.close() drops the comm

    def start_timer(self, interval: float | None = None) -> None:
        """Refresh every ``interval`` seconds (default ``refresh_seconds``) in a background thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        seconds = float(interval or self.refresh_seconds)
        self._stop.clear()
        tick = guard(self.status, self.refresh, clear=False)

        def loop() -> None:
            while not self._stop.wait(seconds):
                if self._closed():  # the page's widget is gone: nothing to update
                    break
                tick()

        self._thread = threading.Thread(target=loop, name="reviewops-dashboard-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background refresh (idempotent); the checkbox follows."""
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5)
        self._thread = None
        if self.auto.value:
            self.auto.value = False

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        self.stop()


def build_dashboard(wb: Any, *, auto_refresh: bool = True, refresh_seconds: float = 60.0,
                    today: dt.date | None = None) -> DashboardForm:
    """数据看板 for the signed-in ``wb.actor`` (a :class:`~reviewops.handling.workbench.Workbench`); computes once at once."""
    form = DashboardForm(wb, refresh_seconds=refresh_seconds, today=today)
    guard(form.status, form.refresh)()
    if auto_refresh:
        form.auto.value = True  # starts the timer
    return form
