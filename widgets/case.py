"""案件处理 — one case, everything needed to handle it (SPEC E2, E3, H1, D3, V1, V2, Compliance).

``build_case(wb, case_id=…)`` shows :meth:`Workbench.case` — review and 追评 versions, order and items,
shipment, the customer's tier and history, categories with reasons, contacts and chats — and the four
H1 steps: record a contact, save the diagnosis, propose a remedy (kind + amount in yuan; who must
approve is the domain's answer), save the 3S reply, then deliver / resolve. Only the actions in
``view.actions`` have visible buttons; every write sends the version the operator saw and reloads the
case afterwards. A stale save (:class:`~reviewops.core.errors.ConflictError`) opens a conflict box listing
what others changed (:func:`~reviewops.handling.workbench.describe_conflict`) with a 重新载入 button: nothing of
theirs is overwritten, and the operator's own input stays in the form until they reload.

信号复核 (issue 17 §1), for legal, supervisor and admin users (the policy's `signal_roles`)
when the case has detection signals: each signal with its reasons, what it rests on and its decision, the
shop's tuned threshold, and 确认信号 / 驳回信号 (驳回 needs a reason) for the open ones — the library
(:func:`~reviewops.handling.defence.decide_signal`) checks the role and shop again; the case is reloaded
after a decision (a confirmation may route it to 法务). Other roles do not get the section.

The case of record, its version, the user and their role live on the server side (``form.view``,
``wb.actor``); no widget value is ever used as authority.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from .common import (
    STYLE,
    Form,
    button,
    esc,
    guard,
    kv_html,
    msg_html,
    parse_case_id,
    section,
    set_visible,
    table_html,
    tag_html,
    text_html,
)

__all__ = ["CaseForm", "build_case"]

#: action code → (button label, CSS class suffix, button style)
ACTION_BUTTONS = {
    "take": ("领取案件", "take", ""),
    "contact": ("记录联系", "contact", "primary"),
    "diagnose": ("保存诊断", "diagnose", "primary"),
    "save_reply": ("保存回复", "save-reply", "primary"),
    "propose": ("提出补偿", "propose", "warning"),
    "approve": ("批准补偿", "approve", "success"),
    "reject": ("驳回补偿", "reject", "danger"),
    "deliver": ("确认补偿送达", "deliver", "success"),
    "resolve": ("标记已解决", "resolve", "success"),
    "escalate": ("升级", "escalate", "warning"),
    "appeal": ("发起平台申诉", "appeal", "warning"),
    "close": ("关闭案件", "close", "danger"),
}
FIELD_ZH = {
    "state": "状态", "assignee": "处理人", "reply_text": "回复", "diagnosis_json": "诊断", "last_contact_note": "联系记录",
    "last_contact_channel": "联系方式", "notes": "说明", "primary_category": "主分类", "categories": "分类",
    "owner_role": "负责角色", "severity": "严重程度", "satisfied": "客户满意", "first_contact_at": "首次联系",
    "resolved_at": "解决时间", "follow_up_count": "跟进次数", "sla_due_at": "截止时间",
}
UNMASK_ZH = {"receiver_name": "收件人姓名", "receiver_phone": "收件人电话", "receiver_address": "收件地址"}


def _nfc_len(text: str) -> int:
    return len(unicodedata.normalize("NFC", text or ""))


def _yuan(fen: Any) -> str:
    from reviewops.core.policy import fen_to_yuan_text

    return "" if fen is None else f"{fen_to_yuan_text(int(fen))} 元"


def _local(t: Any) -> str:
    """A stored UTC time as Beijing time text (:func:`reviewops.core.outputs.fmt_time`)."""
    from reviewops.core.outputs import fmt_time

    return fmt_time(t)


def _purposes() -> list[tuple[str, str]]:
    """The unmask purposes the vault accepts, as dropdown options (empty when the vault is not installed)."""
    try:
        from reviewops.core.vault import PURPOSES
    except ImportError:
        return []
    if isinstance(PURPOSES, dict):
        return [(f"{v}（{k}）" if v != k else str(k), str(k)) for k, v in PURPOSES.items()]
    out = []
    for p in PURPOSES:
        if isinstance(p, (tuple, list)) and len(p) >= 2:
            out.append((str(p[1]), str(p[0])))
        else:
            out.append((str(p), str(p)))
    return out


# ------------------------------------------------------------------ HTML (every value escaped)
def header_html(v: Any, roles_zh: dict[str, str] | None = None) -> str:
    from reviewops.core.policy import CATEGORY_ZH, SEVERITY_ZH

    cats = "".join(tag_html(CATEGORY_ZH.get(c, c) + ("（主）" if c == v.primary_category else ""), "ro-tag-cat")
                   for c in v.categories)
    role = (roles_zh or {}).get(v.owner_role, v.owner_role)
    return (
        f'<div class="ro-case-head"><span class="ro-title">案件 #{esc(v.case_id)}</span> '
        f'{tag_html(v.state_zh, "ro-tag-state")}'
        f'{tag_html("严重程度 " + SEVERITY_ZH.get(v.severity, v.severity), "ro-tag-" + v.severity)}'
        f'{tag_html(v.sla_status_zh, "ro-sla-" + v.sla_status)} {cats}'
        f'<div class="ro-sub">{esc(v.platform)} · {esc(v.shop)} · 截止 {esc(v.due_local)}（北京时间）'
        f' · 负责 {esc(role)} · 处理人 {esc(v.assignee or "未领取")} · 版本 v{esc(v.version)}</div></div>'
    )


def review_html(v: Any) -> str:
    r = v.review or {}
    if not r:
        return '<div class="ro-muted">没有评价数据</div>'
    main = text_html(r.get("content"), "ro-text ro-review")
    append = (f'<div class="ro-sub">追评 {esc(r.get("append_local"))}</div>'
              + text_html(r.get("append_content"), "ro-text ro-review")) if r.get("append_content") else ""
    reply = ('<div class="ro-sub">商家回复</div>' + text_html(r.get("seller_reply"))) if r.get("seller_reply") else ""
    meta = kv_html([("评分", r.get("rating")), ("买家", r.get("nick")), ("评价时间", r.get("created_local")),
                    ("商品", r.get("product_title")), ("规格", r.get("sku")), ("订单号", r.get("order_id"))])
    versions = ""
    if len(v.review_versions) > 1:
        versions = ('<div class="ro-sub">评价版本（追评 / 修改）</div>' + table_html(
            ["版本", "发现时间", "评分", "内容", "追评"],
            [[x["version"], x["observed_local"], x["rating"], x["content"], x["append_content"]]
             for x in v.review_versions]))
    return meta + main + append + reply + versions


def order_html(v: Any) -> str:
    o = v.order or {}
    s = v.shipment or {}
    order = kv_html([("订单号", o.get("order_id")), ("实付", o.get("paid")), ("下单", o.get("created_local")),
                     ("订单状态", o.get("status")), ("收件人", o.get("receiver_name")),
                     ("电话", o.get("receiver_phone")), ("地址", o.get("receiver_address")),
                     ("快递", " ".join(x for x in (o.get("carrier"), o.get("tracking_no")) if x)),
                     ("买家留言", o.get("buyer_message"))]) if v.order else \
        '<div class="ro-muted">没有关联订单 / no order on file</div>'
    items = table_html(["商品", "规格", "数量", "实付"],
                       [[i["title"], i["sku"], i["quantity"], i["paid"]] for i in v.items]) if v.items else ""
    shipment = ('<div class="ro-sub">物流</div>' + kv_html(
        [("快递", s.get("carrier")), ("运单号", s.get("tracking_no")),
         ("状态", f'{s.get("status_raw") or ""}（{s.get("status") or ""}）'), ("发货", s.get("shipped_local")),
         ("承诺送达", s.get("promised_local")), ("签收", s.get("signed_local")),
         ("最后轨迹", s.get("last_event_local"))])) if v.shipment else ""
    return order + items + shipment


def customer_html(v: Any) -> str:
    c = v.customer or {}
    return kv_html([
        ("客户分层", c.get("tier_zh")), ("分层依据", c.get("tier_reason")), ("建议做法", c.get("approach")),
        ("处理后礼遇", " · ".join(x for x in (c.get("gift"), c.get("gift_cap") and "成本上限 " + c.get("gift_cap")) if x)),
        ("昵称", c.get("nick")), ("历史订单", c.get("orders")), ("累计消费", c.get("spend_total")),
        ("最近下单", c.get("last_order_local")), ("其他案件", c.get("other_cases")),
        ("差评次数", c.get("negative_reviews")), ("常买商品", "、".join(c.get("top_products") or [])),
    ])


def reasons_html(v: Any) -> str:
    from reviewops.core.policy import CATEGORY_ZH

    cats = "、".join(CATEGORY_ZH.get(c, c) + ("（主）" if c == v.primary_category else "") for c in v.categories)
    items = "".join(f"<li>{esc(r)}</li>" for r in v.reasons)
    return f'<div>分类：{esc(cats)}</div><ul class="ro-text">{items}</ul>'


def chats_html(v: Any) -> str:
    return table_html(["时间", "角色", "内容"], [[m["at"], m["who"], m["text"]] for m in v.chats],
                      empty="没有聊天记录 / no chats")


def contacts_html(v: Any) -> str:
    return table_html(["时间", "客服", "方式", "记录"], [[c["at"], c["actor"], c["channel"], c["note"]]
                                                  for c in v.contacts], empty="还没有联系记录 / no contact yet")


def ledger_html(v: Any) -> str:
    return table_html(["编号", "方式", "金额", "状态", "提出人", "审批人", "说明"],
                      [[r.get("id"), r.get("kind_zh"), r.get("amount_yuan"), r.get("state_zh"),
                        r.get("requested_by"), r.get("decided_by") or "", r.get("decision_reason") or r.get("note") or ""]
                       for r in v.ledger], empty="没有补偿记录 / no remedy yet")


def followups_html(v: Any) -> str:
    return table_html(["步骤", "到期", "状态", "完成人"],
                      [[f.get("step_zh"), _local(f.get("due_at")),
                        f.get("state_zh"), f.get("done_by") or ""] for f in v.followups],
                      empty="还没有回访任务（解决后自动安排）/ none yet")


def remedy_html(v: Any) -> str:
    from reviewops.handling.ledger import KIND_ZH

    items = "、".join(f"{KIND_ZH.get(i['kind'], i['kind'])} {_yuan(i['amount_fen'])}"
                     + (f"（{i['note']}）" if i.get("note") else "") for i in v.suggested_items)
    total = sum(int(i["amount_fen"]) for i in v.suggested_items)
    return (kv_html([("建议方案", v.remedy.reason), ("建议补偿", items or "（无）"),
                     ("建议成本", _yuan(total) if v.suggested_items else ""), ("审批", v.approval_note)]))


def draft_problems_html(v: Any) -> str:
    if not v.draft.problems:
        return ""
    return msg_html("warn", "草稿提示：" + "；".join(v.draft.problems))


def length_html(n: int, limit: int) -> str:
    cls = "ro-left-breached" if n > limit else "ro-muted"
    return f'<span class="{esc(cls)}">字数 {esc(n)} / 上限 {esc(limit)}</span>'


def total_html(total_fen: int, problems: list[str]) -> str:
    if problems:
        return msg_html("error", "；".join(problems))
    return f'<div>本次合计 <b>{esc(_yuan(total_fen))}</b></div>'


def conflict_html(error: str, changes: list[dict[str, Any]]) -> str:
    rows = [[c["version"], c["at"], c["actor"], c["action"], FIELD_ZH.get(c["field"], c["field"]), c["before"],
             c["after"]] for c in changes]
    return (
        msg_html("error", error)
        + '<div class="ro-title">别人已修改了这个案件 <span class="ro-sub">what changed since you loaded it</span></div>'
        + table_html(["版本", "时间", "操作人", "操作", "字段", "原值", "新值"], rows, empty="（无法列出改动）")
        + '<div class="ro-sub">您的修改没有保存，也没有覆盖别人的修改；您填写的内容仍在表单中。'
          '点“重新载入”查看最新内容后再操作。/ Nothing was overwritten; reload to see the latest version.</div>'
    )


# ------------------------------------------------------------------ the form
# ------------------------------------------------------------------ evidence (issue 17 §2)
#: file types the upload dialog offers (the bytes decide: reviewops.handling.evidence.check_upload)
EVIDENCE_ACCEPT = ".jpg,.jpeg,.png,.gif,.webp,.pdf,.mp4,.mov,.m4v,.mp3,.m4a,.wav,.amr,.zip,.xlsx,.txt,.csv"
PREVIEW_FORMATS = {"image/jpeg": "jpeg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}


def _size_text(n: Any) -> str:
    n = int(n or 0)
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} B"


def evidence_html(rows: list[dict[str, Any]]) -> str:
    """The case's evidence as an escaped table: time, kind, name, type, size, SHA-256, who, note."""
    return table_html(
        ["时间", "类别", "文件名", "类型", "大小", "SHA-256", "添加人", "说明"],
        [[_local(r["added_at"]), r["kind_zh"], r["original_name"], r["mime"], _size_text(r["size"]), r["sha256"],
          r["added_by"], r["note"]] for r in rows],
        cls="ro-case-evidence-table", empty="（还没有证据）")


# ------------------------------------------------------------------ signals (issue 17 §1)
def signals_table_html(rows: list[dict[str, Any]]) -> str:
    """The case's detection signals as an escaped table: id, kind, score, status, reasons, pointers, decision."""
    from reviewops.core.outputs import fmt_time

    def decision(r: dict[str, Any]) -> str:
        if not r.get("decided_by"):
            return "—"
        note = f"：{r['decision_note']}" if r.get("decision_note") else ""
        return f"{r['decided_by']} · {fmt_time(r.get('decided_at'))}{note}"
    return table_html(["信号", "类型", "分数", "状态", "依据", "指向", "判定"],
                      [[f"#{r['signal_id']}", r["kind_zh"], f"{float(r['score']):.2f}", r["status_zh"], r["reasons"],
                        r["pointers_text"] or "—", decision(r)] for r in rows],
                      cls="ro-case-signals-table", empty="（没有检测信号）")


def kb_table_html(rows: list[Any]) -> str:
    """The fitting 知识库 entries: number, question, category, why (escaped)."""
    return table_html(["#", "问题", "分类", "推荐理由"],
                      [[i + 1, s.question, s.category_zh, s.why] for i, s in enumerate(rows)],
                      cls="ro-case-kb", empty="没有匹配本案件的知识库条目")


def signal_threshold_html(t: dict[str, Any]) -> str:
    how = (f"按 {t['decisions']} 个判定调整" if t["tuned"]
           else f"判定不足 {t['min_decisions']} 个，使用默认值")
    return (f'<div>本店恶意差评阈值 <b>{esc(format(t["threshold"], ".2f"))}</b>（默认 {esc(format(t["default"], ".2f"))}；'
            f'已确认 {esc(t["confirmed"])} / 已驳回 {esc(t["rejected"])}；{esc(how)}）</div>')


class _ItemRow:
    """One remedy item in the editor: kind, amount in yuan, optional note."""

    def __init__(self, index: int, on_change: Callable[[Any], None], on_remove: Callable[[_ItemRow], None]):
        from reviewops.handling.ledger import KIND_ZH, PROPOSABLE

        self.kind = widgets.Dropdown(options=[(f"{KIND_ZH[k]}（{k}）", k) for k in PROPOSABLE], value=PROPOSABLE[0],
                                     layout=widgets.Layout(width="140px"))
        self.amount = widgets.Text(value="", placeholder="金额（元）", continuous_update=True,
                                   layout=widgets.Layout(width="110px"))
        self.note = widgets.Text(value="", placeholder="说明（可选，如礼品名）", layout=widgets.Layout(width="200px"))
        self.remove = button("删除", "ro-case-item-remove", icon="trash")
        for w, c in ((self.kind, "ro-case-item-kind"), (self.amount, "ro-case-item-amount"),
                     (self.note, "ro-case-item-note"), (self.remove, "ro-case-item-remove")):
            w.add_class(c)
            w.add_class(f"{c}-{index}")
        self.amount.observe(on_change, names="value")
        self.kind.observe(on_change, names="value")
        self.remove.on_click(lambda _b: on_remove(self))
        self.box = widgets.HBox([self.kind, self.amount, widgets.Label("元"), self.note, self.remove])


class CaseForm(Form):
    """案件处理. Handles: ``case_id load reload actor header conflict conflict_reload buttons`` (action code →
    Button), ``contact_channel contact_note problems diagnosis_text category reply reply_length items
    add_item suggest propose_note reason satisfied unmask_field unmask_purpose unmask_button unmask_value
    evidence_upload evidence_kind evidence_note evidence_add evidence_link_chat evidence_list evidence_pick
    evidence_show evidence_hide evidence_image signals_box signals_table signal_threshold signal_pick signal_note
    signal_confirm signal_reject kb_box kb_table kb_pick kb_insert``; ``kb_suggestions`` (the 知识库 entries that fit
    the case, :func:`reviewops.prevention.knowledge.suggest_for_case`); ``may_review_signals`` (legal, supervisor,
    admin)."""

    name = "case"

    def __init__(self, wb: Any):
        super().__init__(wb)
        from reviewops.core.policy import CATEGORY_ZH
        from reviewops.handling.workbench import CHANNELS, PROBLEMS

        self.view: Any = None
        self.saved = 0  # successful writes (for tests and the status line)
        try:
            self.roles_zh = {r["code"]: f"{r['name_zh']}（{r['code']}）" for r in wb.policy.tables["roles"]}
        except Exception:  # noqa: BLE001 - labels only
            self.roles_zh = {}
        # -- top bar: which case; who is signed in (display only: authority is wb.actor on the server)
        self.case_id = widgets.Text(value="", placeholder="案件编号", description="案件", style=STYLE,
                                    layout=widgets.Layout(width="180px"))
        self.case_id.add_class("ro-case-id")
        self.load_button = button("载入", "ro-case-load", icon="folder-open")
        self.reload_button = button("重新载入", "ro-case-reload", icon="refresh")
        self.actor = widgets.Text(value=wb.actor.label, description="当前用户", disabled=True, style=STYLE,
                                  layout=widgets.Layout(width="260px"))
        self.actor.add_class("ro-case-actor")
        self.load_button.on_click(guard(self.status, lambda _b: self.load(self.case_id.value)))
        self.case_id.continuous_update = False
        self.reload_button.on_click(guard(self.status, lambda _b: self.reload()))
        self.header = widgets.HTML('<div class="ro-muted">请输入案件编号后点“载入”，或在差评工作台点“处理”</div>')
        self.header.add_class("ro-case-header")
        # -- conflict box (R-04)
        self.conflict_html = widgets.HTML("")
        self.conflict_reload = button("重新载入", "ro-case-conflict-reload", style="danger", icon="refresh")
        self.conflict_reload.on_click(guard(self.status, lambda _b: self.reload()))
        self.conflict = widgets.VBox([self.conflict_html, self.conflict_reload])
        self.conflict.add_class("ro-case-conflict")
        self.conflict_changes: list[dict[str, Any]] = []
        set_visible(self.conflict, False)

        # -- read-only panels (escaped HTML)
        self.review = widgets.HTML("")
        self.order = widgets.HTML("")
        self.customer = widgets.HTML("")
        self.reasons = widgets.HTML("")
        self.chats = widgets.HTML("")
        self.contacts = widgets.HTML("")
        self.ledger = widgets.HTML("")
        self.followups = widgets.HTML("")
        self.remedy = widgets.HTML("")
        for w, c in ((self.review, "review"), (self.order, "order"), (self.customer, "customer"),
                     (self.reasons, "reasons"), (self.chats, "chats"), (self.contacts, "contacts"),
                     (self.ledger, "ledger"), (self.followups, "followups"), (self.remedy, "remedy")):
            w.add_class(f"ro-case-{c}")

        # -- action buttons: one per action code; only those in view.actions are visible
        self.buttons: dict[str, widgets.Button] = {}
        for code, (label, cls, style) in ACTION_BUTTONS.items():
            b = button(label, f"ro-case-{cls}", style=style)
            b.on_click(guard(self.status, getattr(self, f"_do_{code}")))
            self.buttons[code] = b
        self.reason = widgets.Text(value="", placeholder="原因 / 说明（升级、申诉、关闭、驳回必填）", description="原因",
                                   style=STYLE, layout=widgets.Layout(width="420px"))
        self.reason.add_class("ro-case-reason")
        self.satisfied = widgets.Checkbox(value=True, description="客户确认满意", style=STYLE, indent=False,
                                          layout=widgets.Layout(width="auto"))
        self.satisfied.add_class("ro-case-satisfied")
        self.no_actions = widgets.HTML('<span class="ro-muted">当前状态下没有可执行的操作</span>')
        b = self.buttons
        self.flow_bar = widgets.HBox([b["take"], b["deliver"], b["resolve"], self.satisfied, self.no_actions],
                                     layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        self.decide_bar = widgets.HBox([b["approve"], b["reject"], b["escalate"], b["appeal"], b["close"]],
                                       layout=widgets.Layout(flex_flow="row wrap"))
        self.actions_box = section("操作", self.flow_bar, self.reason, self.decide_bar, sub="actions",
                                   cls="ro-case-actions")

        # -- contact
        self.contact_channel = widgets.Dropdown(options=[(zh, code) for code, zh in CHANNELS.items()], value="chat",
                                                description="方式", style=STYLE, layout=widgets.Layout(width="200px"))
        self.contact_channel.add_class("ro-case-contact-channel")
        self.contact_note = widgets.Textarea(value="", placeholder="与客户沟通了什么（客户的问题、确认的事实、约定）",
                                             layout=widgets.Layout(width="100%", height="60px"))
        self.contact_note.add_class("ro-case-contact-note")
        self.contact_editor = widgets.VBox([self.contact_channel, self.contact_note, widgets.HBox([b["contact"]])])

        # -- diagnosis (H1 step 1)
        self.problems: dict[str, widgets.Checkbox] = {}
        for i, p in enumerate(PROBLEMS):
            cb = widgets.Checkbox(value=False, description=p, indent=False, style=STYLE,
                                  layout=widgets.Layout(width="120px"))
            cb.add_class("ro-case-problem")
            cb.add_class(f"ro-case-problem-{i}")
            self.problems[p] = cb
        self.diagnosis_text = widgets.Textarea(value="", placeholder="诊断说明（核实到的情况）",
                                               layout=widgets.Layout(width="100%", height="50px"))
        self.diagnosis_text.add_class("ro-case-diagnosis-text")
        self.category = widgets.Dropdown(options=[(f"{zh}（{c}）", c) for c, zh in CATEGORY_ZH.items()],
                                         value="other", description="主分类（可更正）", style=STYLE,
                                         layout=widgets.Layout(width="280px"))
        self.category.add_class("ro-case-category")
        self.diagnosis_editor = widgets.VBox([
            widgets.HBox(list(self.problems.values()), layout=widgets.Layout(flex_flow="row wrap")),
            self.diagnosis_text, widgets.HBox([self.category, b["diagnose"]])])

        # -- remedy (H1 step 2)
        self.item_rows: list[_ItemRow] = []
        self._item_seq = 0
        self.items_box = widgets.VBox([])
        self.items_box.add_class("ro-case-items")
        self.add_item = button("添加一项", "ro-case-item-add", icon="plus")
        self.add_item.on_click(guard(self.status, lambda _b: self._add_item()))
        self.suggest = button("按建议填入", "ro-case-item-suggest", icon="magic")
        self.suggest.on_click(guard(self.status, lambda _b: self._fill_suggested()))
        self.items_total = widgets.HTML("")
        self.items_total.add_class("ro-case-items-total")
        self.propose_note = widgets.Text(value="", placeholder="补偿说明（不得以改评/删评为条件）", description="说明",
                                         style=STYLE, layout=widgets.Layout(width="100%"))
        self.propose_note.add_class("ro-case-propose-note")
        self.remedy_editor = widgets.VBox([self.items_box, widgets.HBox([self.add_item, self.suggest]),
                                           self.items_total, self.propose_note, widgets.HBox([b["propose"]])])

        # -- 3S reply (E3)
        self.reply = widgets.Textarea(value="", layout=widgets.Layout(width="100%", height="110px"))
        self.reply.add_class("ro-case-reply")
        self.reply_length = widgets.HTML("")
        self.reply_length.add_class("ro-case-reply-length")
        self.reply_problems = widgets.HTML("")
        self.reply_problems.add_class("ro-case-reply-problems")
        self.reply_draft = button("恢复草稿", "ro-case-reply-draft", icon="undo")
        self.reply_draft.on_click(guard(self.status, lambda _b: self._restore_draft()))
        self.reply.observe(lambda _c: self._count_reply(), names="value")
        self.reply_editor = widgets.VBox([self.reply, widgets.HBox([self.reply_length]), self.reply_problems,
                                          widgets.HBox([b["save_reply"], self.reply_draft])])

        # -- 知识库推荐 (P1): the entries that fit the case's product and categories; one inserts its answer into
        # the reply (ranking in reviewops.prevention.knowledge; the reply is checked again when saved)
        self.kb_suggestions: list[Any] = []
        self.kb_table = widgets.HTML("")
        self.kb_table.add_class("ro-case-kb-table")
        self.kb_pick = widgets.Dropdown(options=[], description="条目", style=STYLE,
                                        layout=widgets.Layout(width="100%"))
        self.kb_pick.add_class("ro-case-kb-pick")
        self.kb_insert = button("插入回复", "ro-case-kb-insert", icon="plus-square")
        self.kb_insert.on_click(guard(self.status, lambda _b: self._insert_kb()))
        self.kb_box = section("知识库推荐", self.kb_table, widgets.HBox([self.kb_pick, self.kb_insert]),
                              sub="按案件的商品与分类推荐问答；“插入回复”把答案加到 3S 回复末尾 / knowledge base",
                              cls="ro-case-kb-box")

        # -- unmask (P-03): one value at a time, with a purpose; audited by the vault
        self.unmask_field = widgets.Dropdown(options=[(v, k) for k, v in UNMASK_ZH.items()], value="receiver_phone",
                                             description="字段", style=STYLE, layout=widgets.Layout(width="200px"))
        self.unmask_field.add_class("ro-case-unmask-field")
        purposes = _purposes()
        self.unmask_purpose = widgets.Dropdown(options=purposes or [("（解密功能未安装）", "")],
                                               value=purposes[0][1] if purposes else "", description="用途",
                                               style=STYLE, layout=widgets.Layout(width="260px"))
        self.unmask_purpose.add_class("ro-case-unmask-purpose")
        self.unmask_button = button("查看完整信息", "ro-case-unmask", icon="eye")
        self.unmask_button.on_click(guard(self.status, lambda _b: self._unmask()))
        self.unmask_value = widgets.Text(value="", disabled=True, description="完整信息", style=STYLE,
                                         layout=widgets.Layout(width="420px"))
        self.unmask_value.add_class("ro-case-unmask-value")
        self.unmask_hide = button("隐藏", "ro-case-unmask-hide", icon="eye-slash")
        self.unmask_hide.on_click(guard(self.status, lambda _b: self._hide_unmasked()))
        self.unmask_box = section("查看完整个人信息", widgets.HBox([self.unmask_field, self.unmask_purpose,
                                                             self.unmask_button]),
                                  widgets.HBox([self.unmask_value, self.unmask_hide]),
                                  sub="每次查看都会记录用途 / every view is audited", cls="ro-case-unmask-box")

        # -- evidence (E4/P5): upload, list with hash and time, image preview for the roles allowed to see content;
        # every call goes to reviewops.handling.evidence, which checks the user's rights again each time
        from reviewops.handling.evidence import KIND_ZH as EVIDENCE_KIND_ZH

        self.evidence_upload = widgets.FileUpload(accept=EVIDENCE_ACCEPT, multiple=True, description="选择文件")
        self.evidence_upload.add_class("ro-case-evidence-upload")
        self.evidence_kind = widgets.Dropdown(
            options=[(f"{zh}（{k}）", k) for k, zh in EVIDENCE_KIND_ZH.items() if k != "chat_message"],
            value="screenshot", description="类别", style=STYLE, layout=widgets.Layout(width="220px"))
        self.evidence_kind.add_class("ro-case-evidence-kind")
        self.evidence_note = widgets.Text(value="", placeholder="这份证据证明什么（可选）", description="说明",
                                          style=STYLE, layout=widgets.Layout(width="100%"))
        self.evidence_note.add_class("ro-case-evidence-note")
        self.evidence_add = button("上传为证据", "ro-case-evidence-add", style="primary", icon="upload")
        self.evidence_add.on_click(guard(self.status, lambda _b: self._add_evidence()))
        self.evidence_link_chat = button("关联买家聊天记录", "ro-case-evidence-link-chat", icon="link")
        self.evidence_link_chat.on_click(guard(self.status, lambda _b: self._link_chats()))
        self.evidence_list = widgets.HTML("")
        self.evidence_list.add_class("ro-case-evidence-list")
        self.evidence_pick = widgets.Dropdown(options=[], description="图片", style=STYLE,
                                              layout=widgets.Layout(width="360px"))
        self.evidence_pick.add_class("ro-case-evidence-pick")
        self.evidence_show = button("预览", "ro-case-evidence-show", icon="eye")
        self.evidence_show.on_click(guard(self.status, lambda _b: self._preview_evidence()))
        self.evidence_hide = button("隐藏预览", "ro-case-evidence-hide", icon="eye-slash")
        self.evidence_hide.on_click(guard(self.status, lambda _b: self._hide_preview()))
        self.evidence_image = widgets.Image(value=b"", format="png", layout=widgets.Layout(max_width="100%"))
        self.evidence_image.add_class("ro-case-evidence-image")
        set_visible(self.evidence_image, False)
        self.evidence_preview = widgets.VBox([widgets.HBox([self.evidence_pick, self.evidence_show,
                                                            self.evidence_hide]), self.evidence_image])
        self.evidence_preview.add_class("ro-case-evidence-preview")
        self.evidence_box = section(
            "证据", widgets.HBox([self.evidence_upload, self.evidence_kind],
                               layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
            self.evidence_note, widgets.HBox([self.evidence_add, self.evidence_link_chat]), self.evidence_list,
            self.evidence_preview,
            sub="按内容哈希保存，网页/SVG 等危险文件拒收；每次查看都记入保管记录 / stored by SHA-256; custody logged",
            cls="ro-case-evidence-box")

        # -- 信号复核 (issue 17 §1): legal, supervisor and admin confirm or reject the case's detection signals;
        # the library checks the role and the shop again on every call
        from reviewops.handling.defence import decide_roles

        self.may_review_signals = getattr(wb.actor, "role", None) in decide_roles(wb.policy)
        self.signals_table = widgets.HTML("")
        self.signals_table.add_class("ro-case-signals")
        self.signal_threshold = widgets.HTML("")
        self.signal_threshold.add_class("ro-case-signal-threshold")
        self.signal_pick = widgets.Dropdown(options=[], description="信号", style=STYLE,
                                            layout=widgets.Layout(width="320px"))
        self.signal_pick.add_class("ro-case-signal-pick")
        self.signal_note = widgets.Text(value="", placeholder="理由（驳回必填）", description="理由", style=STYLE,
                                        layout=widgets.Layout(width="100%"))
        self.signal_note.add_class("ro-case-signal-note")
        self.signal_confirm = button("确认信号", "ro-case-signal-confirm", style="warning", icon="check")
        self.signal_confirm.on_click(guard(self.status, lambda _b: self._decide_signal(True)))
        self.signal_reject = button("驳回信号", "ro-case-signal-reject", style="info", icon="times")
        self.signal_reject.on_click(guard(self.status, lambda _b: self._decide_signal(False)))
        self.signal_editor = widgets.VBox([self.signal_pick, self.signal_note,
                                           widgets.HBox([self.signal_confirm, self.signal_reject])])
        self.signal_editor.add_class("ro-case-signal-editor")
        self.signals_box = section("信号复核", self.signal_threshold, self.signals_table, self.signal_editor,
                                   sub="恶意差评检测信号：确认或驳回，判定用于调整本店阈值 / detection signals",
                                   cls="ro-case-signals-box")
        set_visible(self.signals_box, False)

        # -- layout
        left = widgets.VBox([
            section("评价", self.review, sub="review"),
            section("订单与物流", self.order, sub="order & shipment"),
            section("客户画像", self.customer, sub="customer"),
            section("分类与依据", self.reasons, sub="categories & reasons"),
            self.signals_box,
            section("聊天记录", self.chats, sub="chats"),
            self.evidence_box,
            self.unmask_box,
        ], layout=widgets.Layout(width="50%", min_width="420px"))
        right = widgets.VBox([
            self.actions_box,
            section("联系客户", self.contacts, self.contact_editor, sub="contact"),
            section("诊断", self.diagnosis_editor, sub="H1 ① diagnose"),
            section("补偿方案", self.remedy, self.remedy_editor, sub="H1 ② remedy"),
            section("补偿台账", self.ledger, sub="ledger"),
            section("3S 回复", self.reply_editor, sub="Sorry · Solve · Smile"),
            self.kb_box,
            section("回访", self.followups, sub="H1 ③④ follow-ups"),
        ], layout=widgets.Layout(width="50%", min_width="420px"))
        # status and conflict box stay in view (sticky) while the operator works further down the page
        self.status.widget.remove_class("ro-sticky")
        self.alerts = widgets.VBox([self.status.widget, self.conflict])
        self.alerts.add_class("ro-sticky")
        self.alerts.add_class("ro-case-alerts")
        self.body = widgets.HBox([left, right], layout=widgets.Layout(flex_flow="row wrap", width="100%"))
        set_visible(self.body, False)
        self._finish(
            widgets.HBox([self.case_id, self.load_button, self.reload_button, self.actor],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
            self.alerts, self.header, self.body,
        )

    # ------------------------------------------------------------ loading
    def load(self, case_id: Any) -> Any:
        """Load (or switch to) a case; refusals of another shop's case show in the status and the shown case
        stays. When the store refuses the shown case itself (the user's shops changed) or the user
        (disabled), everything shown is cleared and the status asks to sign in again (:meth:`revoke`)."""
        from reviewops.core.errors import AccessDenied
        from reviewops.core.users import UserDisabled

        cid = parse_case_id(case_id)
        try:
            view = self.wb.case(cid)
        except AccessDenied as e:
            if isinstance(e, UserDisabled) or (self.view is not None and self.view.case_id == cid):
                self.revoke(e)
                return None
            raise
        self._show(view)
        return view

    def clear_data(self) -> None:
        """Nothing of any case left on the page (every section, editor and revealed value emptied)."""
        self.view = None
        for w in (self.header, self.review, self.order, self.customer, self.reasons, self.chats, self.contacts,
                  self.ledger, self.followups, self.remedy, self.reply_problems, self.conflict_html):
            w.value = ""
        for w in (self.contact_note, self.diagnosis_text, self.reply, self.reason, self.propose_note):
            w.value = ""
        self._hide_unmasked()
        self._clear_evidence()
        self._clear_signals()
        self.kb_suggestions = []
        self.kb_table.value = ""
        self.kb_pick.options = []
        set_visible(self.conflict, False)
        set_visible(self.body, False)

    def reload(self) -> Any:
        if self.view is None:
            if str(self.case_id.value).strip():
                return self.load(self.case_id.value)
            return None
        return self.load(self.view.case_id)

    def _show(self, v: Any) -> None:
        same_case = self.view is not None and self.view.case_id == v.case_id
        self.view = v
        self.case_id.value = str(v.case_id)
        set_visible(self.conflict, False)
        self.conflict_html.value = ""
        self.conflict_changes = []
        self.header.value = header_html(v, self.roles_zh)
        self.review.value = review_html(v)
        self.order.value = order_html(v)
        self.customer.value = customer_html(v)
        self.reasons.value = reasons_html(v)
        self.chats.value = chats_html(v)
        self.contacts.value = contacts_html(v)
        self.ledger.value = ledger_html(v)
        self.followups.value = followups_html(v)
        self.remedy.value = remedy_html(v)
        # editors: the stored state of the case
        self.contact_note.value = ""
        diag = v.diagnosis or {}
        chosen = set(diag.get("problems") or [])
        for p, cb in self.problems.items():
            cb.value = p in chosen
        self.diagnosis_text.value = diag.get("text") or ""
        codes = {c for _label, c in self.category.options}
        self.category.value = v.primary_category if v.primary_category in codes else "other"
        self.reply.value = v.reply_text or v.draft.text
        self.reply_problems.value = draft_problems_html(v)
        self._count_reply()
        self.reason.value = ""
        self.propose_note.value = ""
        self._fill_suggested()
        if not same_case:
            self._hide_unmasked()
            self._hide_preview()
            self.evidence_note.value = ""
            self.signal_note.value = ""
        self._refresh_evidence()
        self._refresh_signals()
        self._refresh_kb()
        # only the allowed actions have visible buttons
        for code, b in self.buttons.items():
            set_visible(b, code in v.actions)
        set_visible(self.satisfied, "resolve" in v.actions)
        set_visible(self.no_actions, not any(a in v.actions for a in ("take", "deliver", "resolve")))
        set_visible(self.decide_bar, any(a in v.actions for a in ("approve", "reject", "escalate", "appeal", "close")))
        set_visible(self.reason, any(a in v.actions for a in ("reject", "escalate", "appeal", "close", "resolve",
                                                                 "approve")))
        set_visible(self.contact_editor, "contact" in v.actions)
        set_visible(self.diagnosis_editor, "diagnose" in v.actions)
        set_visible(self.remedy_editor, "propose" in v.actions)
        self.reply.disabled = "save_reply" not in v.actions
        set_visible(self.unmask_box, bool(v.unmask_fields))
        if v.unmask_fields:
            self.unmask_field.options = [(UNMASK_ZH.get(f, f), f) for f in v.unmask_fields]
        set_visible(self.body, True)

    # ------------------------------------------------------------ writes
    def _write(self, call: Callable[[int, int], Any], done: Callable[[Any], str]) -> Any:
        """Run one write with the version the operator saw; reload after it; a stale save opens the conflict box."""
        from reviewops.core.errors import ConfigError, ConflictError

        v = self.view
        if v is None:
            raise ConfigError("请先载入案件 / load a case first")
        seen_case, seen_version = v.case_id, v.version
        try:
            result = call(seen_case, seen_version)
        except ConflictError as e:
            self._conflict(str(e), seen_case, seen_version)
            return None
        self.saved += 1
        message = done(result)
        self.load(seen_case)
        self.status.ok(message)
        return result

    def _conflict(self, error: str, case_id: int, since_version: int) -> None:
        from reviewops.handling.workbench import describe_conflict

        try:
            changes = describe_conflict(self.wb.store, case_id, since_version)
        except Exception:  # noqa: BLE001 - the conflict itself is what matters
            changes = []
        self.conflict_changes = changes
        self.conflict_html.value = conflict_html(error, changes)
        set_visible(self.conflict, True)
        self.status.error("保存冲突：别人已修改此案件，您的修改未保存 / conflict: not saved")

    def _do_take(self, _b: Any = None) -> None:
        self._write(lambda c, v: self.wb.take(c, v), lambda nv: f"已领取案件（版本 v{nv}）")

    def _do_contact(self, _b: Any = None) -> None:
        channel, note = self.contact_channel.value, self.contact_note.value
        self._write(lambda c, v: self.wb.record_contact(c, v, channel=channel, note=note),
                    lambda nv: f"已记录联系（版本 v{nv}）")

    def _do_diagnose(self, _b: Any = None) -> None:
        problems = [p for p, cb in self.problems.items() if cb.value]
        text, category = self.diagnosis_text.value, self.category.value
        self._write(lambda c, v: self.wb.save_diagnosis(c, v, problems=problems, text=text, category=category),
                    lambda nv: f"诊断已保存（版本 v{nv}）")

    def _do_save_reply(self, _b: Any = None) -> None:
        text = self.reply.value
        self._write(lambda c, v: self.wb.save_reply(c, v, text), lambda nv: f"回复已保存（版本 v{nv}）")

    def _do_propose(self, _b: Any = None) -> None:
        items, problems = self.editor_items()
        if problems:
            from reviewops.core.errors import ConfigError

            raise ConfigError("；".join(problems))
        note = self.propose_note.value
        self._write(lambda c, v: self.wb.propose(c, v, items, note=note),
                    lambda p: ("已提交审批：" if p.pending else "补偿已批准：") + p.message)

    def _do_approve(self, _b: Any = None) -> None:
        reason = self.reason.value
        self._write(lambda c, v: self.wb.approve(c, v, reason), lambda nv: f"已批准补偿（版本 v{nv}）")

    def _do_reject(self, _b: Any = None) -> None:
        reason = self.reason.value
        self._write(lambda c, v: self.wb.reject(c, v, reason), lambda nv: f"已驳回补偿（版本 v{nv}）")

    def _do_deliver(self, _b: Any = None) -> None:
        self._write(lambda c, v: self.wb.deliver(c, v), lambda nv: f"补偿已确认送达（版本 v{nv}）；24 小时后回访已安排")

    def _do_resolve(self, _b: Any = None) -> None:
        satisfied, note = bool(self.satisfied.value), self.reason.value
        self._write(lambda c, v: self.wb.resolve(c, v, satisfied=satisfied, note=note),
                    lambda nv: f"案件已解决（版本 v{nv}）；回访任务已安排")

    def _do_escalate(self, _b: Any = None) -> None:
        reason = self.reason.value
        self._write(lambda c, v: self.wb.escalate(c, v, reason), lambda nv: f"已升级（版本 v{nv}）")

    def _do_appeal(self, _b: Any = None) -> None:
        reason = self.reason.value
        self._write(lambda c, v: self.wb.appeal(c, v, reason), lambda nv: f"已发起平台申诉（版本 v{nv}）")

    def _do_close(self, _b: Any = None) -> None:
        reason = self.reason.value
        self._write(lambda c, v: self.wb.close(c, v, reason), lambda nv: f"案件已关闭（版本 v{nv}）")

    # ------------------------------------------------------------ remedy editor
    def _add_item(self, kind: str | None = None, amount_fen: int | None = None, note: str = "") -> _ItemRow:
        from reviewops.core.policy import fen_to_yuan_text

        row = _ItemRow(self._item_seq, lambda _c: self._update_total(), self._remove_item)
        self._item_seq += 1
        if kind is not None:
            row.kind.value = kind
        if amount_fen is not None:
            row.amount.value = fen_to_yuan_text(int(amount_fen))
        row.note.value = note or ""
        self.item_rows.append(row)
        self.items_box.children = [r.box for r in self.item_rows]
        self._update_total()
        return row

    def _remove_item(self, row: _ItemRow) -> None:
        self.item_rows = [r for r in self.item_rows if r is not row]
        self.items_box.children = [r.box for r in self.item_rows]
        self._update_total()

    def _fill_suggested(self) -> None:
        from reviewops.handling.ledger import PROPOSABLE

        self.item_rows = []
        self._item_seq = 0
        self.items_box.children = []
        for i in (self.view.suggested_items if self.view is not None else []):
            if i["kind"] in PROPOSABLE:
                self._add_item(i["kind"], i["amount_fen"], i.get("note") or "")
        self._update_total()

    def editor_items(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The editor's rows as ``[{kind, amount_fen[, note]}]`` (yuan → fen by the ledger) and the problems."""
        from reviewops.core.errors import ReviewOpsError
        from reviewops.handling.ledger import yuan_to_fen

        items, problems = [], []
        for n, r in enumerate(self.item_rows, 1):
            try:
                fen = yuan_to_fen(r.amount.value)
            except ReviewOpsError as e:
                problems.append(f"第 {n} 项：{str(e).splitlines()[0]}")
                continue
            item: dict[str, Any] = {"kind": r.kind.value, "amount_fen": fen}
            if r.note.value.strip():
                item["note"] = r.note.value.strip()
            items.append(item)
        if not self.item_rows:
            problems.append("请至少添加一项补偿 / add at least one item")
        return items, problems

    def _update_total(self) -> None:
        items, problems = self.editor_items()
        self.items_total.value = total_html(sum(i["amount_fen"] for i in items), problems if self.item_rows else [])

    # ------------------------------------------------------------ reply
    def _count_reply(self) -> None:
        limit = self.view.draft.limit if self.view is not None else 0
        self.reply_length.value = length_html(_nfc_len(self.reply.value), limit)

    def _restore_draft(self) -> None:
        if self.view is not None:
            self.reply.value = self.view.draft.text

    # ------------------------------------------------------------ knowledge base (P1)
    def _refresh_kb(self) -> None:
        from reviewops.prevention.knowledge import suggest_for_case

        v = self.view
        self.kb_suggestions = suggest_for_case(v, self.wb.policy) if v is not None else []
        self.kb_table.value = kb_table_html(self.kb_suggestions)
        self.kb_pick.options = [(f"{i + 1}. {s.question}", i) for i, s in enumerate(self.kb_suggestions)]
        self.kb_pick.value = 0 if self.kb_suggestions else None
        self.kb_insert.disabled = not self.kb_suggestions or self.reply.disabled

    def _insert_kb(self) -> None:
        """Append the picked entry's answer to the reply draft (a new line between) and check the result with the
        same guard as sending (:func:`reviewops.handling.replies.check_message`); problems show, nothing is saved."""
        from reviewops.core.errors import ConfigError
        from reviewops.handling.replies import check_message

        if self.view is None:
            raise ConfigError("请先载入案件 / load a case first")
        if self.reply.disabled:
            raise ConfigError("当前状态下不能编辑回复 / the reply cannot be edited in this state")
        if self.kb_pick.value is None or not self.kb_suggestions:
            raise ConfigError("没有可插入的知识库条目 / no knowledge base entry to insert")
        entry = self.kb_suggestions[int(self.kb_pick.value)]
        current = self.reply.value.rstrip()
        self.reply.value = f"{current}\n{entry.answer}" if current else entry.answer
        problems = check_message(self.reply.value, platform=self.view.platform, policy=self.wb.policy)
        if problems:
            self.reply_problems.value = "".join(msg_html("error", p) for p in problems)
            self.status.warn("已插入知识库答案，但回复还不能发送：" + problems[0].split(" / ")[0])
        else:
            self.status.ok(f"已插入知识库答案：{entry.question}（记得点“保存回复”）")

    # ------------------------------------------------------------ unmask
    def _unmask(self) -> None:
        from reviewops.core.errors import ConfigError

        if self.view is None:
            raise ConfigError("请先载入案件 / load a case first")
        if not self.unmask_purpose.value:
            raise ConfigError("请选择查看用途 / choose a purpose")
        field = self.unmask_field.value
        value = self.wb.unmask(self.view.case_id, field, self.unmask_purpose.value)
        self.unmask_value.description = UNMASK_ZH.get(field, field)
        self.unmask_value.value = "" if value is None else str(value)
        self.status.info("已显示完整信息（已记录查看用途）；用完请点“隐藏” / shown and audited")

    def _hide_unmasked(self) -> None:
        self.unmask_value.value = ""


    # ------------------------------------------------------------ evidence
    def _refresh_evidence(self) -> None:
        """The evidence list of the shown case (metadata; names and notes masked unless the role may see
        content) and, for those roles, the images that can be previewed."""
        from reviewops.core.errors import AccessDenied, ReviewOpsError
        from reviewops.handling.evidence import list_evidence, may_view

        if self.view is None:
            self._clear_evidence()
            return
        try:
            rows = list_evidence(self.wb.store, self.wb.actor, case_id=self.view.case_id)
        except AccessDenied:
            raise
        except ReviewOpsError as e:
            self.evidence_list.value = msg_html("error", e)
            return
        self.evidence_list.value = evidence_html(rows)
        images = [r for r in rows if r["mime"] in PREVIEW_FORMATS and r["can_view"]]
        self.evidence_pick.options = [(f"#{r['link_id']} {r['original_name'] or r['sha256'][:12]}",
                                       f"{r['link_id']}:{r['sha256']}") for r in images]
        set_visible(self.evidence_preview, may_view(self.wb.actor, self.wb.policy) and bool(images))

    def _add_evidence(self) -> None:
        """Attach every chosen file to the shown case; each refusal is named, the rest are kept."""
        from reviewops.core.errors import ConfigError
        from reviewops.handling.evidence import EvidenceRefused, add_evidence

        if self.view is None:
            raise ConfigError("请先载入案件 / load a case first")
        files = list(self.evidence_upload.value or ())
        if not files:
            raise ConfigError("请先选择要上传的文件 / choose a file first")
        kept, refused = [], []
        for f in files:
            name = str(f.get("name") or "")
            try:
                item = add_evidence(self.wb.store, self.wb.actor, bytes(f.get("content") or b""), original_name=name,
                                    kind=self.evidence_kind.value, case_id=self.view.case_id,
                                    note=self.evidence_note.value, declared_type=str(f.get("type") or "") or None)
            except EvidenceRefused as e:
                refused.append(f"{name}：{e.zh}")
                continue
            kept.append(f"{name}（SHA-256 {item.sha256[:12]}…" + ("，已附加过）" if item.already_linked else "）"))
        self.evidence_upload.value = ()
        self._refresh_evidence()
        if refused:
            self.status.error("；".join(([f"已保存 {len(kept)} 个：" + "、".join(kept)] if kept else [])
                                       + [f"拒收 {len(refused)} 个：" + "；".join(refused)]))
        else:
            self.evidence_note.value = ""
            self.status.ok(f"已保存 {len(kept)} 个证据：" + "、".join(kept))

    def _link_chats(self) -> None:
        from reviewops.core.errors import ConfigError
        from reviewops.handling.evidence import link_chat_messages

        if self.view is None:
            raise ConfigError("请先载入案件 / load a case first")
        n = link_chat_messages(self.wb.store, self.view.case_id, actor=self.wb.actor)
        self._refresh_evidence()
        self.status.ok(f"已关联 {n} 条买家聊天消息（每条单独计算哈希）" if n else "没有新的买家聊天消息可关联")

    def _preview_evidence(self) -> None:
        """Show the chosen image (read through read_evidence: role-checked, re-hashed, custody 'viewed')."""
        from reviewops.core.errors import ConfigError
        from reviewops.handling.evidence import read_evidence

        if self.view is None or not self.evidence_pick.value:
            raise ConfigError("请先选择要预览的图片 / choose an image first")
        link_id, sha = str(self.evidence_pick.value).split(":", 1)
        content = read_evidence(self.wb.store, self.wb.actor, sha, link_id=int(link_id), purpose="案件处理预览")
        fmt = PREVIEW_FORMATS.get(content.mime)
        if fmt is None:
            raise ConfigError("只能预览图片 / only images can be previewed")
        self.evidence_image.format = fmt
        self.evidence_image.value = content.data
        set_visible(self.evidence_image, True)
        self.status.info("已显示证据图片（已记入保管记录）；用完请点“隐藏预览” / shown; custody logged")

    def _hide_preview(self) -> None:
        self.evidence_image.value = b""
        set_visible(self.evidence_image, False)

    def _clear_evidence(self) -> None:
        self._hide_preview()
        self.evidence_list.value = ""
        self.evidence_pick.options = []
        self.evidence_note.value = ""
        self.evidence_upload.value = ()


    # ------------------------------------------------------------ signals
    def _refresh_signals(self) -> None:
        """The shown case's detection signals and the shop's threshold (legal, supervisor, admin only; the
        section stays hidden for other roles and for a case without signals)."""
        from reviewops.core.errors import AccessDenied
        from reviewops.handling.defence import list_signals, threshold_info

        if self.view is None or not self.may_review_signals:
            self._clear_signals()
            return
        try:
            rows = list_signals(self.wb.store, self.wb.actor, case_id=self.view.case_id)
            info = threshold_info(self.wb.store, self.wb.actor, rows[0]["shop_id"]) if rows else []
        except AccessDenied:  # the role or shops changed meanwhile (logged by the library)
            self._clear_signals()
            return
        if not rows:
            self._clear_signals()
            return
        self.signals_table.value = signals_table_html(rows)
        self.signal_threshold.value = signal_threshold_html(info[0]) if info else ""
        open_rows = [r for r in rows if r["status"] == "open"]
        self.signal_pick.options = [(f"#{r['signal_id']} {r['kind_zh']}（{r['score']:.2f}）", r["signal_id"])
                                    for r in open_rows]
        self.signal_pick.value = open_rows[0]["signal_id"] if open_rows else None
        set_visible(self.signal_editor, bool(open_rows))
        set_visible(self.signals_box, True)

    def _decide_signal(self, confirm: bool) -> None:
        from reviewops.core.errors import ConfigError
        from reviewops.handling.defence import SignalAlreadyDecided, decide_signal

        if self.view is None or self.signal_pick.value is None:
            raise ConfigError("请先选择要确认或驳回的信号 / choose a signal first")
        try:
            out = decide_signal(self.wb.store, self.wb.actor, int(self.signal_pick.value), confirm,
                                self.signal_note.value, via="form")
        except SignalAlreadyDecided as e:
            self.reload()
            self.status.error(f"{e}\n已重新载入 / reloaded")
            return
        self.signal_note.value = ""
        self.reload()
        routed = "，案件已转法务（恶意差评）" if out["made_malicious"] else ""
        self.status.ok(f"信号 #{out['signal_id']}（{out['kind_zh']}）{out['status_zh']}{routed}；案件综合分 "
                       f"{out['combined_score']:.2f}，本店阈值 {out['threshold']:.2f}")

    def _clear_signals(self) -> None:
        self.signals_table.value = ""
        self.signal_threshold.value = ""
        self.signal_pick.options = []
        self.signal_note.value = ""
        set_visible(self.signals_box, False)


def build_case(wb: Any, *, case_id: Any = None) -> CaseForm:
    """案件处理 for the signed-in ``wb.actor``; ``case_id`` (e.g. from a deep link) is loaded at once."""
    form = CaseForm(wb)
    if case_id is not None and str(case_id).strip():
        form.case_id.value = str(case_id)
        guard(form.status, form.load)(case_id)
    return form
