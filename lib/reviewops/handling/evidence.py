"""The evidence chain (issue 17 §2, SPEC E4 and P5).

Files that prove what happened — chat exports, screenshots, photos and unboxing videos, call
recordings, logistics proof, QC reports — are attached to a case, an order or a shop.

* **Storage.** The bytes are stored content-addressed in the *evidence folder*, at
  ``<root>/<sha[:2]>/<sha256>``, written atomically (temporary file, fsync, rename) and deduplicated:
  the same bytes are stored once however often they are attached. The database holds metadata only
  (``evidence_files``: hash, size, sniffed type; ``evidence_links``: what the file is evidence of, the
  kind, the uploader's file name *as text*, a note). The folder is, in this order:
  ``$REVIEWOPS_EVIDENCE_DIR``; the store's setting ``evidence_dir`` (:func:`set_evidence_root`); by default
  the folder ``evidence/`` beside the SQLite database file, or, for PostgreSQL, ``evidence/<host>_<port>_<db>``
  in the user data directory. Keep it outside any folder a web server serves (reliability.md §2.6).
* **Types.** The type is sniffed from the bytes (magic numbers), never taken from the name or the browser;
  each type has a size limit (:data:`SIZE_LIMITS`). Accepted: JPEG, PNG, GIF, WebP, PDF, MP4/MOV, MP3, M4A,
  WAV, AMR, ZIP, XLSX and plain UTF-8 text/CSV.
* **Refusals.** Hostile or unusable uploads raise :class:`EvidenceRefused` (Chinese and English message, a
  ``code``), store nothing — no row, no file — and are written to the access log (action ``evidence_add``,
  outcome ``denied``): an empty file, a file over its type's limit, a type the kit does not accept, a name
  extension or declared (browser) type that does not match the bytes, a ZIP with traversal/absolute/drive
  names or links, too many members or a compression-bomb ratio, a PDF naming script or launch actions,
  and **every** HTML, SVG or XML document
  (and binary files carrying markup in their first kilobyte): markup is never stored, so it can never be
  rendered live. A screenshot or PDF of the page is the evidence to keep instead.
* **Custody.** ``evidence_custody`` is append-only (database triggers): ``added``, ``viewed``,
  ``exported``, ``verified``, by whom, when. :func:`verify_evidence` recomputes every hash and names each
  file that is missing or altered (and each linked chat message changed in the database since).
* **Chat messages.** :func:`link_chat_messages` links the case buyer's imported chat messages as evidence,
  one link per message, each stored as a canonical JSON serialisation with its own SHA-256.
* **Access.** Any user who may see the case's shop may attach evidence and list it (metadata only, free
  text masked). Only the roles of the policy's ``evidence_roles`` setting (default :data:`EVIDENCE_ROLES`,
  :func:`evidence_roles`; the store's current policy) read the content (previews, downloads) and see the
  file names and notes unmasked.
  A plain string actor (``cli:<os user>``, a playbook) is the local operator: it may add, list (masked) and
  verify, never read content; a signed-in :class:`~reviewops.core.users.Actor` is re-read from the store
  before every call.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import secrets
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.errors import (
    AccessDenied,
    ConfigError,
    NotFound,
    ReviewOpsError,
    StoreError,
)
from ..core.privacy import mask_text
from ..core.store import (
    cases,
    chat_messages,
    evidence_custody,
    evidence_files,
    evidence_links,
    reviews,
    settings,
    shops,
    utcnow,
)
from ..core.users import Actor, current_actor, log_access, log_denied

if TYPE_CHECKING:
    from ..core.store import Store

__all__ = [
    "ENV_EVIDENCE_DIR", "EVIDENCE_ROLES", "KINDS", "KIND_ZH", "SIZE_LIMITS", "EvidenceContent", "EvidenceRefused",
    "VerifyReport", "add_evidence", "add_evidence_path", "check_upload", "custody_log", "evidence_roles",
    "evidence_root", "export_evidence", "guess_kind", "link_chat_messages", "list_evidence", "may_view",
    "read_evidence", "set_evidence_root", "sniff", "verify_evidence",
]

ENV_EVIDENCE_DIR = "REVIEWOPS_EVIDENCE_DIR"
SETTING_EVIDENCE_DIR = "evidence_dir"

#: Roles that see evidence content and unmasked names/notes: the default of the policy setting ``evidence_roles``
#: (:func:`evidence_roles`), which the checks read.
EVIDENCE_ROLES = ("legal", "supervisor", "admin")

KINDS = ("chat_export", "screenshot", "photo", "video", "recording", "logistics", "qc_report", "chat_message", "other")
KIND_ZH = {"chat_export": "聊天记录导出", "screenshot": "截图", "photo": "照片", "video": "视频",
           "recording": "通话录音", "logistics": "物流凭证", "qc_report": "质检报告", "chat_message": "聊天消息",
           "other": "其他"}

MIB = 1024 * 1024
JPEG, PNG, GIF, WEBP = "image/jpeg", "image/png", "image/gif", "image/webp"
PDF = "application/pdf"
MP4, MOV = "video/mp4", "video/quicktime"
MP3, M4A, WAV, AMR = "audio/mpeg", "audio/mp4", "audio/wav", "audio/amr"
ZIP = "application/zip"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEXT, CSV, JSON_MIME = "text/plain", "text/csv", "application/json"

#: mime → family (the unit of the size limits and of the declared-type check)
FAMILY = {JPEG: "image", PNG: "image", GIF: "image", WEBP: "image", PDF: "pdf", MP4: "video", MOV: "video",
          MP3: "audio", M4A: "audio", WAV: "audio", AMR: "audio", ZIP: "zip", XLSX: "xlsx", TEXT: "text",
          CSV: "text", JSON_MIME: "text"}
FAMILY_ZH = {"image": "图片", "pdf": "PDF", "video": "视频", "audio": "音频", "zip": "ZIP 压缩包", "xlsx": "Excel 表格",
             "text": "文本"}

#: Size limit per type family, in bytes.
SIZE_LIMITS = {"image": 20 * MIB, "pdf": 50 * MIB, "video": 300 * MIB, "audio": 100 * MIB, "zip": 200 * MIB,
               "xlsx": 50 * MIB, "text": 20 * MIB}
MAX_BYTES = max(SIZE_LIMITS.values())

#: ZIP limits (members are never extracted by ReviewOps; these protect whoever opens the archive later)
ZIP_MAX_MEMBERS = 5000
ZIP_MAX_UNCOMPRESSED = 1024 * MIB
ZIP_MAX_RATIO = 100  # total uncompressed / compressed, checked once the archive unpacks to more than ZIP_RATIO_FLOOR
ZIP_RATIO_FLOOR = 10 * MIB
ZIP_MEMBER_MAX_RATIO = 200  # per member larger than 1 MiB

#: name extension → the sniffed types it may carry
EXTENSIONS: dict[str, tuple[str, ...]] = {
    ".jpg": (JPEG,), ".jpeg": (JPEG,), ".jfif": (JPEG,), ".jpe": (JPEG,), ".png": (PNG,), ".gif": (GIF,),
    ".webp": (WEBP,), ".pdf": (PDF,), ".mp4": (MP4, MOV), ".m4v": (MP4, MOV), ".mov": (MOV, MP4),
    ".mp3": (MP3,), ".m4a": (M4A, MP4), ".wav": (WAV,), ".amr": (AMR,), ".zip": (ZIP,), ".xlsx": (XLSX,),
    ".txt": (TEXT,), ".csv": (CSV, TEXT), ".log": (TEXT,), ".json": (TEXT, JSON_MIME), ".md": (TEXT,),
}
MARKUP_EXTENSIONS = frozenset({".html", ".htm", ".xhtml", ".shtml", ".svg", ".svgz", ".xml", ".js", ".mht", ".mhtml",
                               ".hta", ".xsl", ".xslt"})
MARKUP_TYPES = frozenset({"text/html", "image/svg+xml", "application/xml", "text/xml", "application/xhtml+xml",
                          "application/javascript", "text/javascript", "application/ecmascript", "message/rfc822"})
#: browser-declared type → family (types not listed here say nothing and are ignored)
DECLARED = {
    "image/jpeg": "image", "image/jpg": "image", "image/pjpeg": "image", "image/png": "image", "image/gif": "image",
    "image/webp": "image", "application/pdf": "pdf", "video/mp4": "video", "video/quicktime": "video",
    "video/x-m4v": "video", "audio/mpeg": "audio", "audio/mp3": "audio", "audio/mp4": "audio", "audio/x-m4a": "audio",
    "audio/m4a": "audio", "audio/wav": "audio", "audio/x-wav": "audio", "audio/wave": "audio", "audio/amr": "audio",
    "application/zip": "zip", "application/x-zip-compressed": "zip", "application/x-zip": "zip",
    XLSX: "xlsx", "text/plain": "text", "text/csv": "text", "application/json": "text",
}

_MARKUP_START = re.compile(rb"^\s*<(?:!doctype|html|head|body|svg|\?xml|script|iframe|object|embed|meta|xsl|math)\b",
                           re.IGNORECASE)
_MARKUP_ANYWHERE = re.compile(rb"<\s*(?:script|svg|iframe|object|embed|html)\b|javascript\s*:", re.IGNORECASE)
_PDF_ACTIVE = re.compile(rb"/(?:JavaScript|JS|Launch|RichMedia|XFA)(?![A-Za-z0-9])")
_PDF_HEX_NAME = re.compile(rb"#([0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_SHA = re.compile(r"^[0-9a-f]{64}$")


# ----------------------------------------------------------------------- errors
class EvidenceRefused(ReviewOpsError):
    """An upload that cannot be evidence (hostile, empty, too large, of another type than it claims).

    Nothing was stored; the refusal is in the access log. ``code`` names the rule: ``empty``,
    ``oversize``, ``unsupported``, ``mismatch``, ``markup``, ``active_content`` (PDF with script),
    ``zip_traversal``, ``zip_bomb``, ``zip_invalid``.
    """

    def __init__(self, code: str, zh: str, en: str):
        super().__init__(f"{zh}\n{en}")
        self.code, self.zh, self.en = code, zh, en

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "code": self.code, "message": str(self)}


def _mib(n: int) -> str:
    return f"{n / MIB:.0f} MB" if n >= MIB else f"{n} B"


# ---------------------------------------------------------------------- sniffing
def sniff(data: bytes) -> str | None:
    """The type of ``data`` from its magic numbers (text: strict UTF-8 without control characters), or None."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"%PDF-"):
        return PDF
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B ", b"M4P "):
            return M4A
        return MOV if brand == b"qt  " else MP4
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide"):
        return MOV
    if head.startswith(b"#!AMR"):
        return AMR
    if head.startswith(b"ID3") or (len(head) >= 3 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0
                                   and (head[1] >> 1) & 3 != 0 and (head[1] >> 3) & 3 != 1 and (head[2] >> 4) != 15):
        return MP3
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return ZIP  # XLSX is told apart in check_upload, after the archive checks
    if len(data) > SIZE_LIMITS["text"]:
        return None  # too large to be read as text here; check_upload reports it
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if _CONTROL.search(text):
        return None
    return TEXT


def _suffix(name: str) -> str:
    base = re.split(r"[\\/]", name)[-1]
    dot = base.rfind(".")
    if dot <= 0:
        return ""
    ext = base[dot:].lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,6}", ext) else ""


def clean_name(name: Any) -> str:
    """The uploader's file name as it is kept: text only (NFC, no control characters, at most 200 characters);
    it is never used as a path."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = _CONTROL.sub("", text).replace("\r", "").replace("\n", " ").strip()
    return text[:200]


def _check_zip(data: bytes) -> str:
    """ZIP or XLSX after the archive checks (names, member count, sizes, ratios); raises EvidenceRefused."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise EvidenceRefused("zip_invalid", "ZIP 压缩包已损坏或无法读取；请重新打包后上传",
                              "the ZIP archive is damaged or unreadable; pack it again and upload") from None
    if len(infos) > ZIP_MAX_MEMBERS:
        raise EvidenceRefused("zip_bomb", f"ZIP 压缩包内文件过多（{len(infos)} 个，上限 {ZIP_MAX_MEMBERS}）",
                              f"the ZIP holds too many members ({len(infos)}, limit {ZIP_MAX_MEMBERS})")
    total = packed = 0
    names: set[str] = set()
    for info in infos:
        name = info.filename
        parts = re.split(r"[\\/]", name)
        mode = (info.external_attr >> 16) & 0o170000
        bad = (name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts or "\x00" in name
               or _CONTROL.search(name) or ":" in name or mode == stat.S_IFLNK)
        if bad:
            shown = _CONTROL.sub("?", name)[:120]
            raise EvidenceRefused(
                "zip_traversal", f"ZIP 压缩包中有不安全的路径或链接：{shown!r}（../、绝对路径、盘符或符号链接）；已拒收",
                f"the ZIP holds an unsafe member name or link: {shown!r} (../, absolute path, drive or symlink); refused")
        key = name.lower()
        if key in names:
            raise EvidenceRefused("zip_traversal", f"ZIP 压缩包中有重名文件：{name[:120]!r}",
                                  f"the ZIP holds the same member name twice: {name[:120]!r}")
        names.add(key)
        total += info.file_size
        packed += info.compress_size
        if info.file_size > MIB and info.file_size > ZIP_MEMBER_MAX_RATIO * max(info.compress_size, 1):
            raise EvidenceRefused(
                "zip_bomb", f"ZIP 压缩包疑似压缩炸弹：成员 {name[:80]!r} 解压后 {_mib(info.file_size)}，"
                            f"压缩比超过 {ZIP_MEMBER_MAX_RATIO}:1",
                f"the ZIP looks like a compression bomb: member {name[:80]!r} unpacks to {_mib(info.file_size)}, "
                f"a ratio above {ZIP_MEMBER_MAX_RATIO}:1")
    if total > ZIP_MAX_UNCOMPRESSED or (total > ZIP_RATIO_FLOOR and total > ZIP_MAX_RATIO * max(packed, 1)):
        raise EvidenceRefused(
            "zip_bomb", f"ZIP 压缩包疑似压缩炸弹：解压后共 {_mib(total)}（上限 {_mib(ZIP_MAX_UNCOMPRESSED)}，"
                        f"压缩比上限 {ZIP_MAX_RATIO}:1）",
            f"the ZIP looks like a compression bomb: it unpacks to {_mib(total)} (limit {_mib(ZIP_MAX_UNCOMPRESSED)}, "
            f"ratio limit {ZIP_MAX_RATIO}:1)")
    if "[content_types].xml" in names and any(n.startswith("xl/") for n in names):
        return XLSX
    return ZIP


def check_upload(data: bytes, original_name: str = "", declared_type: str | None = None) -> str:
    """The sniffed type of an upload, or :class:`EvidenceRefused` (nothing is written here)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ConfigError(f"证据内容应为字节，收到 {type(data).__name__} / evidence data must be bytes")
    data = bytes(data)
    name = clean_name(original_name)
    size = len(data)
    if size == 0 or not data.strip():
        raise EvidenceRefused("empty", f"文件 {name!r} 是空的（{size} 字节）；请选择有内容的文件",
                              f"the file {name!r} is empty ({size} bytes); choose a file with content")
    ext = _suffix(name)
    declared = (declared_type or "").split(";")[0].strip().lower()
    if ext in MARKUP_EXTENSIONS or declared in MARKUP_TYPES:
        raise EvidenceRefused(
            "markup", f"不接收网页/SVG/XML 文件（{name!r}）：其中的脚本可能被执行；请改交截图或 PDF",
            f"HTML/SVG/XML files are not accepted ({name!r}): their scripts could run; upload a screenshot or a PDF")
    if size > MAX_BYTES:
        raise EvidenceRefused("oversize", f"文件 {name!r} 过大（{_mib(size)}），任何证据类型的上限是 {_mib(MAX_BYTES)}",
                              f"the file {name!r} is too large ({_mib(size)}); no evidence type allows more than "
                              f"{_mib(MAX_BYTES)}")
    mime = sniff(data)
    if mime is None:
        if size > SIZE_LIMITS["text"] and not _CONTROL.search(data[:4096].decode("utf-8", "ignore")):
            raise EvidenceRefused("oversize", f"文本文件 {name!r} 过大（{_mib(size)}，上限 {_mib(SIZE_LIMITS['text'])}）",
                                  f"the text file {name!r} is too large ({_mib(size)}, limit "
                                  f"{_mib(SIZE_LIMITS['text'])})")
        raise EvidenceRefused(
            "unsupported", f"无法识别 {name!r} 的文件类型；可接收：JPEG/PNG/GIF/WebP 图片、PDF、MP4/MOV 视频、"
                           f"MP3/M4A/WAV/AMR 音频、ZIP、XLSX、UTF-8 文本/CSV",
            f"the type of {name!r} is not one the kit accepts: JPEG/PNG/GIF/WebP, PDF, MP4/MOV, MP3/M4A/WAV/AMR, ZIP, "
            f"XLSX, UTF-8 text/CSV")
    family = FAMILY[mime]
    if family == "text":
        if _MARKUP_START.search(data[:4096].lstrip(b"\xef\xbb\xbf")) or _MARKUP_ANYWHERE.search(data):
            raise EvidenceRefused(
                "markup", f"{name!r} 是网页/SVG/XML 或含脚本的文本，不接收（不会被显示或执行）；请改交截图或 PDF",
                f"{name!r} is HTML/SVG/XML or text carrying script; not accepted (it is never shown or run); upload a "
                f"screenshot or a PDF")
    elif _MARKUP_ANYWHERE.search(data[:1024]) or _MARKUP_ANYWHERE.search(data[-1024:]):
        raise EvidenceRefused(
            "markup", f"{name!r} 的开头或结尾含有网页脚本标记（多格式伪装文件），不接收",
            f"{name!r} carries markup or script at its start or end (a polyglot file); not accepted")
    limit = SIZE_LIMITS[family]
    if size > limit:
        raise EvidenceRefused("oversize", f"{FAMILY_ZH[family]} {name!r} 过大（{_mib(size)}，上限 {_mib(limit)}）",
                              f"the {family} file {name!r} is too large ({_mib(size)}, limit {_mib(limit)})")
    if mime == PDF and _PDF_ACTIVE.search(_PDF_HEX_NAME.sub(lambda m: bytes([int(m.group(1), 16)]), data)):
        raise EvidenceRefused(
            "active_content", f"PDF {name!r} 含有脚本或启动动作（/JavaScript、/JS、/Launch、/RichMedia、/XFA），不接收；"
                              f"请打印为不含脚本的 PDF 或截图后再上传",
            f"the PDF {name!r} carries script or launch actions (/JavaScript, /JS, /Launch, /RichMedia, /XFA); "
            f"not accepted — print it to a plain PDF or take a screenshot")
    if mime == ZIP:
        mime = _check_zip(data)
        family = FAMILY[mime]
    if ext:
        allowed = EXTENSIONS.get(ext)
        if allowed is None:
            raise EvidenceRefused(
                "mismatch", f"扩展名 {ext} 不是可接收的证据类型（{name!r}，内容是 {mime}）",
                f"the extension {ext} is not an accepted evidence type ({name!r}; its bytes are {mime})")
        if mime not in allowed:
            raise EvidenceRefused(
                "mismatch", f"文件 {name!r} 的扩展名 {ext} 与内容不符：内容实际是 {mime}；请确认文件后重新上传",
                f"the extension {ext} of {name!r} does not match its bytes, which are {mime}; check the file")
        if ext == ".csv" and mime == TEXT:
            mime = CSV
    declared_family = DECLARED.get(declared)
    if declared_family is not None and declared_family != family:
        raise EvidenceRefused(
            "mismatch", f"文件 {name!r} 声明的类型 {declared} 与内容不符：内容实际是 {mime}",
            f"the declared type {declared} of {name!r} does not match its bytes, which are {mime}")
    return mime


def guess_kind(mime: str) -> str:
    """A default evidence kind for a type (what the CLI uses without --kind)."""
    family = FAMILY.get(mime, "")
    return {"image": "screenshot", "video": "video", "audio": "recording", "text": "chat_export",
            "zip": "chat_export"}.get(family, "other")


# ----------------------------------------------------------------------- storage
def evidence_root(store: Store) -> Path:
    """The evidence folder of this store: ``$REVIEWOPS_EVIDENCE_DIR``, else the store setting ``evidence_dir``,
    else ``evidence/`` beside the SQLite file (PostgreSQL: ``<user data dir>/evidence/<host>_<port>_<db>``)."""
    env = os.environ.get(ENV_EVIDENCE_DIR, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    configured = store.get_setting(SETTING_EVIDENCE_DIR)
    if configured:
        return Path(configured).expanduser().resolve()
    url = sa.make_url(store.url)
    if url.get_backend_name() == "sqlite" and url.database:
        return Path(url.database).expanduser().resolve().parent / "evidence"
    import platformdirs

    ident = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{url.host or 'local'}_{url.port or 5432}_{url.database or 'db'}")
    return Path(platformdirs.user_data_dir("reviewops", appauthor=False)) / "evidence" / ident


def set_evidence_root(store: Store, path: str | os.PathLike[str], *, actor: str) -> Path:
    """Keep ``path`` (absolute) as this store's evidence folder (setting ``evidence_dir``); logged.
    Files already stored are not moved: move the folder's contents yourself, then run verify."""
    root = Path(path).expanduser().resolve()
    with store.write() as conn:
        conn.execute(settings.delete().where(settings.c.key == SETTING_EVIDENCE_DIR))
        conn.execute(settings.insert().values(key=SETTING_EVIDENCE_DIR, value=str(root)))
        log_access(conn, actor=str(actor), role=None, action="evidence_config", outcome="ok", target="evidence_dir",
                   detail={"path": str(root)})
    return root


def _path(root: Path, sha: str) -> Path:
    return root / sha[:2] / sha


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_blob(root: Path, sha: str, data: bytes) -> str:
    """Store ``data`` at ``<root>/<sha[:2]>/<sha>`` atomically; 'new', 'present' (same bytes already there)
    or 'repaired' (a damaged copy was replaced by these bytes, whose hash is the name)."""
    target = _path(root, sha)
    state = "new"
    if target.exists():
        try:
            if _hash_file(target) == sha:
                return "present"
        except OSError:
            pass
        state = "repaired"
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.parent / f".tmp-{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if os.name == "posix":
                os.chmod(tmp, 0o400)  # evidence is never edited in place
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)
    except OSError as e:
        raise StoreError(f"无法写入证据文件夹 {root}：{e.strerror}；请检查权限或用 {ENV_EVIDENCE_DIR} 指定别的位置\n"
                         f"cannot write to the evidence folder {root}: {e.strerror}; check its permissions or set "
                         f"{ENV_EVIDENCE_DIR}") from None
    return state


def _insert_file(conn: sa.Connection, sha: str, size: int, mime: str, actor: str, now: dt.datetime) -> bool:
    """Insert the evidence_files row unless it exists; True when inserted."""
    values = {"sha256": sha, "size": size, "mime": mime, "created_at": now, "created_by": actor}
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    res = conn.execute(insert(evidence_files).values(**values).on_conflict_do_nothing(index_elements=["sha256"]))
    return bool(res.rowcount)


def _custody(conn: sa.Connection, sha: str, link_id: int | None, action: str, actor: str,
             detail: dict[str, Any] | None = None, at: dt.datetime | None = None) -> None:
    conn.execute(evidence_custody.insert().values(
        sha256=sha, link_id=link_id, action=action, actor=actor, at=at or utcnow(),
        detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str) if detail else None))


# ------------------------------------------------------------------------ access
def _name_role(actor: Actor | str) -> tuple[str, str | None]:
    if isinstance(actor, Actor):
        return actor.name, actor.role
    return str(actor), None


def _now_actor(store: Store, actor: Actor | str, view: str, case_id: int | None = None,
               shop_id: int | None = None) -> Actor | str:
    """A signed-in actor re-read from the store (disabled → AccessDenied, logged); strings pass as they are."""
    if isinstance(actor, Actor):
        return current_actor(store, actor, view=view, case_id=case_id, shop_id=shop_id)
    if not isinstance(actor, str) or not actor.strip():
        raise ConfigError("需要操作人 / an actor is required")
    return actor


def evidence_roles(policy: Any = None) -> tuple[str, ...]:
    """The roles that see evidence content under ``policy`` (its ``evidence_roles`` setting; None:
    :data:`EVIDENCE_ROLES`)."""
    return EVIDENCE_ROLES if policy is None else policy.roles_setting("evidence_roles")


def _store_policy(store: Store) -> Any:
    from ..core.policy import load_policy_in

    with store.read() as conn:
        return load_policy_in(conn)


def may_view(actor: Actor | str, policy: Any = None) -> bool:
    """True when ``actor`` may see evidence content and unmasked names/notes (a signed-in user of a role in
    ``policy``'s ``evidence_roles``; without a policy, :data:`EVIDENCE_ROLES`)."""
    return isinstance(actor, Actor) and actor.role in evidence_roles(policy)


def _check_shop(store: Store, actor: Actor | str, shop_id: int | None, *, action: str, what: str,
                case_id: int | None = None) -> None:
    if isinstance(actor, Actor) and shop_id is not None and not actor.may_see_shop(shop_id):
        err = AccessDenied(f"{actor.name} 无权访问店铺 {shop_id} 的{what}；请联系管理员分配店铺\n"
                           f"{actor.name} may not access {what} of shop {shop_id}; ask an admin to assign the shop")
        log_denied(store, actor, action, err, case_id=case_id, shop_id=shop_id, target="evidence")
        raise err


def _resolve_target(conn: sa.Connection, case_id: int | None, order_id: str | None,
                    shop_id: int | None) -> tuple[int | None, str | None, int]:
    """(case_id, order_id, shop_id) checked: the case exists; the shop is the case's; an order needs a shop."""
    if case_id is not None:
        if isinstance(case_id, bool) or not isinstance(case_id, int):
            raise ConfigError(f"案件编号应为整数，收到 {case_id!r} / the case id must be an integer, got {case_id!r}")
        row = conn.execute(sa.select(cases.c.shop_id, reviews.c.order_id)
                           .select_from(cases.outerjoin(reviews, reviews.c.id == cases.c.review_pk))
                           .where(cases.c.id == case_id)).first()
        if row is None:
            raise NotFound(f"案件 {case_id} 不存在；请检查案件编号\ncase {case_id} does not exist; check the case number")
        if shop_id is not None and int(shop_id) != int(row.shop_id):
            raise ConfigError(f"案件 {case_id} 属于店铺 {row.shop_id}，不是 {shop_id} / case {case_id} belongs to shop "
                              f"{row.shop_id}, not {shop_id}")
        return case_id, (order_id or row.order_id), int(row.shop_id)
    if shop_id is None and order_id is not None:
        from ..core.store import orders

        found = conn.execute(sa.select(orders.c.shop_id).where(orders.c.order_id == str(order_id))).scalars().all()
        if len(set(found)) != 1:
            raise ConfigError(f"订单 {order_id} 找不到唯一的店铺；请同时给出店铺编号 / order {order_id}: give the shop id "
                              f"too ({'not imported' if not found else 'several shops have it'})")
        shop_id = int(found[0])
    if shop_id is None:
        raise ConfigError("证据必须挂在案件、订单或店铺上（case_id / order_id / shop_id）/ evidence must belong to a case, "
                          "an order or a shop")
    if conn.execute(sa.select(shops.c.id).where(shops.c.id == int(shop_id))).first() is None:
        raise NotFound(f"店铺 {shop_id} 不存在 / shop {shop_id} does not exist")
    return None, (str(order_id) if order_id is not None else None), int(shop_id)


# -------------------------------------------------------------------------- API
@dataclass(frozen=True)
class EvidenceItem:
    """One attached file as :func:`add_evidence` returns it."""

    link_id: int
    sha256: str
    size: int
    mime: str
    kind: str
    case_id: int | None
    order_id: str | None
    shop_id: int | None
    stored: str  # new | present (deduplicated) | repaired
    already_linked: bool  # the same bytes were already attached to the same case/order

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def add_evidence(store: Store, actor: Actor | str, data: bytes, *, original_name: str, kind: str,
                 case_id: int | None = None, order_id: str | None = None, shop_id: int | None = None,
                 note: str = "", declared_type: str | None = None) -> EvidenceItem:
    """Attach ``data`` as evidence to a case (or an order/shop); returns the :class:`EvidenceItem`.

    The bytes are checked first (:func:`check_upload`): a refusal raises :class:`EvidenceRefused`, stores
    nothing and is logged. Then the file is written (once per content) and its rows and the custody entry
    ``added`` are committed together. Attaching the same bytes to the same case again adds no second link.
    """
    name_s, role = _name_role(actor)
    if kind not in KINDS:
        raise ConfigError(f"未知的证据类别 {kind!r}；可选：{', '.join(f'{k}（{KIND_ZH[k]}）' for k in KINDS)}\n"
                          f"unknown evidence kind {kind!r}; choose one of {', '.join(KINDS)}")
    with store.read() as conn:
        case_id, order_id, shop_id = _resolve_target(conn, case_id, order_id, shop_id)
    actor = _now_actor(store, actor, "evidence", case_id, shop_id)
    _check_shop(store, actor, shop_id, action="evidence_add", what="证据", case_id=case_id)
    name = clean_name(original_name)
    try:
        mime = check_upload(data, name, declared_type)
    except EvidenceRefused as e:
        with store.write() as conn:
            log_access(conn, actor=name_s, role=role, action="evidence_add", outcome="denied", case_id=case_id,
                       shop_id=shop_id, target="evidence",
                       detail={"code": e.code, "reason": e.en[:300], "size": len(data) if isinstance(
                           data, (bytes, bytearray, memoryview)) else None, "name": mask_text(name)})
        raise
    data = bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    note_s = (note or "").strip()[:2000] or None
    root = evidence_root(store)
    stored = _write_blob(root, sha, data)
    now = utcnow()
    try:
        with store.write() as conn:
            _insert_file(conn, sha, len(data), mime, name_s, now)
            same = sa.and_(evidence_links.c.sha256 == sha, evidence_links.c.kind == kind,
                           evidence_links.c.case_id == case_id if case_id is not None
                           else evidence_links.c.case_id.is_(None),
                           evidence_links.c.shop_id == shop_id,
                           evidence_links.c.order_id == order_id if order_id is not None
                           else evidence_links.c.order_id.is_(None))
            link_id = conn.execute(sa.select(evidence_links.c.id).where(same).order_by(evidence_links.c.id)).scalar()
            already = link_id is not None
            if not already:
                link_id = int(conn.execute(evidence_links.insert().values(
                    sha256=sha, case_id=case_id, shop_id=shop_id, order_id=order_id, kind=kind, original_name=name or None,
                    note=note_s, message_ids=None, added_by=name_s, added_at=now).returning(evidence_links.c.id))
                    .scalar_one())
                _custody(conn, sha, link_id, "added", name_s,
                         {"size": len(data), "mime": mime, "stored": stored, "role": role}, at=now)
    except BaseException:
        if stored == "new":
            with store.read() as conn:
                known = conn.execute(sa.select(evidence_files.c.sha256).where(evidence_files.c.sha256 == sha)).first()
            if known is None:
                _path(root, sha).unlink(missing_ok=True)
        raise
    return EvidenceItem(link_id=int(link_id), sha256=sha, size=len(data), mime=mime, kind=kind, case_id=case_id,
                        order_id=order_id, shop_id=shop_id, stored=stored, already_linked=already)


def add_evidence_path(store: Store, actor: Actor | str, path: str | os.PathLike[str], **kw: Any) -> EvidenceItem:
    """:func:`add_evidence` for a file on disk (the CLI): its size is checked before it is read; the file's own
    name is kept as ``original_name`` unless one is given."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise ConfigError(f"{p} 不是文件 / {p} is not a file")
    except OSError as e:
        raise ConfigError(f"无法读取 {p}：{e.strerror} / cannot read {p}: {e.strerror}") from None
    kw.setdefault("original_name", p.name)
    if size > MAX_BYTES:  # refused without reading it (the same refusal add_evidence gives)
        name_s, role = _name_role(actor)
        err = EvidenceRefused("oversize", f"文件 {p.name!r} 过大（{_mib(size)}），任何证据类型的上限是 {_mib(MAX_BYTES)}",
                              f"the file {p.name!r} is too large ({_mib(size)}); no evidence type allows more than "
                              f"{_mib(MAX_BYTES)}")
        with store.write() as conn:
            log_access(conn, actor=name_s, role=role, action="evidence_add", outcome="denied",
                       case_id=kw.get("case_id"), shop_id=kw.get("shop_id"), target="evidence",
                       detail={"code": err.code, "reason": err.en[:300], "size": size, "name": mask_text(p.name)})
        raise err
    if kw.get("kind") is None:
        with open(p, "rb") as fh:
            head = fh.read(64)
        kw["kind"] = guess_kind(sniff(head) or "")
    return add_evidence(store, actor, p.read_bytes(), **kw)


def list_evidence(store: Store, actor: Actor | str, *, case_id: int | None = None, order_id: str | None = None,
                  shop_id: int | None = None) -> list[dict[str, Any]]:
    """The evidence of a case (or an order / a shop), oldest first: link id, hash, size, type, kind, time, who.

    File names and notes are shown unmasked only to the policy's ``evidence_roles``; for others personal numbers are
    masked. ``can_view`` says whether this actor may open the content. Nothing is logged in custody (a listing
    shows no content).
    """
    with store.read() as conn:
        if case_id is not None:
            case_id, _order, shop = _resolve_target(conn, case_id, None, None)
        else:
            case_id, order_id, shop = _resolve_target(conn, None, order_id, shop_id)
    actor = _now_actor(store, actor, "evidence", case_id, shop)
    _check_shop(store, actor, shop, action="read", what="证据", case_id=case_id)
    full = may_view(actor, _store_policy(store))
    el, ef = evidence_links, evidence_files
    q = sa.select(el, ef.c.size, ef.c.mime).select_from(el.join(ef, ef.c.sha256 == el.c.sha256))
    if case_id is not None:
        q = q.where(el.c.case_id == case_id)
    else:
        q = q.where(el.c.shop_id == shop)
        if order_id is not None:
            q = q.where(el.c.order_id == str(order_id))
    with store.read() as conn:
        rows = conn.execute(q.order_by(el.c.added_at, el.c.id)).mappings().all()
    out = []
    for r in rows:
        name, note = r["original_name"] or "", r["note"] or ""
        out.append({
            "link_id": r["id"], "sha256": r["sha256"], "size": int(r["size"]), "mime": r["mime"],
            "family": FAMILY.get(r["mime"], "other"), "kind": r["kind"], "kind_zh": KIND_ZH.get(r["kind"], r["kind"]),
            "original_name": name if full else (mask_text(name) or ""), "note": note if full else (mask_text(note) or ""),
            "case_id": r["case_id"], "order_id": r["order_id"], "shop_id": r["shop_id"],
            "message_ids": json.loads(r["message_ids"]) if r["message_ids"] else [],
            "added_by": r["added_by"], "added_at": r["added_at"], "can_view": full,
        })
    return out


@dataclass(frozen=True)
class EvidenceContent:
    sha256: str
    mime: str
    size: int
    data: bytes
    original_name: str


def _open_content(store: Store, actor: Actor | str, sha256: str, *, action: str, custody_action: str,
                  purpose: str | None, link_id: int | None) -> EvidenceContent:
    sha = str(sha256 or "").strip().lower()

    def deny(zh: str, en: str, shop_id: int | None = None, case_id: int | None = None) -> AccessDenied:
        err = AccessDenied(f"{zh}\n{en}")
        log_denied(store, actor, action, err, case_id=case_id, shop_id=shop_id, target=f"evidence:{sha[:16]}")
        return err

    if not isinstance(actor, Actor):
        raise deny("没有经服务器确认的登录身份，不能查看证据内容",
                   "no server-side identity: evidence content is shown only to a signed-in user")
    if not _SHA.fullmatch(sha):
        raise ConfigError(f"证据编号应为 64 位十六进制 SHA-256，收到 {sha256!r} / give the 64-hex SHA-256")
    actor = current_actor(store, actor, view="evidence")
    allowed = evidence_roles(_store_policy(store))
    if actor.role not in allowed:
        raise deny(f"{actor.label}无权查看证据内容（可查看的角色：{'、'.join(allowed)}；策略参数 evidence_roles）；请联系法务或主管",
                   f"role {actor.role} may not open evidence (allowed: {', '.join(allowed)}; policy setting "
                   f"evidence_roles); ask legal or a supervisor")
    with store.read() as conn:
        f = conn.execute(sa.select(evidence_files).where(evidence_files.c.sha256 == sha)).mappings().first()
        links = conn.execute(sa.select(evidence_links).where(evidence_links.c.sha256 == sha)
                             .order_by(evidence_links.c.id)).mappings().all()
    if f is None:
        raise NotFound(f"没有这份证据 {sha[:16]}… / no evidence {sha[:16]}…")
    seen = [lk for lk in links if lk["shop_id"] is None or actor.may_see_shop(int(lk["shop_id"]))]
    if link_id is not None:
        seen = [lk for lk in seen if lk["id"] == link_id]
    if not seen:
        first = links[0] if links else {}
        raise deny(f"{actor.name} 无权访问这份证据所属的店铺", f"{actor.name} may not access the shop this evidence belongs to",
                   shop_id=first.get("shop_id"), case_id=first.get("case_id"))
    link = seen[0]
    path = _path(evidence_root(store), sha)
    try:
        data = path.read_bytes()
    except OSError:
        raise StoreError(f"证据文件缺失：{sha[:16]}…（{path}）；请运行 reviewops evidence verify 并从备份恢复\n"
                         f"the evidence file is missing: {sha[:16]}… ({path}); run reviewops evidence verify and restore "
                         f"it from a backup") from None
    if hashlib.sha256(data).hexdigest() != sha:
        raise StoreError(f"证据文件已被改动：{sha[:16]}… 的内容与哈希不符；不能作为证据使用，请从备份恢复\n"
                         f"the evidence file was altered: the bytes of {sha[:16]}… no longer match their hash; it cannot "
                         f"be used as evidence — restore it from a backup")
    with store.write() as conn:
        _custody(conn, sha, int(link["id"]), custody_action, actor.name,
                 {"role": actor.role, **({"purpose": mask_text(purpose.strip())[:200]} if purpose and purpose.strip()
                                        else {})})
    return EvidenceContent(sha256=sha, mime=f["mime"], size=int(f["size"]), data=data,
                           original_name=link["original_name"] or "")


def read_evidence(store: Store, actor: Actor | str, sha256: str, *, link_id: int | None = None,
                  purpose: str | None = None) -> EvidenceContent:
    """The content of one evidence file for a signed-in user of the policy's ``evidence_roles`` who may see one of its
    shops; custody ``viewed``. The bytes are re-hashed before they are returned (an altered file raises
    :class:`StoreError`). Refusals raise :class:`AccessDenied` and are logged."""
    return _open_content(store, actor, sha256, action="evidence_view", custody_action="viewed", purpose=purpose,
                         link_id=link_id)


def export_evidence(store: Store, actor: Actor | str, sha256: str, *, purpose: str,
                    link_id: int | None = None) -> EvidenceContent:
    """Like :func:`read_evidence`, for bytes that leave the kit (a download, an appeal packet): custody
    ``exported`` with the purpose (required)."""
    if not isinstance(purpose, str) or len(purpose.strip()) < 2:
        raise ConfigError("导出证据必须写明用途（至少 2 个字）/ exporting evidence needs a purpose (2+ characters)")
    return _open_content(store, actor, sha256, action="evidence_export", custody_action="exported", purpose=purpose,
                         link_id=link_id)


def custody_log(store: Store, sha256: str | None = None, *, case_id: int | None = None) -> list[dict[str, Any]]:
    """Custody entries (oldest first) of one file or of every file linked to a case."""
    ec = evidence_custody
    q = sa.select(ec)
    if sha256 is not None:
        q = q.where(ec.c.sha256 == sha256)
    if case_id is not None:
        q = q.where(ec.c.sha256.in_(sa.select(evidence_links.c.sha256).where(evidence_links.c.case_id == case_id)))
    with store.read() as conn:
        rows = conn.execute(q.order_by(ec.c.at, ec.c.id)).mappings().all()
    return [{**dict(r), "detail": json.loads(r["detail"]) if r["detail"] else {}} for r in rows]


# ------------------------------------------------------------------------ verify
@dataclass
class VerifyReport:
    """What :func:`verify_evidence` found. ``ok`` is False when anything is missing, altered or changed."""

    root: str
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    chat_changed: list[dict[str, Any]] = field(default_factory=list)  # linked chat messages changed in the store
    unknown_files: list[str] = field(default_factory=list)  # files in the folder no row names (informational)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.altered or self.chat_changed)

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root, "ok": self.ok, "checked": self.checked, "missing": self.missing,
                "altered": self.altered, "chat_changed": self.chat_changed, "unknown_files": self.unknown_files}


def verify_evidence(store: Store, *, actor: Actor | str = "system") -> VerifyReport:
    """Recompute the SHA-256 of every stored evidence file; name each one missing or altered, and each linked
    chat message whose row changed since it was linked. One custody entry ``verified`` per file (its result)."""
    name_s, _role = _name_role(actor)
    root = evidence_root(store)
    report = VerifyReport(root=str(root))
    with store.read() as conn:
        files = conn.execute(sa.select(evidence_files.c.sha256).order_by(evidence_files.c.sha256)).scalars().all()
        chat_links = conn.execute(sa.select(evidence_links.c.id, evidence_links.c.sha256, evidence_links.c.message_ids)
                                  .where(evidence_links.c.kind == "chat_message")).all()
    results: dict[str, str] = {}
    for sha in files:
        path = _path(root, sha)
        try:
            got = _hash_file(path)
        except FileNotFoundError:
            report.missing.append(sha)
            results[sha] = "missing"
            continue
        except OSError:
            report.missing.append(sha)
            results[sha] = "unreadable"
            continue
        if got != sha:
            report.altered.append(sha)
            results[sha] = "altered"
        else:
            results[sha] = "ok"
        report.checked += 1
    if chat_links:
        ids = sorted({int(i) for lk in chat_links for i in json.loads(lk.message_ids or "[]")})
        with store.read() as conn:
            msgs = {r["id"]: dict(r) for r in conn.execute(
                sa.select(chat_messages).where(chat_messages.c.id.in_(ids))).mappings()} if ids else {}
        for lk in chat_links:
            for mid in json.loads(lk.message_ids or "[]"):
                msg = msgs.get(int(mid))
                now_sha = hashlib.sha256(canonical_message(msg)).hexdigest() if msg else None
                if now_sha != lk.sha256:
                    report.chat_changed.append({"link_id": lk.id, "message_id": int(mid),
                                                "state": "deleted" if msg is None else "changed"})
    known = set(files)
    if root.is_dir():
        for sub in sorted(root.iterdir()):
            if sub.is_dir() and len(sub.name) == 2:
                for f in sorted(sub.iterdir()):
                    if f.name not in known and not f.name.startswith(".tmp-"):
                        report.unknown_files.append(str(f.relative_to(root)))
    with store.write() as conn:
        now = utcnow()
        for sha, result in results.items():
            _custody(conn, sha, None, "verified", name_s, {"result": result}, at=now)
    return report


# -------------------------------------------------------------------- chat links
def canonical_message(msg: dict[str, Any]) -> bytes:
    """The canonical serialisation of one imported chat message (UTF-8 JSON, sorted keys, no spaces, times in
    UTC ISO 8601): what a chat-message evidence link hashes and stores."""
    sent = msg.get("sent_at")
    if isinstance(sent, dt.datetime):
        sent = sent.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {"schema": "reviewops.chat_message/1", "id": msg.get("id"), "shop_id": msg.get("shop_id"),
            "message_key": msg.get("message_key"), "conversation_hash": msg.get("conversation_hash"),
            "message_seq": msg.get("message_seq"), "sent_at": sent, "sender_role": msg.get("sender_role"),
            "sender_name": msg.get("sender_name"), "content": msg.get("content"), "order_id": msg.get("order_id")}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def link_chat_messages(store: Store, case_id: int, *, actor: Actor | str = "system") -> int:
    """Link the imported chat messages of the case's buyer as evidence (one link per message, kind
    ``chat_message``, each a canonical JSON file with its own SHA-256); messages already linked are skipped.
    Returns the number of new links. The buyer is the review's customer; without one, the review's order."""
    name_s, role = _name_role(actor)
    with store.read() as conn:
        case = conn.execute(sa.select(cases.c.id, cases.c.shop_id, reviews.c.customer_id, reviews.c.order_id)
                            .select_from(cases.outerjoin(reviews, reviews.c.id == cases.c.review_pk))
                            .where(cases.c.id == case_id)).mappings().first()
    if case is None:
        raise NotFound(f"案件 {case_id} 不存在；请检查案件编号\ncase {case_id} does not exist; check the case number")
    shop_id = int(case["shop_id"])
    actor = _now_actor(store, actor, "evidence", case_id, shop_id)
    _check_shop(store, actor, shop_id, action="evidence_add", what="证据", case_id=case_id)
    cm = chat_messages
    if case["customer_id"] is not None:
        who = cm.c.customer_id == case["customer_id"]
    elif case["order_id"]:
        who = cm.c.order_id == case["order_id"]
    else:
        return 0
    with store.read() as conn:
        msgs = [dict(r) for r in conn.execute(sa.select(cm).where(cm.c.shop_id == shop_id, who)
                                              .order_by(cm.c.sent_at, cm.c.message_seq, cm.c.id)).mappings()]
        done = {int(i) for (ids,) in conn.execute(sa.select(evidence_links.c.message_ids).where(
            evidence_links.c.case_id == case_id, evidence_links.c.kind == "chat_message")) for i in json.loads(ids or "[]")}
    todo = [m for m in msgs if m["id"] not in done]
    if not todo:
        return 0
    root = evidence_root(store)
    blobs = []
    for m in todo:
        data = canonical_message(m)
        sha = hashlib.sha256(data).hexdigest()
        _write_blob(root, sha, data)
        blobs.append((m, sha, data))
    now = utcnow()
    with store.write() as conn:
        for m, sha, data in blobs:
            _insert_file(conn, sha, len(data), JSON_MIME, name_s, now)
            link_id = int(conn.execute(evidence_links.insert().values(
                sha256=sha, case_id=case_id, shop_id=shop_id, order_id=m.get("order_id") or case["order_id"],
                kind="chat_message", original_name=f"chat_message_{m['id']}.json", note=None,
                message_ids=json.dumps([m["id"]]), added_by=name_s, added_at=now).returning(evidence_links.c.id))
                .scalar_one())
            _custody(conn, sha, link_id, "added", name_s, {"size": len(data), "mime": JSON_MIME, "message_id": m["id"],
                                                           "role": role}, at=now)
    return len(blobs)
