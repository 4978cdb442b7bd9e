"""Personal-data vault: receivers' full data encrypted at rest, revealed one field at a time (P-03).

The importer stores buyers' personal data masked, with keyed hashes for matching
(:mod:`reviewops.core.privacy`). When an orders export carries a receiver's name, phone or
address **in full** — not already masked (``138****1234``, ``张**``), not a virtual number
(``18877771111-123``), not platform ciphertext (``$$…``/``##…``) — the importer also
encrypts the value into the ``pii_vault`` table in the same transaction
(:func:`store_values`). Nothing else in the store ever holds it in clear.

Encryption: AES-256-GCM (``cryptography``), a random 12-byte nonce per value, the
associated data binding shop, order id and field — a ciphertext copied to another row
fails to decrypt. A row holds ``nonce ‖ ciphertext ‖ tag`` and the ``key_id`` (first 8 hex
of SHA-256 of the key) of the key that encrypted it.

The key never enters the database: ``REVIEWOPS_VAULT_KEY`` (64 hex characters), or else
the key file ``vault.key`` in the user config directory (``REVIEWOPS_VAULT_KEY_FILE``
overrides the path), created with mode 0600 on first use. ``REVIEWOPS_VAULT=off`` stops
the importer from storing anything in the vault.

:func:`reveal` gives back one field of the order behind one case, only to a signed-in user
whose role may unmask (the policy's ``roles`` table, ``can_unmask``) and who may see the
case's shop, with a stated purpose, within :data:`RATE_LIMIT` reveals per rolling
:data:`RATE_WINDOW`. Every success and every refusal is written to ``access_log`` (purpose
yes, value never). There is no bulk API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import numbers
import os
import secrets
import stat
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import AccessDenied, ConfigError, NotFound, ReviewOpsError, StoreError
from .privacy import CIPHER_SHOWN, mask_text
from .store import access_log, cases, orders, pii_vault, reviews, utcnow
from .users import Actor, get_actor, log_access

if TYPE_CHECKING:
    from .store import Store

__all__ = [
    "ENV_KEY",
    "ENV_KEY_FILE",
    "ENV_SWITCH",
    "FIELDS",
    "FIELD_ZH",
    "PURPOSES",
    "RATE_LIMIT",
    "RATE_WINDOW",
    "VaultCounts",
    "decrypt",
    "enabled",
    "encrypt",
    "key_file_path",
    "key_id",
    "load_key",
    "reveal",
    "store_values",
]

ENV_KEY = "REVIEWOPS_VAULT_KEY"
ENV_KEY_FILE = "REVIEWOPS_VAULT_KEY_FILE"
ENV_SWITCH = "REVIEWOPS_VAULT"
KEY_FILE_NAME = "vault.key"

FIELDS = ("receiver_name", "receiver_phone", "receiver_address")
FIELD_ZH = {"receiver_name": "收货人姓名", "receiver_phone": "收货人电话", "receiver_address": "收货地址"}
_FIELD_ALIASES = {"name": "receiver_name", "phone": "receiver_phone", "address": "receiver_address"}

#: Purposes to choose from (free text is allowed too); cf. Taobao's decryption scenes 2001/2002.
PURPOSES = ("售后联系客户", "物流核实", "客户关怀回访", "法务取证", "平台申诉")
MIN_PURPOSE_CHARS = 2
MAX_PURPOSE_CHARS = 200

#: At most this many successful reveals per user per rolling window: reading one field at a
#: time is for handling a case, not for harvesting the customer list.
RATE_LIMIT = 30
RATE_WINDOW = dt.timedelta(hours=1)

NONCE_BYTES = 12
_AAD_PREFIX = "reviewops-vault-v1"
_OFF = ("off", "0", "false", "no")
_ON = ("", "on", "1", "true", "yes")


# ---------------------------------------------------------------------------- key
def enabled() -> bool:
    """False when ``REVIEWOPS_VAULT=off`` (the importer then stores nothing in the vault)."""
    raw = os.environ.get(ENV_SWITCH, "").strip().lower()
    if raw in _ON:
        return True
    if raw in _OFF:
        return False
    raise ConfigError(f"{ENV_SWITCH} 只能是 on 或 off，收到 {raw!r}；不设置即为 on\n"
                      f"{ENV_SWITCH} must be on or off, got {raw!r}; unset means on")


def key_file_path() -> Path:
    """Where the vault key file is: ``REVIEWOPS_VAULT_KEY_FILE``, else ``vault.key`` in the user config dir."""
    env = os.environ.get(ENV_KEY_FILE, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("reviewops", appauthor=False)) / KEY_FILE_NAME


def key_id(key: bytes) -> str:
    """First 8 hex characters of SHA-256 of ``key``: names a key without revealing it."""
    return hashlib.sha256(key).hexdigest()[:8]


def _parse_key(text: str, source: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32 or len(text) != 64:
        raise ConfigError(
            f"保险库密钥无效：{source} 应为 64 位十六进制字符（32 字节），读到 {len(text)} 个字符"
            f"（不显示内容）。请恢复原来的密钥，或删除密钥设置让系统生成新密钥（旧密钥加密的值将无法解密）\n"
            f"invalid vault key: {source} must hold 64 hex characters (32 bytes); found {len(text)} characters "
            f"(not shown). Restore the original key, or remove the setting to have a new one made "
            f"(values encrypted with the old key then cannot be decrypted)")
    return key


def _read_key_file(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"无法读取保险库密钥文件 {path}：{e}；请检查文件权限，或用 {ENV_KEY} 给出密钥\n"
                          f"cannot read the vault key file {path}: {e}; check its permissions or set {ENV_KEY}") from None
    if os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            warnings.warn(f"保险库密钥文件 {path} 其他用户可读（权限 {mode:o}）；请执行 chmod 600 {path} / "
                          f"the vault key file {path} is readable by others (mode {mode:o}); run chmod 600 {path}",
                          stacklevel=3)
    return _parse_key(text, f"密钥文件 key file {path}")


def _create_key_file(path: Path) -> bytes:
    """Write a new random key to ``path`` (mode 0600) unless another process got there first."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        raise ConfigError(f"无法创建保险库密钥目录 {path.parent}：{e}；请用 {ENV_KEY_FILE} 指定可写的位置\n"
                          f"cannot create the vault key folder {path.parent}: {e}; "
                          f"point {ENV_KEY_FILE} at a writable place") from None
    key = secrets.token_bytes(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key.hex() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # atomic "create if absent": a reader never sees a half-written key
        except FileExistsError:
            return _read_key_file(path)  # another process made the key first: use that one
        except OSError:
            if path.exists():
                return _read_key_file(path)
            os.replace(tmp, path)  # no hard links on this filesystem
    except OSError as e:
        raise ConfigError(f"无法写入保险库密钥文件 {path}：{e}；请用 {ENV_KEY_FILE} 指定可写的位置\n"
                          f"cannot write the vault key file {path}: {e}; point {ENV_KEY_FILE} at a writable place") from None
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass
    return key


def load_key(*, create: bool = True) -> bytes:
    """The 32-byte vault key: ``REVIEWOPS_VAULT_KEY`` (hex), else the key file (made on first use
    when ``create``). Raises :class:`ConfigError` for a malformed key or, without ``create``, none at all."""
    env = os.environ.get(ENV_KEY, "")
    if env.strip():
        return _parse_key(env, f"环境变量 {ENV_KEY}")
    path = key_file_path()
    if path.exists():
        return _read_key_file(path)
    if not create:
        raise ConfigError(
            f"找不到保险库密钥：未设置 {ENV_KEY}，密钥文件 {path} 不存在。请设置 {ENV_KEY}，或用 {ENV_KEY_FILE} "
            f"指向加密时使用的密钥文件（没有原密钥就无法解密）\n"
            f"no vault key: {ENV_KEY} is not set and the key file {path} does not exist. Set {ENV_KEY}, or point "
            f"{ENV_KEY_FILE} at the key file used for encryption (without that key nothing can be decrypted)")
    return _create_key_file(path)


# --------------------------------------------------------------------- encryption
def _aad(shop_id: int, order_id: str, field: str) -> bytes:
    return f"{_AAD_PREFIX}\x1f{int(shop_id)}\x1f{order_id}\x1f{field}".encode()


def encrypt(key: bytes, shop_id: int, order_id: str, field: str, value: str) -> bytes:
    """AES-256-GCM of ``value`` bound to (shop, order, field): ``nonce ‖ ciphertext ‖ tag``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, value.encode("utf-8"), _aad(shop_id, order_id, field))


def decrypt(key: bytes, shop_id: int, order_id: str, field: str, blob: bytes) -> str:
    """The value of one vault row. Raises :class:`StoreError` when the key is wrong or the
    ciphertext was changed or moved to another shop, order or field."""
    try:
        plain = AESGCM(key).decrypt(bytes(blob[:NONCE_BYTES]), bytes(blob[NONCE_BYTES:]),
                                    _aad(shop_id, order_id, field))
    except (InvalidTag, ValueError):
        raise StoreError(
            f"保险库密文无法解密（店铺 {shop_id} 订单 {order_id} 字段 {field}）：密钥不对，或密文被改动、"
            f"被移到了别的订单/字段。请确认使用加密时的密钥；如密文损坏，请重新导入该订单文件\n"
            f"the vault ciphertext of shop {shop_id} order {order_id} field {field} does not decrypt: wrong key, "
            f"or the ciphertext was changed or moved to another order/field. Use the key it was encrypted with; "
            f"if it is damaged, re-import the orders file") from None
    return plain.decode("utf-8")


# ------------------------------------------------------------------------ import
@dataclass
class VaultCounts:
    """What :func:`store_values` did: values encrypted for the first time, replaced, left alone."""

    new: int = 0
    replaced: int = 0
    unchanged: int = 0


def _stored(conn: sa.Connection, wanted: set[tuple[int, str]]) -> dict[tuple[int, str, str], tuple[int, str, bytes]]:
    """``{(shop, order id, field): (row id, key id, ciphertext)}`` of the (shop, order id) pairs ``wanted``."""
    pv = pii_vault
    out: dict[tuple[int, str, str], tuple[int, str, bytes]] = {}
    shops = sorted({s for s, _ in wanted})
    if conn.execute(sa.select(pv.c.id).where(pv.c.shop_id.in_(shops)).limit(1)).first() is None:
        return out  # nothing stored for these shops yet (a first import): no lookups
    for shop in shops:
        oids = sorted(o for s, o in wanted if s == shop)
        for i in range(0, len(oids), 500):
            rows = conn.execute(
                sa.select(pv.c.id, pv.c.order_id, pv.c.field, pv.c.key_id, pv.c.ciphertext)
                .where(pv.c.shop_id == shop, pv.c.order_id.in_(oids[i:i + 500]))).all()
            for row_id, order_id, field, kid, blob in rows:
                out[(shop, order_id, field)] = (row_id, kid, bytes(blob))
    return out


def _executemany(conn: sa.Connection, sql: str, params: list[tuple[Any, ...]]) -> None:
    """Run ``sql`` (written with ``?`` placeholders) once per parameter tuple through the driver."""
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    for i in range(0, len(params), 5000):
        conn.exec_driver_sql(sql, params[i:i + 5000])


def store_values(conn: sa.Connection, values: Iterable[tuple[int, str, str, str]]) -> VaultCounts:
    """Encrypt full receiver values into ``pii_vault`` in the caller's transaction.

    ``values`` are ``(shop_id, order_id, field, value)`` with ``field`` one of :data:`FIELDS`;
    the importer passes only values that arrived in full. A value already stored (same
    plaintext under the current key) is left alone, a changed one replaces the old ciphertext.
    Does nothing when ``REVIEWOPS_VAULT=off``. Batched: one AES-GCM object, one nonce draw,
    executemany inserts and updates through the driver.
    """
    counts = VaultCounts()
    if not enabled():
        return counts
    latest: dict[tuple[int, str, str], str] = {}
    for shop, order_id, field, value in values:
        if field not in FIELDS:
            raise ValueError(f"not a vault field: {field!r}")
        if value is None or str(value).strip() == "":
            continue
        latest[(int(shop), str(order_id), field)] = str(value)
    if not latest:
        return counts
    key = load_key(create=True)
    kid = key_id(key)
    aes = AESGCM(key)
    existing = _stored(conn, {(s, o) for s, o, _ in latest})
    todo: list[tuple[tuple[int, str, str], str, int | None]] = []
    for k, value in latest.items():
        old = existing.get(k)
        if old is not None and old[1] == kid:
            blob = old[2]
            try:
                same = aes.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(*k)).decode("utf-8") == value
            except (InvalidTag, ValueError):
                same = False  # damaged: replace it
            if same:
                counts.unchanged += 1
                continue
        todo.append((k, value, None if old is None else old[0]))
    if not todo:
        return counts
    nonces = os.urandom(NONCE_BYTES * len(todo))
    process = pii_vault.c.created_at.type.bind_processor(conn.dialect)
    now = process(utcnow()) if process else utcnow()  # the column type's own conversion, done once
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    for i, ((shop, order_id, field), value, row_id) in enumerate(todo):
        nonce = nonces[i * NONCE_BYTES:(i + 1) * NONCE_BYTES]
        blob = nonce + aes.encrypt(nonce, value.encode("utf-8"), _aad(shop, order_id, field))
        if row_id is None:
            inserts.append((shop, order_id, field, kid, blob, now))
        else:
            updates.append((kid, blob, now, row_id))
    if inserts:
        _executemany(conn, "INSERT INTO pii_vault (shop_id, order_id, field, key_id, ciphertext, created_at) "
                           "VALUES (?, ?, ?, ?, ?, ?)", inserts)
    if updates:
        _executemany(conn, "UPDATE pii_vault SET key_id = ?, ciphertext = ?, created_at = ? WHERE id = ?", updates)
    counts.new, counts.replaced = len(inserts), len(updates)
    return counts


# ------------------------------------------------------------------------ reveal
def _clean_purpose(purpose: Any) -> str | None:
    """The purpose as it is logged: stripped, personal numbers masked, at most 200 characters."""
    if not isinstance(purpose, str):
        return None
    text = " ".join(purpose.split())
    return (mask_text(text) or "")[:MAX_PURPOSE_CHARS] or None


def _audit(store: Store, *, actor: str, role: str | None, outcome: str, case_id: int | None,
           shop_id: int | None, target: str | None, purpose: str | None, reason: str) -> None:
    with store.write() as conn:
        log_access(conn, actor=actor, role=role, action="unmask", outcome=outcome, case_id=case_id,
                   shop_id=shop_id, target=target, purpose=purpose, detail={"reason": reason[:500]})


def _why_missing(conn: sa.Connection, shop_id: int, order_id: str, field: str) -> NotFound:
    """Why the vault holds no full value for this order's field, as the error to raise."""
    zh = FIELD_ZH[field]
    row = conn.execute(sa.select(orders).where(orders.c.shop_id == shop_id, orders.c.order_id == order_id)) \
        .mappings().first()
    if row is None:
        return NotFound(f"订单 {order_id} 尚未导入，没有{zh}；请先导入该店铺的订单文件\n"
                        f"order {order_id} has not been imported, so there is no {field}; import the shop's orders file")
    masked = row[f"{field}_masked"]
    if masked is None:
        return NotFound(f"订单 {order_id} 没有{zh}：平台导出中没有这一项\n"
                        f"order {order_id} has no {field}: the platform's export did not include it")
    if masked == CIPHER_SHOWN or (field != "receiver_address" and row["receiver_pii_encrypted"]):
        return NotFound(f"订单 {order_id} 的{zh}平台只提供了密文，本系统不保存也不解密；请到平台后台按其解密流程查看\n"
                        f"the platform only provided ciphertext for {field} of order {order_id}; ReviewOps neither "
                        f"keeps nor decrypts it — use the platform's own decryption in its back office")
    at_source = ((field == "receiver_phone" and bool(row["receiver_phone_is_masked"]))
                 or (field == "receiver_name" and row["receiver_name_hash"] is None))
    if at_source:
        return NotFound(f"订单 {order_id} 的{zh}平台只提供了脱敏值 {masked}（或虚拟号），没有完整值可查看；"
                        f"如需联系买家，请使用平台的联系方式或虚拟号\n"
                        f"the platform only provided the masked value {masked} (or a virtual number) for {field} "
                        f"of order {order_id}; there is no full value to show — contact the buyer through the platform")
    return NotFound(f"保险库中没有订单 {order_id} 的{zh}完整值（只有 {masked}）：平台只提供了脱敏值，或导入时保险库已关闭"
                    f"（{ENV_SWITCH}=off）或早于保险库启用；如有带完整值的订单文件，重新导入即可补存\n"
                    f"the vault holds no full {field} for order {order_id} (only {masked}): the platform only provided "
                    f"the masked value, or the order was imported with {ENV_SWITCH}=off or before the vault existed; "
                    f"re-import an orders file with the full value to store it")


def reveal(store: Store, actor: Actor, case_id: int, field: str, purpose: str) -> str:
    """The full value of one field (``receiver_name`` | ``receiver_phone`` | ``receiver_address``)
    of the order behind one case, for the signed-in ``actor``; audited with ``purpose`` (P-03).

    Refused with :class:`AccessDenied` (and an access-log row, outcome ``denied``) unless the
    user is active, their role may unmask in the current policy, they may see the case's shop,
    ``purpose`` says why (at least two characters; :data:`PURPOSES` or free text), exactly one
    case and one field are asked for, and they have had fewer than :data:`RATE_LIMIT` reveals in
    the last :data:`RATE_WINDOW`. The actor's rights are re-read from the store on every call.
    :class:`NotFound` when the case does not exist or the vault holds no full value (e.g. the
    platform only provided the masked value); :class:`ConfigError` when the vault key is missing
    or not the one that encrypted the value. Every outcome is written to ``access_log`` with the
    purpose; the value never is.
    """
    name = actor.name if isinstance(actor, Actor) else str(actor)
    role = actor.role if isinstance(actor, Actor) else None
    one_case = isinstance(case_id, numbers.Integral) and not isinstance(case_id, bool)  # numpy ints too
    logged_case = int(case_id) if one_case else None
    target = field if isinstance(field, str) else None
    why = _clean_purpose(purpose)
    shop_id: int | None = None

    def deny(zh: str, en: str) -> AccessDenied:
        return AccessDenied(f"{zh}\n{en}")

    try:
        if not isinstance(actor, Actor):
            raise deny("没有经服务器确认的登录身份，不能查看个人信息",
                       "no server-side identity: personal data is shown only to a signed-in user")
        current = get_actor(store, actor.name)  # rights as they are now, not as the caller's copy says
        role = current.role
        if not current.can_unmask:
            raise deny(f"{current.label}无权查看完整个人信息（策略“角色权限”表中该角色的“可查看完整个人信息”为否）；"
                       f"请联系主管或法务查看",
                       f"role {current.role} may not unmask personal data (policy roles table, can_unmask); "
                       f"ask a supervisor or legal")
        if not one_case or not isinstance(field, str):
            raise deny(f"一次只能查看一个案件的一个字段，收到 case_id={case_id!r} field={field!r}",
                       f"one case and one field per request; got case_id={case_id!r} field={field!r}")
        case_id = int(case_id)
        field = _FIELD_ALIASES.get(field, field)
        target = field
        if field not in FIELDS:
            raise ConfigError(f"未知字段 {field!r}；可查看：{'、'.join(f'{f}（{FIELD_ZH[f]}）' for f in FIELDS)}\n"
                              f"unknown field {field!r}; choose one of {', '.join(FIELDS)}")
        if why is None or len(why) < MIN_PURPOSE_CHARS:
            raise deny(f"查看完整个人信息必须填写目的（至少 {MIN_PURPOSE_CHARS} 个字），收到 {purpose!r}；"
                       f"可选：{'、'.join(PURPOSES)}",
                       f"a purpose of at least {MIN_PURPOSE_CHARS} characters is required to unmask, got {purpose!r}; "
                       f"e.g. {', '.join(PURPOSES)}")
        with store.write() as conn:
            if conn.dialect.name == "postgresql":  # one user's reveals are counted one at a time
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"reviewops-unmask:{name}"})
            row = conn.execute(
                sa.select(cases.c.shop_id, reviews.c.order_id, reviews.c.shop_id.label("review_shop"))
                .select_from(cases.outerjoin(reviews, reviews.c.id == cases.c.review_pk))
                .where(cases.c.id == case_id)).mappings().first()
            if row is None:
                raise NotFound(f"案件 {case_id} 不存在；请检查案件编号\ncase {case_id} does not exist; check the case number")
            shop_id = int(row["shop_id"])
            current.check_shop(shop_id, what="案件")
            order_shop = int(row["review_shop"] if row["review_shop"] is not None else shop_id)
            if order_shop != shop_id:
                current.check_shop(order_shop, what="订单")
            al = access_log
            since = utcnow() - RATE_WINDOW
            done = conn.execute(sa.select(sa.func.count()).select_from(al).where(
                al.c.actor == name, al.c.action == "unmask", al.c.outcome == "ok", al.c.at >= since)).scalar_one()
            if done >= RATE_LIMIT:
                minutes = int(RATE_WINDOW.total_seconds() // 60)
                raise deny(f"查看次数已达上限：{minutes} 分钟内最多 {RATE_LIMIT} 次（已 {done} 次）；请稍后再试，"
                           f"批量导出个人信息不被允许",
                           f"unmask limit reached: at most {RATE_LIMIT} per {minutes} minutes ({done} so far); "
                           f"try again later — bulk access to personal data is not allowed")
            order_id = row["order_id"]
            if order_id is None:
                raise NotFound(f"案件 {case_id} 的评价没有订单编号，无法查到收货信息\n"
                               f"the review of case {case_id} carries no order id, so there is no receiver data")
            pv = pii_vault
            stored = conn.execute(sa.select(pv.c.key_id, pv.c.ciphertext).where(
                pv.c.shop_id == order_shop, pv.c.order_id == order_id, pv.c.field == field)).first()
            if stored is None:
                raise _why_missing(conn, order_shop, order_id, field)
            key = load_key(create=False)
            if key_id(key) != stored.key_id:
                raise ConfigError(
                    f"保险库密钥不匹配：该值由密钥 {stored.key_id} 加密，当前密钥是 {key_id(key)}。请设置 {ENV_KEY} 或 "
                    f"{ENV_KEY_FILE} 指向原密钥\n"
                    f"wrong vault key: the value was encrypted with key {stored.key_id}, the current key is "
                    f"{key_id(key)}. Set {ENV_KEY} or {ENV_KEY_FILE} to the original key")
            value = decrypt(key, order_shop, order_id, field, stored.ciphertext)
            log_access(conn, actor=name, role=role, action="unmask", outcome="ok", case_id=case_id, shop_id=shop_id,
                       target=field, purpose=why, detail={"order_id": order_id, "key_id": stored.key_id})
        return value
    except AccessDenied as e:
        _audit(store, actor=name, role=role, outcome="denied", case_id=logged_case, shop_id=shop_id,
               target=target, purpose=why, reason=str(e))
        raise
    except ReviewOpsError as e:
        _audit(store, actor=name, role=role, outcome="error", case_id=logged_case, shop_id=shop_id,
               target=target, purpose=why, reason=f"{type(e).__name__}: {e}")
        raise
