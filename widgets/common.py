"""What every workbench form shares: escaping, the status line, guarded callbacks, small HTML helpers.

Rules the forms follow (SPEC Quality bars, reliability S-04/S-07):

* **Data is text.** Review, chat, nickname and every other value from the store is shown in a
  text widget (Label/Text/Textarea) or, inside a ``widgets.HTML``, only through :func:`esc`.
  Functions whose name ends in ``_html`` build HTML from data; each escapes every value it is
  given. ``tests/test_widgets_lint.py`` checks this statically for every module of this package:
  an HTML widget's value is a constant, an ``esc(...)`` call, a ``*_html(...)`` call, or an
  f-string / ``+`` / ``"".join(...)`` of those.
* **Errors are messages.** Every callback is wrapped by :func:`guard`: a domain error shows its
  own (Chinese + English) text in the form's status line, anything else a short notice — never a
  traceback (Voila hides callback output, and tracebacks are not for operators).
* **Authority is the server's.** Forms read identity only from ``wb.actor`` (made by the server);
  no widget value is ever used as a role, approver, version or case of record.
"""

from __future__ import annotations

import functools
import html
import logging
import math
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import parse_qs

import ipywidgets as widgets
from traitlets import TraitError

log = logging.getLogger("reviewops.widgets")

__all__ = [
    "CSS",
    "STYLE",
    "Form",
    "Status",
    "button",
    "case_id_from_query",
    "error_text",
    "esc",
    "guard",
    "kv_html",
    "minutes_text",
    "msg_html",
    "page_query_string",
    "section",
    "show_error",
    "style_widget",
    "table_html",
    "tag_html",
    "text_html",
]

#: every description label shows in full (Chinese labels are wider than the default 120 px)
STYLE = {"description_width": "initial"}

SLA_STATUSES = ("running", "warning", "breached", "met", "late")

CSS = """<style>
.ro-app, .ro-form { font-size: 13px; }
.ro-app .widget-tab-contents, .ro-form { padding: 4px 2px; }
.ro-title { font-weight: 600; font-size: 14px; margin: 8px 0 2px 0; color: #263238; }
.ro-sub { color: #607d8b; font-size: 12px; }
.ro-muted { color: #78909c; }
.ro-section { border: 1px solid #e0e4e8; border-radius: 6px; padding: 6px 10px; margin: 4px 0; background: #fff; }
.ro-msg { padding: 6px 10px; border-radius: 4px; white-space: pre-wrap; margin: 2px 0; line-height: 1.45; }
.ro-msg-ok { background: #e8f5e9; color: #1b5e20; border: 1px solid #c8e6c9; }
.ro-msg-error { background: #fdecea; color: #b71c1c; border: 1px solid #f5c6cb; }
.ro-msg-warn { background: #fff8e1; color: #7a5b00; border: 1px solid #ffe082; }
.ro-msg-info { background: #e3f2fd; color: #0d47a1; border: 1px solid #bbdefb; }
.ro-text { white-space: pre-wrap; word-break: break-word; line-height: 1.5; }
.ro-review { font-size: 14px; background: #fafafa; border-left: 3px solid #ef9a9a; padding: 4px 8px; }
.ro-table { border-collapse: collapse; width: 100%; margin: 2px 0; }
.ro-table th { background: #f5f7f9; font-weight: 600; color: #455a64; }
.ro-table th, .ro-table td { border-bottom: 1px solid #eceff1; padding: 3px 6px; text-align: left;
  vertical-align: top; white-space: pre-wrap; word-break: break-word; }
.ro-kv { display: grid; grid-template-columns: max-content 1fr; column-gap: 10px; row-gap: 2px; margin: 2px 0; }
.ro-kv dt { color: #607d8b; } .ro-kv dd { margin: 0; white-space: pre-wrap; word-break: break-word; }
.ro-tag { display: inline-block; padding: 0 6px; border-radius: 8px; background: #eceff1; margin-right: 4px;
  font-size: 12px; }
.ro-tag-high { background: #ffcdd2; } .ro-tag-medium { background: #ffe0b2; } .ro-tag-low { background: #e0f2f1; }
.ro-qcells { display: grid; grid-template-columns: 52px 82px 150px 46px 74px 34px 80px 64px 118px 100px 1fr;
  column-gap: 6px; align-items: center; width: 100%; }
.ro-qcells span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.ro-qhead { font-weight: 600; color: #455a64; padding-left: 76px; }
.ro-queue-row { border-bottom: 1px solid #eceff1; align-items: center; }
.ro-sla-running { background: #ffffff; }
.ro-sla-warning { background: #fff4d6; }
.ro-sla-breached { background: #fde0e0; }
.ro-sla-met { background: #f1f8e9; }
.ro-sla-late { background: #f3e5f5; }
.ro-left-warning { color: #a15c00; font-weight: 600; }
.ro-left-breached { color: #c62828; font-weight: 700; }
.ro-card { border: 1px solid #e0e4e8; border-radius: 6px; padding: 6px 10px; margin: 4px 0; }
.ro-case-conflict { border: 2px solid #e53935; border-radius: 6px; padding: 6px 10px; background: #fff5f5; }
.ro-sticky { position: sticky; top: 0; z-index: 50; background: #ffffff; }
/* sticky needs every ancestor up to the page's scroller to let overflow through */
.jp-OutputArea:has(.ro-form), .jp-OutputArea-child:has(.ro-form), .jp-OutputArea-output:has(.ro-form),
.ro-app, .ro-form, .ro-app .widget-tab, .ro-app .widget-tab-contents, .ro-app .lm-StackedPanel,
.ro-app .p-StackedPanel, .ro-app .lm-TabPanel-stackedPanel { overflow: visible !important; contain: none !important; }
.ro-copy-btn { height: 28px; padding: 0 14px; border: 1px solid #b0bec5; border-radius: 2px; background: #eeeeee;
  cursor: pointer; font-size: 13px; margin: 2px 4px 2px 0; }
.ro-copy-btn:hover { background: #e0e0e0; }
</style>"""


# ------------------------------------------------------------------ escaping
def esc(value: Any) -> str:
    """``value`` as HTML text: ``None`` → "", everything else ``html.escape(str(value), quote=True)``."""
    return "" if value is None else html.escape(str(value), quote=True)


def text_html(value: Any, cls: str = "ro-text") -> str:
    """A block of escaped text (line breaks kept by CSS ``pre-wrap``)."""
    return f'<div class="{esc(cls)}">{esc(value)}</div>'


def tag_html(value: Any, cls: str = "") -> str:
    """A small escaped label chip."""
    return f'<span class="ro-tag {esc(cls)}">{esc(value)}</span>'


def msg_html(kind: str, text: Any) -> str:
    """A status message box (``kind``: ok | error | warn | info) with escaped ``text``."""
    return f'<div class="ro-msg ro-msg-{esc(kind)}">{esc(text)}</div>'


def kv_html(pairs: Iterable[tuple[Any, Any]]) -> str:
    """Label/value pairs as a two-column list; every label and value escaped; empty values skipped."""
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs if v not in (None, ""))
    return f'<dl class="ro-kv">{body}</dl>'


def table_html(columns: Sequence[Any], rows: Iterable[Sequence[Any]], *, cls: str = "", empty: str = "（无）") -> str:
    """A table of escaped cells (``empty`` when there are no rows)."""
    rows = list(rows)
    if not rows:
        return f'<div class="ro-muted">{esc(empty)}</div>'
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="ro-table {esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def title_html(text: Any, sub: Any = "") -> str:
    """A section heading (escaped), with an optional smaller English/explanatory part."""
    return f'<div class="ro-title">{esc(text)} <span class="ro-sub">{esc(sub)}</span></div>'


def minutes_text(minutes: Any, status: str = "running") -> str:
    """Minutes left as operators read it: ``1 小时 05 分`` / ``已超时 35 分`` / ``已响应``."""
    if status in ("met", "late"):
        return "已响应"
    if minutes is None or (isinstance(minutes, float) and math.isnan(minutes)):
        return "—"
    m = int(minutes)
    sign, m = ("已超时 ", -m) if m < 0 else ("", m)
    if m >= 24 * 60:
        return f"{sign}{m // 1440} 天 {(m % 1440) // 60} 小时"
    if m >= 60:
        return f"{sign}{m // 60} 小时 {m % 60:02d} 分"
    return f"{sign}{m} 分"


# ------------------------------------------------------------------ widgets
def style_widget() -> widgets.HTML:
    """The workbench stylesheet (a constant; no data)."""
    return widgets.HTML(CSS, layout=widgets.Layout(display="none"))


def button(description: str, cls: str, *, style: str = "", icon: str = "", tooltip: str = "",
           width: str | None = None) -> widgets.Button:
    """A Button with its stable CSS class."""
    b = widgets.Button(description=description, button_style=style, icon=icon, tooltip=tooltip or description,
                       layout=widgets.Layout(width=width) if width else widgets.Layout(width="auto"))
    b.add_class(cls)
    return b


def section(title: str, *children: widgets.Widget, sub: str = "", cls: str = "") -> widgets.VBox:
    """A titled box of widgets."""
    box = widgets.VBox([widgets.HTML(title_html(title, sub)), *children])
    box.add_class("ro-section")
    if cls:
        box.add_class(cls)
    return box


def close_tree(widget: widgets.Widget) -> None:
    """Close ``widget`` and every widget inside it (their models leave the kernel and the page).

    Lists that are rebuilt on refresh call this on the old rows; otherwise every refresh would add
    models that nobody shows any more.
    """
    for child in getattr(widget, "children", ()) or ():
        close_tree(child)
    for part in ("layout", "style"):  # their own models, not closed with the widget
        sub = getattr(widget, part, None)
        if isinstance(sub, widgets.Widget):
            sub.close()
    widget.close()


def set_visible(widget: widgets.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


def set_classes(widget: widgets.Widget, prefix: str, wanted: Iterable[str]) -> None:
    """Replace ``widget``'s classes starting with ``prefix`` by ``wanted`` (e.g. the row's SLA colour)."""
    wanted = list(wanted)
    for c in list(widget._dom_classes):
        if c.startswith(prefix) and c not in wanted:
            widget.remove_class(c)
    for c in wanted:
        if c not in widget._dom_classes:
            widget.add_class(c)


class Status:
    """A form's status line (class ``ro-<form>-status``): messages are escaped text."""

    def __init__(self, form: str):
        self.widget = widgets.HTML("")
        self.widget.add_class(f"ro-{form}-status")
        self.widget.add_class("ro-sticky")  # stays in view while the operator works further down
        self.kind = ""
        self.text = ""

    def show(self, kind: str, text: Any) -> None:
        self.kind, self.text = kind, "" if text is None else str(text)
        self.widget.value = msg_html(kind, self.text) if self.text else ""

    def ok(self, text: Any) -> None:
        self.show("ok", text)

    def error(self, text: Any) -> None:
        self.show("error", text)

    def warn(self, text: Any) -> None:
        self.show("warn", text)

    def info(self, text: Any) -> None:
        self.show("info", text)

    def clear(self) -> None:
        self.show("", "")


def error_text(e: BaseException) -> str:
    """What an operator reads for an error: the domain's own message, never a traceback."""
    from reviewops.core.errors import ReviewOpsError

    if isinstance(e, ReviewOpsError):
        return str(e)
    if isinstance(e, TraitError):
        return f"输入无效，请从列表中选择或重新填写 / invalid input: {str(e)[:200]}"
    if isinstance(e, (ValueError, TypeError)):
        return f"输入无效：{str(e)[:200]} / invalid input"
    return (f"操作没有完成（系统错误 {type(e).__name__}），已记录日志；请重试或联系管理员\n"
            f"the action did not complete (internal error {type(e).__name__}); it was logged")


def guard(status: Status, fn: Callable[..., Any] | None = None, *, clear: bool = True) -> Callable[..., Any]:
    """Wrap a callback so any exception becomes a message in ``status`` (never a traceback).

    Usable as ``guard(status, fn)`` or ``@guard(status)``.
    """
    if fn is None:
        return lambda f: guard(status, f, clear=clear)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from reviewops.core.errors import ReviewOpsError

        if clear:
            status.clear()
        try:
            return fn(*args, **kwargs)
        except ReviewOpsError as e:
            status.error(error_text(e))
        except Exception as e:
            log.exception("widget callback failed")
            status.error(error_text(e))
        return None

    return wrapper


#: what a form says when the store refused the signed-in user's read (disabled, moved to other shops …)
REVOKED_ZH = "账号已停用或权限已变更，请重新登录"


class Form:
    """A built form: ``root`` (what to display), ``status`` and named handles as attributes.

    ``revoke(error)``: the store refused to show this user what the form shows (the user was disabled or
    their shops changed while the page was open — every workbench read re-checks): the form's data is
    cleared (:meth:`clear_data`), background refreshes stop, and the status says :data:`REVOKED_ZH`
    with the reason. ``revoked`` tells whether that happened.
    """

    name = "form"

    def __init__(self, wb: Any):
        self.wb = wb
        self.status = Status(self.name)
        self.root: widgets.Box = widgets.VBox()
        self.revoked = False

    def clear_data(self) -> None:
        """Remove every shown record (each form says what it shows)."""

    def _halt(self) -> None:
        """Stop background work when the form is revoked (default: :meth:`close`)."""
        self.close()

    def revoke(self, error: BaseException) -> None:
        self.revoked = True
        try:
            self._halt()
            self.clear_data()
        finally:
            self.status.error(f"{REVOKED_ZH}\n{error_text(error)}")

    def _finish(self, *children: widgets.Widget) -> None:
        self.root.children = (style_widget(), *children)
        self.root.add_class("ro-form")
        self.root.add_class(f"ro-{self.name}")

    def handle(self, name: str) -> Any:
        return getattr(self, name)

    def close(self) -> None:
        """Stop background work (timers); the widgets stay displayable."""


# ------------------------------------------------------------------ notebooks
def show_error(e: BaseException) -> widgets.HTML:
    """What a notebook shows when it cannot start (no server identity, disabled user …): the message only."""
    w = widgets.HTML(CSS + msg_html("error", error_text(e)))
    w.add_class("ro-start-error")
    return w


def page_query_string() -> str | None:
    """The page's query string in a Voila kernel, or None.

    A cold kernel has the request's ``QUERY_STRING`` in its environment. A preheated one
    (``VOILA_PREHEAT``) gets it with the rest of the request info once the page is requested: when
    :func:`reviewops.serve.open_session` has already waited for that (it does), the value is in the
    environment; otherwise :func:`voila.utils.get_query_string` waits for it. (Waiting twice could block:
    Voila hands the request info to the first waiter only.)
    """
    qs = os.environ.get("QUERY_STRING")
    if qs is None and os.environ.get("VOILA_PREHEAT") == "True":
        from voila.utils import get_query_string

        qs = get_query_string()
    return qs


def case_id_from_query() -> str | None:
    """The ``case`` parameter of the page's query string (``?case=123``), or None.

    The value is only a request: :class:`~reviewops.handling.workbench.Workbench` checks the case against the
    user's shops when it is loaded.
    """
    values = parse_qs(page_query_string() or "").get("case") or []
    value = values[0].strip() if values else ""
    return value or None


def parse_case_id(value: Any) -> int:
    """A typed case number → int (``ConfigError`` with a clear message otherwise)."""
    from reviewops.core.errors import ConfigError

    text = str(value if value is not None else "").strip().lstrip("#")
    if not text.isdigit() or len(text) > 12:
        raise ConfigError(f"案件编号应为数字，收到 {str(value)[:40]!r} / the case number must be digits")
    return int(text)
