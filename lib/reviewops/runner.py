"""Run a playbook notebook with papermill and write its reports (issue 5, "Running them").

``run_playbook(name, params)`` checks the parameter names against the playbook's
tagged ``parameters`` cell and the values against their type hints *before* any
kernel starts (S-10; IDs stay strings), executes the notebook through papermill's
Python API, and writes into ``out_dir``:

* ``<name>.ipynb``  the executed notebook
* ``<name>.html``   the report without code cells, with a strict Content-Security-Policy (S-03)
* ``<name>.xlsx``   every table the notebook saved with :func:`save_table`, string cells only (S-01, S-02)
* ``<name>.json``   a small summary (playbook, parameters, start, end, duration, outputs)
* ``<name>.pdf``    with ``pdf=True``, printed by Debian's headless chromium from a print copy of the HTML
  (:func:`print_html`): A4, landscape when a table needs the width, every table column on the page —
  a table still too wide is split into column groups that repeat its key columns

Everything is written into a staging folder inside ``out_dir`` and moved into
place at the end; if the move fails the files already moved are removed again,
so a killed or failed run leaves no half-written report under a final name (R-12).
A failed cell raises :class:`PlaybookFailed` and keeps ``<name>.failed.ipynb``.
With a database, each run is recorded in the access log (action ``export``, P-05).
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .core.environ import patched_environ
from .core.errors import ConfigError, ReviewOpsError
from .core.outputs import file_sha256, formula_safe
from .core.redact import mask_url, redact_obj, redact_secrets, remember_url
from .core.users import os_actor

RUN_DIR_ENV = "REVIEWOPS_RUN_DIR"
DB_ENV = "REVIEWOPS_DB"  # how a kernel gets a database URL that holds a password (never the notebook)
PLAYBOOKS_ENV = "REVIEWOPS_PLAYBOOKS"
CHROMIUM = "/usr/bin/chromium"
FORMATS = ("ipynb", "html", "xlsx", "json")
_TABLES = ".tables"
_TABLE_NAME = re.compile(r"^[^\[\]:*?/\\\x00-\x1f]{1,31}$")

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
       "base-uri 'none'; form-action 'none'")


class PlaybookFailed(ReviewOpsError):
    """A cell of the playbook raised; the failed notebook is kept for inspection."""

    def __init__(self, playbook: str, cell_index: int | None, ename: str, evalue: str, source: str,
                 failed_notebook: Path | None):
        self.playbook = playbook
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue
        self.failed_notebook = failed_notebook
        self.playbook_cell = _playbook_cell(failed_notebook, cell_index)
        first = next((ln.strip() for ln in (source or "").splitlines() if ln.strip()), "")
        cell = "?" if self.playbook_cell is None else str(self.playbook_cell)
        kept = f"\n失败的笔记本已保留 / failed notebook kept: {failed_notebook}" if failed_notebook else ""
        super().__init__(
            f"剧本「{playbook}」第 {cell} 个单元格出错（代码 {first[:80]!r}）：{ename}: {evalue}\n"
            f"Playbook {playbook!r} failed in cell {cell} (code: {first[:80]!r}): "
            f"{ename}: {evalue}. 请检查参数和数据后重新运行 / check the parameters and data, then run again."
            f"{kept}")

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "playbook": self.playbook, "cell_index": self.cell_index,
                "playbook_cell": self.playbook_cell,
                "ename": self.ename, "evalue": self.evalue,
                "failed_notebook": str(self.failed_notebook) if self.failed_notebook else None}


def _playbook_cell(failed: Path | None, cell_index: int | None) -> int | None:
    """The failing cell's number (1-based) in the playbook as written, i.e. not counting papermill's added cells."""
    if cell_index is None:
        return None
    if failed is None:
        return cell_index + 1
    try:
        import nbformat

        nb = nbformat.read(str(failed), as_version=4)
        cells = [c for c in nb.cells if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])]
        injected = next((i for i, c in enumerate(cells)
                         if "injected-parameters" in c.get("metadata", {}).get("tags", [])), None)
    except Exception:  # noqa: BLE001 - the number is a courtesy; the error itself must still be raised
        return cell_index + 1
    return cell_index + (0 if injected is not None and injected < cell_index else 1)


@dataclass
class RunResult:
    """What a run wrote: ``outputs`` maps format → final path; ``notes`` are skipped steps in plain words."""

    playbook: str
    params: dict[str, Any]
    outputs: dict[str, Path]
    started: dt.datetime
    finished: dt.datetime
    notes: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return (self.finished - self.started).total_seconds()


# ---------------------------------------------------------------- playbooks

def playbooks_dir() -> Path:
    """Where playbooks are looked up by name: ``$REVIEWOPS_PLAYBOOKS`` if set, else the installed package.

    The playbooks (``playbooks/`` in the repository) install as the package ``reviewops_playbooks``
    inside the wheel, so a name resolves the same from any working directory, editable install or not.
    This is the one place that says where they are (``reviewops run``, the tests and ``reviewops lab``).
    """
    env = os.environ.get(PLAYBOOKS_ENV)
    if env:
        return Path(env).expanduser()
    try:
        import reviewops_playbooks
    except ImportError as e:  # a broken or partial install: say so instead of looking beside the source
        raise ConfigError(f"找不到安装的剧本包 reviewops_playbooks / the installed playbooks are missing ({e}). "
                          f"请重新安装 reviewops（pip install reviewops），或用 ${PLAYBOOKS_ENV} 指定剧本目录 / "
                          f"reinstall reviewops, or set ${PLAYBOOKS_ENV} to a folder of playbooks.") from e
    return Path(reviewops_playbooks.__file__).resolve().parent


def resolve_playbook(name_or_path: str | os.PathLike[str]) -> Path:
    """A path to an ``.ipynb`` as given, or a playbook name looked up in :func:`playbooks_dir`."""
    text = str(name_or_path)
    p = Path(text).expanduser()
    if text.endswith(".ipynb") or os.sep in text or "/" in text:
        if p.is_file():
            return p
        raise ConfigError(f"找不到剧本文件 / playbook file not found: {text!r}. 请检查路径 / check the path.")
    d = playbooks_dir()
    p = d / f"{text}.ipynb"
    if p.is_file():
        return p
    known = sorted(x.stem for x in d.glob("*.ipynb")) if d.is_dir() else []
    raise ConfigError(f"没有名为 {text!r} 的剧本 / no playbook named {text!r} in {d}. "
                      f"可用 / available: {', '.join(known) or '（无 none）'}")


# ---------------------------------------------------------------- parameters (S-10)

def declared_parameters(path: Path) -> dict[str, dict[str, Any]]:
    """The playbook's declared parameters as papermill reads them: name → {type, default, help}."""
    import papermill as pm

    params = pm.inspect_notebook(str(path))
    out: dict[str, dict[str, Any]] = {}
    for name, info in params.items():
        out[name] = {"type": _declared_type(info.get("inferred_type_name"), info.get("default")),
                     "default": info.get("default"), "help": info.get("help", "")}
    return out


def _declared_type(hint: str | None, default: str | None) -> str:
    hint = (hint or "None").replace(" ", "")
    for t in ("str", "int", "float", "bool"):
        if hint in (t, f"Optional[{t}]", f"{t}|None", f"None|{t}"):
            return t
    if hint == "None" and default is not None:  # no hint: the default's literal type
        with contextlib.suppress(ValueError, SyntaxError):
            v = ast.literal_eval(default)
            for t, py in (("bool", bool), ("int", int), ("float", float), ("str", str)):
                if type(v) is py:
                    return t
    return "str"


_INT = re.compile(r"^[+-]?\d+$")


def convert_value(name: str, kind: str, value: Any) -> Any:
    """``value`` as the declared type, parsed strictly; ConfigError otherwise."""
    def bad(expect_zh: str, expect_en: str) -> ConfigError:
        return ConfigError(f"参数 {name} 应为{expect_zh}，收到 {value!r} / parameter {name} must be {expect_en}, "
                           f"got {value!r}. 请改正后重新运行 / fix it and run again.")

    if kind == "str":
        if isinstance(value, str):
            return value
        raise bad("文本", "text (IDs are text: quote them)")
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INT.match(value.strip()):
            return int(value.strip())
        raise bad("整数", "a whole number")
    if kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            f = float(value)
        elif isinstance(value, str):
            try:
                f = float(value.strip())
            except ValueError:
                raise bad("数字", "a number") from None
        else:
            raise bad("数字", "a number")
        if not math.isfinite(f):
            raise bad("有限数字", "a finite number")
        return f
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        raise bad("true 或 false", "true or false")
    raise bad(kind, kind)  # pragma: no cover


def check_parameters(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    """Names checked against the declared parameters and values converted, before anything runs."""
    declared = declared_parameters(path)
    unknown = [n for n in params if n not in declared]
    if unknown:
        known = ", ".join(n + " (" + d["type"] + ")" for n, d in declared.items()) or "（无 none）"
        raise ConfigError(
            f"剧本 {path.stem} 没有参数 {', '.join(repr(n) for n in unknown)} / playbook {path.stem} has no "
            f"parameter {', '.join(repr(n) for n in unknown)}. 可用参数 / known parameters: "
            f"{known}")
    return {n: convert_value(n, declared[n]["type"], v) for n, v in params.items()}


def parse_param_args(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["name=value", …]`` from the command line → a dict of strings (converted later by type)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"参数格式应为 name=value，收到 {item!r} / --param must be name=value, got {item!r}")
        out[name.strip()] = value
    return out


# ---------------------------------------------------------------- tables (used inside playbooks)

def save_table(name: str, df: Any) -> Path | None:
    """Save a DataFrame for the run's XLSX (one sheet named ``name``); a no-op outside ``reviewops run``.

    Written as JSON (no pickle) into ``$REVIEWOPS_RUN_DIR`` which the runner sets for the kernel.
    """
    run_dir = os.environ.get(RUN_DIR_ENV)
    if not run_dir:
        return None
    if not isinstance(name, str) or not _TABLE_NAME.match(name):
        raise ConfigError(f"表名无效 / bad table name {name!r}: 1–31 个字符，不含 []:*?/\\ / 1–31 characters "
                          f"without []:*?/\\")
    d = Path(run_dir) / _TABLES
    d.mkdir(parents=True, exist_ok=True)
    n = len(list(d.glob("*.json")))
    frame = df.reset_index() if getattr(df.index, "name", None) or len(getattr(df.index, "names", [])) > 1 else df
    payload = {"name": name, "columns": [str(c) for c in frame.columns],
               "data": json.loads(frame.to_json(orient="values", date_format="iso", force_ascii=False))}
    path = d / f"{n:04d}.json"
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return path


def publish_table(name: str, df: Any, output_dir: str | os.PathLike[str] | None = None) -> None:
    """What a playbook does with each of its tables: hand it to the run's XLSX (:func:`save_table`) and,
    given ``output_dir`` (the playbooks' parameter; empty = none), also write ``<name>.csv`` there
    (UTF-8 with BOM, formula-safe cells, written atomically)."""
    from .core.outputs import write_csv_atomic

    save_table(name, df)
    if output_dir:
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_csv_atomic(out / f"{name}.csv", [str(c) for c in df.columns], df.itertuples(index=False))


def parse_shop_ids(text: str | None) -> list[int] | None:
    """A playbook's ``shops`` parameter: ``"1,2"`` (ASCII or full-width commas) → ``[1, 2]``; empty → None (all).

    Anything but numeric ids raises :class:`ConfigError` naming the value."""
    items = [s.strip() for s in str(text or "").replace("，", ",").split(",") if s.strip()]
    if not all(s.isdigit() for s in items):
        raise ConfigError(f"店铺编号应为数字，逗号分隔，收到 {text!r} / shops must be numeric ids, comma-separated")
    return [int(s) for s in items] or None


def _load_tables(stage: Path) -> list[dict[str, Any]]:
    d = stage / _TABLES
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(d.glob("*.json"))] if d.is_dir() else []


def write_xlsx(path: Path, tables: list[dict[str, Any]]) -> None:
    """One sheet per table; text only ever through ``write_string`` and formula-escaped (S-01, S-02)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False})
    try:
        bold = wb.add_format({"bold": True})
        used: set[str] = set()
        if not tables:
            wb.add_worksheet("说明").write_string(0, 0, "此剧本没有保存表格 / this playbook saved no tables")
        for t in tables:
            sheet = t["name"][:31]
            i = 2
            while sheet.lower() in used:
                suffix = f"~{i}"
                sheet, i = t["name"][:31 - len(suffix)] + suffix, i + 1
            used.add(sheet.lower())
            ws = wb.add_worksheet(sheet)
            for c, col in enumerate(t["columns"]):
                ws.write_string(0, c, str(formula_safe(col)), bold)
            for r, row in enumerate(t["data"], start=1):
                for c, v in enumerate(row):
                    if v is None:
                        continue
                    if isinstance(v, bool):
                        ws.write_boolean(r, c, v)
                    elif isinstance(v, (int, float)) and math.isfinite(v):
                        ws.write_number(r, c, v)
                    else:
                        text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                        ws.write_string(r, c, str(formula_safe(text)))
    finally:
        wb.close()


# ---------------------------------------------------------------- HTML and PDF

def write_html(notebook: Path, path: Path, title: str | None = None) -> None:
    """The report without code cells or prompts, with a strict CSP meta tag (S-03)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title or notebook.stem}})
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    body, n = re.subn(r"<head([^>]*)>", lambda m: f"<head{m.group(1)}>\n{meta}", body, count=1)
    if not n:
        body = meta + body
    path.write_text(body, encoding="utf-8")


#: The PDF's paper (A4, mm), its margins (mm), and the tables' font size (CSS px) in print.
PDF_PAPER_MM = (210.0, 297.0)
PDF_MARGIN_MM = 10.0
PDF_TABLE_PX = 11.0
#: A cell longer than this (in em of the table font) wraps inside a column this wide; shorter cells never wrap.
PDF_WRAP_EM = 18.0
_CELL_PAD_PX = 2 * 6 + 1  # td/th padding left + right and a rule (see PRINT_CSS)
_MM_PX = 96 / 25.4
_RO_TABLE = re.compile(r'<table class="ro-table">(.*?)</table>', re.S)
_TH = re.compile(r"<th>(.*?)</th>", re.S)
_TR = re.compile(r"<tr>(.*?)</tr>", re.S)
_TD = re.compile(r"<td([^>]*)>(.*?)</td>", re.S)

PRINT_CSS = """<style>
@page { size: A4 %(orientation)s; margin: %(margin)gmm; }
@media print {
  html, body { background: #fff !important; }
  body, .jp-Notebook { padding: 0 !important; margin: 0 !important; }
  .jp-Cell { padding: 0 !important; }
  .jp-InputPrompt, .jp-OutputPrompt { display: none !important; }
  .jp-OutputArea-output, .jp-RenderedHTMLCommon, .jp-OutputArea-child { overflow: visible !important;
    padding-left: 0 !important; padding-right: 0 !important; }
  .jp-OutputArea-child, .jp-Cell, .jp-Cell-outputWrapper, .jp-OutputArea { break-inside: auto !important; }
  h1, h2, h3, h4 { break-after: avoid-page; }
  tr, img { break-inside: avoid-page; }
  thead { display: table-header-group; }
  img { max-width: 100%% !important; height: auto; }
  table.ro-table, .jp-RenderedHTMLCommon table.ro-table { font-size: %(font)gpx; margin: 0.3em 0 0.8em;
    table-layout: auto; width: auto; max-width: none; }
  table.ro-table th, table.ro-table td, .jp-RenderedHTMLCommon table.ro-table th,
  .jp-RenderedHTMLCommon table.ro-table td { padding: 3px 6px; white-space: nowrap; }
  table.ro-table td.ro-wrap, .jp-RenderedHTMLCommon table.ro-table td.ro-wrap { white-space: normal;
    overflow-wrap: anywhere; word-break: normal; }
  .ro-part { font-size: %(font)gpx; color: #546e7a; margin: 0.6em 0 0; }
  table:not(.ro-table) { max-width: 100%%; }
  table:not(.ro-table) td, table:not(.ro-table) th { white-space: normal; overflow-wrap: anywhere; }
}
</style>"""


def _text_em(text: str) -> float:
    """Estimated width of ``text`` in em: CJK and full-width characters 1 em, others (Latin, digits) ≤ 0.72 em."""
    import unicodedata

    width = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in ("W", "F"):
            width += 1.0
        elif ch == " ":
            width += 0.3
        elif ch.isupper() or ch in "%@&#WMmw—–":
            width += 0.85
        else:
            width += 0.62
    return width


def _parse_table(inner: str) -> tuple[list[str], list[list[tuple[str, str]]]] | None:
    """The header cells and body rows ((attributes, html) per cell) of one :func:`html_table` table."""
    head, sep, body = inner.partition("</thead>")
    if not sep:
        return None
    header = _TH.findall(head)
    rows = [_TD.findall(tr) for tr in _TR.findall(body)]
    if not header or any(len(r) != len(header) for r in rows):
        return None
    return header, rows


def _column_widths(header: list[str], rows: list[list[tuple[str, str]]]) -> list[tuple[float, bool]]:
    """(width in px, wraps) per column: the header never breaks; a cell longer than :data:`PDF_WRAP_EM` wraps."""
    import html as htmlmod

    out = []
    for i, h in enumerate(header):
        head = _text_em(htmlmod.unescape(h)) * 1.08  # bold
        cells = [_text_em(htmlmod.unescape(r[i][1])) for r in rows]
        wraps = any(c > PDF_WRAP_EM for c in cells)
        em = max([head] + [min(c, PDF_WRAP_EM) for c in cells])
        out.append((em * PDF_TABLE_PX + _CELL_PAD_PX + 2, wraps))
    return out


def _key_columns(header: list[str], rows: list[list[tuple[str, str]]], widths: list[tuple[float, bool]],
                 room: float) -> list[int]:
    """The columns repeated in every part of a split table: its leading text columns (at most two, at most a
    third of the width)."""
    keys: list[int] = []
    for i in range(min(2, len(header) - 1)):
        numeric = rows and all('ro-num' in r[i][0] for r in rows)
        if numeric or widths[i][1] or sum(widths[k][0] for k in keys) + widths[i][0] > room / 3:
            break
        keys.append(i)
    return keys or [0]


def _table_html(header: list[str], rows: list[list[tuple[str, str]]], cols: list[int],
                widths: list[tuple[float, bool]]) -> str:
    def th(i: int) -> str:
        return f'<th style="min-width:{widths[i][0] - _CELL_PAD_PX:.0f}px">{header[i]}</th>' if widths[i][1] else \
            f"<th>{header[i]}</th>"

    def td(i: int, cell: tuple[str, str]) -> str:
        attrs, text = cell
        if widths[i][1]:
            attrs = attrs.replace('class="', 'class="ro-wrap ') if 'class="' in attrs else attrs + ' class="ro-wrap"'
        return f"<td{attrs}>{text}</td>"

    head = "".join(th(i) for i in cols)
    body = "".join("<tr>" + "".join(td(i, r[i]) for i in cols) + "</tr>" for r in rows)
    return f'<table class="ro-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _print_table(header: list[str], rows: list[list[tuple[str, str]]], room: float) -> str:
    """One table for print: as it is when its columns fit in ``room`` px, else split into column groups
    that each repeat the key columns (labelled 第 k/n 部分)."""
    import html as htmlmod

    widths = _column_widths(header, rows)
    if sum(w for w, _ in widths) <= room:
        return _table_html(header, rows, list(range(len(header))), widths)
    keys = _key_columns(header, rows, widths, room)
    free = room - sum(widths[k][0] for k in keys)
    groups: list[list[int]] = [[]]
    used = 0.0
    for i in range(len(header)):
        if i in keys:
            continue
        if groups[-1] and used + widths[i][0] > free:
            groups.append([])
            used = 0.0
        groups[-1].append(i)
        used += widths[i][0]
    key_names = "、".join(htmlmod.unescape(header[k]) for k in keys)
    parts = []
    for n, g in enumerate(groups, start=1):
        label = (f"第 {n}/{len(groups)} 部分（表格较宽，分成 {len(groups)} 部分，每部分都重复「{key_names}」）"
                 if n == 1 else f"第 {n}/{len(groups)} 部分（续上表）")
        parts.append(f'<p class="ro-part">{htmlmod.escape(label)}</p>' + _table_html(header, rows, keys + g, widths))
    return "".join(parts)


def print_html(body: str) -> str:
    """The print copy of a report (what the PDF is printed from; the HTML report itself is unchanged).

    A4 paper; landscape when a report table (:func:`reviewops.core.outputs.html_table`) is wider than a
    portrait page, portrait otherwise. Headers never break and short cells never wrap (a shop name stays
    on one line); a cell longer than :data:`PDF_WRAP_EM` wraps inside its column. A table still wider than
    the page is split into column groups, each repeating the table's key columns (its leading text
    columns, e.g. 客服账号、客服姓名), so every column is on the page. Output areas print whole-width and
    may break across pages between table rows (no half-empty first page); table headers repeat on each page.
    """
    tables = []
    for m in _RO_TABLE.finditer(body):
        parsed = _parse_table(m.group(1))
        tables.append((m, parsed))
    width_mm = {"portrait": PDF_PAPER_MM[0], "landscape": PDF_PAPER_MM[1]}
    room = {k: (v - 2 * PDF_MARGIN_MM) * _MM_PX - 4 for k, v in width_mm.items()}
    widest = max((sum(w for w, _ in _column_widths(*p)) for _m, p in tables if p is not None), default=0.0)
    orientation = "landscape" if widest > room["portrait"] else "portrait"
    out, pos = [], 0
    for m, parsed in tables:
        out.append(body[pos:m.start()])
        out.append(m.group(0) if parsed is None else _print_table(*parsed, room[orientation]))
        pos = m.end()
    out.append(body[pos:])
    text = "".join(out)
    css = PRINT_CSS % {"orientation": orientation, "margin": PDF_MARGIN_MM, "font": PDF_TABLE_PX}
    text, n = re.subn(r"</head>", lambda _m: css + "\n</head>", text, count=1)
    return text if n else css + text


def write_pdf(html: Path, path: Path, chromium: str = CHROMIUM, timeout: float = 120) -> str | None:
    """Print the report with headless chromium from its print copy (:func:`print_html`); returns a note
    when it could not (chromium missing or failing)."""
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        return (f"未生成 PDF：找不到 {chromium}（apt-get install chromium）/ PDF skipped: {chromium} not found "
                f"(apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="reviewops-chromium-") as profile:
        printable = Path(profile) / "print" / html.name
        printable.parent.mkdir()
        printable.write_text(print_html(html.read_text(encoding="utf-8")), encoding="utf-8")
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               f"--user-data-dir={profile}", f"--print-to-pdf={path}", printable.resolve().as_uri()]
        env = dict(os.environ, XDG_CONFIG_HOME=profile, XDG_CACHE_HOME=profile)  # chromium's files stay in the temp
        try:
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout, check=False,
                           env=env)
        except subprocess.TimeoutExpired:
            pass
    if not path.is_file() or path.stat().st_size == 0:
        return "未生成 PDF：chromium 打印失败 / PDF skipped: chromium could not print the report"
    return None


# ---------------------------------------------------------------- the run

def _replace(src: Path, dst: Path) -> None:
    os.replace(src, dst)


def _publish(files: list[tuple[Path, Path]]) -> None:
    """Move staged files into place; on any failure remove those already moved (nothing half-done stays)."""
    done: list[Path] = []
    try:
        for src, dst in files:
            _replace(src, dst)
            done.append(dst)
    except BaseException:
        for dst in done:
            with contextlib.suppress(OSError):
                dst.unlink()
        raise


def _hide_db(values: dict[str, Any]) -> str | None:
    """Mask the ``db`` parameter in place when it holds a password or token; return the real URL for the
    kernel's environment (``None``: nothing to hide). The masked URL stands for ``$REVIEWOPS_DB``
    (:func:`reviewops.core.store.resolve_url`), so the playbook's ``Store.open(db)`` still connects."""
    real = values.get("db")
    if not isinstance(real, str) or not real:
        return None
    shown = mask_url(real)
    if shown == real:
        return None
    remember_url(real)
    values["db"] = shown
    return real


def scrub_notebook(path: Path, *, extra: list[str] | tuple[str, ...] = ()) -> None:
    """Rewrite a saved notebook with every secret masked (:func:`reviewops.core.redact.redact_obj`): the
    parameters cell, papermill's metadata, every output and traceback. Images are left as they are."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    clean = redact_obj(nb, extra=[v for v in extra if v])
    if clean != nb:
        tmp = path.with_name(path.name + ".scrub")
        tmp.write_text(json.dumps(clean, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def _scrub_text_file(path: Path) -> None:
    """A text file the notebook wrote (CSV, JSON, Markdown …) with every secret masked; other files as they are."""
    if path.suffix.lower() not in (".csv", ".txt", ".json", ".md", ".html", ".htm", ".tsv", ".log"):
        return
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return
    clean = redact_secrets(text)
    if clean != text:
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + clean.encode("utf-8"))


def _log_run(db: str, *, actor: str, playbook: str, outcome: str, detail: dict[str, Any]) -> None:
    from .core.store import Store
    from .core.users import log_access

    with Store.open(db) as store, store.write() as conn:
        log_access(conn, actor=actor, role=None, action="export", outcome=outcome, target=playbook, detail=detail)


def run_playbook(name_or_path: str | os.PathLike[str], params: dict[str, Any] | None = None, *,
                 db: str | None = None, out_dir: str | os.PathLike[str] | None = None,
                 formats: tuple[str, ...] | list[str] = FORMATS, pdf: bool = False,
                 progress: bool | None = None, actor: str | None = None,
                 chromium: str = CHROMIUM) -> RunResult:
    """Check the parameters, execute the playbook with papermill and write its reports into ``out_dir``."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    path = resolve_playbook(name_or_path)
    name = path.stem
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ConfigError(f"未知输出格式 / unknown output format {bad}; 可用 / known: {', '.join(FORMATS)}")
    values = check_parameters(path, dict(params or {}))
    declared = declared_parameters(path)
    if db is not None and "db" in declared:
        values["db"] = db
    kernel_db = _hide_db(values)  # the real URL reaches the kernel only through its environment (issue 15 §2)
    out = Path(out_dir) if out_dir is not None else Path.cwd() / "reports"
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=out))
    if "output_dir" in declared:
        values["output_dir"] = str(stage)
    shown = {k: v for k, v in values.items() if k not in ("db", "output_dir")}
    actor = actor or os_actor()
    started = dt.datetime.now(dt.UTC)
    notes: list[str] = []
    kernel_env = {RUN_DIR_ENV: str(stage)} | ({DB_ENV: kernel_db} if kernel_db is not None else {})
    try:
        executed = stage / f"{name}.ipynb"
        try:
            with patched_environ(kernel_env):  # the kernel inherits them; put back right after the run
                pm.execute_notebook(str(path), str(executed), parameters=values, kernel_name="python3",
                                    progress_bar=sys.stderr.isatty() if progress is None else progress,
                                    cwd=str(stage))
        except PapermillExecutionError as e:
            failed = out / f"{name}.failed.ipynb"
            kept: Path | None = None
            if executed.is_file():
                scrub_notebook(executed)
                _replace(executed, failed)
                kept = failed
            if db is not None:
                _log_run(db, actor=actor, playbook=name, outcome="failed",
                         detail={"params": shown, "cell_index": e.cell_index, "ename": e.ename})
            raise PlaybookFailed(name, e.cell_index, e.ename, redact_secrets(e.evalue), redact_secrets(e.source),
                                 kept) from None
        scrub_notebook(executed)  # before the HTML is made from it

        staged: dict[str, Path] = {"ipynb": executed}
        if "html" in formats or pdf:
            write_html(executed, stage / f"{name}.html", title=name)
            staged["html"] = stage / f"{name}.html"
        if pdf:
            note = write_pdf(staged["html"], stage / f"{name}.pdf", chromium=chromium)
            if note:
                notes.append(note)
            else:
                staged["pdf"] = stage / f"{name}.pdf"
        if "xlsx" in formats:
            write_xlsx(stage / f"{name}.xlsx", redact_obj(_load_tables(stage)))  # no secret in a cell (issue 15 §2)
            staged["xlsx"] = stage / f"{name}.xlsx"
        wanted = {k: v for k, v in staged.items() if k in formats or k == "pdf"}
        # files the notebook itself wrote into output_dir travel with the report
        ours = {p.name for p in staged.values()}
        extras = {p.name: p for p in stage.iterdir() if p.is_file() and p.name not in ours
                  and not p.name.startswith(".")}
        for p in extras.values():
            _scrub_text_file(p)
        finished = dt.datetime.now(dt.UTC)
        outputs = {k: out / v.name for k, v in wanted.items()}
        outputs.update({f"file:{n}": out / n for n in extras})
        if "json" in formats:
            summary = {"playbook": name, "source": str(path), "params": shown,
                       "started": started.isoformat(), "finished": finished.isoformat(),
                       "duration_s": round((finished - started).total_seconds(), 3),
                       "outputs": {k: str(v) for k, v in outputs.items()}, "notes": notes}
            js = stage / f"{name}.json"
            summary = redact_obj(json.loads(json.dumps(summary, default=str)))
            js.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
            wanted["json"] = js
            outputs["json"] = out / js.name
        moves = [(p, out / p.name) for k, p in wanted.items() if k != "json"]
        moves += [(p, out / n) for n, p in extras.items()]
        if "json" in wanted:  # the summary last: its presence marks a complete run
            moves.append((wanted["json"], out / wanted["json"].name))
        hashes = {dst.name: file_sha256(src) for src, dst in moves} if db is not None else {}
        _publish(moves)
        if db is not None:
            _log_run(db, actor=actor, playbook=name, outcome="ok",
                     detail={"params": shown, "outputs": sorted(hashes), "sha256": hashes})
        return RunResult(playbook=name, params=shown, outputs=outputs, started=started, finished=finished,
                         notes=notes)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
