"""今日回访 — follow-up tasks due (SPEC H1 steps 3–4, V1, V2, Compliance).

``build_followups(wb)`` lists :meth:`Workbench.followups_due` with the message each task sends. The
message is in a Textarea (selectable; the operator may edit it before sending), with a 复制 button
that copies the Textarea's text to the clipboard in the browser. 完成 records the task as done —
with the edited text when it was changed, else the drafted one; both are checked for
conditional-incentive wording by the domain — and 跳过 needs a reason.

The copy button is a ``widgets.HTML`` holding only constant markup and the follow-up id (no user
text): its ``onclick`` selects the Textarea with the class ``ro-followups-message-<id>`` and copies it
(``navigator.clipboard`` where the page is a secure context, else ``document.execCommand("copy")``).
Should a browser refuse both, the text stays selected in the Textarea for Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from .common import (
    STYLE,
    Form,
    button,
    close_tree,
    esc,
    guard,
    kv_html,
    minutes_text,
    msg_html,
    set_visible,
)

__all__ = ["FollowupsForm", "build_followups"]

HORIZONS = [("已到期 / due now", 0.0), ("24 小时内 / next 24 h", 24.0), ("3 天内 / next 3 days", 72.0),
            ("30 天内 / next 30 days", 720.0), ("全部 / all", 24.0 * 400)]


def task_html(t: dict[str, Any]) -> str:
    left = t.get("minutes_left")
    due = minutes_text(left) if left is not None else ""
    cls = "ro-left-breached" if left is not None and left < 0 else "ro-muted"
    return (
        f'<div class="ro-title">{esc(t.get("step_zh"))} · 案件 #{esc(t.get("case_id"))} '
        f'<span class="ro-sub">{esc(t.get("platform"))} · {esc(t.get("shop"))}</span></div>'
        + kv_html([("到期", t.get("due_local")), ("剩余", due)])
        + f'<div class="{esc(cls)}">{esc("已逾期" if left is not None and left < 0 else "")}</div>'
    )


def problems_html(t: dict[str, Any]) -> str:
    if t.get("message_ok", True):
        return ""
    return msg_html("warn", "草稿不能直接发送：" + str(t.get("problems") or "") + "；请修改后再点“完成”")


def copy_html(followup_id: int) -> str:
    """The 复制 button: constant markup and the id only (no user text)."""
    fid = esc(int(followup_id))
    return (
        f'<button class="ro-copy-btn ro-followups-copy-button ro-followups-copy-button-{fid}" type="button" '
        f"onclick=\"var t=document.querySelector('.ro-followups-message-{fid} textarea');"
        "if(!t){return;}t.focus();t.select();var b=this;"
        "var ok=function(){b.textContent='已复制';setTimeout(function(){b.textContent='复制';},1500);};"
        "if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(t.value).then(ok,"
        "function(){try{document.execCommand('copy');ok();}catch(e){}});}"
        "else{try{document.execCommand('copy');ok();}catch(e){}}\">复制</button>"
    )


def summary_html(n: int, overdue: int) -> str:
    return (f'<div>待回访 <b>{esc(n)}</b> 项 · <span class="ro-left-breached">已逾期 {esc(overdue)}</span></div>')


class _Task:
    def __init__(self, form: FollowupsForm, t: dict[str, Any]):
        fid = int(t["followup_id"])
        self.followup_id, self.case_id, self.data = fid, int(t["case_id"]), t
        self.drafted = str(t.get("message") or "")
        self.info = widgets.HTML(task_html(t))
        self.message = widgets.Textarea(value=self.drafted, layout=widgets.Layout(width="100%", height="90px"))
        self.problems = widgets.HTML(problems_html(t))
        self.copy = widgets.HTML(copy_html(fid))
        self.done = button("完成（已发送）", "ro-followups-done", style="success", icon="check")
        self.skip_reason = widgets.Text(value="", placeholder="跳过原因（必填）", layout=widgets.Layout(width="260px"))
        self.skip = button("跳过", "ro-followups-skip", icon="forward")
        self.open = button("打开案件", "ro-followups-open", icon="folder-open")
        for w, c in ((self.message, "ro-followups-message"), (self.problems, "ro-followups-problems"),
                     (self.copy, "ro-followups-copy"), (self.done, "ro-followups-done"),
                     (self.skip_reason, "ro-followups-skip-reason"), (self.skip, "ro-followups-skip"),
                     (self.open, "ro-followups-open")):
            w.add_class(c)
            w.add_class(f"{c}-{fid}")
        self.done.on_click(guard(form.status, lambda _b: form.complete(self, done=True)))
        self.skip.on_click(guard(form.status, lambda _b: form.complete(self, done=False)))
        self.open.on_click(guard(form.status, lambda _b: form.open_case(self.case_id)))
        set_visible(self.open, form.on_open is not None)
        self.box = widgets.VBox([
            self.info, self.message, self.problems,
            widgets.HBox([self.copy, self.done, self.skip_reason, self.skip, self.open],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
        ])
        self.box.add_class("ro-card")
        self.box.add_class("ro-followups-item")
        self.box.add_class(f"ro-followups-item-{fid}")

    def edited(self) -> str | None:
        """The message as edited, or None when it is the drafted text (the domain then sends its draft)."""
        text = self.message.value
        return None if text.strip() == self.drafted.strip() else text


class FollowupsForm(Form):
    """今日回访. Handles: ``horizon refresh_button summary list tasks`` (follow-up id → task with
    ``message copy done skip_reason skip open``)."""

    name = "followups"

    def __init__(self, wb: Any, *, on_open: Callable[[int], Any] | None = None, horizon_hours: float = 24.0):
        super().__init__(wb)
        self.on_open = on_open
        self.tasks: dict[int, _Task] = {}
        self.df = None
        options = list(HORIZONS)
        if float(horizon_hours) not in [h for _l, h in options]:
            options.append((f"{horizon_hours:g} 小时内", float(horizon_hours)))
        self.horizon = widgets.Dropdown(options=options, value=float(horizon_hours), description="范围", style=STYLE,
                                        layout=widgets.Layout(width="260px"))
        self.horizon.add_class("ro-followups-horizon")
        self.horizon.observe(guard(self.status, lambda _c: self.refresh()), names="value")
        self.refresh_button = button("刷新", "ro-followups-refresh", icon="refresh")
        self.refresh_button.on_click(guard(self.status, lambda _b: self.refresh()))
        self.summary = widgets.HTML("")
        self.summary.add_class("ro-followups-summary")
        self.empty = widgets.HTML('<div class="ro-muted">这个范围内没有待回访任务 / nothing due</div>')
        self.empty.add_class("ro-followups-empty")
        self.list = widgets.VBox([])
        self.list.add_class("ro-followups-list")
        self._finish(
            widgets.HTML('<div class="ro-title">今日回访 <span class="ro-sub">follow-ups due</span></div>'),
            widgets.HBox([self.horizon, self.refresh_button], layout=widgets.Layout(align_items="center")),
            self.summary, self.status.widget, self.empty, self.list,
        )

    def refresh(self) -> None:
        from reviewops.core.errors import AccessDenied

        try:
            df = self.wb.followups_due(horizon_hours=float(self.horizon.value))
        except AccessDenied as e:  # the user was disabled while the page was open
            self.revoke(e)
            return
        self.df = df
        records = df.to_dict("records")
        for old in getattr(self, "tasks", {}).values():
            close_tree(old.box)
        self.tasks = {int(t["followup_id"]): _Task(self, t) for t in records}
        self.list.children = [t.box for t in self.tasks.values()]
        overdue = sum(1 for t in records if t.get("minutes_left") is not None and t["minutes_left"] < 0)
        self.summary.value = summary_html(len(records), overdue)
        set_visible(self.empty, not records)

    def clear_data(self) -> None:
        """No task left on the page."""
        self.df = None
        for old in getattr(self, "tasks", {}).values():
            close_tree(old.box)
        self.tasks = {}
        self.list.children = []
        self.summary.value = ""
        set_visible(self.empty, False)

    def task(self, followup_id: int) -> _Task:
        return self.tasks[int(followup_id)]

    def complete(self, task: _Task, *, done: bool) -> None:
        if done:
            self.wb.complete_followup(task.followup_id, done=True, message=task.edited())
        else:
            self.wb.complete_followup(task.followup_id, done=False, reason=task.skip_reason.value)
        step = task.data.get("step_zh") or ""
        self.refresh()
        self.status.ok(f"回访“{step}”（案件 #{task.case_id}）已{'完成' if done else '跳过'}")

    def open_case(self, case_id: int) -> None:
        if self.on_open is not None:
            self.on_open(int(case_id))


def build_followups(wb: Any, *, on_open: Callable[[int], Any] | None = None,
                    horizon_hours: float = 24.0) -> FollowupsForm:
    """今日回访 for the signed-in ``wb.actor`` (tasks due within ``horizon_hours``)."""
    form = FollowupsForm(wb, on_open=on_open, horizon_hours=horizon_hours)
    guard(form.status, form.refresh)()
    return form
