"""Read an export file's bytes into raw tables of strings.

The file type is sniffed from the bytes, never the extension (exports.md §1):
``PK\\x03\\x04`` with ``xl/workbook.xml`` is XLSX, another ZIP is an archive of
exports (every member is read), ``D0 CF 11 E0`` is an old binary XLS, and text
is either an HTML table saved as ".xls" or CSV/TSV.

Text is decoded by a fixed cascade (reliability.md §4, I-01): BOM → strict
UTF-8 → strict GB18030 → UTF-16 without BOM → refuse. Guessing libraries are not
used: they misread short GBK files as Korean. The layout match that follows is
the final arbiter of a decoding.

Every cell comes back as ``str`` (or ``None`` for an empty cell); numbers from
spreadsheets are rendered so that an Excel-mangled long ID stays recognisable
(``2.84123456789012e+18``) and is rejected later, never silently "fixed".
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from ..core.errors import UnsupportedFile
from .layouts import all_header_aliases, norm_header

MAX_FILE_BYTES = 1 << 30  # 1 GiB
MAX_ZIP_MEMBERS = 200
MAX_ZIP_TOTAL = 4 << 30
MAX_ZIP_RATIO = 200
MAX_COLUMNS = 2000
csv.field_size_limit(16 * 1024 * 1024)


@dataclass
class RawTable:
    """One table read from a file: every row as strings, row numbers as Excel shows them (1-based)."""

    source: str
    member: str | None
    file_type: str
    encoding: str | None
    rows: list[list[str | None]]
    problems: list[tuple[int | None, str, str]] = field(default_factory=list)  # (row, zh, en)

    @property
    def label(self) -> str:
        return f"{self.source}[{self.member}]" if self.member else self.source


def sniff_type(data: bytes) -> str:
    """'xlsx' | 'zip' | 'xls' | 'text' from magic bytes."""
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
            raise UnsupportedFile(
                f"文件已损坏：看起来是 ZIP/XLSX 但无法打开（{e}）。请重新导出。 / "
                f"The file looks like ZIP/XLSX but is damaged ({e}); export it again."
            ) from None
        return "xlsx" if "xl/workbook.xml" in names or "[Content_Types].xml" in names and any(
            n.startswith("xl/") for n in names) else "zip"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xls"
    return "text"


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode by the fixed cascade; returns (text, encoding name)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(data[3:], "utf-8", "utf-8-sig"), "utf-8-sig"
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        enc = "utf-16-le" if data.startswith(b"\xff\xfe") else "utf-16-be"
        return _strict(data[2:], enc, "utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" not in data[:4096]:
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            pass
    else:
        # UTF-16 without a BOM: every other byte of ASCII text is NUL
        head = data[:4096]
        enc = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            pass
    raise UnsupportedFile(
        "无法识别文件编码：既不是 UTF-8 也不是 GBK/GB18030 或 UTF-16。请在 Excel 中另存为“CSV UTF-8”后重试。 / "
        "Cannot decode the file: it is neither UTF-8, GBK/GB18030 nor UTF-16. "
        "Save it from Excel as 'CSV UTF-8' and try again."
    )


def _strict(data: bytes, codec: str, label: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as e:
        raise UnsupportedFile(
            f"文件声明为 {label} 编码（有 BOM），但第 {e.start} 字节无法解码；文件可能已损坏，请重新导出。 / "
            f"The file says it is {label} (BOM) but byte {e.start} cannot be decoded; it may be damaged, export it again."
        ) from None


DELIMITERS = (",", "\t", ";", "|")
SNIFF_ROWS = 50  # rows looked at to choose the delimiter: the importer finds the header among the first 50 rows
SNIFF_CHARS = 65536


def _sniff_rows(lines: list[str], delim: str) -> list[list[str]]:
    """The sample lines split by ``delim``; a quote left open at the end of the sample keeps the rows before it."""
    rows: list[list[str]] = []
    reader = csv.reader(lines, delimiter=delim)
    while len(rows) < SNIFF_ROWS:
        try:
            rows.append(next(reader))
        except StopIteration:
            break
        except csv.Error:
            break
    return rows


def _header_hits(rows: list[list[str]], known: set[str]) -> int:
    """Known header names in the best row: how well this split of the text reads as a known layout's header."""
    best = 0
    for row in rows:
        best = max(best, len({n for n in (norm_header(c) for c in row if len(c) <= 80) if n in known}))
    return best


def _shape_score(rows: list[list[str]]) -> float:
    """Wide and regular: the widest row's width, weighed by the share of rows that wide (1 column scores 0)."""
    lengths = [len(r) for r in rows if any(c.strip() for c in r)]
    if not lengths:
        return -1.0
    widest = max(lengths)
    share = sum(1 for n in lengths if n == widest) / len(lengths)
    return (widest if widest > 1 else 0) * (0.5 + share)


def _tabs_are_padding(split: dict[str, list[list[str]]]) -> bool:
    """True when the text's tabs only pad cells (PDD, Douyin, ERP tools: ``,\t123,``, ``abc\t,``).

    Split by commas (or by ``;``/``|`` into several columns), every tab then sits at the start or the
    end of a cell, never between two values. A real TSV keeps tabs between its values under any other
    split (its header has two columns at least).
    """
    if not any("\t" in c for r in split[","] for c in r):
        return False
    for d in (",", ";", "|"):
        rows = split[d]
        if not any("\t" in c.strip() for r in rows for c in r) and (d == "," or any(len(r) > 1 for r in rows)):
            return True
    return False


def pick_delimiter(text: str, known: set[str] | None = None) -> str:
    """The delimiter of a CSV/TSV text, chosen consistently with its header row.

    1. The delimiter whose split of a row among the first 50 gives the most known header names (``known``:
       normalised header aliases, by default every built-in layout's) wins when that is at least two names:
       the layout match decides, as it does for the encoding.
    2. Otherwise (headers no layout knows, a one-column file) the widest regular split wins, except that tabs
       which only pad comma-separated cells never count as the delimiter.
    Ties go to the order ``,`` ``\t`` ``;`` ``|``.
    """
    if known is None:
        known = all_header_aliases()
    lines = text[:SNIFF_CHARS].splitlines()[:SNIFF_ROWS]
    split = {d: _sniff_rows(lines, d) for d in DELIMITERS}
    candidates = list(DELIMITERS)
    if _tabs_are_padding(split):
        candidates.remove("\t")
    hits = {d: _header_hits(split[d], known) for d in candidates}
    most = max(hits.values())
    if most >= 2:
        candidates = [d for d in candidates if hits[d] == most]
    return max(candidates, key=lambda d: (_shape_score(split[d]), -DELIMITERS.index(d)))


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their ends, split where ``io.StringIO(text, newline="")`` splits them (at
    ``\\r\\n``, ``\\r`` and ``\\n`` only), without the stream's own copy of the whole text (memory)."""
    return (m.group() for m in _LINE.finditer(text))


def read_csv_text(text: str, source: str, member: str | None, encoding: str,
                  known: set[str] | None = None) -> RawTable:
    delim = pick_delimiter(text, known)
    ftype = "tsv" if delim == "\t" else "csv"
    table = RawTable(source, member, ftype, encoding, [])
    reader = csv.reader(_lines(text), delimiter=delim, strict=True)
    rows = table.rows
    try:
        rows.extend(reader)  # type: ignore[arg-type]  # rows read before a csv.Error are kept, as one by one
    except csv.Error as e:
        table.problems.append((len(rows) + 1, f"CSV 格式错误（引号不配对或字段过长）：{e}",
                               f"malformed CSV (unbalanced quote or oversized field): {e}"))
    return table


class _HTMLTables(HTMLParser):
    """Collect the rows of every <table> in an HTML page (the fake '.xls' exports)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._depth += 1
            self.tables.append([])
        elif tag == "tr" and self._depth:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self.tables:
                self.tables[-1].append(self._row)
            self._row = None
        elif tag == "table" and self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _cell_text(v: object) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if v != v:
            return None
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return format(v, ".15g")
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, dt.time):
        return v.strftime("%H:%M:%S")
    if isinstance(v, dt.timedelta):
        return str(v)
    return str(v)


def read_workbook(data: bytes, source: str, ftype: str) -> list[RawTable]:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        out = []
        for name in wb.sheet_names:
            sheet = wb.get_sheet_by_name(name)
            rows = [[_cell_text(c) for c in r] for r in sheet.to_python(skip_empty_area=False)]
            out.append(RawTable(source, name, ftype, None, rows))
        return out
    except Exception as e:  # noqa: BLE001 - calamine raises several private types; all mean "damaged"
        raise UnsupportedFile(
            f"无法读取 {ftype.upper()} 工作簿（文件损坏或加密）：{type(e).__name__}: {str(e)[:200]}。请重新导出。 / "
            f"Cannot read the {ftype.upper()} workbook (damaged or encrypted): {type(e).__name__}; export it again."
        ) from None


def _zip_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437", errors="replace")
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return info.filename


def read_zip(data: bytes, source: str, known: set[str] | None = None) -> list[RawTable]:
    out: list[RawTable] = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir() and "__MACOSX" not in i.filename]
        if len(infos) > MAX_ZIP_MEMBERS:
            raise UnsupportedFile(
                f"压缩包内文件过多（{len(infos)} 个，上限 {MAX_ZIP_MEMBERS}）。 / "
                f"Too many files in the archive ({len(infos)}; limit {MAX_ZIP_MEMBERS})."
            )
        total = sum(i.file_size for i in infos)
        packed = max(sum(i.compress_size for i in infos), 1)
        if total > MAX_ZIP_TOTAL or total / packed > MAX_ZIP_RATIO:
            raise UnsupportedFile(
                f"压缩包解压后过大（{total} 字节，压缩比 {total // packed}:1），疑似压缩炸弹，已拒绝。 / "
                f"The archive expands to {total} bytes (ratio {total // packed}:1); refused as a possible zip bomb."
            )
        for info in infos:
            if info.flag_bits & 0x1:
                raise UnsupportedFile(
                    f"压缩包内文件 {_zip_name(info)} 有密码，无法读取；请解压后导入。 / "
                    f"{_zip_name(info)} in the archive is password-protected; extract it and import the file."
                )
            name = _zip_name(info)
            try:
                member_data = zf.read(info)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
                raise UnsupportedFile(
                    f"压缩包内文件 {name} 已损坏（{e}）。 / {name} in the archive is damaged ({e})."
                ) from None
            for t in read_bytes(member_data, source, known=known, _nested=True):
                t.member = name if t.member is None else f"{name}:{t.member}"
                out.append(t)
    return out


def read_bytes(data: bytes, source: str, *, known: set[str] | None = None, _nested: bool = False) -> list[RawTable]:
    """Every table in ``data`` (one for CSV, one per sheet, one per archive member).

    ``known``: the normalised header names the CSV delimiter is chosen by (:func:`pick_delimiter`).
    """
    return _read_owned([data], source, known=known, _nested=_nested)


_BLANK = re.compile(rb"[ \t\n\r\x0b\x0c]*")  # what bytes.strip() removes


def _read_owned(holder: list[bytes], source: str, *, known: set[str] | None, _nested: bool = False) -> list[RawTable]:
    """:func:`read_bytes` of ``holder[0]``; a text file's bytes are let go (``holder`` emptied) once decoded, so
    that a large CSV is not held twice (bytes and text) while its rows are parsed."""
    data = holder[0]
    if len(data) > MAX_FILE_BYTES:
        raise UnsupportedFile(
            f"文件过大（{len(data)} 字节，上限 {MAX_FILE_BYTES}）；请按时间分批导出。 / "
            f"File too large ({len(data)} bytes; limit {MAX_FILE_BYTES}); export it in smaller date ranges."
        )
    if _BLANK.fullmatch(data):  # (data.strip() would copy the whole file)
        raise UnsupportedFile("文件为空 / the file is empty")
    kind = sniff_type(data)
    if kind == "xlsx":
        return read_workbook(data, source, "xlsx")
    if kind == "xls":
        return read_workbook(data, source, "xls")
    if kind == "zip":
        if _nested:
            raise UnsupportedFile("不支持压缩包里再套压缩包 / nested archives are not supported; extract them first")
        return read_zip(data, source, known)
    text, enc = decode_text(data)
    holder.clear()
    del data
    head = text[:4096].lstrip().lower()
    if head.startswith(("<!doctype html", "<html")) and "<table" not in text[:200000].lower():
        raise UnsupportedFile("HTML 文件中没有表格（可能是登录页或错误页）/ the HTML file holds no table "
                              "(a login or error page saved instead of the export?)")
    if head.startswith("<") and ("<table" in text[:200000].lower()):
        parser = _HTMLTables()
        parser.feed(text)
        tables = [t for t in parser.tables if t]
        if not tables:
            raise UnsupportedFile("HTML 文件中没有表格 / the HTML file holds no table")
        return [RawTable(source, None if len(tables) == 1 else f"table{i + 1}", "html", enc, t)
                for i, t in enumerate(tables)]
    chat = read_chat_text(text, source, enc)
    if chat is not None:
        return [chat]
    return [read_csv_text(text, source, None, enc, known)]


# 千牛 chat-record page copied as text (exports.md §2.1.6): a header line "名字 2026-3-5 14:22:08"
# (sometimes without the space, or "[名字] 2026-03-05 14:22:08", or "发送者 --> 接收者 时间"),
# then the message lines until the next header.
_CHAT_HEADER = re.compile(
    r"^\[?(?P<name>[^\[\]\r\n]{1,60}?)\]?(?:\s*-->\s*(?P<to>[^\r\n]{1,60}?))?\s*"
    r"(?P<time>\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}:\d{2})\s*$"
)
_CHAT_SYSTEM = re.compile(r"^(当前用户来自|由 ?.{0,20}转交给|.{0,40}撤回了一条消息$|已读$|未读$|发送中$)")
CHAT_TEXT_HEADER = ["客户名", "消息序号", "发送时间", "发送内容", "发送账号", "账号类型"]


def read_chat_text(text: str, source: str, encoding: str) -> RawTable | None:
    """A 千牛 chat record copied from the query page, as a table in the chat-userscript layout.

    Returns ``None`` when the text is not in that shape. The buyer is the sender whose
    name has no ``店铺:子账号`` colon; sub-accounts (``禾木优选旗舰店:小王``) are agents.
    """
    lines = text.splitlines()
    heads = [i for i, line in enumerate(lines[:400]) if _CHAT_HEADER.match(line.strip())]
    if len(heads) < 2 or any("," in lines[i] or "\t" in lines[i] for i in heads[:5]):
        return None
    messages: list[list[str | None]] = []
    current: list[str | None] | None = None
    body: list[str] = []
    for raw in lines:
        line = raw.strip()
        m = _CHAT_HEADER.match(line)
        if m:
            if current is not None:
                current[3] = "\n".join(body).strip() or None
                messages.append(current)
            name = m.group("name").strip()
            role = "客服" if (":" in name or "：" in name) else "买家"
            current = [None, None, m.group("time"), None, name, role]
            body = []
        elif current is not None and line and not _CHAT_SYSTEM.match(line):
            body.append(line)
    if current is not None:
        current[3] = "\n".join(body).strip() or None
        messages.append(current)
    buyers = [m[4] for m in messages if m[5] == "买家"]
    buyer = max(set(buyers), key=buyers.count) if buyers else None
    rows: list[list[str | None]] = [list(CHAT_TEXT_HEADER)]
    for seq, m in enumerate(messages, start=1):
        if m[3] is None:
            continue
        m[0] = buyer
        m[1] = str(seq)
        rows.append(m)
    return RawTable(source, None, "chat-text", encoding, rows)


def read_path(path: Path, known: set[str] | None = None) -> list[RawTable]:
    """Read a file from disk; errors name the file and say what to do. ``known``: see :func:`read_bytes`."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnsupportedFile(
                f"{path.name}: 文件过大（{size} 字节，上限 {MAX_FILE_BYTES}）；请按时间分批导出。 / "
                f"file too large ({size} bytes; limit {MAX_FILE_BYTES}); export smaller date ranges."
            )
        holder = [path.read_bytes()]
    except FileNotFoundError:
        raise UnsupportedFile(f"找不到文件 file not found: {path}") from None
    except IsADirectoryError:
        raise UnsupportedFile(f"这是一个文件夹，不是文件 / {path} is a folder; give the export files inside it") from None
    except PermissionError:
        raise UnsupportedFile(f"没有权限读取 no permission to read: {path}") from None
    try:
        return _read_owned(holder, path.name, known=known)
    except UnsupportedFile as e:
        raise UnsupportedFile(f"{path.name}: {e}") from None
