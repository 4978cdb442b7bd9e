"""The composed workbench: a header naming the signed-in user and a Tab of the four forms.

``build_workbench(wb)`` — 差评工作台 · 案件处理 · 补偿审批 · 今日回访. 处理 in the queue (or 打开案件 in
approvals / follow-ups) loads that case in the 案件处理 tab and switches to it; switching to a list tab
refreshes it. Who is signed in comes from ``wb.actor``, which the server made
(:func:`reviewops.serve.open_session`) — never from a widget.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from .approvals import ApprovalsForm, build_approvals
from .case import CaseForm, build_case
from .common import Form, esc, guard, style_widget
from .followups import FollowupsForm, build_followups
from .queue import QueueForm, build_queue

__all__ = ["WorkbenchApp", "build_workbench"]

TABS = ("差评工作台", "案件处理", "补偿审批", "今日回访")
QUEUE, CASE, APPROVALS, FOLLOWUPS = range(4)


def user_html(actor: Any) -> str:
    shops = "全部店铺" if actor.shops is None else "店铺 " + "、".join(str(s) for s in sorted(actor.shops))
    return (f'<div class="ro-app-head"><span class="ro-sub">当前用户 Signed in：</span>'
            f'<b class="ro-app-user-name">{esc(actor.label)}</b>'
            f' <span class="ro-sub">（{esc(actor.name)} · {esc(shops)}）</span></div>')


class WorkbenchApp(Form):
    """Handles: ``user tabs queue case approvals followups`` (the four forms)."""

    name = "app"

    def __init__(self, wb: Any, *, auto_refresh: bool = True, refresh_seconds: float = 30.0):
        super().__init__(wb)
        self.user = widgets.HTML(user_html(wb.actor))
        self.user.add_class("ro-app-user")
        self.case: CaseForm = build_case(wb)
        self.queue: QueueForm = build_queue(wb, on_open=self.open_case, auto_refresh=auto_refresh,
                                           refresh_seconds=refresh_seconds)
        self.approvals: ApprovalsForm = build_approvals(wb, on_open=self.open_case)
        self.followups: FollowupsForm = build_followups(wb, on_open=self.open_case)
        self.tabs = widgets.Tab(children=[self.queue.root, self.case.root, self.approvals.root, self.followups.root])
        self.tabs.titles = TABS
        self.tabs.add_class("ro-app-tabs")
        self.tabs.observe(guard(self.status, self._switched), names="selected_index")
        self.root = widgets.VBox([style_widget(), self.user, self.status.widget, self.tabs])
        self.root.add_class("ro-app")

    def open_case(self, case_id: int) -> None:
        """Load ``case_id`` in the 案件处理 tab and show it (refusals appear in that tab's status)."""
        self.tabs.selected_index = CASE
        self.case.case_id.value = str(case_id)
        guard(self.case.status, self.case.load)(case_id)

    def _switched(self, change: Any) -> None:
        index = change["new"]
        if index == QUEUE:
            guard(self.queue.status, self.queue.refresh)()
        elif index == APPROVALS:
            guard(self.approvals.status, self.approvals.refresh)()
        elif index == FOLLOWUPS:
            guard(self.followups.status, self.followups.refresh)()

    def close(self) -> None:
        self.queue.stop()


def build_workbench(wb: Any, *, auto_refresh: bool = True, refresh_seconds: float = 30.0) -> WorkbenchApp:
    """The whole workbench for the signed-in ``wb.actor``."""
    return WorkbenchApp(wb, auto_refresh=auto_refresh, refresh_seconds=refresh_seconds)
