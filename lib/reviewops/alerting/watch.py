"""The review watcher (SPEC E1): ``reviewops watch`` takes reviews in as they arrive and alerts within seconds.

Three sources, one path — every arrival goes through the real importer
(:func:`reviewops.intake.ingest.import_file`) and triage (:func:`reviewops.handling.opening.triage_store`), and each
new negative case gets its alert **in the transaction that opens the case**
(:func:`reviewops.alerting.alerts.case_alert_hook`):

* **Drop folder** (``--folder``): platform export files (CSV/TSV/TXT/XLSX/XLS/ZIP) put there, also in
  sub-folders. A file is taken once its size and modification time have stayed the same for
  ``settle`` seconds (a copy or download still being written is waited out); hidden files, Office
  lock files (``~$…``) and ``.tmp/.part/.crdownload/.download`` are ignored, and so are the
  ``*.rejected.csv`` files the importer writes. A file is imported again only when its content
  changes (``watch_files`` keeps each path's SHA-256), so a restart re-reads nothing.
* **HTTP push** (``--http HOST:PORT``): ``POST /v1/reviews`` with a JSON review event, signed with
  HMAC-SHA256 (:func:`sign_push`, secret ``$REVIEWOPS_PUSH_SECRET``). Unsigned or wrongly signed
  requests (401), requests whose timestamp is more than 5 minutes off (401) and a repeated
  ``event_id`` (409) are refused; nothing of a refused request is written. ``GET /healthz``
  answers with counts only.
* **Scheduled re-imports** (``--every PATH@10m``): a file or glob read again on a timer (an ERP or
  a browser extension keeps overwriting the export there); unchanged content is skipped.

Arrival time — what the measured detection delay starts from: a file's modification time (when it
finished landing), the moment a pushed request was received. Detection time is when the case was
opened; delivery time is recorded per channel by :func:`reviewops.alerting.alerts.dispatch`.

A sender thread delivers alerts (:func:`reviewops.alerting.alerts.dispatch`; retries with backoff, dead
letters). Every ``sla_every`` seconds the SLA check records warnings and breach escalations once, and the
platform-appeal deadlines near or past (``appeal_warn`` / ``appeal_overdue``, once per case), and alerts them
(:func:`reviewops.alerting.alerts.raise_sla_alerts`); the same check raises the service-commitment breaches in
progress (``commit_warn`` / ``commit_breach``, once per event and stage, alerts with no case:
:func:`reviewops.alerting.alerts.raise_commitment_alerts`). On start, reviews first seen in the
last day that have no case yet (the watcher stopped between import and triage) are triaged and
alerted (source ``recovery``); on start and with every SLA check, cases opened in the last hour by
anyone else (a manual ``reviewops import`` + ``triage``) that have no alert get one (source ``import``).

Health: a heartbeat row every few seconds; :func:`watch_status` (``reviewops watch --status``).
Logs carry file names, counts, ids and channel names — never review text, nicknames or phones.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..core.errors import ConfigError, ImportRejected, ReviewOpsError
from .delivery import is_loopback_host

if TYPE_CHECKING:
    from ..core.policy import Policy
    from ..core.store import Store
    from .channels import Channel

__all__ = [
    "PUSH_SECRET_ENV",
    "PushRejected",
    "Schedule",
    "WatchConfig",
    "Watcher",
    "malicious_alert_hook",
    "parse_schedule",
    "sign_push",
    "take_file",
    "take_push",
    "verify_push",
    "watch_status",
]

log = logging.getLogger("reviewops.alerting.watch")
PUSH_SECRET_ENV = "REVIEWOPS_PUSH_SECRET"
MAX_PUSH_BYTES = 5 * 1024 * 1024
MAX_PUSH_REVIEWS = 5000
MAX_SKEW_S = 300.0
SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx", ".xls", ".xlsm", ".zip"}
IGNORED_SUFFIXES = {".tmp", ".part", ".crdownload", ".download", ".partial", ".swp"}
ACTOR = "watcher"


def _utcnow() -> dt.datetime:
    from ..core.store import utcnow

    return utcnow()


# ------------------------------------------------------------------------------------------ config
@dataclass(frozen=True)
class Schedule:
    """A scheduled re-import: ``path`` (a file, or a glob such as ``/data/erp/*.xlsx``) every ``every`` seconds."""

    path: str
    every: float


def parse_schedule(text: str) -> Schedule:
    """``PATH@10m`` / ``PATH@30s`` / ``PATH@1h`` → :class:`Schedule` (at least 10 s)."""
    import re

    path, sep, spec = str(text).rpartition("@")
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", spec) if sep else None
    if not path or m is None:
        raise ConfigError(f"定时导入应写成 路径@间隔，如 /data/erp/评价.xlsx@10m，收到 {text!r} / a schedule is PATH@INTERVAL "
                          "such as /data/erp/reviews.xlsx@10m")
    seconds = float(m[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[m[2]]
    if seconds < 10:
        raise ConfigError(f"定时导入间隔至少 10 秒，收到 {spec!r} / the interval must be at least 10 s")
    return Schedule(path=path, every=seconds)


@dataclass
class WatchConfig:
    """How ``reviewops watch`` runs. Secrets come from the environment only."""

    folder: Path | None = None
    http_host: str = "127.0.0.1"
    http_port: int | None = None  # None = no HTTP endpoint; 0 = any free port (tests)
    allow_remote: bool = False  # listen on a non-loopback address (only behind a TLS reverse proxy)
    push_secret: str | None = None  # default $REVIEWOPS_PUSH_SECRET
    schedules: list[Schedule] = field(default_factory=list)
    shop: str | None = None  # shop name for exports without a 店铺名称 column
    platform: str | None = None
    poll: float = 0.5  # seconds between folder scans
    settle: float = 1.0  # a file must stay unchanged this long before it is taken
    sla_every: float = 60.0
    beat_every: float = 5.0
    send_timeout: float = 5.0
    name: str = "watcher"
    env: Mapping[str, str] | None = None
    channels: Mapping[str, Channel] | None = None  # override the policy's channels (tests, custom SMS)

    def __post_init__(self) -> None:
        env = os.environ if self.env is None else self.env
        if self.push_secret is None:
            self.push_secret = env.get(PUSH_SECRET_ENV) or None
        if self.folder is not None:
            self.folder = Path(self.folder)
            if not self.folder.is_dir():
                raise ConfigError(f"监视文件夹不存在：{self.folder} / the drop folder does not exist; create it first")
        if self.http_port is not None:
            if not 0 <= int(self.http_port) < 65536:
                raise ConfigError(f"端口应在 0–65535，收到 {self.http_port!r} / port must be 0–65535")
            if not is_loopback_host(self.http_host) and not self.allow_remote:
                raise ConfigError(f"推送地址 {self.http_host} 不是本机地址：评价内容含个人信息，不能明文经过网络。请监听 127.0.0.1 并在前面"
                                  "放 TLS 反向代理（nginx/Caddy），确需直接监听时加 --allow-remote / a non-loopback listen "
                                  "address sends personal data in clear text; listen on 127.0.0.1 behind a TLS proxy, or "
                                  "pass --allow-remote")
            if not self.push_secret or len(self.push_secret) < 16:
                raise ConfigError(f"接收推送需要签名密钥：请设置环境变量 {PUSH_SECRET_ENV}（至少 16 个字符）/ the HTTP "
                                  f"endpoint needs a signing secret in ${PUSH_SECRET_ENV} (16+ characters)")
        if self.folder is None and self.http_port is None and not self.schedules:
            raise ConfigError("没有评价来源：请给出 --folder、--http 或 --every / no source: give --folder, --http or --every")
        for name in ("poll", "settle", "sla_every", "beat_every", "send_timeout"):
            if float(getattr(self, name)) <= 0:
                raise ConfigError(f"{name} 应大于 0，收到 {getattr(self, name)!r} / {name} must be positive")


# ------------------------------------------------------------------------------------------ intake
@dataclass
class Intake:
    """What taking one file or pushed event did (counts only — safe to log and store)."""

    source: str
    name: str
    state: str = "done"  # done | unchanged | busy (another watcher is taking it) | rejected | failed
    reviews_new: int = 0
    reviews_updated: int = 0
    cases: int = 0
    alerts: int = 0
    error: str | None = None
    retry: bool = False  # the store failed: the file was released and is taken again by the next scan

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "") and not (k == "retry" and not v)}


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _safe_error(e: Exception, *, pushed: bool = False) -> str:
    """An import error without cell values (they may hold personal data): where and why, at most five.
    ``pushed``: name the review's position in the event (第1条 = the first) instead of the file row."""
    if isinstance(e, ImportRejected):
        def where(row: int | None) -> str:
            if row is None:
                return ""
            return f"第{row - 1}条评价 review {row - 1} " if pushed else f"第{row}行 row {row} "

        shown = "；".join(f"{where(p.row)}「{p.column or '-'}」{p.reason_zh} / {p.reason_en}" for p in e.problems[:5])
        more = f"；另有 {len(e.problems) - 5} 个 / {len(e.problems) - 5} more" if len(e.problems) > 5 else ""
        return f"{len(e.problems)} 个问题 problems: {shown}{more}"
    return f"{type(e).__name__}"


def _triage_new(store: Store, policy: Policy, *, batch_ids: list[int] | None, source: str,
                arrived_at: dt.datetime | None, seen_since: dt.datetime | None = None) -> tuple[int, int]:
    from ..handling.opening import triage_store
    from .alerts import case_alert_hook

    if batch_ids is not None and not batch_ids:
        return 0, 0
    created: list[int] = []
    # detect=True: malicious-review detection runs on the new cases in the transaction that opens them, so
    # their new-case alert already says 恶意 / 法务; an earlier case routed then (a burst completed) gets its
    # own malicious alert (issue 17 §1)
    res = triage_store(store, policy=policy, actor=ACTOR, via="watch", batch_ids=batch_ids, seen_since=seen_since,
                       on_case=case_alert_hook(policy, source=source, arrived_at=arrived_at, created=created),
                       detect=True, on_malicious=malicious_alert_hook(policy, source=source, created=created))
    return res.created, len(created)


def malicious_alert_hook(policy: Policy, *, source: str, created: list[int] | None = None) -> Any:
    """An ``on_malicious`` hook for :func:`reviewops.handling.defence.detect_malicious` / ``detect_new_chats``: a
    case that became malicious after it was opened (a chat imported after its review) gets an alert in the
    transaction that routes it to 法务. Key ``malicious:<case>`` (once per case), kind ``malicious``, delivered
    on the channels that take new-case alerts (the policy has no event of its own for it yet); the message is
    built from the case when sent (恶意, 法务, the 1 h deadline). Kept out of the new-case figures (E1 delays
    count kind ``new_case`` only). Material older than the policy's ``alert_max_review_age_hours`` (a first
    import of old chats) is recorded on the case but pages nobody. Event ids are appended to ``created``."""
    from .alerts import _insert_event, _is_history

    def hook(conn: sa.Connection, case_id: int, info: dict[str, Any]) -> None:
        now = _utcnow()
        if _is_history(policy, info.get("evidence_at"), now):
            return
        detected = info.get("detected_at") or now
        # _insert_event: once per key, also when another watcher routes the same case at the same moment
        event_id = _insert_event(conn, key=f"malicious:{case_id}", kind="malicious", case_id=case_id,
                                 shop_id=int(info["shop_id"]), source=source,
                                 arrived_at=min(info.get("evidence_at") or detected, now), detected_at=detected,
                                 policy=policy, now=now)
        if event_id is not None and created is not None:
            created.append(event_id)

    return hook


def _detect_chats(store: Store, policy: Policy, results: list[Any], *, source: str) -> int:
    """Chats just imported: detection again for the cases of their buyers (a chat that arrives after its review
    updates the case); returns the malicious alerts raised."""
    from ..handling.defence import detect_new_chats

    batches = [int(r.batch_id) for r in results if r.kind == "chats" and r.batch_id is not None]
    if not batches:
        return 0
    created: list[int] = []
    res = detect_new_chats(store, batch_ids=batches, actor=ACTOR, via="watch",
                           on_malicious=malicious_alert_hook(policy, source=source, created=created))
    if res.malicious:
        log.info("chats: %d cases re-examined, %d routed to legal as malicious", res.examined, len(res.malicious))
    return len(created)


#: A file claimed by a watcher (``watch_files.state = taking``) is taken over by another only after this long
#: without an outcome — or at once when the claiming process is on this host and no longer runs.
FILE_LEASE = dt.timedelta(minutes=10)
#: Attempts of an import (or its triage) that met a concurrent writer's rows (another watcher importing the same
#: reviews at the same moment: a unique-key conflict or a deadlock on PostgreSQL), retried after a short pause.
CONFLICT_ATTEMPTS = 4


def _owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _owner_gone(summary: str | None) -> bool:
    """The watcher that claimed a file ran on this host and its process is gone (killed mid-import)."""
    try:
        who = json.loads(summary or "{}").get("taking") or {}
    except (ValueError, AttributeError):
        return False
    if who.get("host") != socket.gethostname() or not isinstance(who.get("pid"), int):
        return False
    if who["pid"] == os.getpid():
        return False
    try:
        os.kill(who["pid"], 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _claim_file(store: Store, key: str, *, sha: str, size: int, source: str, now: dt.datetime) -> str:
    """Claim a file for this watcher before importing it: ``mine``, ``unchanged`` (this content was taken) or
    ``busy`` (another watcher is importing it now). The claim is the file's ``watch_files`` row in state
    ``taking`` (its ``summary`` names the host and process), written in one transaction that locks the row —
    two watchers sharing a drop folder never both import a file."""
    from ..core.store import watch_files as wf

    values = {"source": source, "sha256": sha, "size": size, "state": "taking", "imported_at": now,
              "summary": json.dumps({"taking": _owner()})}
    with store.write() as conn:
        row = conn.execute(sa.select(wf.c.sha256, wf.c.state, wf.c.imported_at, wf.c.summary)
                           .where(wf.c.path == key).with_for_update()).first()
        if row is None:
            nested = conn.begin_nested()
            try:
                conn.execute(wf.insert().values(path=key, first_seen_at=now, **values))
            except sa.exc.IntegrityError:  # another watcher inserted it between the read and here
                nested.rollback()
                return "busy"
            nested.commit()
            return "mine"
        if row.state == "taking" and row.imported_at > now - FILE_LEASE and not _owner_gone(row.summary):
            return "busy"
        if row.state != "taking" and row.sha256 == sha:
            return "unchanged"
        conn.execute(wf.update().where(wf.c.path == key).values(**values))
    return "mine"


def _retrying(what: str, fn: Any) -> Any:
    """``fn()``, again (up to :data:`CONFLICT_ATTEMPTS` in all) when it met a concurrent writer: a unique key
    another watcher inserted first, a deadlock or serialisation failure. Each attempt is its own transaction(s),
    rolled back whole on failure, so a retry sees the other watcher's committed rows."""
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return fn()
        except (sa.exc.IntegrityError, sa.exc.OperationalError) as e:
            if attempt == CONFLICT_ATTEMPTS:
                raise
            log.info("%s met a concurrent writer (%s), attempt %d of %d", what, type(e).__name__, attempt,
                     CONFLICT_ATTEMPTS)
            time.sleep(0.1 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def take_file(store: Store, path: str | os.PathLike[str], *, source: str = "folder",
              arrived_at: dt.datetime | None = None, shop: str | None = None, platform: str | None = None,
              policy: Policy | None = None) -> Intake:
    """Import one export file (unless its content was already taken, or another watcher is taking it now:
    state ``busy``), triage what it brought and raise the alerts. Never raises for a bad file: the outcome says
    ``rejected``/``failed``; a failure of the store itself (state ``failed``, ``retry`` True) releases the file so
    it is taken again by the next scan."""
    from ..core.policy import current_policy
    from ..core.store import watch_files
    from ..intake.ingest import import_file

    path = Path(path)
    key = str(path.resolve())
    out = Intake(source=source, name=path.name)
    now = _utcnow()
    try:
        st = path.stat()
        sha, size, mtime = _file_sha(path), st.st_size, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC)
    except OSError as e:
        out.state, out.error = "failed", f"{type(e).__name__}"
        return out
    with store.read() as conn:
        seen = conn.execute(sa.select(watch_files.c.sha256, watch_files.c.state)
                            .where(watch_files.c.path == key)).first()
    if seen is not None and seen.sha256 == sha and seen.state != "taking":
        out.state = "unchanged"
        return out
    claim = _claim_file(store, key, sha=sha, size=size, source=source, now=now)
    if claim != "mine":
        out.state = claim
        return out
    arrived = arrived_at or min(mtime, now)
    try:
        policy = policy or current_policy(store, actor=ACTOR)
        try:
            results = _retrying(f"import of {path.name}",
                                lambda: import_file(store, path, shop=shop, platform=platform, actor=ACTOR))
        except ReviewOpsError as e:
            out.state = "rejected" if isinstance(e, ImportRejected) else "failed"
            out.error = _safe_error(e)
        else:
            batches = [int(r.batch_id) for r in results if r.kind == "reviews" and r.batch_id is not None]
            out.reviews_new = sum(r.rows_new for r in results if r.kind == "reviews")
            out.reviews_updated = sum(r.rows_updated for r in results if r.kind == "reviews")
            out.cases, out.alerts = _retrying(f"triage of {path.name}", lambda: _triage_new(
                store, policy, batch_ids=batches, source=source, arrived_at=arrived))
            out.alerts += _retrying(f"chats of {path.name}", lambda: _detect_chats(store, policy, results,
                                                                                    source=source))
    except Exception as e:  # noqa: BLE001 - the store failed: release the claim, the next scan takes it again
        out.state, out.error, out.retry = "failed", type(e).__name__, True
        log.error("file %s (%s): %s; released, will be taken again", path.name, source, type(e).__name__)
        with contextlib.suppress(Exception), store.write() as conn:
            conn.execute(watch_files.update().where(watch_files.c.path == key).values(
                state="failed", sha256="", imported_at=_utcnow(), summary=json.dumps(out.to_dict())))
        return out
    summary = json.dumps(out.to_dict(), ensure_ascii=False)
    with store.write() as conn:
        conn.execute(watch_files.update().where(watch_files.c.path == key).values(
            source=source, sha256=sha, size=size, state=out.state, imported_at=_utcnow(), summary=summary))
    log.info("file %s (%s): %s, %d new, %d updated reviews, %d cases, %d alerts", path.name, source, out.state,
             out.reviews_new, out.reviews_updated, out.cases, out.alerts)
    return out


# -------------------------------------------------------------------------------------------- push
class PushRejected(ReviewOpsError):
    """A pushed request that was refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def sign_push(body: bytes, secret: str, *, timestamp: float | None = None) -> dict[str, str]:
    """The headers a sender adds to ``POST /v1/reviews``: ``X-ReviewOps-Timestamp`` (Unix seconds) and
    ``X-ReviewOps-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    ts = str(int(time.time() if timestamp is None else timestamp))
    return {"X-ReviewOps-Timestamp": ts, "X-ReviewOps-Signature": "sha256=" + _signature(secret, ts, body),
            "Content-Type": "application/json"}


def verify_push(body: bytes, timestamp: str | None, signature: str | None, secret: str, *,
                now: float | None = None, max_skew: float = MAX_SKEW_S) -> None:
    """Check a pushed request's signature and freshness; raises :class:`PushRejected` (401)."""
    if not timestamp or not signature:
        raise PushRejected(401, "缺少签名：需要 X-ReviewOps-Timestamp 和 X-ReviewOps-Signature 请求头 / unsigned request")
    try:
        ts = int(timestamp)
    except ValueError:
        raise PushRejected(401, f"时间戳应为 Unix 秒，收到 {timestamp[:20]!r} / bad timestamp") from None
    now = time.time() if now is None else now
    if abs(now - ts) > max_skew:
        raise PushRejected(401, f"时间戳相差 {abs(now - ts):.0f} 秒（上限 {max_skew:.0f}），可能是重放 / timestamp too far "
                                "from now: replayed or clock wrong")
    want = "sha256=" + _signature(secret, timestamp, body)
    if not hmac.compare_digest(want.encode("ascii"), signature.strip().encode("ascii", "replace")):
        raise PushRejected(401, "签名不正确 / bad signature")


def _push_tables(event: Any) -> tuple[str, str | None, str, list[Any]]:
    """Validate a review event's shape → (event_id, shop, platform, RawTable list)."""
    from ..core.columns import PLATFORMS, fields_of
    from ..intake.readers import RawTable

    if not isinstance(event, dict):
        raise PushRejected(400, "请求体应为 JSON 对象 / the body must be a JSON object")
    event_id = event.get("event_id")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 128:
        raise PushRejected(400, "event_id 应为 1–128 个字符的字符串 / event_id must be a string of 1–128 characters")
    platform = event.get("platform")
    if platform not in PLATFORMS:
        raise PushRejected(400, f"platform 应为 {', '.join(PLATFORMS)} 之一，收到 {str(platform)[:20]!r} / unknown platform")
    shop = event.get("shop")
    if shop is not None and (not isinstance(shop, str) or not shop.strip()):
        raise PushRejected(400, "shop 应为店铺名称（字符串）/ shop must be the shop's name")
    items = event.get("reviews")
    if not isinstance(items, list) or not items:
        raise PushRejected(400, "reviews 应为非空数组 / reviews must be a non-empty array")
    if len(items) > MAX_PUSH_REVIEWS:
        raise PushRejected(413, f"一次最多 {MAX_PUSH_REVIEWS} 条评价，收到 {len(items)} / too many reviews in one event")
    known = set(fields_of("reviews"))
    headers: list[str] = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise PushRejected(400, f"第 {i} 条评价应为 JSON 对象 / review {i} must be an object")
        for k, v in item.items():
            if k not in known:
                raise PushRejected(400, f"第 {i} 条评价有未知字段 {str(k)[:40]!r}；可用：{', '.join(sorted(known))} / "
                                        "unknown field")
            if isinstance(v, dict | list):
                raise PushRejected(400, f"第 {i} 条评价的字段 {k} 应为文字或数字 / field {k} must be text or a number")
            if k not in headers:
                headers.append(k)
    rows: list[list[str | None]] = [list(headers)]
    for item in items:
        rows.append([None if item.get(h) is None else str(item[h]) for h in headers])
    table = RawTable(source=f"push:{event_id}", member=None, file_type="json", encoding="utf-8", rows=rows)
    return event_id, (shop.strip() if isinstance(shop, str) else None), platform, [table]


def take_push(store: Store, body: bytes, *, received_at: dt.datetime | None = None, shop: str | None = None,
              policy: Policy | None = None) -> Intake:
    """Import a verified review event (see :func:`verify_push`), triage it and raise the alerts.

    Raises :class:`PushRejected` for a malformed event (400), a repeated ``event_id`` (409) or
    reviews the importer refuses (422; nothing written)."""
    from ..core.policy import current_policy
    from ..core.store import push_events
    from ..intake.ingest import import_file
    from ..intake.layouts import Layout

    received = received_at or _utcnow()
    try:
        event = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PushRejected(400, "请求体不是 UTF-8 JSON / the body is not UTF-8 JSON") from None
    event_id, event_shop, platform, tables = _push_tables(event)
    def replayed() -> None:
        with store.read() as conn:
            if conn.execute(sa.select(push_events.c.id).where(push_events.c.event_id == event_id)).first() is not None:
                raise PushRejected(409, "该 event_id 已接收过（重放）/ this event_id was already taken (replay)")

    replayed()
    headers = [h for h in tables[0].rows[0]]
    layout = Layout(name="push_reviews", platform=platform, kind="reviews", columns={h: (h,) for h in headers},
                    required=("created_at",), version="HTTP push v1", source="push", builtin=False)
    out = Intake(source="push", name=event_id)
    policy = policy or current_policy(store, actor=ACTOR)
    digest = hashlib.sha256(body).hexdigest()

    def imported() -> list[Any]:
        replayed()  # a retry after a conflict: the same event taken by another watcher meanwhile is a replay
        return import_file(store, Path(f"push-{digest[:12]}.json"), platform=platform, kind="reviews",
                           shop=event_shop or shop, layout=layout, actor=ACTOR, tables=tables, sha256=digest)

    try:
        results = _retrying(f"push {event_id[:40]}", imported)
    except ImportRejected as e:
        raise PushRejected(422, f"评价未通过校验，未写入：{_safe_error(e, pushed=True)} / reviews rejected, nothing written"
                           ) from None
    except ReviewOpsError as e:
        if isinstance(e, PushRejected):
            raise
        raise PushRejected(422, f"无法导入：{str(e)[:300]} / cannot import") from None
    out.reviews_new = sum(r.rows_new for r in results)
    out.reviews_updated = sum(r.rows_updated for r in results)
    batch_ids = [int(r.batch_id) for r in results if r.batch_id is not None]
    out.cases, out.alerts = _retrying(f"triage of push {event_id[:40]}", lambda: _triage_new(
        store, policy, batch_ids=batch_ids, source="push", arrived_at=received))
    try:
        with store.write() as conn:
            conn.execute(push_events.insert().values(event_id=event_id, received_at=received,
                                                     reviews=len(tables[0].rows) - 1,
                                                     summary=json.dumps(out.to_dict(), ensure_ascii=False)))
    except sa.exc.IntegrityError:
        raise PushRejected(409, "该 event_id 已接收过（重放）/ this event_id was already taken (replay)") from None
    log.info("push %s: %d new, %d updated reviews, %d cases, %d alerts", event_id[:40], out.reviews_new,
             out.reviews_updated, out.cases, out.alerts)
    return out


# ---------------------------------------------------------------------------------------- watcher
class _Handler(BaseHTTPRequestHandler):
    server_version = "ReviewOpsWatch/1"
    watcher: Watcher  # set on the subclass

    def log_message(self, fmt: str, *args: Any) -> None:  # no request lines with client data in the log
        return

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/healthz":
            self._answer(404, {"error": "not found"})
            return
        self._answer(200, {"status": "ok", **self.watcher.counters()})

    def do_POST(self) -> None:
        received = _utcnow()
        w = self.watcher
        if self.path.split("?")[0] != "/v1/reviews":
            self._answer(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length") or "-1")
        except ValueError:
            length = -1
        if length < 0:
            self._answer(411, {"error": "需要 Content-Length / Content-Length required"})
            return
        if length > MAX_PUSH_BYTES:
            self._answer(413, {"error": f"请求体超过 {MAX_PUSH_BYTES} 字节 / body too large"})
            return
        body = self.rfile.read(length)
        try:
            verify_push(body, self.headers.get("X-ReviewOps-Timestamp"), self.headers.get("X-ReviewOps-Signature"),
                        str(w.config.push_secret))
            with w.intake_lock:
                out = take_push(w.store, body, received_at=received, shop=w.config.shop)
        except PushRejected as e:
            w.bump("push_refused")
            log.warning("push refused: %d", e.status)
            self._answer(e.status, {"error": str(e)})
            return
        except Exception as e:  # noqa: BLE001 - answer 500, keep serving
            w.bump("errors")
            log.error("push failed: %s", type(e).__name__)
            self._answer(500, {"error": f"内部错误 internal error ({type(e).__name__})"})
            return
        w.note_intake(out)
        self._answer(200, {"status": "ok", **out.to_dict()})


class Watcher:
    """The running service: an intake thread (folder, schedules, SLA), a sender thread, an HTTP server."""

    def __init__(self, store: Store, config: WatchConfig) -> None:
        self.store = store
        self.config = config
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.intake_lock = threading.Lock()  # one import at a time (the store serialises writes anyway)
        self._stats: dict[str, Any] = {"files": 0, "pushes": 0, "push_refused": 0, "reviews": 0, "cases": 0,
                                       "alerts": 0, "delivered": 0, "retried": 0, "dead": 0, "errors": 0}
        self._stats_lock = threading.Lock()
        self._seen: dict[Path, tuple[int, int]] = {}  # taken files: (size, mtime_ns)
        self._pending: dict[Path, tuple[int, int, float]] = {}  # growing files: size, mtime_ns, since (monotonic)
        self._later: dict[Path, float] = {}  # busy elsewhere or released after a store failure: look again then
        self._next_run: dict[Schedule, float] = {}
        self._threads: list[threading.Thread] = []
        self._server: ThreadingHTTPServer | None = None
        self.started_at = _utcnow()
        self.http_port: int | None = None
        from .alerts import ChannelCache

        self.channel_cache = ChannelCache()  # the sender's channels and their open connections, kept between rounds

    # -- stats ---------------------------------------------------------------------------------
    def bump(self, key: str, n: int = 1) -> None:
        with self._stats_lock:
            self._stats[key] = self._stats.get(key, 0) + n

    def note_intake(self, out: Intake) -> None:
        self.bump("pushes" if out.source == "push" else "files")
        self.bump("reviews", out.reviews_new + out.reviews_updated)
        self.bump("cases", out.cases)
        self.bump("alerts", out.alerts)
        if out.state in ("rejected", "failed"):
            self.bump("errors")
        if out.alerts:
            self.wake.set()

    def counters(self) -> dict[str, Any]:
        with self._stats_lock:
            return dict(self._stats)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Recover, then start the threads (returns at once)."""
        self.recover()
        if self.config.http_port is not None:
            handler = type("Handler", (_Handler,), {"watcher": self})
            self._server = ThreadingHTTPServer((self.config.http_host, int(self.config.http_port)), handler)
            self._server.daemon_threads = True
            self.http_port = int(self._server.server_address[1])
            t = threading.Thread(target=self._server.serve_forever, name="watch-http", daemon=True)
            t.start()
            self._threads.append(t)
        for target, name in ((self._intake_loop, "watch-intake"), (self._send_loop, "watch-send")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        log.info("watcher %s started (folder=%s, http=%s, schedules=%d)", self.config.name,
                 self.config.folder, self.http_port, len(self.config.schedules))

    def stop(self, timeout: float = 15.0) -> None:
        """Stop taking new work, let the current import and send finish, record the last heartbeat."""
        self.stop_event.set()
        self.wake.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for t in self._threads:
            t.join(timeout)
        with contextlib.suppress(Exception):
            self.channel_cache.close()
        with contextlib.suppress(Exception):
            self.beat()
        log.info("watcher %s stopped", self.config.name)

    def run_forever(self) -> None:
        """Foreground mode: run until SIGTERM/SIGINT (systemd stops it with SIGTERM)."""
        def _stop(signum: int, frame: Any) -> None:
            self.stop_event.set()
            self.wake.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _stop)
        self.start()
        while not self.stop_event.wait(1.0):
            pass
        self.stop()

    def run_once(self) -> dict[str, Any]:
        """One round without threads: recover, scan the folder (taking every file now), run the
        schedules, the SLA check and the sender. For cron and tests."""
        self.recover()
        self.scan_folder(settle=False)
        self.run_schedules(force=True)
        self.sla_check()
        self.send_due()
        self.beat()
        return self.counters()

    # -- pieces --------------------------------------------------------------------------------
    def recover(self) -> None:
        """On start: triage reviews of the last day left without a case (the watcher stopped between
        import and triage). Cases opened elsewhere are alerted by the SLA check that follows at once
        (:meth:`alert_orphans`)."""
        from ..core.policy import current_policy

        now = _utcnow()
        policy = current_policy(self.store, actor=ACTOR)
        with self.intake_lock:
            n_cases, n_alerts = _triage_new(self.store, policy, batch_ids=None, source="recovery", arrived_at=None,
                                            seen_since=now - dt.timedelta(days=1))
        if n_cases:
            log.info("recovery: %d cases, %d alerts", n_cases, n_alerts)
        self.bump("cases", n_cases)
        self.bump("alerts", n_alerts)
        if n_alerts:
            self.wake.set()

    def alert_orphans(self) -> int:
        """Alert cases opened in the last hour by someone else (a manual ``reviewops import`` + ``triage``)
        that have no new-case alert (source ``import``). Runs on start and with every SLA check."""
        from ..core.store import alert_events, cases
        from .alerts import raise_case_alerts

        since = _utcnow() - dt.timedelta(hours=1)
        with self.intake_lock:
            with self.store.read() as conn:
                orphans = [int(r) for (r,) in conn.execute(
                    sa.select(cases.c.id).where(cases.c.created_at >= since)
                    .where(~sa.exists().where(alert_events.c.case_id == cases.c.id)
                           .where(alert_events.c.kind == "new_case")))]
            raised = raise_case_alerts(self.store, orphans, source="import") if orphans else []
        if raised:
            log.info("alerted %d cases opened outside the watcher", len(raised))
            self.bump("alerts", len(raised))
            self.wake.set()
        return len(raised)

    def _candidates(self) -> list[Path]:
        folder = self.config.folder
        if folder is None:
            return []
        out = []
        for p in folder.rglob("*"):
            name = p.name
            if (name.startswith((".", "~$")) or p.suffix.lower() in IGNORED_SUFFIXES
                    or p.suffix.lower() not in SUFFIXES or name.endswith(".rejected.csv")):
                continue
            if any(part.startswith(".") for part in p.relative_to(folder).parts[:-1]):
                continue
            if p.is_file():
                out.append(p)
        return sorted(out)

    def scan_folder(self, *, settle: bool = True) -> int:
        """Take the files that have stopped changing; returns how many were taken."""
        taken = 0
        mono = time.monotonic()
        for p in self._candidates():
            if self.stop_event.is_set() and settle:
                break
            try:
                st = p.stat()
            except OSError:
                continue
            sig = (st.st_size, st.st_mtime_ns)
            if self._seen.get(p) == sig or self._later.get(p, 0.0) > mono:
                continue
            if settle:
                prev = self._pending.get(p)
                if prev is None or (prev[0], prev[1]) != sig:
                    self._pending[p] = (*sig, mono)
                    continue
                if mono - prev[2] < self.config.settle:
                    continue
            self._pending.pop(p, None)
            with self.intake_lock:
                out = take_file(self.store, p, source="folder", shop=self.config.shop,
                                platform=self.config.platform)
            if out.state == "busy" or out.retry:  # another watcher is taking it, or the store failed: look again
                self._later[p] = time.monotonic() + 1.0
                if out.retry:
                    self.note_intake(out)
                continue
            self._later.pop(p, None)
            self._seen[p] = sig
            if out.state != "unchanged":
                taken += 1
                self.note_intake(out)
        return taken

    def run_schedules(self, *, force: bool = False) -> int:
        import glob

        taken = 0
        mono = time.monotonic()
        for s in self.config.schedules:
            if not force and mono < self._next_run.get(s, 0.0):
                continue
            self._next_run[s] = mono + s.every
            for name in sorted(glob.glob(s.path)) or []:
                p = Path(name)
                if not p.is_file():
                    continue
                with self.intake_lock:
                    out = take_file(self.store, p, source="schedule", shop=self.config.shop,
                                    platform=self.config.platform)
                if out.state not in ("unchanged", "busy"):
                    taken += 1
                    self.note_intake(out)
        return taken

    def sla_check(self) -> int:
        from .alerts import raise_commitment_alerts, raise_sla_alerts

        self.alert_orphans()
        with self.intake_lock:
            ids = raise_sla_alerts(self.store, actor=ACTOR)
        # service commitments in progress (issue 19 §P6): own guard, so a failure there never stops the SLA alerts
        self._guard("commitment check", lambda: ids.extend(raise_commitment_alerts(self.store)))
        if ids:
            self.bump("alerts", len(ids))
            self.wake.set()
        return len(ids)

    def send_due(self) -> int:
        from .alerts import dispatch

        res = dispatch(self.store, channels=self.config.channels, env=self.config.env,
                       timeout=self.config.send_timeout, cache=self.channel_cache)
        self.bump("delivered", res.delivered)
        self.bump("retried", res.retried)
        self.bump("dead", res.dead)
        return res.delivered + res.retried + res.dead

    def beat(self) -> None:
        from ..core.store import watch_heartbeats as hb

        now = _utcnow()
        stats = json.dumps({**self.counters(), "folder": str(self.config.folder or ""), "http_port": self.http_port,
                            "schedules": len(self.config.schedules)}, ensure_ascii=False)
        with self.store.write() as conn:
            done = conn.execute(hb.update().where(hb.c.name == self.config.name).values(
                host=socket.gethostname(), pid=os.getpid(), started_at=self.started_at, beat_at=now,
                stats_json=stats)).rowcount
            if not done:
                conn.execute(hb.insert().values(name=self.config.name, host=socket.gethostname(), pid=os.getpid(),
                                                started_at=self.started_at, beat_at=now, stats_json=stats))

    def _guard(self, what: str, fn: Any) -> None:
        try:
            fn()
        except Exception as e:
            self.bump("errors")
            log.error("%s failed: %s", what, type(e).__name__)
            log.debug("%s failed", what, exc_info=True)

    def _intake_loop(self) -> None:
        next_sla = next_beat = time.monotonic()
        while not self.stop_event.is_set():
            self._guard("folder scan", self.scan_folder)
            self._guard("scheduled import", self.run_schedules)
            mono = time.monotonic()
            if mono >= next_sla:
                next_sla = mono + self.config.sla_every
                self._guard("SLA check", self.sla_check)
            if mono >= next_beat:
                next_beat = mono + self.config.beat_every
                self._guard("heartbeat", self.beat)
            self.stop_event.wait(self.config.poll)

    def _send_loop(self) -> None:
        worked = [0]

        def send() -> None:
            worked[0] = self.send_due()

        while not self.stop_event.is_set():
            self.wake.clear()
            worked[0] = 0
            self._guard("alert delivery", send)
            if not worked[0]:
                self.wake.wait(0.5)


# ------------------------------------------------------------------------------------------ status
def watch_status(store: Store, *, now: dt.datetime | None = None, stale_after: float = 30.0) -> dict[str, Any]:
    """The watcher's health for ``reviewops watch --status``: heartbeats, the alert queue, dead letters,
    the newest intake and the channels. ``ok`` is False when no watcher beat within ``stale_after``
    seconds, a delivery is dead, or one has waited more than 5 minutes — or when the next 60 days lack
    holiday data (``calendar``: :func:`reviewops.core.clock.calendar_warning`, which reads the policy's
    节假日 sheet as well as ``chinese_calendar``; its sentence is one of the ``problems``)."""
    from ..core.policy import current_policy
    from ..core.store import alert_deliveries as d
    from ..core.store import push_events, watch_files
    from ..core.store import watch_heartbeats as hb
    from .alerts import channel_summary

    now = now or _utcnow()
    with store.read() as conn:
        beats = [dict(r) for r in conn.execute(sa.select(hb).order_by(hb.c.name)).mappings()]
        states = dict(conn.execute(sa.select(d.c.state, sa.func.count()).group_by(d.c.state)).all())
        oldest = conn.execute(sa.select(sa.func.min(d.c.created_at)).where(d.c.state.in_(["pending", "sending"]))
                              ).scalar_one_or_none()
        last_file = conn.execute(sa.select(watch_files.c.imported_at, watch_files.c.state, watch_files.c.source)
                                 .order_by(watch_files.c.imported_at.desc()).limit(1)).first()
        last_push = conn.execute(sa.select(sa.func.max(push_events.c.received_at))).scalar_one_or_none()
    for b in beats:  # the store's times are aware UTC
        b["age_s"] = round((now - b["beat_at"]).total_seconds(), 1)
        b["alive"] = b["age_s"] <= stale_after
        b["stats"] = json.loads(b.pop("stats_json") or "{}")
    waiting = (now - oldest).total_seconds() if oldest is not None else 0.0
    policy = current_policy(store)
    channels = channel_summary(policy)
    problems: list[str] = []
    from ..core.clock import calendar_warning

    gap = calendar_warning(policy, now)  # the next 60 days lack holiday data (package and 节假日 sheet)
    if gap is not None:
        problems.append(str(gap))
    if not any(b["alive"] for b in beats):
        problems.append("没有正在运行的监控服务（心跳超时）/ no watcher is running (no recent heartbeat)")
    if states.get("dead"):
        problems.append(f"{states['dead']} 条提醒发送失败（死信）：reviewops watch --dead / dead letters")
    if waiting > 300:
        problems.append(f"最早的待发提醒已等待 {waiting:.0f} 秒 / the oldest pending alert waited {waiting:.0f} s")
    if channels.empty:
        problems.append("策略中没有提醒渠道：提醒只记录不发送 / no alert channel in the policy")
    problems += [f"渠道 {r.channel}：{r.problem}" for r in channels.itertuples() if r.problem]
    return {"ok": not problems, "problems": problems, "watchers": beats, "deliveries": states,
            "oldest_pending_s": round(waiting, 1), "last_file": dict(last_file._mapping) if last_file else None,
            "last_push": last_push, "channels": channels.to_dict("records"),
            "calendar": gap.to_dict() if gap is not None else None}
