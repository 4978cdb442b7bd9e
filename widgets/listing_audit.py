"""商品信息审计 (SPEC P3; issue 19): the listing transparency audit for operators and supervisors.

``build_listing_audit(wb)`` shows, for the signed-in user's shops only, what
:func:`reviewops.prevention.listing_audit.audit_listings` finds over the last N days (the policy's
``listing_audit_days`` by default): per listing, the missing or contradicted facts (no dispatch promise, a promise
the shop's own shipments break, regions complained about but not excluded, apparel without a size chart, 色差 /
描述不符 without a note) with the evidence, masked example reviews, the owner department, the severity and the fix.
The shell is thin: it reads the filters, re-reads the user from the store (a disabled user or a removed shop is
refused and logged), calls the one library function and shows the table. Nothing is written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ipywidgets as widgets

from .common import STYLE, Form, button, esc, guard, section, table_html

__all__ = ["ListingAuditForm", "build_listing_audit", "findings_html", "summary_html"]

ALL = "__all__"


def summary_html(df: Any, days: int) -> str:
    """Findings per kind and per severity (escaped)."""
    from reviewops.core.policy import LISTING_FINDING_ZH

    a = df.attrs
    rows = [[zh, int((df["finding"] == code).sum()) if len(df) else 0] for code, zh in LISTING_FINDING_ZH.items()]
    return (f'<div class="ro-sub">近 {esc(days)} 天：审计商品链接 {esc(a.get("listings", 0))} 条，订单 '
            f'{esc(a.get("orders", 0))} 单，评价 {esc(a.get("reviews", 0))} 条；发现问题 <b>{esc(len(df))}</b> 个</div>'
            + table_html(["问题", "数量"], rows, cls="ro-listing-audit-counts"))


def findings_html(df: Any) -> str:
    """One row per finding, most severe first (every cell escaped; examples already masked by the library)."""
    rows = [[r.severity_zh, r.finding_zh, r.shop or r.shop_id, r.title or r.listing_key, r.evidence,
             "；".join(r.examples) or "—", r.department, r.recommendation] for r in df.itertuples()]
    return table_html(["严重程度", "问题", "店铺", "商品", "证据", "典型评价（已脱敏）", "负责部门", "建议措施"], rows,
                      cls="ro-listing-audit-findings", empty="没有发现问题")


class ListingAuditForm(Form):
    """商品信息审计. Handles: ``shop`` (Dropdown: 全部店铺 or one of the user's shops), ``kind`` (Dropdown: all or one
    finding code), ``days`` (BoundedIntText, default the policy's ``listing_audit_days``), ``run`` (Button 开始审计),
    ``summary`` and ``table`` (HTML); ``findings`` (the last DataFrame, :data:`~reviewops.prevention.listing_audit.
    FINDING_COLUMNS`); ``refresh(now=None)``."""

    name = "listing-audit"

    def __init__(self, wb: Any, *, now: dt.datetime | None = None):
        super().__init__(wb)
        import sqlalchemy as sa
        from reviewops.core.policy import LISTING_FINDING_ZH
        from reviewops.core.store import shops
        from reviewops.prevention.listing_audit import listing_settings

        self.findings: Any = None
        self.now = now
        self.settings = listing_settings(wb.policy)
        with wb.store.read() as conn:
            names = {int(i): f"{n}（{p}）" for i, p, n in conn.execute(sa.select(shops.c.id, shops.c.platform,
                                                                                    shops.c.name))}
        mine = sorted(s for s in names if wb.actor.may_see_shop(s))
        who = widgets.HTML(f'<div class="ro-sub">当前用户：<b>{esc(wb.actor.label)}</b>；只显示您负责的店铺。'
                           "门槛、负责部门与建议来自店铺策略的“商品信息审计”表</div>")
        who.add_class("ro-listing-audit-user")
        self.shop = widgets.Dropdown(options=[("全部店铺", ALL)] + [(names[s], s) for s in mine], value=ALL,
                                     description="店铺", style=STYLE)
        self.shop.add_class("ro-listing-audit-shop")
        self.kind = widgets.Dropdown(options=[("全部问题", ALL)] + [(z, c) for c, z in LISTING_FINDING_ZH.items()],
                                     value=ALL, description="问题", style=STYLE)
        self.kind.add_class("ro-listing-audit-kind")
        self.days = widgets.BoundedIntText(value=int(self.settings.days), min=1, max=730, description="最近天数",
                                           style=STYLE, layout=widgets.Layout(width="180px"))
        self.days.add_class("ro-listing-audit-days")
        self.run = button("开始审计", "ro-listing-audit-run", style="primary", icon="search")
        self.run.on_click(guard(self.status, lambda _b: self.refresh(self.now)))
        self.summary = widgets.HTML("")
        self.summary.add_class("ro-listing-audit-summary")
        self.table = widgets.HTML("")
        self.table.add_class("ro-listing-audit-table")
        bar = widgets.HBox([self.shop, self.kind, self.days, self.run],
                           layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        self._finish(who, bar, self.status.widget,
                     section("概览", self.summary, sub="per finding kind", cls="ro-listing-audit-overview"),
                     section("问题清单", self.table, sub="严重程度从高到低 / most severe first", cls="ro-listing-audit-list"))
        guard(self.status, lambda: self.refresh(self.now))()

    def clear_data(self) -> None:
        self.findings = None
        self.summary.value = ""
        self.table.value = ""

    def refresh(self, now: dt.datetime | None = None) -> Any:
        """Audit the chosen shop(s) over the last ``days`` days and show the findings (re-reads the user first)."""
        from reviewops.core.errors import AccessDenied
        from reviewops.core.users import current_actor, log_denied
        from reviewops.prevention.listing_audit import audit_listings

        actor = current_actor(self.wb.store, self.wb.actor, view="listing_audit")
        self.wb.actor = actor
        shop = None if self.shop.value == ALL else int(self.shop.value)
        if shop is not None and not actor.may_see_shop(shop):
            err = AccessDenied(f"{actor.name} 无权查看店铺 {shop} 的商品信息审计；请联系管理员分配店铺 / "
                               f"{actor.name} may not see shop {shop}")
            log_denied(self.wb.store, actor, "listing_audit", err, shop_id=shop)
            raise err
        shop_ids = [shop] if shop is not None else (None if actor.shops is None else sorted(actor.shops))
        days = int(self.days.value)
        at = now or dt.datetime.now(dt.UTC)
        df = audit_listings(self.wb.store, since=at - dt.timedelta(days=days), until=at, shop_ids=shop_ids,
                            settings=self.settings)
        if self.kind.value != ALL:
            attrs = dict(df.attrs)
            df = df[df["finding"] == self.kind.value].reset_index(drop=True)
            df.attrs.update(attrs)
        self.findings = df
        self.summary.value = summary_html(df, days)
        self.table.value = findings_html(df)
        label = "" if self.kind.value == ALL else f"（{self.kind.label}）"
        self.status.ok(f"审计完成{label}：发现问题 {len(df)} 个 / {len(df)} findings")
        return df


def build_listing_audit(wb: Any, *, now: dt.datetime | None = None) -> ListingAuditForm:
    """The 商品信息审计 form for the signed-in ``wb.actor`` (``now`` fixes the audit's end, for tests)."""
    return ListingAuditForm(wb, now=now)
