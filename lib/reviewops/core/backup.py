"""Backups that restore: one file with a consistent snapshot of the store and a manifest.

``reviewops backup FILE`` writes one ZIP archive holding

* the dump — ``database.sqlite`` (an SQLite copy made with SQLite's online backup API from a
  read transaction: the watcher and the workbench keep writing, the copy is one instant) or
  ``database.pgdump`` (``pg_dump`` custom format, taken in a snapshot exported by a
  ``REPEATABLE READ`` transaction that also computes the manifest's checksums, so the dump and
  the checksums describe the same instant);
* ``manifest.json`` — format version, ReviewOps version, Alembic revision, created at (UTC
  stored, Beijing time shown), the source kind and a masked location (never a password), the
  rows and a checksum of every table (SHA-256 over the rows in primary-key order, see
  :func:`table_checksums`), the audit-chain check (:func:`verify_audit_chain`), the vault's key
  ids (never the key), the dump's size and SHA-256 and the evidence files it holds; the manifest
  carries its own SHA-256;
* ``evidence/<sha[:2]>/<sha256>`` — the evidence folder (:mod:`reviewops.handling.evidence`): every file the
  snapshot's ``evidence_files`` table lists, stored (not deflated) under its content hash. A file that is
  missing from the folder or whose bytes no longer match its name is left out and named in the manifest
  (``evidence.missing`` / ``evidence.altered``) and in the result's warnings — the backup of a damaged folder
  still saves everything else. A store without evidence makes a backup without the folder.

:func:`verify` refuses a truncated or altered file (ZIP structure and CRCs, the manifest and its
checksum, the dump's checksum, every evidence file's SHA-256 against its name and the manifest) and then
restores the dump into a temporary database — a file
for SQLite, a throwaway database on the PostgreSQL server for ``pg_dump`` — and compares every
table's rows and checksum with the manifest and checks the audit chain.

:func:`restore` verifies first and writes only then, into an empty store (a non-empty one only
with ``force``): SQLite through the backup API into the target file (one transaction), PostgreSQL
with ``pg_restore --single-transaction``. After the restore every table's rows and checksum equal
the manifest and the audit chain verifies, or the command says so. Then the evidence files are written
into the restored store's evidence folder (:func:`evidence_folder`: ``$REVIEWOPS_EVIDENCE_DIR``, the
restored store's ``evidence_dir`` setting, else ``evidence/`` beside the SQLite file; ``evidence_dir=``
overrides), each through a temporary file whose SHA-256 is checked before it takes its name, read-only;
files already there with the right bytes are kept, nothing else in the folder is touched. Backups of
format version 1 (without evidence) still verify and restore.

The vault key (:mod:`reviewops.core.vault`) is never in the backup: :func:`key_location` says where it
is (a file path or the environment variable's name, never its value), and every result repeats
that the key must be kept separately — without it the vault's encrypted receiver data cannot be
read after a restore.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .errors import ConfigError, StoreError
from .store import SQLITE_BUSY_TIMEOUT_MS, Store, resolve_url, utcnow

__all__ = [
    "EVIDENCE_DIR_ENV",
    "FORMAT",
    "FORMAT_VERSION",
    "BackupInvalid",
    "BackupResult",
    "PgToolMissing",
    "RestoreRefused",
    "RestoreResult",
    "VerifyResult",
    "backup",
    "evidence_folder",
    "key_location",
    "key_notice",
    "restore",
    "table_checksums",
    "verify",
    "verify_audit_chain",
]

FORMAT = "reviewops-backup"
#: 2 adds the evidence folder (``evidence/…`` members, ``manifest["evidence"]``); 1 (database only) is still read.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
DUMP_SQLITE = "database.sqlite"
DUMP_PG = "database.pgdump"
ENV_PG_BIN = "REVIEWOPS_PG_BIN"
ENV_HINT = "REVIEWOPS_VAULT_KEY / REVIEWOPS_VAULT_KEY_FILE"
#: Same variable and setting as :mod:`reviewops.handling.evidence` (the core cannot import the handling stage).
EVIDENCE_DIR_ENV = "REVIEWOPS_EVIDENCE_DIR"
EVIDENCE_DIR_SETTING = "evidence_dir"
EVIDENCE_PREFIX = "evidence/"
_EVIDENCE_MEMBER = re.compile(r"^evidence/([0-9a-f]{2})/([0-9a-f]{64})$")

#: Audit tables the database keeps append-only (triggers of migrations 0001/0002/0004).
APPEND_ONLY = ("case_events", "access_log", "evidence_custody")
_CHUNK = 1 << 20


# ------------------------------------------------------------------------- errors
class BackupInvalid(StoreError):
    """A backup file is truncated, altered, of an unknown format, or does not match its manifest."""


class RestoreRefused(StoreError):
    """The restore target is not empty (without ``force``) or does not suit the backup."""


class PgToolMissing(StoreError):
    """``pg_dump`` / ``pg_restore`` is not installed where we look."""


class _ScratchUnavailable(StoreError):
    """No throwaway database can be made on the server (no CREATEDB)."""


# ------------------------------------------------------------------------ results
@dataclass
class BackupResult:
    path: Path
    manifest: dict[str, Any]
    key: dict[str, Any]
    warnings: list[str] = field(default_factory=list)  # evidence files missing or altered in the source folder

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "size": self.path.stat().st_size, "manifest": self.manifest,
                "vault_key": self.key, "warnings": self.warnings}


@dataclass
class VerifyResult:
    path: Path
    manifest: dict[str, Any]
    checks: list[str] = field(default_factory=list)
    key: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "ok": True, "checks": self.checks, "manifest": self.manifest,
                "vault_key": self.key}


@dataclass
class RestoreResult:
    path: Path
    target: str  # masked
    manifest: dict[str, Any]
    replaced: dict[str, int]  # rows the target held before (only with force)
    audit: dict[str, Any]
    checks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    key: dict[str, Any] = field(default_factory=dict)
    #: the evidence written: ``folder``, ``files`` (in the backup), ``written``, ``present`` (already there, same bytes)
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "target": self.target, "tables": self.manifest["tables"],
                "alembic_revision": self.manifest["alembic_revision"], "replaced": self.replaced,
                "audit": self.audit, "checks": self.checks, "warnings": self.warnings, "vault_key": self.key,
                "evidence": self.evidence}


# ------------------------------------------------------------------ URLs, secrets
def masked_location(url: str) -> str:
    """Where a store is, for a manifest or a message: a file path, or ``postgresql://user@host:port/db``
    without password and without query parameters (which may carry one)."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///"):]
    try:
        u = sa.engine.make_url(url)
    except Exception:  # noqa: BLE001 - only for a message
        return "<database>"
    host = u.host or ""
    port = f":{u.port}" if u.port else ""
    user = f"{u.username}@" if u.username else ""
    return f"postgresql://{user}{host}{port}/{u.database or ''}"


def _pg_params(url: str) -> tuple[str, dict[str, str], str | None]:
    """(libpq conninfo without the password, environment for the tools, the password)."""
    from psycopg.conninfo import make_conninfo

    u = sa.engine.make_url(url)
    query = {k: (v[-1] if isinstance(v, tuple) else v) for k, v in u.query.items()}
    password = u.password if u.password is not None else query.pop("password", None)
    query.pop("password", None)
    params: dict[str, Any] = {k: v for k, v in {"host": u.host, "port": u.port, "user": u.username,
                                                  "dbname": u.database}.items() if v not in (None, "")}
    params.update(query)
    env = dict(os.environ)
    env.pop("PGPASSWORD", None)
    if password is not None:
        env["PGPASSWORD"] = str(password)  # the child's environment, never its command line
    return make_conninfo(**{k: str(v) for k, v in params.items()}), env, None if password is None else str(password)


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


# ----------------------------------------------------------------- the vault key
def key_location() -> dict[str, Any]:
    """Where the vault key is — the environment variable's name or the key file's path — never the key."""
    from . import vault

    if os.environ.get(vault.ENV_KEY, "").strip():
        where = {"kind": "env", "name": vault.ENV_KEY}
    else:
        path = vault.key_file_path()
        via = vault.ENV_KEY_FILE if os.environ.get(vault.ENV_KEY_FILE, "").strip() else "default"
        where = {"kind": "file", "path": str(path), "exists": path.exists(), "via": via}
    try:
        where["key_id"] = vault.key_id(vault.load_key(create=False))
    except Exception:  # noqa: BLE001 - no key (yet) or a malformed one: nothing to name
        where["key_id"] = None
    pii = os.environ.get("REVIEWOPS_PII_KEY", "").strip()
    where["pii_key_env"] = "REVIEWOPS_PII_KEY" if pii else None
    return where


def key_notice(where: dict[str, Any]) -> str:
    """The sentence every backup/verify/restore prints about the keys kept outside the backup."""
    if where["kind"] == "env":
        zh, en = f"环境变量 {where['name']}", f"the environment variable {where['name']}"
    else:
        missing_zh = "" if where.get("exists") else "（此文件目前不存在）"
        missing_en = "" if where.get("exists") else " (the file does not exist now)"
        zh, en = f"文件 {where['path']}{missing_zh}", f"the file {where['path']}{missing_en}"
    kid = f"（密钥编号 key id {where['key_id']}）" if where.get("key_id") else ""
    text = (f"保险库密钥不在备份文件中，它在{zh}{kid}。请把它单独保存在别处（不要与备份放在一起）；"
            f"没有它，恢复后保险库中加密的收货人姓名、电话和地址无法读取。\n"
            f"The vault key is not in the backup; it is in {en}. Keep it separately (not beside the backup): "
            f"without it the vault's encrypted receiver names, phones and addresses cannot be read after a restore.")
    if where.get("pii_key_env"):
        text += (f"\n买家匹配哈希密钥来自环境变量 {where['pii_key_env']}，也不在备份中；恢复后请设置同一值。"
                 f"\nThe buyer-matching hash key comes from {where['pii_key_env']}, also not in the backup; "
                 f"set the same value after a restore.")
    return text


# --------------------------------------------------------------- table checksums
def _canon(v: Any) -> Any:
    """JSON form of the values ``json`` cannot write itself (called by the encoder only for those)."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"hex": bytes(v).hex()}
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.UTC)
        return v.isoformat()
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    return str(v)


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _table_names(conn: Connection) -> list[str]:
    return sorted(n for n in sa.inspect(conn).get_table_names() if not n.startswith("sqlite_"))


def table_checksums(conn: Connection) -> dict[str, dict[str, Any]]:
    """``{table: {"rows": n, "sha256": hex}}`` for every table of the store (``alembic_version`` too).

    The checksum is SHA-256 over the column names (sorted) and then every row in primary-key order
    (all columns when there is none; text keys in byte order, ``COLLATE "C"`` on PostgreSQL, so the
    server's locale does not matter), each row the canonical JSON of its values as the driver returns
    them (bytes as hex, times in UTC ISO form). Equal on a faithful restore into the same kind of
    database; any changed, missing or extra row changes it.
    """
    insp = sa.inspect(conn)
    pg = conn.dialect.name == "postgresql"
    out: dict[str, dict[str, Any]] = {}
    for name in _table_names(conn):
        cols = insp.get_columns(name)
        names = sorted(c["name"] for c in cols)
        types = {c["name"]: c["type"] for c in cols}
        pk = insp.get_pk_constraint(name).get("constrained_columns") or names

        def order(c: str, types: dict[str, Any] = types) -> str:
            q = _quote(conn, c)
            return f'{q} COLLATE "C"' if pg and isinstance(types[c], sa.String) else q

        sql = (f"SELECT {', '.join(_quote(conn, c) for c in names)} FROM {_quote(conn, name)} "
               f"ORDER BY {', '.join(order(c) for c in pk)}")
        h = hashlib.sha256(json.dumps(names).encode() + b"\n")
        n = 0
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_canon).encode
        result = conn.execution_options(stream_results=True, yield_per=5000).exec_driver_sql(sql)
        for rows in result.partitions():
            h.update("".join(dumps(tuple(r)) + "\n" for r in rows).encode("utf-8"))
            n += len(rows)
        out[name] = {"rows": n, "sha256": h.hexdigest()}
    return out


# -------------------------------------------------------------------- audit chain
def verify_audit_chain(conn: Connection) -> dict[str, Any]:
    """Check the case audit trail and the append-only guards; returns a report (``ok`` and ``problems``).

    Each case's ``case_events`` must form one unbroken chain of versions ``0 → 1 → … → n`` (one
    event per change, as :func:`reviewops.core.store.update_case` writes them) ending at the case's
    current ``version``; no event may belong to a missing case; and the triggers that keep
    ``case_events`` and ``access_log`` append-only must be in place. (The store has no hash chain:
    the version chain plus the database's refusal of UPDATE/DELETE is what makes the log an audit.)
    """
    problems: list[str] = []
    names = set(_table_names(conn))
    if "cases" not in names or "case_events" not in names:
        return {"ok": False, "cases": 0, "events": 0, "problems": ["没有 cases/case_events 表 / no cases or case_events table"]}
    versions = dict(conn.exec_driver_sql("SELECT id, version FROM cases").all())
    last: dict[int, int] = {}
    events = 0
    rows = conn.execution_options(stream_results=True, yield_per=5000).exec_driver_sql(
        "SELECT case_id, version_from, version_to FROM case_events ORDER BY case_id, version_from")
    for case_id, vfrom, vto in rows:
        events += 1
        expect = last.get(case_id, 0)
        if (vfrom != expect or vto != vfrom + 1) and len(problems) < 20:
            problems.append(f"案件 {case_id} 的事件链在版本 {expect} 处断开（事件 {vfrom}→{vto}）/ "
                            f"case {case_id}: the event chain breaks at version {expect} (event {vfrom}→{vto})")
        last[case_id] = vto
    for case_id, version in versions.items():
        if last.get(case_id) != version and len(problems) < 40:
            problems.append(f"案件 {case_id} 当前版本 {version}，事件链止于 {last.get(case_id, 0)} / "
                            f"case {case_id} is at version {version}, its events end at {last.get(case_id, 0)}")
    orphans = set(last) - set(versions)
    if orphans:
        problems.append(f"{len(orphans)} 个案件只有事件没有案件行（如 {min(orphans)}）/ events of {len(orphans)} "
                        f"missing case(s), e.g. {min(orphans)}")
    if conn.dialect.name == "sqlite":
        triggers = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        needed = {f"{t}_no_{w}" for t in APPEND_ONLY if t in names for w in ("update", "delete")}
    else:
        triggers = {r[0] for r in conn.exec_driver_sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
        needed = {f"{t}_append_only" for t in APPEND_ONLY if t in names}
    missing = sorted(needed - triggers)
    if missing:
        problems.append(f"缺少只追加触发器 / append-only triggers missing: {', '.join(missing)}")
    return {"ok": not problems, "cases": len(versions), "events": events, "problems": problems}


def _alembic_revision(conn: Connection) -> str | None:
    try:
        rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    except sa.exc.DBAPIError:
        return None
    return rows[0] if len(rows) == 1 else None


def _head_revision() -> str:
    versions = Path(__file__).parent / "migrations" / "versions"
    return max(p.name.split("_", 1)[0] for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))


def _vault_info(conn: Connection) -> dict[str, Any]:
    if "pii_vault" not in set(_table_names(conn)):
        return {"rows": 0, "key_ids": []}
    rows = conn.exec_driver_sql("SELECT key_id, count(*) FROM pii_vault GROUP BY key_id ORDER BY key_id").all()
    return {"rows": int(sum(n for _, n in rows)), "key_ids": [k for k, _ in rows]}


# --------------------------------------------------------------- PostgreSQL tools
def find_pg_tool(name: str) -> str:
    """Path of ``pg_dump``/``pg_restore``: ``$REVIEWOPS_PG_BIN`` if set (only there), else ``PATH``,
    else the newest Debian ``/usr/lib/postgresql/*/bin``; :class:`PgToolMissing` names what is missing."""
    searched: list[str] = []
    env = os.environ.get(ENV_PG_BIN, "").strip()
    if env:
        cand = Path(env) / name
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
        searched.append(f"{ENV_PG_BIN}={env}")
    else:
        found = shutil.which(name)
        if found:
            return found
        searched.append("PATH")
        dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                      key=lambda d: [int(x) if x.isdigit() else 0 for x in re.findall(r"\d+|\D+", d)], reverse=True)
        for d in dirs:
            cand = Path(d) / name
            if cand.is_file() and os.access(cand, os.X_OK):
                return str(cand)
        searched.append("/usr/lib/postgresql/*/bin")
    raise PgToolMissing(
        f"找不到 PostgreSQL 程序 {name}（已查找：{'、'.join(searched)}）。备份和恢复 PostgreSQL 数据库需要 pg_dump 和 "
        f"pg_restore（与服务器同一主版本或更新）：请安装 PostgreSQL 客户端（Debian/Ubuntu：apt-get install "
        f"postgresql-client；Windows/macOS：安装 PostgreSQL 并把 bin 目录加入 PATH），或用 {ENV_PG_BIN} 指向该目录。\n"
        f"PostgreSQL's {name} was not found (searched: {', '.join(searched)}). Backing up and restoring a PostgreSQL "
        f"store needs pg_dump and pg_restore (the server's major version or newer): install the PostgreSQL client "
        f"(Debian/Ubuntu: apt-get install postgresql-client; Windows/macOS: install PostgreSQL and put its bin folder "
        f"on PATH), or point {ENV_PG_BIN} at that folder.")


def _run_tool(args: list[str], env: dict[str, str], secret: str | None, what: str, what_en: str) -> str:
    try:
        proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    except OSError as e:
        raise PgToolMissing(f"无法运行 {args[0]}：{e} / cannot run {args[0]}: {e}") from None
    if proc.returncode != 0:
        tail = "\n".join(_scrub(proc.stderr or "", secret).strip().splitlines()[-6:])
        raise StoreError(f"{what}失败（{Path(args[0]).name} 退出码 {proc.returncode}）/ {what_en} failed "
                         f"({Path(args[0]).name} exit {proc.returncode}):\n{tail}")
    return proc.stdout


# ----------------------------------------------------------------------- backup
def _sqlite_path(url: str) -> Path:
    return Path(url[len("sqlite:///"):])


def _now_fields() -> dict[str, str]:
    from .outputs import fmt_time

    now = utcnow()
    return {"created_at": now.isoformat(), "created_at_beijing": fmt_time(now, "%Y-%m-%d %H:%M:%S") + " 北京时间"}


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _manifest_digest(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
                          .encode("utf-8")).hexdigest()


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def _snapshot_sqlite(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` with SQLite's online backup API, in one step inside a read transaction."""
    source = sqlite3.connect(str(src), timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    target = sqlite3.connect(str(dst), isolation_level=None)
    try:
        source.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the read snapshot starts here
        source.backup(target)  # pages=-1: everything in one step, from this snapshot
        source.execute("COMMIT")
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the archive
    finally:
        target.close()
        source.close()


def _describe(conn: Connection) -> dict[str, Any]:
    return {"alembic_revision": _alembic_revision(conn), "tables": table_checksums(conn),
            "audit": verify_audit_chain(conn), "vault": _vault_info(conn)}


# ----------------------------------------------------------------------- evidence
def evidence_folder(url: str, configured: str | None = None) -> Path:
    """The evidence folder of the store at ``url``, by the rule of
    :func:`reviewops.handling.evidence.evidence_root`: ``$REVIEWOPS_EVIDENCE_DIR``, else ``configured`` (the store's
    ``evidence_dir`` setting), else ``evidence/`` beside the SQLite file, or
    ``<user data dir>/evidence/<host>_<port>_<db>`` for PostgreSQL."""
    env = os.environ.get(EVIDENCE_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    if configured:
        return Path(configured).expanduser().resolve()
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite" and u.database:
        return Path(u.database).expanduser().resolve().parent / "evidence"
    import platformdirs

    ident = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{u.host or 'local'}_{u.port or 5432}_{u.database or 'db'}")
    return Path(platformdirs.user_data_dir("reviewops", appauthor=False)) / "evidence" / ident


def _evidence_listed(conn: Connection) -> tuple[list[tuple[str, int]], str | None]:
    """The evidence files the database lists (hash, size; sorted) and its ``evidence_dir`` setting."""
    names = set(sa.inspect(conn).get_table_names())
    files: list[tuple[str, int]] = []
    if "evidence_files" in names:
        files = sorted((str(a), int(b)) for a, b in conn.execute(sa.text("SELECT sha256, size FROM evidence_files")))
    configured = None
    if "settings" in names:
        configured = conn.execute(sa.text("SELECT value FROM settings WHERE key = :k"),
                                  {"k": EVIDENCE_DIR_SETTING}).scalar_one_or_none()
    return files, configured


def _hash_size(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def _survey_evidence(root: Path, listed: list[tuple[str, int]]) -> dict[str, Any]:
    """Which listed files are in ``root`` with the right bytes (``files``: [hash, size]), missing or altered."""
    files: list[list[Any]] = []
    missing: list[str] = []
    altered: list[str] = []
    for sha, _size in listed:
        try:
            got, n = _hash_size(root / sha[:2] / sha)
        except OSError:
            missing.append(sha)
            continue
        if got != sha:
            altered.append(sha)
        else:
            files.append([sha, n])
    return {"folder": str(root), "files": files, "count": len(files), "bytes": sum(n for _, n in files),
            "missing": missing, "altered": altered}


def _write_evidence_members(zf: zipfile.ZipFile, root: Path, evidence: dict[str, Any]) -> None:
    """Copy each surveyed file into the archive (stored, not deflated), checking its hash again on the way."""
    for sha, size in evidence["files"]:
        info = zipfile.ZipInfo(f"{EVIDENCE_PREFIX}{sha[:2]}/{sha}")
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o100400 << 16  # a read-only regular file, as in the evidence folder
        h = hashlib.sha256()
        with open(root / sha[:2] / sha, "rb") as src, zf.open(info, "w", force_zip64=size >= 1 << 31) as dst:
            while chunk := src.read(_CHUNK):
                h.update(chunk)
                dst.write(chunk)
        if h.hexdigest() != sha:
            raise StoreError(f"证据文件 {sha} 在备份过程中被改动；备份未完成，请重新备份 / the evidence file {sha} changed "
                             f"during the backup; nothing was written, run the backup again")


def _evidence_warnings(evidence: dict[str, Any] | None) -> list[str]:
    if not evidence or not (evidence.get("missing") or evidence.get("altered")):
        return []
    missing, altered = evidence.get("missing") or [], evidence.get("altered") or []
    shown = ", ".join(x[:12] for x in (missing + altered)[:5])
    return [(f"备份时证据文件夹 {evidence['folder']} 中缺少 {len(missing)} 个、内容与哈希不符 {len(altered)} 个证据文件"
             f"（{shown}…），它们不在备份中；用 `reviewops evidence verify` 查看并从原始来源找回 / the evidence folder "
             f"{evidence['folder']} lacked {len(missing)} and had {len(altered)} altered evidence file(s) ({shown}…) at "
             f"backup time; they are not in the backup — see `reviewops evidence verify`")]


def backup(store: Store, dest: str | os.PathLike[str], *, overwrite: bool = False,
           actor: str | None = None) -> BackupResult:
    """Write a consistent backup of ``store`` to ``dest`` (one ZIP file, see the module docstring).

    The file appears atomically (written beside, then renamed); an existing ``dest`` is refused
    unless ``overwrite``. The evidence files the snapshot lists are copied from the store's evidence folder
    (:func:`evidence_folder`); missing or altered ones are left out and named in ``warnings`` and the
    manifest. The vault key is never included: the result says where it is. The
    backup is recorded in the store's access log (``action="backup"``, after the snapshot, so
    not inside it) under ``actor`` (default ``cli:<os user>``).
    """
    from . import __version__
    from .users import log_access, os_actor

    dest = Path(dest).expanduser()
    if dest.exists() and not overwrite:
        raise ConfigError(f"备份文件已存在：{dest}；请换一个文件名，或加 --overwrite 覆盖 / the backup file {dest} "
                          f"already exists; choose another name or pass --overwrite")
    if dest.is_dir():
        raise ConfigError(f"{dest} 是文件夹；请给出备份文件名，如 {dest / 'reviewops-backup.zip'} / {dest} is a folder; "
                          f"give a file name")
    if not dest.parent.exists():
        raise ConfigError(f"文件夹不存在：{dest.parent} / the folder {dest.parent} does not exist")
    kind = "sqlite" if store.dialect == "sqlite" else "postgresql"
    with tempfile.TemporaryDirectory(prefix="reviewops-backup-") as tmp:
        if kind == "sqlite":
            dump = Path(tmp) / DUMP_SQLITE
            _snapshot_sqlite(_sqlite_path(store.url), dump)
            engine = _engine(f"sqlite:///{dump}")
            try:
                with engine.connect() as conn:
                    ok = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
                    if ok != "ok":
                        raise StoreError(f"数据库副本完整性检查失败 / the database copy fails integrity_check: {ok}")
                    described = _describe(conn)
                    listed, configured = _evidence_listed(conn)
            finally:
                engine.dispose()
            dump_meta = {"name": DUMP_SQLITE, "format": f"sqlite3 {sqlite3.sqlite_version}"}
        else:
            dump = Path(tmp) / DUMP_PG
            pg_dump = find_pg_tool("pg_dump")
            conninfo, env, secret = _pg_params(store.url)
            version = _run_tool([pg_dump, "--version"], env, secret, "读取 pg_dump 版本", "pg_dump --version").strip()
            with store.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                    snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
                    _run_tool([pg_dump, "--format=custom", "--no-owner", "--no-privileges",
                               f"--snapshot={snapshot}", f"--file={dump}", f"--dbname={conninfo}"],
                              env, secret, "pg_dump 备份", "the pg_dump backup")
                    described = _describe(conn)  # the same snapshot as the dump
                    listed, configured = _evidence_listed(conn)
            dump_meta = {"name": DUMP_PG, "format": "pg_dump custom", "tool": version}
        dump_meta.update({"size": dump.stat().st_size, "sha256": _sha256_file(dump)})
        root = evidence_folder(store.url, configured)
        evidence = _survey_evidence(root, listed)
        where = key_location()
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "reviewops_version": __version__,
            "alembic_revision": described["alembic_revision"],
            **_now_fields(),
            "source": {"kind": kind, "location": masked_location(store.url)},
            "dump": dump_meta,
            "evidence": evidence,
            "tables": described["tables"],
            "audit": described["audit"],
            "vault": {**described["vault"], "key_included": False,
                      "key_location": {k: v for k, v in where.items() if k in ("kind", "name", "path", "via")}},
        }
        manifest["manifest_sha256"] = _manifest_digest(manifest)
        part = dest.with_name(f".{dest.name}.part-{os.getpid()}")
        try:
            with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
                zf.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True))
                zf.write(dump, dump_meta["name"])
                _write_evidence_members(zf, root, evidence)
            with open(part, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(part, dest)
        finally:
            part.unlink(missing_ok=True)
    with store.write() as conn:
        log_access(conn, actor=actor or os_actor(), role=None, action="backup", outcome="ok", target=dest.name,
                   detail={"dump_sha256": dump_meta["sha256"], "tables": len(manifest["tables"]),
                           "rows": sum(t["rows"] for t in manifest["tables"].values()),
                           "alembic_revision": manifest["alembic_revision"], "evidence_files": evidence["count"],
                           "evidence_missing": len(evidence["missing"]) + len(evidence["altered"])})
    return BackupResult(dest, manifest, where, _evidence_warnings(evidence))


# ----------------------------------------------------------------------- verify
def _refuse(path: Path, zh: str, en: str) -> BackupInvalid:
    return BackupInvalid(f"备份文件 {path} 不可用：{zh}。未写入任何数据；请使用另一份备份。\n"
                         f"The backup file {path} is refused: {en}. Nothing was written; use another backup.")


def _read_manifest(path: Path, zf: zipfile.ZipFile) -> dict[str, Any]:
    names = zf.namelist()
    if MANIFEST not in names:
        raise _refuse(path, f"缺少 {MANIFEST}（不是 ReviewOps 备份）", f"{MANIFEST} is missing (not a ReviewOps backup)")
    try:
        raw = zf.read(MANIFEST)
        manifest = json.loads(raw.decode("utf-8"))
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise _refuse(path, f"清单 {MANIFEST} 已损坏（{e}）", f"the manifest {MANIFEST} is damaged ({e})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _refuse(path, f"清单 {MANIFEST} 不是有效的 JSON（{e}）", f"the manifest is not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse(path, "清单格式不对（不是 ReviewOps 备份）", "the manifest has the wrong format (not a ReviewOps backup)")
    if manifest.get("manifest_sha256") != _manifest_digest(manifest):
        raise _refuse(path, "清单的校验和不符（清单被改动过）", "the manifest's checksum does not match (it was altered)")
    if manifest.get("format_version") not in READABLE_VERSIONS:
        raise _refuse(path, f"备份格式版本 {manifest.get('format_version')!r} 不受本版本支持（支持 "
                            f"{'、'.join(map(str, READABLE_VERSIONS))}）；请用制作该备份的 ReviewOps 版本",
                      f"backup format version {manifest.get('format_version')!r} is not supported (this version reads "
                      f"{', '.join(map(str, READABLE_VERSIONS))}); use the ReviewOps version that made it")
    dump = manifest.get("dump") or {}
    expected = {"sqlite": DUMP_SQLITE, "postgresql": DUMP_PG}.get((manifest.get("source") or {}).get("kind"))
    if dump.get("name") != expected or expected not in names:
        raise _refuse(path, f"缺少数据文件 {expected or dump.get('name')}", f"the dump {expected or dump.get('name')} is missing")
    listed = _listed_members(path, manifest)
    extra = sorted(set(names) - {MANIFEST, expected} - listed)
    if extra:
        raise _refuse(path, f"含有意外的文件 {extra[:5]}", f"unexpected members {extra[:5]}")
    absent = sorted(listed - set(names))
    if absent:
        raise _refuse(path, f"缺少清单列出的证据文件 {absent[:5]}（共 {len(absent)} 个）",
                      f"evidence files the manifest lists are missing: {absent[:5]} ({len(absent)} in all)")
    rev = manifest.get("alembic_revision")
    if rev is None or str(rev) > _head_revision():
        raise _refuse(path, f"备份的数据库版本 {rev} 比本 ReviewOps 更新（最高 {_head_revision()}）；请先升级 ReviewOps",
                      f"the backup's schema revision {rev} is newer than this ReviewOps knows ({_head_revision()}); "
                      f"upgrade ReviewOps first")
    return manifest


def _listed_members(path: Path, manifest: dict[str, Any]) -> set[str]:
    """The ``evidence/…`` member names the manifest lists (none for a format-1 backup); a malformed list is refused."""
    ev = manifest.get("evidence")
    if ev is None:
        return set()
    out: set[str] = set()
    try:
        for sha, size in ev["files"]:
            name = f"{EVIDENCE_PREFIX}{sha[:2]}/{sha}"
            if not (isinstance(sha, str) and _EVIDENCE_MEMBER.match(name) and isinstance(size, int) and size >= 0):
                raise ValueError(sha)
            out.add(name)
    except (KeyError, TypeError, ValueError) as e:
        raise _refuse(path, f"清单中的证据文件列表格式不对（{e!r}）", f"the manifest's evidence list is malformed ({e!r})") from None
    return out


def _check_evidence(path: Path, zf: zipfile.ZipFile, manifest: dict[str, Any]) -> int:
    """Read every evidence member, recompute its SHA-256 and size, and refuse the first that does not match its
    name and the manifest. Returns the number checked."""
    ev = manifest.get("evidence")
    if not ev:
        return 0
    for sha, size in ev["files"]:
        name = f"{EVIDENCE_PREFIX}{sha[:2]}/{sha}"
        h = hashlib.sha256()
        n = 0
        try:
            with zf.open(name) as src:
                while chunk := src.read(_CHUNK):
                    h.update(chunk)
                    n += len(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise _refuse(path, f"证据文件 {name} 已损坏或被截断（{e}）",
                          f"the evidence file {name} is damaged or truncated ({e})") from None
        if h.hexdigest() != sha or n != size:
            raise _refuse(path, f"证据文件 {name} 的内容与其 SHA-256（文件名）不符：实际 {h.hexdigest()}，{n} 字节"
                                f"（文件被改动或损坏）",
                          f"the evidence file {name} does not match its SHA-256 (its name): got {h.hexdigest()}, "
                          f"{n} bytes (it was altered or damaged)")
    return len(ev["files"])


def _check_evidence_rows(path: Path, manifest: dict[str, Any], url: str) -> None:
    """The evidence the manifest accounts for (in the backup, missing or altered) is what ``evidence_files`` lists."""
    ev = manifest.get("evidence")
    if ev is None:
        return
    want = {sha for sha, _ in ev["files"]} | set(ev.get("missing") or []) | set(ev.get("altered") or [])
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            got = {sha for sha, _ in _evidence_listed(conn)[0]}
    finally:
        engine.dispose()
    if want != got:
        diff = sorted(want ^ got)
        raise _refuse(path, f"清单中的证据文件与数据库的 evidence_files 表不一致（{len(diff)} 个，如 {diff[:3]}）",
                      f"the manifest's evidence files differ from the database's evidence_files table ({len(diff)}, "
                      f"e.g. {diff[:3]})")


@contextmanager
def _opened(path: Path) -> Iterator[tuple[zipfile.ZipFile, dict[str, Any]]]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"找不到备份文件 {path} / the backup file {path} does not exist")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise _refuse(path, f"不是完整的 ZIP 文件（可能被截断）：{e}",
                      f"not a complete ZIP file (truncated?): {e}") from None
    with zf:
        yield zf, _read_manifest(path, zf)


def _extract_dump(path: Path, zf: zipfile.ZipFile, manifest: dict[str, Any], into: Path) -> Path:
    """Extract the dump to ``into``, checking its CRC, size and the manifest's SHA-256 on the way."""
    meta = manifest["dump"]
    out = into / meta["name"]
    h = hashlib.sha256()
    size = 0
    try:
        with zf.open(meta["name"]) as src, open(out, "wb") as dst:
            while chunk := src.read(_CHUNK):
                h.update(chunk)
                size += len(chunk)
                dst.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise _refuse(path, f"数据文件 {meta['name']} 已损坏或被截断（{e}）",
                      f"the dump {meta['name']} is damaged or truncated ({e})") from None
    if size != meta.get("size") or h.hexdigest() != meta.get("sha256"):
        raise _refuse(path, f"数据文件 {meta['name']} 的校验和与清单不符（文件被改动过）",
                      f"the dump {meta['name']} does not match the manifest's checksum (it was altered)")
    return out


def _compare(path: Path, manifest: dict[str, Any], got: dict[str, Any], where: str, where_en: str,
             *, written: str | None = None) -> None:
    """Refuse when a (trial) restore differs from the manifest; ``written`` names the target already written."""
    want = manifest["tables"]
    bad = [t for t in sorted(set(want) | set(got["tables"])) if want.get(t) != got["tables"].get(t)]
    zh = en = ""
    if bad:
        details = "; ".join(f"{t}: {want.get(t, {}).get('rows', '-')} → {got['tables'].get(t, {}).get('rows', '-')}"
                            for t in bad[:8])
        zh = f"{where}后这些表的行数或校验和与清单不符：{details}"
        en = f"after {where_en} these tables differ from the manifest (rows or checksum): {details}"
    elif not got["audit"]["ok"]:
        zh = f"{where}后审计链校验失败：{'；'.join(got['audit']['problems'][:3])}"
        en = f"after {where_en} the audit chain does not verify: {'; '.join(got['audit']['problems'][:3])}"
    if not zh:
        return
    if written is None:
        raise _refuse(path, zh, en)
    raise StoreError(f"{zh}。数据已写入 {written}，但与备份不一致：请勿使用它，用另一份备份加 --force 重新恢复。\n"
                     f"{en[0].upper() + en[1:]}. The data was written to {written} but does not match the backup: "
                     f"do not use it; restore another backup with --force.")


@contextmanager
def _pg_scratch(server_url: str) -> Iterator[str]:
    """A throwaway database on the server of ``server_url`` (dropped afterwards); yields its URL."""
    import secrets

    u = sa.engine.make_url(server_url)
    name = f"reviewops_verify_{secrets.token_hex(6)}"
    admin = sa.create_engine(u, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except sa.exc.DBAPIError as e:
            raise _ScratchUnavailable(
                f"无法在 {masked_location(server_url)} 上创建临时数据库来试恢复（{_scrub(str(e.orig), u.password)}）；"
                f"校验需要 CREATEDB 权限 / cannot create a scratch database on {masked_location(server_url)} for the "
                f"trial restore ({_scrub(str(e.orig), u.password)}); verifying needs the CREATEDB privilege") from None
        try:
            yield u.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def _pg_restore(dump: Path, url: str, *, clean: bool) -> None:
    pg_restore = find_pg_tool("pg_restore")
    conninfo, env, secret = _pg_params(url)
    args = [pg_restore, "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges"]
    if clean:
        args += ["--clean", "--if-exists"]
    _run_tool([*args, f"--dbname={conninfo}", str(dump)], env, secret, "pg_restore 恢复", "pg_restore")


def _describe_url(url: str) -> dict[str, Any]:
    engine = _engine(url)
    try:
        with engine.connect() as conn, conn.begin():
            return _describe(conn)
    finally:
        engine.dispose()


def _trial(path: Path, zf: zipfile.ZipFile, manifest: dict[str, Any], tmp: Path, pg_server: str | None,
           *, trial_optional: bool = False) -> tuple[Path, list[str]]:
    """Extract and trial-restore the dump into a temporary database; returns (dump path, checks done).

    ``trial_optional`` (a PostgreSQL restore): when the server refuses a scratch database (no
    CREATEDB) the trial is skipped and said so — the dump's checksum still matched, and
    ``pg_restore --single-transaction`` writes all or nothing."""
    checks = ["ZIP 结构与 CRC / ZIP structure and CRCs", "清单与其校验和 / manifest and its checksum"]
    dump = _extract_dump(path, zf, manifest, tmp)
    checks.append("数据文件校验和 / dump checksum")
    n_evidence = _check_evidence(path, zf, manifest)
    if manifest.get("evidence") is not None:
        checks.append(f"证据文件 {n_evidence} 个：逐个重算 SHA-256 与清单、文件名核对 / {n_evidence} evidence files: every "
                      f"SHA-256 recomputed against its name and the manifest")
    if manifest["source"]["kind"] == "sqlite":
        try:
            con = sqlite3.connect(str(dump))
            try:
                ok = con.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                con.close()
        except sqlite3.DatabaseError as e:
            raise _refuse(path, f"数据文件不是可用的 SQLite 数据库（{e}）", f"the dump is not a usable SQLite database ({e})") from None
        if ok != "ok":
            raise _refuse(path, f"数据文件完整性检查失败（{ok}）", f"the dump fails SQLite's integrity check ({ok})")
        _compare(path, manifest, _describe_url(f"sqlite:///{dump}"), "试恢复", "the trial restore")
        _check_evidence_rows(path, manifest, f"sqlite:///{dump}")
        checks.append("试恢复到临时 SQLite 文件：各表行数与校验和、审计链 / trial restore into a temporary SQLite file: "
                      "rows and checksums of every table, audit chain")
    else:
        server = resolve_url(pg_server)  # --db, else REVIEWOPS_DB
        if not server.startswith("postgresql"):
            raise ConfigError("这是 PostgreSQL 备份：校验要在 PostgreSQL 服务器上试恢复，请用 --db postgresql+psycopg://… "
                              "指定服务器 / this is a PostgreSQL backup: verifying restores it on a PostgreSQL server; "
                              "name one with --db postgresql+psycopg://…")
        try:
            with _pg_scratch(server) as scratch:
                try:
                    _pg_restore(dump, scratch, clean=False)
                except PgToolMissing:
                    raise
                except StoreError as e:
                    raise _refuse(path, f"试恢复失败：{e}", f"the trial restore failed: {e}") from None
                _compare(path, manifest, _describe_url(scratch), "试恢复", "the trial restore")
                _check_evidence_rows(path, manifest, scratch)
        except _ScratchUnavailable as e:
            if not trial_optional:
                raise
            checks.append(f"未试恢复（{e}）/ trial restore skipped")
            return dump, checks
        checks.append("试恢复到临时 PostgreSQL 数据库：各表行数与校验和、审计链 / trial restore into a scratch PostgreSQL "
                      "database: rows and checksums of every table, audit chain")
    return dump, checks


def verify(path: str | os.PathLike[str], *, db: str | None = None) -> VerifyResult:
    """Check a backup file end to end without touching any store (see the module docstring).

    ``db`` (else ``REVIEWOPS_DB``) names the PostgreSQL server used for the trial restore of a
    ``pg_dump`` backup (a throwaway database is created there and dropped). Raises :class:`BackupInvalid` with what
    is wrong for a truncated, altered or foreign file.
    """
    path = Path(path).expanduser()
    with _opened(path) as (zf, manifest), tempfile.TemporaryDirectory(prefix="reviewops-verify-") as tmp:
        _, checks = _trial(path, zf, manifest, Path(tmp), db)
    return VerifyResult(path, manifest, checks, key_location())


# ---------------------------------------------------------------------- restore
def _target_rows(url: str) -> dict[str, int] | None:
    """Rows per table of the target (tables with rows only; ``alembic_version`` ignored); None = no database yet."""
    if url.startswith("sqlite:///"):
        p = _sqlite_path(url)
        if not p.exists() or p.stat().st_size == 0:
            return None
        try:
            con = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
            try:
                names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                                   "AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version'")]
                counts = {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
            finally:
                con.close()
        except sqlite3.DatabaseError as e:
            raise RestoreRefused(f"目标 {p} 不是 SQLite 数据库（{e}）；请指定新的文件 / the target {p} is not an SQLite "
                                 f"database ({e}); name a new file") from None
        return {n: c for n, c in counts.items() if c}
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            names = [n for n in _table_names(conn) if n != "alembic_version"]
            counts = {n: int(conn.exec_driver_sql(f"SELECT count(*) FROM {_quote(conn, n)}").scalar_one()) for n in names}
    except sa.exc.OperationalError as e:
        _, _, secret = _pg_params(url)
        raise StoreError(f"无法连接恢复目标 {masked_location(url)}（{_scrub(str(e.orig), secret)}）/ cannot connect to the "
                         f"restore target {masked_location(url)}") from None
    finally:
        engine.dispose()
    return {n: c for n, c in counts.items() if c}


def _restore_sqlite(snapshot: Path, target: Path) -> None:
    """Write ``snapshot`` into ``target`` with the backup API: one locked transaction on the target."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"无法创建文件夹 {target.parent}：{e.strerror} / cannot create {target.parent}") from None
    source = sqlite3.connect(str(snapshot), isolation_level=None)
    dest = sqlite3.connect(str(target), timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        dest.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        source.backup(dest)
        dest.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as e:
        raise StoreError(f"恢复到 {target} 失败（{e}）；目标未改变。请停止正在使用它的程序（watch、serve）后重试 / "
                         f"restoring into {target} failed ({e}); the target is unchanged. Stop the programs using it "
                         f"(watch, serve) and try again") from None
    finally:
        dest.close()
        source.close()


def _restore_evidence(path: Path, zf: zipfile.ZipFile, manifest: dict[str, Any], url: str,
                      evidence_dir: str | os.PathLike[str] | None) -> dict[str, Any]:
    """Write the backup's evidence files into the restored store's evidence folder: each through a temporary file
    in its sub-folder whose SHA-256 must equal its name before it is renamed (read-only); a file already there with
    the right bytes is kept. Returns the folder and counts."""
    import secrets

    ev = manifest.get("evidence")
    if evidence_dir is not None:
        root = Path(evidence_dir).expanduser().resolve()
    else:
        engine = _engine(url)
        try:
            with engine.connect() as conn:
                _, configured = _evidence_listed(conn)
        finally:
            engine.dispose()
        root = evidence_folder(url, configured)
    out = {"folder": str(root), "files": len(ev["files"]) if ev else 0, "written": 0, "present": 0}
    if not ev:
        return out
    try:
        for sha, _size in ev["files"]:
            target = root / sha[:2] / sha
            if target.is_file():
                try:
                    if _hash_size(target)[0] == sha:
                        out["present"] += 1
                        continue
                except OSError:
                    pass
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = target.parent / f".tmp-{secrets.token_hex(8)}"
            h = hashlib.sha256()
            try:
                with zf.open(f"{EVIDENCE_PREFIX}{sha[:2]}/{sha}") as src, open(tmp, "xb") as dst:
                    while chunk := src.read(_CHUNK):
                        h.update(chunk)
                        dst.write(chunk)
                    dst.flush()
                    os.fsync(dst.fileno())
                if h.hexdigest() != sha:
                    raise _refuse(path, f"证据文件 {sha} 解出后与其 SHA-256 不符", f"the evidence file {sha} does not match "
                                        "its SHA-256 when extracted")
                if os.name == "posix":
                    os.chmod(tmp, 0o400)  # evidence is never edited in place
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
            out["written"] += 1
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as e:
        why = getattr(e, "strerror", None) or str(e)
        raise StoreError(
            f"数据库已恢复到 {masked_location(url)}，但写入证据文件夹 {root} 失败（{why}；已写入 {out['written']} 个）。"
            f"请检查该文件夹的权限，或设置 {EVIDENCE_DIR_ENV} 指定别的位置，然后加 --force 再恢复一次。\n"
            f"The database was restored into {masked_location(url)}, but writing the evidence folder {root} failed "
            f"({why}; {out['written']} written). Check the folder's permissions or set {EVIDENCE_DIR_ENV}, then "
            f"restore again with --force.") from None
    return out


def restore(path: str | os.PathLike[str], db: str | None = None, *, force: bool = False,
            evidence_dir: str | os.PathLike[str] | None = None) -> RestoreResult:
    """Restore the backup ``path`` into the store ``db`` (``--db`` / ``REVIEWOPS_DB`` / the default file).

    Order: the file is checked completely (:func:`verify`, including a trial restore) and the target
    must be empty (or ``force``) before anything is written; nothing is written on refusal. Then the
    dump is written in one transaction, and every table's rows and checksum and the audit chain are
    compared with the manifest. The target must be of the backup's kind (SQLite ↔ SQLite,
    PostgreSQL ↔ PostgreSQL). Then the evidence files (every hash already checked by the verification) are
    written into the restored store's evidence folder — ``evidence_dir``, else :func:`evidence_folder` of the
    target. Stop the watcher and the workbench before restoring.
    """
    path = Path(path).expanduser()
    url = resolve_url(db)
    target_kind = "sqlite" if url.startswith("sqlite:///") else "postgresql"
    with _opened(path) as (zf, manifest), tempfile.TemporaryDirectory(prefix="reviewops-restore-") as tmp:
        kind = manifest["source"]["kind"]
        if kind != target_kind:
            raise RestoreRefused(
                f"这是 {kind} 备份，不能恢复到 {target_kind} 数据库 {masked_location(url)}；请用 --db 指定一个 {kind} "
                f"数据库 / this is a {kind} backup and cannot be restored into the {target_kind} store "
                f"{masked_location(url)}; name a {kind} store with --db")
        existing = _target_rows(url) or {}
        if existing and not force:
            shown = sorted(existing.items())[:8]
            listed = "，".join(f"{t} {n}" for t, n in shown)
            listed_en = ", ".join(f"{t} {n}" for t, n in shown)
            raise RestoreRefused(
                f"恢复目标 {masked_location(url)} 不是空的（{listed}）；未写入任何数据。请恢复到一个新的数据库（--db 新文件或"
                f"新建的空数据库），或确认要覆盖时加 --force。\nThe restore target {masked_location(url)} is not empty "
                f"({listed_en}); nothing was written. Restore into a new store (--db a new file or an empty database), "
                f"or pass --force to overwrite it.")
        dump, checks = _trial(path, zf, manifest, Path(tmp), url if kind == "postgresql" else None,
                              trial_optional=True)
        if kind == "sqlite":
            _restore_sqlite(dump, _sqlite_path(url))
        else:
            _pg_restore(dump, url, clean=True)
        got = _describe_url(url)
        _compare(path, manifest, got, "恢复", "the restore", written=masked_location(url))
        checks.append("恢复后各表行数与校验和等于清单，审计链完整 / after the restore every table's rows and checksum "
                      "equal the manifest and the audit chain verifies")
        evidence = _restore_evidence(path, zf, manifest, url, evidence_dir)
        if manifest.get("evidence") is not None:
            checks.append(f"证据文件 {evidence['files']} 个已恢复到 {evidence['folder']}（新写入 {evidence['written']} 个，"
                          f"{evidence['present']} 个原已存在且内容一致），每个都核对了 SHA-256 / {evidence['files']} evidence "
                          f"files restored into {evidence['folder']} ({evidence['written']} written, "
                          f"{evidence['present']} already there), every SHA-256 checked")
    where = key_location()
    warnings: list[str] = _evidence_warnings(manifest.get("evidence"))
    listed_rows = (manifest["tables"].get("evidence_files") or {}).get("rows", 0)
    if manifest.get("evidence") is None and listed_rows:
        warnings.append(f"这份备份（格式版本 {manifest.get('format_version')}）不含证据文件夹，数据库列出 {listed_rows} 个证据文件："
                        f"请把原证据文件夹复制到 {evidence['folder']}，再运行 `reviewops evidence verify` / this backup "
                        f"(format {manifest.get('format_version')}) has no evidence folder while the database lists "
                        f"{listed_rows} evidence files: copy the old folder to {evidence['folder']} and run "
                        f"`reviewops evidence verify`")
    want_ids = manifest.get("vault", {}).get("key_ids") or []
    if want_ids and where.get("key_id") not in want_ids:
        have = where.get("key_id") or "无 none"
        warnings.append(f"保险库中的数据用密钥 {', '.join(want_ids)} 加密，当前密钥为 {have}：请把原来的保险库密钥放回"
                        f"（{ENV_HINT}），否则无法查看收货人信息 / the vault's data was encrypted with key id "
                        f"{', '.join(want_ids)}, the current key is {have}: put the original vault key back, or the "
                        f"receiver data cannot be revealed")
    if str(manifest["alembic_revision"]) < _head_revision():
        warnings.append(f"备份的数据库版本 {manifest['alembic_revision']} 早于本版本（{_head_revision()}）；下次打开时会自动升级 / "
                        f"the backup's schema revision is older than this version's; it is migrated on the next open")
    return RestoreResult(path, masked_location(url), manifest, existing, got["audit"], checks, warnings, where,
                         evidence)

