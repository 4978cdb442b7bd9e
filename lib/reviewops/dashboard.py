"""The live dashboard (SPEC D1): what the 数据看板 form shows, for the signed-in user.

The figures themselves come from :func:`reviewops.reports.report_figures` — the same computation as
the weekly 差评TOP3 report — so the dashboard and the Monday report never disagree. This module only
turns the form's inputs into that call (Beijing days → a period, single choices → filters, the
user's shops as the limit), offers the filter choices a user may pick, and draws the two charts.

* **Period.** ``first`` … ``last`` are Beijing calendar days, both included; the default is the last
  seven days ending today (:func:`default_period`).
* **Who sees what.** :func:`dashboard_figures` passes the :class:`~reviewops.users.Actor` to
  ``report_figures``: a user limited to some shops sees only those shops' reviews and cases (no shop
  chosen = all of the user's shops); asking for another shop raises :class:`AccessDenied`.
  :func:`dashboard_options` offers only the user's shops and the platforms of those shops.
* **Agent** = who made a case's first contact (see ``report_figures``); the choices are the users
  who share at least one shop with the signed-in user.
* **Charts** are PNG bytes drawn by matplotlib with a CJK font (:mod:`reviewops.charts`); no user
  text reaches the page as markup through them.
* **Alert delays** (SPEC E1): :func:`alert_delay_table` turns ``fig.alert_delays`` into the table the
  dashboard and the weekly playbook both show — Chinese headers, seconds with one decimal, shares in %.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .reports import (
    ALERT_DELAY_COLUMNS,
    SHANGHAI,
    ReportFigures,
    day_bounds,
    report_figures,
)

if TYPE_CHECKING:
    import pandas as pd

    from .store import Store
    from .users import Actor

__all__ = [
    "ALERT_DELAY_TITLE",
    "DashboardOptions",
    "alert_delay_table",
    "category_chart_png",
    "daily_chart_png",
    "dashboard_figures",
    "dashboard_options",
    "default_period",
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

    from .columns import PLATFORM_ZH
    from .store import shops
    from .users import list_users

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
    from .errors import AccessDenied
    from .users import log_denied

    start, end = day_bounds(first, last)
    sku = (sku or "").strip()
    try:
        return report_figures(store, start, end, actor=actor, shop_ids=None if shop is None else [shop],
                              platforms=None if not platform else [platform], skus=[sku] if sku else None,
                              agents=None if not agent else [agent], now=now)
    except AccessDenied as e:  # another shop's figures: refused and recorded in the access log
        log_denied(store, actor, "dashboard", e, shop_id=shop)
        raise


def daily_chart_png(fig: ReportFigures) -> bytes:
    """Bars of the daily 中差评 count with the daily 中差评率 (%) as a line on a second axis."""
    from matplotlib.figure import Figure

    from .charts import png, use_cjk_font

    use_cjk_font()
    d = fig.daily
    labels = [str(x)[5:] for x in d["date"]]  # MM-DD
    f = Figure(figsize=(6.4, 2.8), dpi=100)
    ax = f.add_subplot(1, 1, 1)
    ax.bar(labels, [int(x) for x in d["negative"]], color="#e57373", label="中差评数")
    ax.set_ylabel("中差评数")
    ax2 = ax.twinx()
    rates = [None if r is None or math.isnan(float(r)) else float(r) * 100 for r in d["rate"]]
    ax2.plot(labels, [float("nan") if r is None else r for r in rates], color="#1565c0", marker="o", label="中差评率")
    ax2.set_ylabel("中差评率（%）")
    ax2.set_ylim(bottom=0, top=max([r for r in rates if r is not None] + [1.0]) * 1.25)
    ax.set_title("每日中差评（北京时间）")
    if len(labels) > 14:
        step = max(1, len(labels) // 10)
        ax.set_xticks(range(0, len(labels), step))
        ax.set_xticklabels(labels[::step])
    ax.tick_params(axis="x", labelsize=8)
    f.tight_layout()
    return png(f, dpi=100)


def category_chart_png(fig: ReportFigures) -> bytes:
    """Horizontal bars of the cases per primary category (Chinese names)."""
    from .charts import bar_figure, png

    c = fig.categories
    labels = [str(x) for x in c["category_zh"]] or ["（无）"]
    values = [int(x) for x in c["cases"]] or [0]
    return png(bar_figure(labels, values, title="中差评分类", unit="案件数"), dpi=100)


def figures_summary(fig: ReportFigures) -> dict[str, Any]:
    """The headline numbers as plain values (for tests and the form's header)."""
    return {"reviews": fig.reviews, "negative": fig.negative, "rate": fig.rate, "compliance": fig.sla["compliance"],
            "first_contact_hours_median": fig.sla["first_contact_hours_median"],
            "resolution_hours_median": fig.sla["resolution_hours_median"], "revision_rate": fig.revision_rate,
            "remedy_fen": fig.remedy_fen}


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
