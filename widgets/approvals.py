"""审批 — remedies waiting for approval (SPEC H1 step 2, D3; reliability S-06/S-08).

``build_approvals(wb)`` lists :meth:`Workbench.approvals`: each case's pending items, their total,
the case's and the customer's running totals, who asked, and whether the signed-in user may decide
(``may_approve`` / ``why_not`` are the ledger's answer), and the ledger's ``flags`` (remedies other
than refunds above what the order paid, with the reason given) under ⚠ 注意. 批准 / 驳回 send the case version the list
was read at, with a reason (required to reject). Whether the user may decide is checked again by the
ledger on the server — the disabled state of a button is only a hint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from reviewops.core.outputs import fmt_time

from .common import STYLE, Form, button, close_tree, esc, guard, kv_html, set_visible

__all__ = ["ApprovalsForm", "build_approvals"]


def _yuan(fen: Any) -> str:
    from reviewops.core.policy import fen_to_yuan_text

    return "" if fen is None else f"{fen_to_yuan_text(int(fen))} 元"


def item_html(a: dict[str, Any]) -> str:
    when = fmt_time(a.get("requested_at"))  # Beijing time; the page header says so once
    may = "可以审批" if a.get("may_approve") else "不能审批：" + str(a.get("why_not") or "")
    return (
        f'<div class="ro-title">案件 #{esc(a["case_id"])} <span class="ro-sub">{esc(a.get("platform"))} · '
        f'{esc(a.get("shop"))} · 版本 v{esc(a.get("version"))}</span></div>'
        + kv_html([("补偿", a.get("items")), ("本次合计", _yuan(a.get("total_fen"))),
                   ("本案累计", _yuan(a.get("case_total_fen"))), ("客户窗口期累计", _yuan(a.get("window_total_fen"))),
                   ("订单金额", _yuan(a.get("order_value_fen"))), ("提出人", a.get("requested_by")),
                   ("提出时间", when), ("说明", a.get("note")),
                   # the ledger's flags: remedies above what the order paid, with the reason given
                   ("⚠ 注意", a.get("flags")), ("审批权限", may)])
    )


def summary_html(items: list[dict[str, Any]]) -> str:
    mine = sum(1 for a in items if a.get("may_approve"))
    return (f'<div>待审批 <b>{esc(len(items))}</b> 件 · 您可审批 <b>{esc(mine)}</b> 件 · 合计 '
            f'{esc(_yuan(sum(int(a.get("total_fen") or 0) for a in items)))}</div>')


class _Item:
    def __init__(self, form: ApprovalsForm, a: dict[str, Any]):
        cid = int(a["case_id"])
        self.case_id, self.version = cid, int(a["version"])  # what the list was read at (server side)
        self.data = a
        self.info = widgets.HTML(item_html(a))
        self.reason = widgets.Text(value="", placeholder="审批意见（驳回必填）", description="意见", style=STYLE,
                                   layout=widgets.Layout(width="420px"))
        self.approve = button("批准", "ro-approvals-approve", style="success", icon="check")
        self.reject = button("驳回", "ro-approvals-reject", style="danger", icon="times")
        self.open = button("打开案件", "ro-approvals-open", icon="folder-open")
        for w, c in ((self.reason, "ro-approvals-reason"), (self.approve, "ro-approvals-approve"),
                     (self.reject, "ro-approvals-reject"), (self.open, "ro-approvals-open")):
            w.add_class(f"{c}-{cid}")
        self.reason.add_class("ro-approvals-reason")
        # a hint only: the ledger decides again on the server
        self.approve.disabled = not a.get("may_approve")
        self.reject.disabled = not a.get("may_approve")
        self.approve.on_click(guard(form.status, lambda _b: form.decide(self, approve=True)))
        self.reject.on_click(guard(form.status, lambda _b: form.decide(self, approve=False)))
        self.open.on_click(guard(form.status, lambda _b: form.open_case(cid)))
        set_visible(self.open, form.on_open is not None)
        self.box = widgets.VBox([self.info, widgets.HBox([self.reason, self.approve, self.reject, self.open],
                                                         layout=widgets.Layout(flex_flow="row wrap"))])
        self.box.add_class("ro-card")
        self.box.add_class("ro-approvals-item")
        self.box.add_class(f"ro-approvals-item-{cid}")


class ApprovalsForm(Form):
    """审批. Handles: ``approver refresh_button summary list items`` (case id → item with ``reason approve reject open``)."""

    name = "approvals"

    def __init__(self, wb: Any, *, on_open: Callable[[int], Any] | None = None):
        super().__init__(wb)
        self.on_open = on_open
        self.items: dict[int, _Item] = {}
        self.data: list[dict[str, Any]] = []
        self.approver = widgets.Text(value=wb.actor.label, description="审批人", disabled=True, style=STYLE,
                                     layout=widgets.Layout(width="280px"))
        self.approver.add_class("ro-approvals-approver")
        self.refresh_button = button("刷新", "ro-approvals-refresh", icon="refresh")
        self.refresh_button.on_click(guard(self.status, lambda _b: self.refresh()))
        self.summary = widgets.HTML("")
        self.summary.add_class("ro-approvals-summary")
        self.empty = widgets.HTML('<div class="ro-muted">没有待审批的补偿 / nothing waits for approval</div>')
        self.empty.add_class("ro-approvals-empty")
        self.list = widgets.VBox([])
        self.list.add_class("ro-approvals-list")
        self._finish(
            widgets.HTML('<div class="ro-title">补偿审批 <span class="ro-sub">approvals</span></div>'),
            widgets.HBox([self.approver, self.refresh_button], layout=widgets.Layout(align_items="center")),
            self.summary, self.status.widget, self.empty, self.list,
        )

    def refresh(self) -> None:
        from reviewops.core.errors import AccessDenied

        try:
            data = self.wb.approvals()
        except AccessDenied as e:  # the user was disabled while the page was open
            self.revoke(e)
            return
        self.data = data
        for old in getattr(self, "items", {}).values():
            close_tree(old.box)
        self.items = {int(a["case_id"]): _Item(self, a) for a in data}
        self.list.children = [i.box for i in self.items.values()]
        self.summary.value = summary_html(data)
        set_visible(self.empty, not data)

    def clear_data(self) -> None:
        """No request left on the page."""
        self.data = []
        for old in getattr(self, "items", {}).values():
            close_tree(old.box)
        self.items = {}
        self.list.children = []
        self.summary.value = ""
        set_visible(self.empty, False)

    def item(self, case_id: int) -> _Item:
        return self.items[int(case_id)]

    def decide(self, item: _Item, *, approve: bool) -> None:
        from reviewops.core.errors import ConflictError

        reason = item.reason.value
        try:
            if approve:
                v = self.wb.approve(item.case_id, item.version, reason)
            else:
                v = self.wb.reject(item.case_id, item.version, reason)
        except ConflictError as e:
            self.refresh()
            self.status.error(f"{e}\n列表已刷新，请核对后重新审批 / the list was refreshed; check and decide again")
            return
        self.refresh()
        self.status.ok(f"案件 #{item.case_id} 补偿已{'批准' if approve else '驳回'}（版本 v{v}）")

    def open_case(self, case_id: int) -> None:
        if self.on_open is not None:
            self.on_open(int(case_id))


def build_approvals(wb: Any, *, on_open: Callable[[int], Any] | None = None) -> ApprovalsForm:
    """审批 for the signed-in ``wb.actor``; ``on_open(case_id)`` opens a case (in the composed app)."""
    form = ApprovalsForm(wb, on_open=on_open)
    guard(form.status, form.refresh)()
    return form
