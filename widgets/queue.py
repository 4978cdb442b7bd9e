"""差评工作台 — the case queue (SPEC E2): open cases by SLA deadline with a live countdown.

``build_queue(wb)`` lists ``wb.queue(...)`` in the order it returns (unanswered first, by deadline),
with filters (mine, role, category, platform, shop), a counts header and a 处理 button per row. A
background thread refreshes the list every 30 s (``refresh_seconds``) so minutes left and the SLA
colour (a CSS class ``ro-sla-<status>`` per row) stay current; ``form.stop()`` ends it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_string import HTMLStyle
from reviewops.core.outputs import now_text
from reviewops.core.sla import UNANSWERED_STATUSES

from .common import (
    STYLE,
    Form,
    button,
    esc,
    guard,
    minutes_text,
    set_classes,
    set_visible,
)

__all__ = ["QueueForm", "build_queue"]

ALL = "__all__"
COLUMNS = ("编号", "状态", "平台 · 店铺", "评分", "分类", "严重", "负责", "处理人", "截止（北京时间）", "剩余", "摘要")


def row_html(r: dict[str, Any], roles_zh: dict[str, str] | None = None) -> str:
    """One queue row's cells (every value escaped)."""
    left_cls = {"warning": "ro-left-warning", "breached": "ro-left-breached"}.get(r["sla_status"], "")
    # once contacted the SLA clock has stopped: the status (按时响应 / 逾期响应), never a countdown or 已超时
    answered = r["sla_status"] not in UNANSWERED_STATUSES
    left = r["sla_status_zh"] if answered else minutes_text(r["minutes_left"], r["sla_status"])
    return (
        '<div class="ro-qcells">'
        f'<span class="ro-queue-cell-id">#{esc(r["case_id"])}</span>'
        f'<span>{esc(r["state_zh"])}</span>'
        f'<span title="{esc(r["shop"])}">{esc(r["platform"])} · {esc(r["shop"])}</span>'
        f'<span>{esc(r["rating"])}</span>'
        f'<span>{esc(r["category_zh"])}</span>'
        f'<span class="ro-tag ro-tag-{esc(r["severity"])}">{esc(r["severity_zh"])}</span>'
        f'<span title="{esc(r["owner_role"])}">{esc((roles_zh or {}).get(r["owner_role"], r["owner_role"]))}</span>'
        f'<span>{esc(r["assignee"])}</span>'
        f'<span>{esc(r["due_local"])}</span>'
        f'<span class="ro-queue-left {esc(left_cls)}" title="{esc(r["sla_status_zh"])}">{esc(left)}</span>'
        f'<span title="{esc(r["excerpt"])}">{esc(r["excerpt"])}</span>'
        "</div>"
    )


def head_html() -> str:
    cells = "".join(f"<span>{esc(c)}</span>" for c in COLUMNS)
    return f'<div class="ro-qcells ro-qhead">{cells}</div>'


def counts_html(c: dict[str, int], shown: int, updated: str) -> str:
    return (
        f'<div class="ro-queue-counts-line">待处理 <b>{esc(c.get("total", 0))}</b> 件'
        f' · <span class="ro-left-breached">已超时 {esc(c.get("breached", 0))}</span>'
        f' · <span class="ro-left-warning">即将超时 {esc(c.get("warning", 0))}</span>'
        f' · 未响应 {esc(c.get("unanswered", 0))}'
        f' · 严重程度 高 {esc(c.get("severity_high", 0))} / 中 {esc(c.get("severity_medium", 0))}'
        f' / 低 {esc(c.get("severity_low", 0))}'
        f' <span class="ro-muted">（本页 {esc(shown)} 件 · 更新于 {esc(updated)}，每 30 秒自动刷新）</span></div>'
    )


def _row_shared() -> dict[str, widgets.Widget]:
    return {"open_layout": widgets.Layout(width="64px"), "open_style": widgets.ButtonStyle(),
            "cells_layout": widgets.Layout(width="100%"), "cells_style": HTMLStyle()}


class _Row:
    """One reusable row slot: a 处理 button and the row's cells."""

    def __init__(self, on_click: Callable[[_Row], None], roles_zh: dict[str, str],
                 shared: dict[str, widgets.Widget] | None = None):
        self.roles_zh = roles_zh
        self.case_id: int | None = None
        # the slots of one queue share the models nobody changes per row (button and cell layouts and
        # styles): 4 models fewer per slot for the first paint (docs/performance.md, first open)
        shared = shared if shared is not None else _row_shared()
        self.open = widgets.Button(description="处理", button_style="primary", tooltip="处理",
                                   layout=shared["open_layout"], style=shared["open_style"])
        self.open.add_class("ro-queue-open")
        self.cells = widgets.HTML("", layout=shared["cells_layout"], style=shared["cells_style"])
        self.box = widgets.HBox([self.open, self.cells], layout=widgets.Layout(width="100%"))
        self.box.add_class("ro-queue-row")
        self.open.on_click(lambda _b: on_click(self))
        set_visible(self.box, False)

    def show(self, r: dict[str, Any]) -> None:
        cid = int(r["case_id"])
        if cid != self.case_id:
            set_classes(self.open, "ro-queue-open-", [f"ro-queue-open-{cid}"])
            set_classes(self.box, "ro-queue-row-", [f"ro-queue-row-{cid}"])
            self.open.tooltip = f"打开案件 #{cid}"
            self.case_id = cid
        set_classes(self.box, "ro-sla-", [f"ro-sla-{r['sla_status']}"])
        self.cells.value = row_html(r, self.roles_zh)
        set_visible(self.box, True)

    def release(self) -> None:
        """Drop this slot's case classes (before another slot takes the case: never two rows with one class)."""
        self.case_id = None
        set_classes(self.open, "ro-queue-open-", [])
        set_classes(self.box, "ro-queue-row-", [])

    def hide(self) -> None:
        self.release()
        set_visible(self.box, False)


class QueueForm(Form):
    """差评工作台: handles ``mine role category platform shop refresh table rows counts page prev next``."""

    name = "queue"

    def __init__(self, wb: Any, *, on_open: Callable[[int], Any] | None = None, page_size: int = 20,
                 limit: int = 200, refresh_seconds: float = 30.0):
        super().__init__(wb)
        from reviewops.core.policy import CATEGORY_ZH

        self.on_open = on_open
        self.page_size = max(1, int(page_size))
        self.limit = int(limit)
        self.refresh_seconds = float(refresh_seconds)
        self.df = None
        self.page_no = 0
        self.refreshes = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

        shops = wb.shops()
        try:
            roles = [(f"{r['name_zh']}（{r['code']}）", r["code"]) for r in wb.policy.tables["roles"]]
            self.roles_zh = {r["code"]: str(r["name_zh"]) for r in wb.policy.tables["roles"]}
        except Exception:  # noqa: BLE001 - labels only; the filter still works with codes
            roles = [(c, c) for c in ("agent", "supervisor", "legal", "admin")]
            self.roles_zh = {}
        platforms = sorted({s["platform"] for s in shops})
        self.mine = widgets.Checkbox(value=False, description="只看我的 / mine", style=STYLE, indent=False,
                                     layout=widgets.Layout(width="auto"))
        self.role = widgets.Dropdown(options=[("全部角色", ALL), *roles], value=ALL, description="负责角色",
                                     style=STYLE, layout=widgets.Layout(width="210px"))
        self.category = widgets.Dropdown(options=[("全部分类", ALL), *[(f"{zh}（{c}）", c) for c, zh in
                                                                      CATEGORY_ZH.items()]],
                                         value=ALL, description="分类", style=STYLE,
                                         layout=widgets.Layout(width="210px"))
        self.platform = widgets.Dropdown(options=[("全部平台", ALL), *[(p, p) for p in platforms]], value=ALL,
                                         description="平台", style=STYLE, layout=widgets.Layout(width="170px"))
        self.shop = widgets.Dropdown(options=[("全部店铺", ALL), *[(f"{s['name']}（{s['platform']}）", s["id"])
                                                                  for s in shops]],
                                     value=ALL, description="店铺", style=STYLE, layout=widgets.Layout(width="280px"))
        for w, c in ((self.mine, "ro-queue-mine"), (self.role, "ro-queue-role"), (self.category, "ro-queue-category"),
                     (self.platform, "ro-queue-platform"), (self.shop, "ro-queue-shop")):
            w.add_class(c)
            w.observe(guard(self.status, self._filter_changed), names="value")
        self.refresh_button = button("刷新", "ro-queue-refresh", icon="refresh")
        self.refresh_button.on_click(guard(self.status, lambda _b: self.refresh()))
        self.counts = widgets.HTML("")
        self.counts.add_class("ro-queue-counts")
        shared = _row_shared()
        self.rows = [_Row(guard(self.status, self._open_row), self.roles_zh, shared) for _ in range(self.page_size)]
        self.empty = widgets.HTML('<div class="ro-muted">没有符合条件的待处理案件 / no open cases match</div>')
        self.empty.add_class("ro-queue-empty")
        self.table = widgets.VBox([widgets.HTML(head_html()), self.empty, *[r.box for r in self.rows]],
                                  layout=widgets.Layout(width="100%"))
        self.table.add_class("ro-queue-table")
        self.prev = button("上一页", "ro-queue-prev", icon="chevron-left")
        self.next = button("下一页", "ro-queue-next", icon="chevron-right")
        self.page = widgets.Label("")
        self.page.add_class("ro-queue-page")
        self.prev.on_click(guard(self.status, lambda _b: self._turn(-1)))
        self.next.on_click(guard(self.status, lambda _b: self._turn(+1)))

        filters = widgets.HBox([self.mine, self.role, self.category, self.platform, self.shop, self.refresh_button],
                               layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        self._finish(
            widgets.HTML('<div class="ro-title">差评工作台 <span class="ro-sub">open cases by SLA deadline</span></div>'),
            filters, self.counts, self.status.widget, self.table, widgets.HBox([self.prev, self.page, self.next]),
        )

    # ------------------------------------------------------------ data
    def filters(self) -> dict[str, Any]:
        """The filter widgets as ``Workbench.queue`` arguments (the actor's shops still limit everything)."""
        pick = lambda w: None if w.value == ALL else w.value
        return {"mine": bool(self.mine.value), "role": pick(self.role), "category": pick(self.category),
                "platform": pick(self.platform), "shop_id": pick(self.shop)}

    def refresh(self, now: dt.datetime | None = None) -> None:
        """Query the queue again and redraw (minutes left, SLA colours, new cases). When the store refuses
        the read (the user was disabled), the rows are cleared and the auto-refresh stops (:meth:`revoke`)."""
        from reviewops.core.errors import AccessDenied

        with self._lock:
            try:
                df = self.wb.queue(**self.filters(), limit=self.limit, now=now)
            except AccessDenied as e:
                self.revoke(e)
                return
            self.df = df
            self.updated_at = now  # 更新于: this refresh's clock (None = now), shown in Beijing time
            self.refreshes += 1
            pages = max(1, -(-len(df) // self.page_size))
            self.page_no = min(self.page_no, pages - 1)
            self._draw()

    def _draw(self) -> None:
        df = self.df
        start = self.page_no * self.page_size
        records = df.iloc[start:start + self.page_size].to_dict("records") if df is not None else []
        wanted = [int(r["case_id"]) for r in records]
        for i, slot in enumerate(self.rows):  # first release every slot whose case moves or leaves …
            if slot.case_id is not None and (i >= len(wanted) or wanted[i] != slot.case_id):
                slot.release()
        for slot, r in zip(self.rows, records):  # … then fill: the browser gets the removals first
            slot.show(r)
        for slot in self.rows[len(records):]:
            slot.hide()
        set_visible(self.empty, not records)
        total = 0 if df is None else len(df)
        pages = max(1, -(-total // self.page_size))
        self.page.value = f"第 {self.page_no + 1} / {pages} 页（共 {total} 件）"
        self.prev.disabled = self.page_no == 0
        self.next.disabled = self.page_no >= pages - 1
        counts = self.wb.queue_counts(df) if df is not None else {}
        self.counts.value = counts_html(counts, len(records), now_text(now=getattr(self, "updated_at", None)))

    def _halt(self) -> None:
        """The auto-refresh ends at its next wake-up (no join: this may run in it, or hold its lock)."""
        self._stop.set()

    def clear_data(self) -> None:
        """No case left on the page: rows, counts and pages emptied."""
        self.df = None
        self.page_no = 0
        self._draw()

    def _filter_changed(self, _change: Any) -> None:
        self.page_no = 0
        self.refresh()

    def _turn(self, step: int) -> None:
        with self._lock:
            self.page_no = max(0, self.page_no + step)
            self.refresh()

    def visible_case_ids(self) -> list[int]:
        """The case ids on the current page, top to bottom (what the operator sees)."""
        return [r.case_id for r in self.rows if r.case_id is not None]

    def row_for(self, case_id: int) -> _Row | None:
        return next((r for r in self.rows if r.case_id == int(case_id)), None)

    def _open_row(self, row: _Row) -> None:
        if row.case_id is None:
            return
        self.open_case(row.case_id)

    def open_case(self, case_id: int) -> None:
        if self.on_open is not None:
            self.on_open(int(case_id))
        else:
            self.status.info(f"案件 #{case_id}：请在「案件处理」页打开")

    # ------------------------------------------------------------ live countdown
    def start(self, interval: float | None = None) -> None:
        """Refresh every ``interval`` seconds (default ``refresh_seconds``) in a background thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        seconds = float(interval or self.refresh_seconds)
        self._stop.clear()
        tick = guard(self.status, self.refresh, clear=False)

        def loop() -> None:
            while not self._stop.wait(seconds):
                tick()

        self._thread = threading.Thread(target=loop, name="reviewops-queue-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background refresh (idempotent)."""
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        self.stop()


def build_queue(wb: Any, *, on_open: Callable[[int], Any] | None = None, auto_refresh: bool = True,
                refresh_seconds: float = 30.0, page_size: int = 20, limit: int = 200) -> QueueForm:
    """差评工作台 for the signed-in ``wb.actor``; ``on_open(case_id)`` is called by a row's 处理 button."""
    form = QueueForm(wb, on_open=on_open, page_size=page_size, limit=limit, refresh_seconds=refresh_seconds)
    guard(form.status, form.refresh)()
    if auto_refresh:
        form.start()
    return form
