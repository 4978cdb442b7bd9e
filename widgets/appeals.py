"""申诉 — the legal desk's platform appeals (SPEC H3, issue 17 §3).

``build_appeals(wb)`` lists :func:`reviewops.handling.appeals.legal_queue` for the signed-in ``wb.actor``
(legal, supervisor or admin; anyone else sees the refusal, which the library logs): malicious cases
without a packet yet, drafted appeals and appeals awaiting the platform, soonest deadline first, with
⚠ 24 小时内 / 已逾期 marks. Per row: 制作申诉包 builds the packet (:func:`build_packet`) and offers it
for download; 已提交 records the platform's reference (:func:`submit_appeal`); 申诉成功 / 驳回 record the
platform's decision with its reason (:func:`decide_appeal`). Submit and decide send the appeal version
the list was read at: a change made meanwhile is refused (the list is refreshed). Who may act is
decided by the library on the server from ``wb.actor`` — never from a widget.

Packets are written to ``out_dir`` (default: the folder ``appeal-packets`` beside the store's evidence
folder); the download link carries the ZIP itself (a ``data:`` URL) up to :data:`DOWNLOAD_MAX_BYTES`,
larger packets are named by path only.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from reviewops.core.outputs import fmt_time

from .common import STYLE, Form, button, close_tree, esc, guard, kv_html, set_visible

__all__ = ["AppealsForm", "build_appeals"]

#: Largest packet offered as an in-page download (bytes); larger ones are named by path.
DOWNLOAD_MAX_BYTES = 25 * 1024 * 1024


def row_html(r: dict[str, Any]) -> str:
    mark = "⚠ 已逾期" if r.get("overdue") else "⚠ 24 小时内截止" if r.get("warning") else ""
    left = "" if r.get("hours_left") is None else f"{r['hours_left']:+.1f} 小时"
    aid = f"申诉 #{r['appeal_id']} · 版本 v{r['version']}" if r.get("appeal_id") else "尚未制作申诉包"
    return (
        f'<div class="ro-title">案件 #{esc(r["case_id"])} <span class="ro-sub">{esc(r.get("platform_zh"))} · '
        f'{esc(aid)}</span> <b class="ro-appeals-mark">{esc(mark)}</b></div>'
        + kv_html([("状态", r.get("state_zh")), ("申诉类型", r.get("appeal_type")),
                   ("申诉截止", fmt_time(r.get("deadline_at"))), ("剩余", left),
                   ("平台编号", r.get("platform_ref"))])
    )


def summary_html(rows: list[dict[str, Any]]) -> str:
    todo = sum(1 for r in rows if r["state"] in ("to_build", "drafted"))
    warn = sum(1 for r in rows if r.get("warning"))
    late = sum(1 for r in rows if r.get("overdue"))
    return (f'<div>待申诉 <b>{esc(todo)}</b> 件 · 24 小时内截止 <b>{esc(warn)}</b> 件 · 已逾期 <b>{esc(late)}</b> 件 · '
            f'待平台处理 <b>{esc(len(rows) - todo)}</b> 件</div>')


def packet_html(packet: Any, data: bytes | None) -> str:
    missing = "、".join(packet.missing) or "无"
    link = (f'<a class="ro-appeals-download" download="{esc(packet.zip_path.name)}" '
            f'href="data:application/zip;base64,{esc(base64.b64encode(data).decode("ascii"))}">下载申诉包 '
            f'{esc(packet.zip_path.name)}</a>' if data is not None else
            f'<span class="ro-appeals-download">申诉包较大，请从 {esc(packet.zip_path)} 取用</span>')
    return (kv_html([("申诉包", f"{packet.zip_path.name}（{packet.size} 字节）"), ("SHA-256", packet.sha256),
                     ("证据", f"{len(packet.evidence)} 份"), ("缺少的必需材料", missing),
                     ("提示", "；".join(packet.notes))]) + link)


class _Row:
    def __init__(self, form: AppealsForm, r: dict[str, Any]):
        cid = int(r["case_id"])
        self.case_id, self.data = cid, r
        self.appeal_id = r.get("appeal_id")
        self.version = r.get("version")  # what the list was read at (server side)
        self.info = widgets.HTML(row_html(r))
        self.packet = widgets.HTML("")
        self.packet.add_class("ro-appeals-packet")
        self.build = button("制作申诉包", "ro-appeals-build", style="primary", icon="file-archive-o")
        self.ref = widgets.Text(value="", placeholder="平台申诉编号", description="编号", style=STYLE,
                                layout=widgets.Layout(width="300px"))
        self.submit = button("已提交", "ro-appeals-submit", style="info", icon="send")
        self.reason = widgets.Text(value="", placeholder="平台给出的理由（驳回必填）", description="理由", style=STYLE,
                                   layout=widgets.Layout(width="420px"))
        self.accept = button("申诉成功", "ro-appeals-accept", style="success", icon="check")
        self.reject = button("驳回", "ro-appeals-reject", style="danger", icon="times")
        for w, c in ((self.build, "ro-appeals-build"), (self.ref, "ro-appeals-ref"), (self.submit, "ro-appeals-submit"),
                     (self.reason, "ro-appeals-reason"), (self.accept, "ro-appeals-accept"),
                     (self.reject, "ro-appeals-reject"), (self.packet, "ro-appeals-packet")):
            w.add_class(f"{c}-{cid}")
        self.ref.add_class("ro-appeals-ref")
        self.reason.add_class("ro-appeals-reason")
        state = r["state"]
        self.build.on_click(guard(form.status, lambda _b: form.build(self)))
        self.submit.on_click(guard(form.status, lambda _b: form.submit(self)))
        self.accept.on_click(guard(form.status, lambda _b: form.decide(self, accepted=True)))
        self.reject.on_click(guard(form.status, lambda _b: form.decide(self, accepted=False)))
        build_row = widgets.HBox([self.build], layout=widgets.Layout(flex_flow="row wrap"))
        submit_row = widgets.HBox([self.ref, self.submit], layout=widgets.Layout(flex_flow="row wrap"))
        decide_row = widgets.HBox([self.reason, self.accept, self.reject], layout=widgets.Layout(flex_flow="row wrap"))
        set_visible(build_row, state in ("to_build", "drafted"))
        set_visible(submit_row, state == "drafted")
        set_visible(decide_row, state == "submitted")
        self.box = widgets.VBox([self.info, build_row, self.packet, submit_row, decide_row])
        self.box.add_class("ro-card")
        self.box.add_class("ro-appeals-item")
        self.box.add_class(f"ro-appeals-item-{cid}")
        if r.get("overdue"):
            self.box.add_class("ro-appeals-overdue")
        elif r.get("warning"):
            self.box.add_class("ro-appeals-warning")


class AppealsForm(Form):
    """申诉. Handles: ``user refresh_button summary list empty rows`` (case id → row with ``build packet ref
    submit reason accept reject``); ``row(id)``, ``refresh()``; ``last_packet`` is the last packet built."""

    name = "appeals"

    def __init__(self, wb: Any, *, out_dir: str | Path | None = None):
        super().__init__(wb)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.rows: dict[int, _Row] = {}
        self.data: list[dict[str, Any]] = []
        self.last_packet: Any = None
        self.user = widgets.Text(value=wb.actor.label, description="经办人", disabled=True, style=STYLE,
                                 layout=widgets.Layout(width="280px"))
        self.user.add_class("ro-appeals-user")
        self.refresh_button = button("刷新", "ro-appeals-refresh", icon="refresh")
        self.refresh_button.on_click(guard(self.status, lambda _b: self.refresh()))
        self.summary = widgets.HTML("")
        self.summary.add_class("ro-appeals-summary")
        self.empty = widgets.HTML('<div class="ro-muted">没有待申诉的案件 / nothing to appeal</div>')
        self.empty.add_class("ro-appeals-empty")
        self.list = widgets.VBox([])
        self.list.add_class("ro-appeals-list")
        self._finish(
            widgets.HTML('<div class="ro-title">平台申诉 <span class="ro-sub">appeals · 截止时间为北京时间</span></div>'),
            widgets.HBox([self.user, self.refresh_button], layout=widgets.Layout(align_items="center")),
            self.summary, self.status.widget, self.empty, self.list,
        )

    def _out(self) -> Path:
        if self.out_dir is None:
            from reviewops.handling.evidence import evidence_root

            self.out_dir = evidence_root(self.wb.store).parent / "appeal-packets"
        return self.out_dir

    def refresh(self) -> None:
        from reviewops.core.users import UserDisabled
        from reviewops.handling.appeals import legal_queue

        try:
            data = legal_queue(self.wb.store, self.wb.actor, include_submitted=True)
        except UserDisabled as e:  # the user was disabled while the page was open
            self.revoke(e)
            return
        self.data = data
        for old in self.rows.values():
            close_tree(old.box)
        self.rows = {int(r["case_id"]): _Row(self, r) for r in data}
        self.list.children = [r.box for r in self.rows.values()]
        self.summary.value = summary_html(data)
        set_visible(self.empty, not data)

    def clear_data(self) -> None:
        self.data = []
        for old in self.rows.values():
            close_tree(old.box)
        self.rows = {}
        self.list.children = []
        self.summary.value = ""
        self.last_packet = None
        set_visible(self.empty, False)

    def row(self, case_id: int) -> _Row:
        return self.rows[int(case_id)]

    def build(self, row: _Row) -> None:
        from reviewops.handling.appeals import build_packet

        packet = build_packet(self.wb.store, self.wb.actor, row.case_id, out_dir=self._out())
        data = packet.zip_path.read_bytes() if packet.size <= DOWNLOAD_MAX_BYTES else None
        self.last_packet = packet
        self.refresh()
        fresh = self.rows.get(row.case_id, row)
        fresh.packet.value = packet_html(packet, data)
        if packet.missing:
            self.status.warn(f"案件 #{row.case_id} 申诉包已生成，但缺少：{'、'.join(packet.missing)}")
        else:
            self.status.ok(f"案件 #{row.case_id} 申诉包已生成（申诉 #{packet.appeal_id}，版本 v{packet.version}）")

    def submit(self, row: _Row) -> None:
        from reviewops.core.errors import ConflictError
        from reviewops.handling.appeals import submit_appeal

        try:
            done = submit_appeal(self.wb.store, self.wb.actor, int(row.appeal_id), row.ref.value,
                                 expected_version=row.version)
        except ConflictError as e:
            self.refresh()
            self.status.error(f"{e}\n列表已刷新，请核对后重试 / the list was refreshed; check and try again")
            return
        self.refresh()
        self.status.ok(f"申诉 #{row.appeal_id} 已登记为已提交（平台编号 {done['platform_ref']}）")

    def decide(self, row: _Row, *, accepted: bool) -> None:
        from reviewops.core.errors import ConflictError
        from reviewops.handling.appeals import decide_appeal

        try:
            decide_appeal(self.wb.store, self.wb.actor, int(row.appeal_id), accepted, row.reason.value,
                          expected_version=row.version)
        except ConflictError as e:
            self.refresh()
            self.status.error(f"{e}\n列表已刷新，请核对后重试 / the list was refreshed; check and try again")
            return
        self.refresh()
        self.status.ok(f"申诉 #{row.appeal_id}：{'申诉成功' if accepted else '已驳回'}")


def build_appeals(wb: Any, *, out_dir: str | Path | None = None) -> AppealsForm:
    """申诉 for the signed-in ``wb.actor``: the legal queue with build / submit / decide per row."""
    form = AppealsForm(wb, out_dir=out_dir)
    guard(form.status, form.refresh)()
    return form
