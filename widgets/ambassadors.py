"""推荐大使 (SPEC V3; issue 20): supervisors review candidates, approve invitations, record consent and opt-out.

``build_ambassadors(wb)`` shows, for the signed-in user's shops only, the candidates of
:func:`reviewops.handling.ambassadors.candidates` (resolved with confirmed satisfaction, no malicious signal, past the
cooling-off period; with the reasons) and the programme's ambassadors with their results. The buttons call the
library and nothing else: 提议邀请 (``propose_invitation``, any role; an edited text is checked by the compliance
guard), 批准邀请 (``approve_invitation``, supervisor or above, never the proposer), 记录同意 / 记录婉拒
(``record_consent`` with the chosen channel), 客户退出 (``opt_out``: pending messages and undelivered rewards
cancelled). Rewards are for referrals, never reviews. The user is re-read from the store before every read.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from .common import STYLE, Form, button, esc, guard, section, table_html

__all__ = ["AmbassadorsForm", "ambassadors_html", "build_ambassadors", "candidates_html"]

ALL = "__all__"


def candidates_html(df: Any) -> str:
    """One row per candidate (escaped; nicknames are the masked ones the store keeps)."""
    rows = [[r.case_id, r.shop, r.customer, r.status, r.reasons] for r in df.itertuples()]
    return table_html(["案件", "店铺", "客户（脱敏）", "状态", "原因"], rows, cls="ro-ambassadors-candidates",
                      empty="没有候选人")


def ambassadors_html(df: Any) -> str:
    """One row per ambassador with the results (money in yuan)."""
    from reviewops.core.policy import fen_to_yuan_text

    rows = [[r.ambassador_id, r.shop, r.customer, r.state_zh, r.referral_code or "—", r.referred_orders,
             fen_to_yuan_text(int(r.revenue_fen)) or "0", fen_to_yuan_text(int(r.cost_fen)) or "0"]
            for r in df.itertuples()]
    return table_html(["编号", "店铺", "客户（脱敏）", "状态", "推荐码", "推荐订单", "推荐收入（元）", "奖励成本（元）"], rows,
                      cls="ro-ambassadors-list", empty="还没有推荐大使")


class AmbassadorsForm(Form):
    """推荐大使. Handles: ``shop`` (Dropdown: 全部店铺 or one of the user's shops), ``refresh_button`` (Button 刷新),
    ``candidates`` and ``listing`` (HTML tables), ``case`` (IntText: the case to invite), ``text`` (Textarea: an
    optional edit of the invitation), ``propose`` (Button 提议邀请), ``ambassador`` (IntText: the ambassador's
    number), ``channel`` (Dropdown), ``approve`` (Button 批准邀请), ``consent`` (Button 记录同意), ``decline``
    (Button 记录婉拒), ``optout`` (Button 客户退出); ``candidates_df`` and ``results_df`` (the last DataFrames);
    ``refresh()``."""

    name = "ambassadors"

    def __init__(self, wb: Any):
        super().__init__(wb)
        import sqlalchemy as sa
        from reviewops.core.store import shops
        from reviewops.handling.ambassadors import CHANNEL_ZH

        self.candidates_df: Any = None
        self.results_df: Any = None
        with wb.store.read() as conn:
            names = {int(i): f"{n}（{p}）" for i, p, n in conn.execute(sa.select(shops.c.id, shops.c.platform,
                                                                                    shops.c.name))}
        mine = sorted(s for s in names if wb.actor.may_see_shop(s))
        who = widgets.HTML(f'<div class="ro-sub">当前用户：<b>{esc(wb.actor.label)}</b>；只显示您负责的店铺。'
                           "奖励只针对推荐好友下单，与评价无关；邀请须主管批准，客户同意前只发送邀请</div>")
        who.add_class("ro-ambassadors-user")
        self.shop = widgets.Dropdown(options=[("全部店铺", ALL)] + [(names[s], s) for s in mine], value=ALL,
                                     description="店铺", style=STYLE)
        self.shop.add_class("ro-ambassadors-shop")
        self.refresh_button = button("刷新", "ro-ambassadors-refresh", icon="refresh")
        self.refresh_button.on_click(guard(self.status, lambda _b: self.refresh()))
        self.candidates = widgets.HTML("")
        self.candidates.add_class("ro-ambassadors-candidates-box")
        self.listing = widgets.HTML("")
        self.listing.add_class("ro-ambassadors-list-box")
        self.case = widgets.IntText(value=0, description="案件", style=STYLE, layout=widgets.Layout(width="180px"))
        self.case.add_class("ro-ambassadors-case")
        self.text = widgets.Textarea(value="", placeholder="留空则使用方案模板；修改的话术会经过合规检查",
                                     layout=widgets.Layout(width="100%", height="80px"))
        self.text.add_class("ro-ambassadors-text")
        self.propose = button("提议邀请", "ro-ambassadors-propose", style="primary", icon="user-plus")
        self.propose.on_click(guard(self.status, lambda _b: self._propose()))
        self.ambassador = widgets.IntText(value=0, description="推荐大使编号", style=STYLE,
                                          layout=widgets.Layout(width="220px"))
        self.ambassador.add_class("ro-ambassadors-id")
        self.channel = widgets.Dropdown(options=[(z, c) for c, z in CHANNEL_ZH.items()], value="chat",
                                        description="渠道", style=STYLE)
        self.channel.add_class("ro-ambassadors-channel")
        self.approve = button("批准邀请", "ro-ambassadors-approve", style="success", icon="check")
        self.approve.on_click(guard(self.status, lambda _b: self._approve()))
        self.consent = button("记录同意", "ro-ambassadors-consent", icon="handshake-o")
        self.consent.on_click(guard(self.status, lambda _b: self._consent(False)))
        self.decline = button("记录婉拒", "ro-ambassadors-decline", icon="times")
        self.decline.on_click(guard(self.status, lambda _b: self._consent(True)))
        self.optout = button("客户退出", "ro-ambassadors-optout", style="danger", icon="ban",
                             tooltip="一步停止一切：待发消息与未发放奖励取消")
        self.optout.on_click(guard(self.status, lambda _b: self._optout()))
        row = lambda *w: widgets.HBox(list(w), layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        self._finish(who, row(self.shop, self.refresh_button), self.status.widget,
                     section("候选人", self.candidates, sub="已解决且确认满意、无恶意信号、过冷静期",
                             cls="ro-ambassadors-candidates-section"),
                     section("提议邀请", row(self.case, self.propose), self.text, sub="任何角色；须主管批准",
                             cls="ro-ambassadors-invite-section"),
                     section("推荐大使", self.listing, row(self.ambassador, self.channel),
                             row(self.approve, self.consent, self.decline, self.optout),
                             sub="批准邀请（主管，非提议人）、记录同意或婉拒、客户退出",
                             cls="ro-ambassadors-manage-section"))
        guard(self.status, lambda: self.refresh())()

    def clear_data(self) -> None:
        self.candidates_df = self.results_df = None
        self.candidates.value = ""
        self.listing.value = ""

    def _actor(self) -> Any:
        from reviewops.core.users import current_actor

        self.wb.actor = current_actor(self.wb.store, self.wb.actor, view="ambassadors")
        return self.wb.actor

    def _mine(self, df: Any, actor: Any) -> Any:
        if df.empty:
            return df
        keep = df["shop_id"].map(lambda s: actor.may_see_shop(int(s)))
        if self.shop.value != ALL:
            keep &= df["shop_id"] == int(self.shop.value)
        return df[keep].reset_index(drop=True)

    def refresh(self, message: str | None = None) -> None:
        """Re-read the user, then the candidates and the ambassadors of the user's (chosen) shops."""
        from reviewops.core.errors import AccessDenied
        from reviewops.handling.ambassadors import candidates, results

        actor = self._actor()
        if self.shop.value != ALL and not actor.may_see_shop(int(self.shop.value)):
            raise AccessDenied(f"{actor.name} 无权查看店铺 {self.shop.value} / may not see this shop")
        self.candidates_df = self._mine(candidates(self.wb.store), actor)
        self.results_df = self._mine(results(self.wb.store), actor)
        self.candidates.value = candidates_html(self.candidates_df)
        self.listing.value = ambassadors_html(self.results_df)
        self.status.ok(message or f"候选人 {len(self.candidates_df)} 位，推荐大使 {len(self.results_df)} 位")

    def _propose(self) -> None:
        from reviewops.handling.ambassadors import propose_invitation

        text = self.text.value.strip() or None
        aid = propose_invitation(self.wb.store, self._actor(), int(self.case.value), text=text)
        self.ambassador.value = aid
        self.text.value = ""
        self.refresh(f"已提议邀请案件 {int(self.case.value)} 的客户，推荐大使编号 {aid}，待主管批准")

    def _approve(self) -> None:
        from reviewops.handling.ambassadors import approve_invitation

        aid = int(self.ambassador.value)
        approve_invitation(self.wb.store, self._actor(), aid, text=self.text.value.strip() or None)
        self.refresh(f"已批准推荐大使 {aid} 的邀请，邀请消息待发送")

    def _consent(self, declined: bool) -> None:
        from reviewops.handling.ambassadors import record_consent

        aid = int(self.ambassador.value)
        code = record_consent(self.wb.store, self._actor(), aid, channel=self.channel.value, declined=declined)
        self.refresh(f"已记录推荐大使 {aid} 婉拒" if declined else f"已记录推荐大使 {aid} 同意（{self.channel.label}），推荐码 {code}")

    def _optout(self) -> None:
        from reviewops.handling.ambassadors import opt_out

        aid = int(self.ambassador.value)
        out = opt_out(self.wb.store, self._actor(), aid, channel=self.channel.value)
        self.refresh(f"推荐大使 {aid} 已退出：取消待发消息 {out['messages']} 条、未发放奖励 {out['rewards']} 笔")


def build_ambassadors(wb: Any) -> AmbassadorsForm:
    """The 推荐大使 form for the signed-in ``wb.actor``."""
    return AmbassadorsForm(wb)
