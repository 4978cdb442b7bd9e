"""What people read: spreadsheet-safe cells (S-01, S-02), report tables and times in Beijing time.

User text (reviews, chats, nicknames) must never become a formula when a file
is opened in Excel or WPS: a cell whose NFKC-normalised, left-stripped text
starts with ``= + - @``, tab, CR, NUL or ``{=`` gets a leading apostrophe. The
importer strips exactly that apostrophe again, so export → import round-trips.

Times for people (issue 14 §5): the store keeps aware UTC; every form, report and export shows
Beijing time (Asia/Shanghai) through :func:`fmt_time` (text), :func:`now_text` (a clock such as a
form's 更新于) or :func:`local_naive` (a spreadsheet cell, which has no time zone). The label
:data:`TIME_LABEL` (北京时间) is shown once per page, table heading or file, not on every value.
A naive datetime given to these helpers is read as UTC (the store's convention), never as the
server's local time, so the server's ``TZ`` never changes what people see.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import os
import tempfile
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
TIME_LABEL = "北京时间"
MINUTES = "%Y-%m-%d %H:%M"


# ------------------------------------------------------------------ times for people
def beijing(t: Any) -> dt.datetime | None:
    """``t`` as an aware Beijing-time ``datetime``; None for None/NaN/NaT/"".

    Accepts ``datetime`` / ``pandas.Timestamp`` (aware; naive = UTC, as stored) and ISO-8601 text.
    """
    if t is None or (isinstance(t, float) and t != t) or t == "":  # noqa: PLR0124 - NaN
        return None
    if isinstance(t, str):
        t = dt.datetime.fromisoformat(t.strip())
    if not isinstance(t, dt.datetime):
        raise TypeError(f"not a time: {t!r}")
    if t != t:  # noqa: PLR0124 - pandas.NaT
        return None
    if hasattr(t, "to_pydatetime"):
        t = t.to_pydatetime()
    if t.tzinfo is None or t.utcoffset() is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(BEIJING)


def fmt_time(t: Any, fmt: str = MINUTES, *, empty: str = "") -> str:
    """``t`` as Beijing-time text (default ``2026-12-07 23:29``); ``empty`` for a missing time.

    The one formatter for times people read (forms, reports, messages, exports); the label
    (:data:`TIME_LABEL`) goes into the page or column heading, not into the value.
    """
    local = beijing(t)
    return empty if local is None else local.strftime(fmt)


def now_text(fmt: str = "%H:%M:%S", now: dt.datetime | None = None) -> str:
    """The current time (or ``now``) as Beijing-time text, e.g. a form's 更新于 clock."""
    return fmt_time(dt.datetime.now(dt.UTC) if now is None else now, fmt)


def local_naive(t: Any) -> dt.datetime | None:
    """``t`` as a naive Beijing wall-clock ``datetime`` for a spreadsheet cell (xlsx has no time zones)."""
    local = beijing(t)
    return None if local is None else local.replace(tzinfo=None)


_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0", "{=")


def formula_safe(value: object) -> object:
    """Prefix ``'`` to text that a spreadsheet would run as a formula; other values pass unchanged."""
    if not isinstance(value, str) or not value:
        return value
    probe = unicodedata.normalize("NFKC", value)
    if value.startswith(("\t", "\r", "\0")) or probe.lstrip(" ").startswith(_TRIGGERS):
        return "'" + value
    return value


def write_csv_atomic(path: Path, header: list[str], rows: Iterable[Iterable[object]]) -> Path:
    """Write a UTF-8-SIG CSV (RFC 4180 quoting, formula-safe cells) via a temporary file and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh, quoting=csv.QUOTE_ALL)
            w.writerow([formula_safe(h) for h in header])
            for row in rows:
                w.writerow(["" if v is None else formula_safe(v) for v in row])
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path



def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


#: Styles for tables in the HTML reports: left-aligned text, numbers right, light rules.
REPORT_CSS = """<style>
table.ro-table { border-collapse: collapse; margin: 0.4em 0 1em; font-size: 13px; }
table.ro-table th, .jp-RenderedHTMLCommon table.ro-table th {
  text-align: left; background: #f3f5f7; border-bottom: 1px solid #c8ced3; padding: 4px 10px; white-space: nowrap; }
table.ro-table td, .jp-RenderedHTMLCommon table.ro-table td {
  text-align: left; border-bottom: 1px solid #e6e9ec; padding: 4px 10px; vertical-align: top; }
table.ro-table td.ro-num, .jp-RenderedHTMLCommon table.ro-table td.ro-num {
  text-align: right; font-variant-numeric: tabular-nums; }
</style>"""


def html_table(df: object, *, max_rows: int | None = 500) -> str:
    """A DataFrame as an escaped HTML table for the reports: no index column, every cell escaped.

    Numeric columns get ``class="ro-num"`` (right-aligned); all other values are text; an aware time is
    shown in Beijing time (:func:`fmt_time`; a naive one is taken as already local). A frame longer
    than ``max_rows`` shows its first rows and says how many were left out (the XLSX holds them all).
    """
    import html

    import pandas as pd

    frame = df if isinstance(df, pd.DataFrame) else pd.DataFrame(df)
    shown = frame if max_rows is None else frame.head(max_rows)
    numeric = [pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in shown.dtypes]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    rows = []
    for values in shown.itertuples(index=False):
        cells = []
        for v, num in zip(values, numeric, strict=True):
            if isinstance(v, dt.datetime) and v == v and v.tzinfo is not None:  # noqa: PLR0124 - NaT
                text = fmt_time(v)
            else:
                missing = v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and v != v)  # noqa: PLR0124
                text = "" if missing else str(v)
            cells.append(f'<td class="ro-num">{html.escape(text)}</td>' if num else f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if len(shown) < len(frame):
        more = (f'<p class="ro-more">仅显示前 {len(shown)} 行，共 {len(frame)} 行；完整数据见 XLSX / first {len(shown)} '
                f"of {len(frame)} rows shown; all rows are in the XLSX</p>")
    return f'<table class="ro-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>{more}'


def show_table(df: object) -> None:
    """Display :func:`html_table` of ``df`` in the running notebook (the playbooks' ``show``)."""
    from IPython.display import HTML, display

    display(HTML(html_table(df)))
