"""The composed workbench: a header naming the signed-in user and a Tab of the forms.

``build_workbench(wb)`` — 差评工作台 · 案件处理 · 补偿审批 · 今日回访, and 申诉 (the legal desk's platform
appeals) for the roles that handle appeals (the policy's `appeal_roles`, default legal,
supervisor, admin); other roles get no such tab at all (the library refuses them anyway). 处理 in the queue
(or 打开案件 in approvals / follow-ups) loads that case in the 案件处理 tab and switches to it; switching to a
list tab refreshes it. Only the queue is built when the page opens; the other forms are built the first
time their tab is selected (or a case is opened), which keeps the page's first paint small
(benchmarks/bench_workbench_browser.py). Who is signed in comes from ``wb.actor``, which the server made
(:func:`reviewops.serve.open_session`) — never from a widget.

Alerts link to ``workbench.ipynb?case=<id>``: the page reads its query string (:func:`page_query_string`),
:func:`case_from_query` keeps only one well-formed positive case number (anything else opens nothing),
and ``build_workbench(wb, case_id=…)`` opens it in the 案件处理 tab — where the case is checked against
the user's shops like any other, a refusal shown in that tab's status.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import ipywidgets as widgets
from reviewops.core.outputs import TIME_LABEL

from .appeals import AppealsForm, build_appeals
from .approvals import ApprovalsForm, build_approvals
from .case import CaseForm, build_case
from .common import Form, esc, guard, page_query_string, style_widget
from .followups import FollowupsForm, build_followups
from .queue import QueueForm, build_queue

__all__ = ["WorkbenchApp", "build_workbench", "case_from_query", "page_query_string"]

TABS = ("差评工作台", "案件处理", "补偿审批", "今日回访")
APPEALS_TAB = "申诉"  # the fifth tab, for the roles that handle appeals only
QUEUE, CASE, APPROVALS, FOLLOWUPS, APPEALS = range(5)
MAX_CASE_DIGITS = 12


def case_from_query(qs: str | None) -> int | None:
    """The case a deep link asks for: ``"case=123"`` → 123; None for anything else.

    Exactly one ``case`` parameter, whose value is ASCII digits only (at most 12) and positive; a
    missing, empty, repeated, signed, fractional or otherwise decorated value (``case=abc``,
    ``case=-1``, ``case=1;drop``, ``case=1&case=2``) is ignored silently — the page opens as usual.
    Only a request: the case is checked against the user's shops when it is loaded.
    """
    if not qs:
        return None
    try:
        pairs = parse_qsl(str(qs), keep_blank_values=True, max_num_fields=50)
    except ValueError:  # too many fields
        return None
    values = [v for k, v in pairs if k == "case"]
    if len(values) != 1:
        return None
    v = values[0]
    if not (v.isascii() and v.isdigit()) or len(v) > MAX_CASE_DIGITS or int(v) <= 0:
        return None
    return int(v)


def may_appeal(actor: Any, policy: Any = None) -> bool:
    """Whether the user gets the 申诉 tab: a role of the policy's ``appeal_roles``
    (:func:`reviewops.handling.appeals.appeal_roles`; the library checks the role and the case's shop again on
    every call)."""
    from reviewops.handling.appeals import appeal_roles

    return getattr(actor, "role", None) in appeal_roles(policy)


def user_html(actor: Any) -> str:
    shops = "全部店铺" if actor.shops is None else "店铺 " + "、".join(str(s) for s in sorted(actor.shops))
    return (f'<div class="ro-app-head"><span class="ro-sub">当前用户 Signed in：</span>'
            f'<b class="ro-app-user-name">{esc(actor.label)}</b>'
            f' <span class="ro-sub">（{esc(actor.name)} · {esc(shops)}）</span>'
            f' <span class="ro-sub ro-app-tz">· 时间均为{esc(TIME_LABEL)}</span></div>')


class WorkbenchApp(Form):
    """Handles: ``user tabs queue case approvals followups`` (the four forms) and ``appeals`` (the 申诉 form,
    only when ``may_appeal``; else using it raises AttributeError)."""

    name = "app"

    def __init__(self, wb: Any, *, auto_refresh: bool = True, refresh_seconds: float = 30.0):
        super().__init__(wb)
        self.user = widgets.HTML(user_html(wb.actor))
        self.user.add_class("ro-app-user")
        self.queue: QueueForm = build_queue(wb, on_open=self.open_case, auto_refresh=auto_refresh,
                                           refresh_seconds=refresh_seconds)
        self.may_appeal = may_appeal(wb.actor, wb.policy)
        self._built: dict[int, Form] = {}
        lazy = (CASE, APPROVALS, FOLLOWUPS, APPEALS) if self.may_appeal else (CASE, APPROVALS, FOLLOWUPS)
        self._slots = {i: widgets.VBox([]) for i in lazy}
        self.tabs = widgets.Tab(children=[self.queue.root, *self._slots.values()])
        self.tabs.titles = (*TABS, APPEALS_TAB) if self.may_appeal else TABS
        self.tabs.add_class("ro-app-tabs")
        self.tabs.observe(guard(self.status, self._switched), names="selected_index")
        self.root = widgets.VBox([style_widget(), self.user, self.status.widget, self.tabs])
        self.root.add_class("ro-app")

    def _form(self, index: int) -> Any:
        """The form of tab ``index``, built (and put into its tab) on first use."""
        form = self._built.get(index)
        if form is None:
            if index == CASE:
                form = build_case(self.wb)
            elif index == APPROVALS:
                form = build_approvals(self.wb, on_open=self.open_case)
            elif index == FOLLOWUPS:
                form = build_followups(self.wb, on_open=self.open_case)
            elif index == APPEALS and self.may_appeal:
                form = build_appeals(self.wb)
            else:
                raise AttributeError(f"no tab {index} for role {self.wb.actor.role!r}")
            self._built[index] = form
            self._slots[index].children = (form.root,)
        return form

    @property
    def case(self) -> CaseForm:
        return self._form(CASE)

    @property
    def approvals(self) -> ApprovalsForm:
        return self._form(APPROVALS)

    @property
    def followups(self) -> FollowupsForm:
        return self._form(FOLLOWUPS)

    @property
    def appeals(self) -> AppealsForm:
        if not self.may_appeal:
            raise AttributeError(f"role {self.wb.actor.role!r} has no 申诉 tab")
        return self._form(APPEALS)

    def open_case(self, case_id: int) -> None:
        """Load ``case_id`` in the 案件处理 tab and show it (refusals appear in that tab's status)."""
        self.tabs.selected_index = CASE
        self.case.case_id.value = str(case_id)
        guard(self.case.status, self.case.load)(case_id)

    def _switched(self, change: Any) -> None:
        index = change["new"]
        if index == QUEUE:
            guard(self.queue.status, self.queue.refresh)()
        elif index == CASE:
            self._form(CASE)
        elif index == APPROVALS:
            fresh = APPROVALS not in self._built
            form = self._form(APPROVALS)
            if not fresh:  # a new form has just loaded its list
                guard(form.status, form.refresh)()
        elif index in (FOLLOWUPS, APPEALS) and index in self._slots:
            fresh = index not in self._built
            form = self._form(index)
            if not fresh:
                guard(form.status, form.refresh)()

    def close(self) -> None:
        self.queue.stop()


def build_workbench(wb: Any, *, auto_refresh: bool = True, refresh_seconds: float = 30.0,
                    case_id: int | None = None) -> WorkbenchApp:
    """The whole workbench for the signed-in ``wb.actor``; with ``case_id`` (an alert's link) that case
    is opened in the 案件处理 tab (a case of another shop: the refusal shows there)."""
    app = WorkbenchApp(wb, auto_refresh=auto_refresh, refresh_seconds=refresh_seconds)
    if case_id is not None:
        app.open_case(int(case_id))
    return app
