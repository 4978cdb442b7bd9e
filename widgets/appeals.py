"""申诉 — the legal desk's platform appeals (SPEC H3, issue 17 §3).

``build_appeals(wb)`` lists :func:`reviewops.handling.appeals.legal_queue` for the signed-in ``wb.actor``
(legal, supervisor or admin; anyone else sees the refusal, which the library logs): malicious cases
without a packet yet, drafted appeals and appeals awaiting the platform, soonest deadline first, with
⚠ 24 小时内 / 已逾期 marks. Per row: 制作申诉包 builds the packet (:func:`build_packet`) and offers it
for download; 已提交 records the platform's reference (:func:`submit_appeal`); 申诉成功 / 驳回 record the
platform's decision with its reason (:func:`decide_appeal`). Submit and decide send the appeal version
the list was read at: a change made meanwhile is refused (the list is refreshed). Who may act is
decided by the library on the server from ``wb.actor`` — never from a widget.

信号复核 (issue 17 §1), below the appeals: the malicious-review signals legal reviews — every case that still
has an open signal (:func:`reviewops.handling.defence.list_signals` ``with_open``), each signal with its kind,
score, reasons and what it rests on (review / order / chat-message pointers, masked), 确认 / 驳回 (驳回 needs
a reason; :func:`~reviewops.handling.defence.decide_signal` checks the role and the shop again and refuses
a second decision), and after a decision its status, who and the note; cases decided here stay in view until
the page is left. The tuned threshold of the shops shown (:func:`~reviewops.handling.defence.threshold_info`)
is in a small table. At most :data:`SIGNAL_CASES_MAX` cases are shown (the summary counts the rest).

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

from .common import (
    STYLE,
    Form,
    button,
    close_tree,
    esc,
    guard,
    kv_html,
    section,
    set_visible,
    table_html,
)

__all__ = ["AppealsForm", "build_appeals"]

#: Largest packet offered as an in-page download (bytes); larger ones are named by path.
DOWNLOAD_MAX_BYTES = 25 * 1024 * 1024
#: Most cases shown in 信号复核 (open cases first, newest first); the summary counts the rest.
SIGNAL_CASES_MAX = 30


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


# ------------------------------------------------------------------ 信号复核 (signals)
def signal_html(r: dict[str, Any]) -> str:
    """One signal (escaped): kind, score, status, reasons, pointers and, once decided, who, when and the note."""
    decided = ""
    if r.get("decided_by"):
        decided = (f'<div class="ro-signals-decision"><b>{esc(r.get("status_zh"))}</b> · {esc(r["decided_by"])} · '
                   f'{esc(fmt_time(r.get("decided_at")))}'
                   + (f' · 说明：{esc(r["decision_note"])}' if r.get("decision_note") else "") + "</div>")
    return (f'<div><b>信号 #{esc(r["signal_id"])}</b> {esc(r.get("kind_zh"))} '
            f'<span class="ro-sub">{esc(r.get("kind"))}</span> · 分数 {esc(format(float(r["score"]), ".2f"))} · '
            f'<b>{esc(r.get("status_zh"))}</b></div>'
            + kv_html([("依据", r.get("reasons")), ("指向", r.get("pointers_text") or "—")]) + decided)


def signal_case_html(case_id: int, rows: list[dict[str, Any]]) -> str:
    r = rows[0]
    mal = "已转法务（恶意差评）" if r.get("malicious") else "未判为恶意差评"
    return (f'<div class="ro-title">案件 #{esc(case_id)} <span class="ro-sub">{esc(r.get("platform_zh"))} · '
            f'{esc(r.get("shop_name"))} · {esc(r.get("case_state_zh"))} · {esc(mal)}</span></div>')


def signals_summary_html(open_n: int, cases: int, hidden: int) -> str:
    more = f" · 另有 {esc(hidden)} 件未显示（先处理上面的）" if hidden else ""
    return f'<div>待复核信号 <b>{esc(open_n)}</b> 条 · 涉及案件 <b>{esc(cases)}</b> 件{more}</div>'


def thresholds_html(rows: list[dict[str, Any]]) -> str:
    def note(r: dict[str, Any]) -> str:
        if r["tuned"]:
            return f"按 {r['decisions']} 个判定调整（{r['bounds'][0]:.2f}–{r['bounds'][1]:.2f} 之内）"
        return f"判定不足 {r['min_decisions']} 个，使用默认值"
    return table_html(["店铺", "当前阈值", "默认阈值", "已确认", "已驳回", "说明"],
                      [[f"{r['platform_zh']} {r['shop_name']}", f"{r['threshold']:.2f}", f"{r['default']:.2f}",
                        r["confirmed"], r["rejected"], note(r)] for r in rows],
                      cls="ro-signals-threshold-table", empty="（没有店铺）")


class _SignalRow:
    def __init__(self, form: AppealsForm, r: dict[str, Any]):
        sid = int(r["signal_id"])
        self.signal_id, self.case_id, self.data = sid, int(r["case_id"]), r
        self.info = widgets.HTML(signal_html(r))
        self.note = widgets.Text(value="", placeholder="理由（驳回必填；确认可不填）", description="理由", style=STYLE,
                                 layout=widgets.Layout(width="420px"))
        self.confirm = button("确认", "ro-signals-confirm", style="warning", icon="check")
        self.reject = button("驳回", "ro-signals-reject", style="info", icon="times")
        self.note.add_class("ro-signals-note")
        for w, c in ((self.info, "ro-signals-info"), (self.note, "ro-signals-note"),
                     (self.confirm, "ro-signals-confirm"), (self.reject, "ro-signals-reject")):
            w.add_class(f"{c}-{sid}")
        self.confirm.on_click(guard(form.status, lambda _b: form.decide_signal(self, confirm=True)))
        self.reject.on_click(guard(form.status, lambda _b: form.decide_signal(self, confirm=False)))
        bar = widgets.HBox([self.note, self.confirm, self.reject], layout=widgets.Layout(flex_flow="row wrap"))
        set_visible(bar, r["status"] == "open")
        self.box = widgets.VBox([self.info, bar])
        self.box.add_class("ro-signals-item")
        self.box.add_class(f"ro-signals-item-{sid}")
        self.box.add_class(f"ro-signals-{r['status']}")


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
    submit reason accept reject``); ``row(id)``, ``refresh()``; ``last_packet`` is the last packet built.
    信号复核: ``signals_box signals_summary signals_thresholds signals_list signals_empty signal_rows`` (signal id
    → row with ``info note confirm reject``), ``signal_row(id)``, ``signal_data``, ``threshold_data``."""

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
        # -- 信号复核 (issue 17 §1): confirm / reject the detection signals; decisions tune the shop's threshold
        self.signal_rows: dict[int, _SignalRow] = {}
        self.signal_data: list[dict[str, Any]] = []
        self.threshold_data: list[dict[str, Any]] = []
        self._kept_cases: set[int] = set()  # cases decided on this page stay in view
        self.signals_summary = widgets.HTML("")
        self.signals_summary.add_class("ro-signals-summary")
        self.signals_thresholds = widgets.HTML("")
        self.signals_thresholds.add_class("ro-signals-threshold")
        self.signals_empty = widgets.HTML('<div class="ro-muted">没有待复核的信号 / no signals awaiting review</div>')
        self.signals_empty.add_class("ro-signals-empty")
        self.signals_list = widgets.VBox([])
        self.signals_list.add_class("ro-signals-list")
        self.signals_box = section(
            "信号复核", self.signals_summary, self.signals_thresholds, self.signals_empty, self.signals_list,
            sub="恶意差评信号：确认或驳回（驳回须写理由）；判定记入本店阈值调整 / confirm or reject each signal",
            cls="ro-signals")
        set_visible(self.signals_empty, False)
        self._finish(
            widgets.HTML('<div class="ro-title">平台申诉 <span class="ro-sub">appeals · 截止时间为北京时间</span></div>'),
            widgets.HBox([self.user, self.refresh_button], layout=widgets.Layout(align_items="center")),
            self.summary, self.status.widget, self.empty, self.list, self.signals_box,
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
        self.refresh_signals()

    def refresh_signals(self) -> None:
        """Re-read 信号复核: the cases with an open signal, plus those decided on this page, and their shops'
        thresholds (every read role-checked by the library)."""
        from reviewops.handling.defence import list_signals, threshold_info

        store, actor = self.wb.store, self.wb.actor
        rows = list_signals(store, actor, with_open=True)
        if self._kept_cases:
            seen = {r["signal_id"] for r in rows}
            rows += [r for r in list_signals(store, actor, case_ids=self._kept_cases) if r["signal_id"] not in seen]
            rows.sort(key=lambda x: (x["case_id"] not in self._kept_cases, x["case_state"] in ("resolved", "closed"),
                                     -x["case_id"], x["signal_id"]))
        by_case: dict[int, list[dict[str, Any]]] = {}
        for r in rows:
            by_case.setdefault(int(r["case_id"]), []).append(r)
        shown = list(by_case)[:SIGNAL_CASES_MAX]
        self.signal_data = [r for c in shown for r in by_case[c]]
        shops = {int(r["shop_id"]) for r in self.signal_data}
        self.threshold_data = [t for t in threshold_info(store, actor) if int(t["shop_id"]) in shops]
        for old in self.signal_rows.values():
            close_tree(old.box)
        self.signal_rows = {}
        cards = []
        for c in shown:
            items = [_SignalRow(self, r) for r in by_case[c]]
            self.signal_rows.update({x.signal_id: x for x in items})
            card = widgets.VBox([widgets.HTML(signal_case_html(c, by_case[c])), *[x.box for x in items]])
            card.add_class("ro-card")
            card.add_class("ro-signals-case")
            card.add_class(f"ro-signals-case-{c}")
            cards.append(card)
        for old in self.signals_list.children:
            close_tree(old)
        self.signals_list.children = cards
        self.signals_summary.value = signals_summary_html(sum(1 for r in rows if r["status"] == "open"), len(by_case),
                                                          len(by_case) - len(shown))
        self.signals_thresholds.value = thresholds_html(self.threshold_data) if self.threshold_data else ""
        set_visible(self.signals_empty, not by_case)

    def signal_row(self, signal_id: int) -> _SignalRow:
        return self.signal_rows[int(signal_id)]

    def decide_signal(self, row: _SignalRow, *, confirm: bool) -> None:
        """确认 / 驳回 one signal (the library checks the role, the shop, the reason and a second decision), then
        show the decision in place and the shop's threshold as it is now."""
        from reviewops.handling.defence import SignalAlreadyDecided, decide_signal

        try:
            out = decide_signal(self.wb.store, self.wb.actor, row.signal_id, confirm, row.note.value, via="form")
        except SignalAlreadyDecided as e:
            self._kept_cases.add(row.case_id)
            self.refresh()
            self.status.error(f"{e}\n列表已刷新 / the list was refreshed")
            return
        self._kept_cases.add(row.case_id)
        self.refresh()
        routed = "，案件已转法务（恶意差评）" if out["made_malicious"] else ""
        self.status.ok(f"信号 #{out['signal_id']}（{out['kind_zh']}）{out['status_zh']}{routed}；案件综合分 "
                       f"{out['combined_score']:.2f}，本店阈值 {out['threshold']:.2f}")

    def clear_data(self) -> None:
        self.data = []
        for old in self.rows.values():
            close_tree(old.box)
        self.rows = {}
        self.list.children = []
        self.summary.value = ""
        self.last_packet = None
        set_visible(self.empty, False)
        self.signal_data, self.threshold_data = [], []
        for old in self.signals_list.children:
            close_tree(old)
        self.signal_rows = {}
        self.signals_list.children = []
        self.signals_summary.value = self.signals_thresholds.value = ""
        set_visible(self.signals_empty, False)

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
