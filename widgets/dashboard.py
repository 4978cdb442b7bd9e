"""数据看板 — the live dashboard (SPEC D1): the weekly report's figures for any dates and filters.

``build_dashboard(wb)`` shows, for the signed-in ``wb.actor`` and the chosen Beijing days (default: the
last 7), shop, platform, SKU text and agent: reviews, 中差评 and rate, SLA compliance, median hours to
first contact and to resolution, revision rate and compensation cost as headline figures; the daily
chart and the category chart (PNG, drawn server-side); and tables of the category mix, SLA (with the
alert delays per source, SPEC E1, below it), remedies and the breakdowns by shop, platform, SKU and agent. Everything is computed by
:func:`reviewops.dashboard.dashboard_figures` (which calls :func:`reviewops.reports.report_figures`, as
the weekly report does); this form only reads the filters and shows the result, every value escaped.

Changing a filter or clicking 刷新 recomputes; with 自动刷新 ticked a background thread recomputes every
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

from .common import STYLE, Form, button, esc, guard, table_html, title_html

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
    from reviewops.policy import fen_to_yuan_text

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
    sla = fig.sla
    last = (fig.end - dt.timedelta(days=1)).astimezone(fig.start.tzinfo)
    cards = "".join([
        kpi_html("reviews", "评价数 reviews", fig.reviews),
        kpi_html("negative", "中差评数 bad reviews", fig.negative),
        kpi_html("rate", "中差评率 rate", pct_text(fig.rate)),
        kpi_html("compliance", "SLA 达成率 compliance", pct_text(sla["compliance"]),
                 f"按时 {sla['met']} · 超时 {sla['late']} · 超时未联系 {sla['breached_unanswered']}"),
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


def categories_html(fig: Any) -> str:
    c = fig.categories
    rows = [(r.category_zh, r.category, r.cases, pct_text(r.share), r.department, r.action)
            for r in c.itertuples(index=False)]
    return table_html(("分类", "代码", "案件数", "占比", "负责部门", "建议措施"), rows, cls="ro-dash-table",
                      empty="所选范围内没有中差评")


def sla_html(fig: Any) -> str:
    s = fig.sla
    rows = [("案件数", s["cases"]), ("按时首次联系", s["met"]), ("超时后联系", s["late"]),
            ("超时未联系", s["breached_unanswered"]), ("未到期待处理", s["open_in_time"]),
            ("SLA 达成率", pct_text(s["compliance"])),
            ("首次联系用时中位数（小时）", hours_text(s["first_contact_hours_median"])),
            ("解决用时中位数（小时）", hours_text(s["resolution_hours_median"])),
            ("已解决 / 改为好评", f"{fig.resolved} / {fig.revised}")]
    return table_html(("指标", "数值"), rows, cls="ro-dash-table")


def alert_delays_html(fig: Any) -> str:
    """The alert delays per source (SPEC E1): :func:`reviewops.dashboard.alert_delay_table`, every cell escaped."""
    from reviewops.dashboard import alert_delay_table

    t = alert_delay_table(fig.alert_delays)
    return table_html(list(t.columns), t.itertuples(index=False), cls="ro-dash-table",
                      empty="所选范围内没有新案件提醒")


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


DASH_CSS = """<style>
.ro-dash-kpis { display: grid; grid-template-columns: repeat(4, minmax(150px, 1fr)); gap: 6px; margin: 4px 0; }
.ro-dash-kpi { border: 1px solid #e0e4e8; border-radius: 6px; padding: 6px 10px; background: #fff; }
.ro-dash-kpi-value { font-size: 22px; font-weight: 600; color: #263238; }
.ro-dash-charts img { max-width: 49%; height: auto; margin-right: 1%; vertical-align: top; }
</style>"""


class DashboardForm(Form):
    """数据看板: handles ``who start end shop platform sku agent refresh_button auto headline charts categories
    sla remedies by_shop by_platform by_sku by_agent``; ``figures`` (the last :class:`ReportFigures`),
    ``refresh(now=None)``, ``start_timer(interval)``, ``stop()``, ``running``, ``refreshes``."""

    name = "dash"

    def __init__(self, wb: Any, *, refresh_seconds: float = 60.0, today: dt.date | None = None):
        super().__init__(wb)
        from reviewops.dashboard import dashboard_options, default_period

        self.refresh_seconds = float(refresh_seconds)
        self.figures: Any = None
        self.refreshes = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        opts = dashboard_options(wb.store, wb.actor)
        first, last = default_period(today)
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
        self.headline = self._panel("ro-dash-headline")
        self.charts = self._panel("ro-dash-charts")
        self.categories = self._panel("ro-dash-categories")
        self.sla = self._panel("ro-dash-sla")
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
                     filters, self.headline, self.charts, self.categories, self.sla, self.remedies, self.by_shop,
                     self.by_platform, self.by_sku, self.by_agent)

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
        """Recompute the figures for the current filters and show them."""
        from reviewops.dashboard import (
            category_chart_png,
            daily_chart_png,
            dashboard_figures,
        )
        from reviewops.errors import ConfigError

        if self.start.value is None or self.end.value is None:
            raise ConfigError("请选择开始日期和结束日期 / pick a start and an end date")
        with self._lock:
            fig = dashboard_figures(self.wb.store, self.wb.actor, self.start.value, self.end.value,
                                    shop=self._choice(self.shop), platform=self._choice(self.platform),
                                    sku=self.sku.value, agent=self._choice(self.agent), now=now)
            updated = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%H:%M:%S")
            self.figures = fig
            self.headline.value = headline_html(fig, updated)
            self.charts.value = (chart_html(daily_chart_png(fig), "ro-dash-chart-daily", "每日中差评")
                                 + chart_html(category_chart_png(fig), "ro-dash-chart-categories", "中差评分类"))
            self.categories.value = title_html("中差评分类", "category mix") + categories_html(fig)
            from reviewops.dashboard import ALERT_DELAY_TITLE

            self.sla.value = (title_html("响应时效（SLA）", "as of now") + sla_html(fig)
                              + title_html(ALERT_DELAY_TITLE, "real delay per source, by arrival time")
                              + alert_delays_html(fig))
            self.remedies.value = title_html("补偿成本", "delivered remedies") + remedies_html(fig)
            self.by_shop.value = title_html("按店铺", "by shop") + breakdown_html(fig.by_shop)
            self.by_platform.value = title_html("按平台", "by platform") + breakdown_html(fig.by_platform)
            self.by_sku.value = (title_html("按商品 / SKU", f"by SKU, top {SKU_ROWS}")
                                 + breakdown_html(fig.by_sku, SKU_ROWS))
            self.by_agent.value = (title_html("按首次联系客服", "by agent (who made the first contact)")
                                   + breakdown_html(fig.by_agent))
            self.refreshes += 1

    def _filter_changed(self, _change: Any) -> None:
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
    """数据看板 for the signed-in ``wb.actor`` (a :class:`~reviewops.workbench.Workbench`); computes once at once."""
    form = DashboardForm(wb, refresh_seconds=refresh_seconds, today=today)
    guard(form.status, form.refresh)()
    if auto_refresh:
        form.auto.value = True  # starts the timer
    return form
