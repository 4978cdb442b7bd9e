"""Users, roles and the access log (issue 4: identity and access).

Who a user is comes from the server side — the workbench server's login or a trusted
reverse-proxy header (:mod:`reviewops.serve`) — never from widget state. What a user may
do comes from two places only: the ``users`` table (role, shops, active) and the policy's
``roles`` table (approval limits, escalation, unmask right). :class:`Actor` joins the two
and is what every workbench operation receives.

Passwords are stored as scrypt hashes (``scrypt$n$r$p$salt$hash``, stdlib
:func:`hashlib.scrypt`); a user without a password can only sign in through a trusted
proxy header. Every sign-in, refusal, unmasking and user change is written to the
append-only ``access_log``.

Rights are read from the store on every use, not once per session: :func:`current_actor`
re-reads an :class:`Actor` before each read (the workbench's views, the dashboard), so a
user disabled or given other shops sees the change at the next refresh; a refused read is
logged (action ``read``, outcome ``denied``, target = what was asked for).

Analysts reading the store from Excel (``RO_CASES``/``RO_KPI``) prove who they are with a
personal token (:func:`issue_token`, ``reviewops users token NAME``): the token is shown
once, the store keeps only its SHA-256 (``settings`` key ``user_token:NAME``), and
:func:`actor_for_token` maps a presented token to the active user it belongs to.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .errors import AccessDenied, ConfigError, NotFound

if TYPE_CHECKING:
    from .policy import Policy
    from .store import Store

__all__ = [
    "ALL_SHOPS",
    "Actor",
    "actor_for_token",
    "add_user",
    "current_actor",
    "get_actor",
    "issue_token",
    "hash_password",
    "list_users",
    "log_access",
    "revoke_token",
    "set_active",
    "set_password",
    "UserDisabled",
    "verify_password",
]

ALL_SHOPS = "*"
_NAME = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class UserDisabled(AccessDenied):
    """The signed-in user no longer exists, is disabled or has a role the policy no longer has: the whole
    session is over (forms clear what they show and ask to sign in again), not just one action refused."""


@dataclass(frozen=True)
class Actor:
    """The signed-in user as the server knows them: name, role and its limits, shops.

    Built only by :func:`get_actor` from the store and the policy; forms never construct one
    from widget values.
    """

    name: str
    display_name: str
    role: str
    role_zh: str
    shops: frozenset[int] | None  # None = every shop
    case_limit_fen: int
    window_days: int
    window_limit_fen: int
    can_unmask: bool
    escalates_to: str | None

    def may_see_shop(self, shop_id: int) -> bool:
        return self.shops is None or int(shop_id) in self.shops

    def check_shop(self, shop_id: int, *, what: str) -> None:
        """Raise :class:`AccessDenied` when ``shop_id`` is not one of this user's shops."""
        if not self.may_see_shop(shop_id):
            raise AccessDenied(
                f"{self.name} 无权访问店铺 {shop_id} 的{what}；请联系管理员分配店铺\n"
                f"{self.name} may not access {what} of shop {shop_id}; ask an admin to assign the shop"
            )

    @property
    def label(self) -> str:
        return f"{self.display_name}（{self.role_zh}）"


# ----------------------------------------------------------------- passwords
def hash_password(password: str) -> str:
    """scrypt hash of ``password`` with a random salt, as ``scrypt$n$r$p$salt$hash``."""
    if not isinstance(password, str) or len(password) < 8:
        raise ConfigError("密码至少 8 位 / the password needs at least 8 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P,
                            maxmem=64 * 1024 * 1024, dklen=32)
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches the stored hash (constant-time compare); False for no hash."""
    if not stored or not isinstance(password, str):
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest, validate=True)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt, validate=True), n=int(n), r=int(r),
                             p=int(p), maxmem=64 * 1024 * 1024, dklen=32)
    except (ValueError, TypeError):  # a damaged stored hash (binascii.Error is a ValueError) never matches
        return False
    return hmac.compare_digest(got, want)


# --------------------------------------------------------------------- users
def _shops_text(shops: Iterable[int] | str | None) -> str:
    if shops is None or shops == ALL_SHOPS:
        return ALL_SHOPS
    if isinstance(shops, str):
        parts = [p for p in re.split(r"[;,\s]+", shops) if p]
    else:
        parts = [str(p) for p in shops]
    ids = []
    for p in parts:
        if not str(p).isdigit():
            raise ConfigError(f"店铺编号应为数字，收到 {p!r}；用 reviewops status 查看店铺编号，或用 * 表示全部店铺\n"
                              f"shop ids are numbers, got {p!r}; use * for every shop")
        ids.append(int(p))
    if not ids:
        raise ConfigError("至少指定一个店铺或 * / give at least one shop id or *")
    return ";".join(str(i) for i in sorted(set(ids)))


def _check_role(role: str, policy: "Policy") -> None:
    codes = [r["code"] for r in policy.tables["roles"]]
    if role not in codes:
        raise ConfigError(f"未知角色 {role!r}；策略中的角色：{'、'.join(codes)}\n"
                          f"unknown role {role!r}; the policy's roles are: {', '.join(codes)}")


def add_user(store: "Store", name: str, *, role: str, password: str | None = None, shops: Iterable[int] | str | None = None,
             display_name: str | None = None, actor: str, policy: "Policy | None" = None) -> int:
    """Create user ``name`` with ``role`` (a role of the policy) and optional password; returns the id.

    ``shops`` is ``None``/``"*"`` for every shop or a list of shop ids. Raises
    :class:`ConfigError` for a bad name, role or password and when the name exists.
    """
    from .policy import current_policy
    from .store import users, utcnow

    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"用户名只能用字母、数字和 _ . @ -（1–64 位），收到 {name!r}\n"
                          f"a user name is 1-64 letters, digits or _ . @ -; got {name!r}")
    policy = policy or current_policy(store, actor=actor)
    _check_role(role, policy)
    pw = hash_password(password) if password is not None else None
    now = utcnow()
    with store.write() as conn:
        if conn.execute(sa.select(users.c.id).where(users.c.name == name)).first() is not None:
            raise ConfigError(f"用户 {name!r} 已存在；改角色用 reviewops users set-role / user {name!r} already exists")
        uid = int(conn.execute(users.insert().values(
            name=name, display_name=display_name or name, role=role, shops=_shops_text(shops), password_hash=pw,
            active=True, created_at=now, created_by=actor, updated_at=now).returning(users.c.id)).scalar_one())
        log_access(conn, actor=actor, role=None, action="user_add", outcome="ok", target=name,
                   detail={"role": role, "shops": _shops_text(shops)})
    return uid


def _update_user(store: "Store", name: str, values: dict[str, Any], *, actor: str, action: str,
                 detail: dict[str, Any]) -> None:
    from .store import users, utcnow

    with store.write() as conn:
        res = conn.execute(users.update().where(users.c.name == name).values(**values, updated_at=utcnow()))
        if res.rowcount != 1:
            raise NotFound(f"用户 {name!r} 不存在；用 reviewops users list 查看 / no user {name!r}")
        log_access(conn, actor=actor, role=None, action=action, outcome="ok", target=name, detail=detail)


def set_password(store: "Store", name: str, password: str, *, actor: str) -> None:
    """Replace user ``name``'s password."""
    _update_user(store, name, {"password_hash": hash_password(password)}, actor=actor, action="user_change",
                 detail={"password": "changed"})


def set_active(store: "Store", name: str, active: bool, *, actor: str) -> None:
    """Enable or disable user ``name`` (a disabled user cannot sign in or act)."""
    _update_user(store, name, {"active": bool(active)}, actor=actor, action="user_change",
                 detail={"active": bool(active)})


def set_role(store: "Store", name: str, role: str, *, actor: str, policy: "Policy | None" = None,
             shops: Iterable[int] | str | None = None) -> None:
    """Change user ``name``'s role (and shops when given). A user cannot change their own role (S-08)."""
    from .policy import current_policy

    if actor == name or actor.endswith(f":{name}"):
        with store.write() as conn:
            log_access(conn, actor=actor, role=None, action="user_change", outcome="denied", target=name,
                       detail={"role": role})
        raise AccessDenied(f"不能修改自己的角色（{name}）/ you cannot change your own role")
    policy = policy or current_policy(store, actor=actor)
    _check_role(role, policy)
    values: dict[str, Any] = {"role": role}
    if shops is not None:
        values["shops"] = _shops_text(shops)
    _update_user(store, name, values, actor=actor, action="user_change", detail={k: str(v) for k, v in values.items()})


def list_users(store: "Store") -> list[dict[str, Any]]:
    """Every user: name, display_name, role, shops, active, has_password, created_at (no hashes)."""
    from .store import users

    with store.read() as conn:
        rows = conn.execute(sa.select(users).order_by(users.c.name)).mappings().all()
    return [{"name": r["name"], "display_name": r["display_name"], "role": r["role"], "shops": r["shops"],
             "active": bool(r["active"]), "has_password": r["password_hash"] is not None,
             "created_at": r["created_at"]} for r in rows]


@functools.cache
def _user_row_stmt() -> sa.Select:
    """``SELECT * FROM users WHERE name = :name``, built once (every workbench step re-reads its actor)."""
    from .store import users

    return sa.select(users).where(users.c.name == sa.bindparam("name"))


def user_row(store: "Store", name: str) -> dict[str, Any] | None:
    """The stored row of user ``name`` (including the password hash), or None."""
    with store.read() as conn:
        row = conn.execute(_user_row_stmt(), {"name": name}).mappings().first()
    return dict(row) if row is not None else None


def get_actor(store: "Store", name: str, *, policy: "Policy | None" = None) -> Actor:
    """The :class:`Actor` for a signed-in user ``name``: role from the store, limits from the policy.

    Raises :class:`AccessDenied` for an unknown or disabled user, or a role the policy no longer has.
    """
    from .policy import current_policy

    row = user_row(store, name) if isinstance(name, str) else None
    if row is None or not row["active"]:
        raise UserDisabled(f"用户 {name!r} 不存在或已停用；请联系管理员 / user {name!r} is unknown or disabled")
    policy = policy or current_policy(store, actor=f"user:{name}")
    try:
        r = policy.role(row["role"])
    except (KeyError, ConfigError):
        raise UserDisabled(f"用户 {name} 的角色 {row['role']!r} 不在当前策略中；请管理员重新分配角色\n"
                           f"user {name}'s role {row['role']!r} is not in the current policy") from None
    shops = None if row["shops"] == ALL_SHOPS else frozenset(int(s) for s in row["shops"].split(";") if s)
    return Actor(
        name=row["name"], display_name=row["display_name"] or row["name"], role=row["role"],
        role_zh=str(r["name_zh"]), shops=shops, case_limit_fen=int(r["case_limit_fen"]),
        window_days=int(r["window_days"]), window_limit_fen=int(r["window_limit_fen"]),
        can_unmask=bool(r["can_unmask"]), escalates_to=r.get("escalates_to") or None,
    )


def current_actor(store: "Store", actor: "Actor | str", *, view: str, policy: "Policy | None" = None,
                  case_id: int | None = None, shop_id: int | None = None) -> Actor:
    """``actor`` as the store says now (role, shops, active) — one small query — before a read.

    A user disabled, deleted or left with a role the policy no longer has raises :class:`AccessDenied`,
    and the refusal is logged (action ``read``, outcome ``denied``, ``target`` = ``view``, the case and shop
    when given). Used by every read of the workbench and the dashboard: an open page never shows more
    than the user may see at this moment.
    """
    name = actor.name if isinstance(actor, Actor) else str(actor)
    try:
        return get_actor(store, name, policy=policy)
    except AccessDenied as e:
        log_read_denied(store, actor, view, e, case_id=case_id, shop_id=shop_id)
        raise


def log_read_denied(store: "Store", actor: "Actor | str", view: str, error: Exception, *,
                    case_id: int | None = None, shop_id: int | None = None) -> None:
    """Record a refused read: action ``read``, outcome ``denied``, ``target`` = the view (``case``,
    ``queue``, ``approvals``, ``followups``, ``dashboard``, ``excel:RO_CASES`` …)."""
    log_denied(store, actor, "read", error, case_id=case_id, shop_id=shop_id, target=view)


# ------------------------------------------------------------ personal tokens (Excel)
_TOKEN_KEY = "user_token:"
_TOKEN_PREFIX = "rot_"


def _token_hash(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(store: "Store", name: str, *, actor: str) -> str:
    """A new personal token for user ``name`` (returned once, never stored): ``rot_`` + 43 random characters.

    The store keeps only its SHA-256 (256 random bits: a plain hash cannot be reversed or guessed). A new
    token replaces the user's previous one. Raises :class:`NotFound` for an unknown user and
    :class:`ConfigError` for a disabled one. Logged (``user_change``, ``token: issued``; never the token).
    """
    from .store import settings, users

    token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.write() as conn:
        row = conn.execute(sa.select(users.c.active).where(users.c.name == name)).first()
        if row is None:
            raise NotFound(f"用户 {name!r} 不存在；用 reviewops users list 查看 / no user {name!r}")
        if not row.active:
            raise ConfigError(f"用户 {name!r} 已停用，不能发放令牌；先用 reviewops users enable 启用 / user {name!r} is disabled")
        key = _TOKEN_KEY + name
        conn.execute(settings.delete().where(settings.c.key == key))
        conn.execute(settings.insert().values(key=key, value=_token_hash(token)))
        log_access(conn, actor=actor, role=None, action="user_change", outcome="ok", target=name,
                   detail={"token": "issued"})
    return token


def revoke_token(store: "Store", name: str, *, actor: str) -> bool:
    """Remove user ``name``'s token (True when there was one); logged."""
    from .store import settings

    with store.write() as conn:
        n = conn.execute(settings.delete().where(settings.c.key == _TOKEN_KEY + name)).rowcount
        log_access(conn, actor=actor, role=None, action="user_change", outcome="ok", target=name,
                   detail={"token": "revoked" if n else "none"})
    return bool(n)


def token_user(conn: sa.Connection, token: str | None) -> str | None:
    """The user name a presented token belongs to, or None (read-only: one indexed lookup by hash)."""
    from .store import settings

    if not isinstance(token, str) or not token.strip().startswith(_TOKEN_PREFIX):
        return None
    want = _token_hash(token.strip())
    rows = conn.execute(sa.select(settings.c.key, settings.c.value)
                        .where(settings.c.key.like(_TOKEN_KEY + "%"), settings.c.value == want)).all()
    for key, value in rows:  # compare again in constant time (the query found it by equality)
        if hmac.compare_digest(value, want):
            return key[len(_TOKEN_KEY):]
    return None


def actor_for_token(store: "Store", token: str | None, *, policy: "Policy | None" = None) -> Actor:
    """The :class:`Actor` whose personal token ``token`` is (:func:`issue_token`), read from the store now.

    Raises :class:`AccessDenied` for no token, an unknown or revoked token, or a disabled user. Does not
    write (the Excel functions read through a read-only connection; they log a refusal themselves).
    """
    if not isinstance(token, str) or not token.strip():
        raise AccessDenied("没有个人令牌；请向管理员索取（reviewops users token 用户名）并设置环境变量 REVIEWOPS_TOKEN\n"
                           "no personal token: ask an admin for one (reviewops users token NAME) and set REVIEWOPS_TOKEN")
    with store.read() as conn:
        name = token_user(conn, token)
    if name is None:
        raise AccessDenied("个人令牌无效或已作废；请向管理员重新索取（reviewops users token 用户名）\n"
                           "the personal token is unknown or was revoked; ask an admin for a new one")
    return get_actor(store, name, policy=policy)


def os_actor() -> str:
    """``cli:<os user>``: who made a change from the command line or a batch run (``cli`` without a user name)."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name on this system
        return "cli"


# ---------------------------------------------------------------- access log
def log_access(conn: sa.Connection, *, actor: str, role: str | None, action: str, outcome: str,
               case_id: int | None = None, shop_id: int | None = None, target: str | None = None,
               purpose: str | None = None, detail: dict[str, Any] | None = None,
               at: dt.datetime | None = None) -> None:
    """Append one row to the access log in the caller's transaction."""
    from .store import access_log, utcnow

    conn.execute(access_log.insert().values(
        at=at or utcnow(), actor=actor, role=role, action=action, outcome=outcome, case_id=case_id, shop_id=shop_id,
        target=target, purpose=purpose,
        detail_json=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str) if detail else None))


def log_denied(store: "Store", actor: Actor | str, action: str, error: Exception, *, case_id: int | None = None,
               shop_id: int | None = None, target: str | None = None) -> None:
    """Record a refused action in its own transaction (the refused change itself is rolled back).

    The shop is looked up from ``case_id`` when not given, so every refusal on a case names its shop.
    """
    name = actor.name if isinstance(actor, Actor) else str(actor)
    role = actor.role if isinstance(actor, Actor) else None
    with store.write() as conn:
        if shop_id is None and case_id is not None:
            from .store import cases

            shop_id = conn.execute(sa.select(cases.c.shop_id).where(cases.c.id == case_id)).scalar_one_or_none()
        log_access(conn, actor=name, role=role, action=action, outcome="denied", case_id=case_id, shop_id=shop_id,
                   target=target, detail={"reason": str(error)[:500]})
