"""The operator workbench: Voila with ReviewOps sign-in (issue 4, S-07/S-08/S-09).

``reviewops serve`` runs Voila in this process on a runtime copy of the forms (only the
``*.ipynb`` files), with :class:`ReviewOpsIdentityProvider` as its identity provider:

* **Sign-in.** A Chinese/English login page checks the store's ``users`` (scrypt hashes,
  active users only). Every sign-in, failed sign-in and sign-out is written to the
  append-only ``access_log`` (never the password). The session is a cookie signed by the
  server (jupyter_server/tornado), checked against the store on every request: disabling a
  user or changing their password ends their sessions at once.
* **Trusted reverse proxy (optional).** With a header name (e.g. ``X-Forwarded-User``), a
  request whose socket peer is one of the trusted proxy addresses is signed in as the user
  named in that header — only if that user exists and is active. The header is ignored from
  any other address.
* **Identity to the kernel.** The kernel learns who the user is from the server, never from
  the browser: :meth:`ReviewOpsIdentityProvider.get_user` removes any client-sent
  ``X-ReviewOps-Identity`` header and sets its own token
  ``base64url(json{"u", "iat", "n"}) + "." + base64url(HMAC-SHA256)`` signed with the
  per-server secret ``REVIEWOPS_SERVE_SECRET`` (kernels inherit the server's environment).
  Voila hands the header to the kernel as ``HTTP_X_REVIEWOPS_IDENTITY`` (a fresh kernel's
  environment, or the request-info websocket for a preheated kernel).
  :func:`current_user_name` verifies it there and :func:`open_session` gives the forms their
  :class:`~reviewops.core.users.Actor`.

Hardening (S-09): binds 127.0.0.1 unless told otherwise and refuses a non-loopback address
without ``allow_remote`` or proxy mode; authentication is always on; no static files from the
forms folder (``file_allowlist=[]``); only the listed forms render (everything else under
``/voila/render/`` is 404); no contents API; no tracebacks; no template/theme override from
the URL; no config files (``voila.py``/``voila.json``) read from the working directory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
import typing as t
from collections import deque
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from urllib.parse import quote

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.auth.login import LoginFormHandler
from jupyter_server.base.handlers import JupyterHandler
from tornado import web
from traitlets import Float, Int, List, Unicode, default

from .core.environ import patched_environ
from .core.errors import AccessDenied, ConfigError

if t.TYPE_CHECKING:
    from .core.store import Store
    from .core.users import Actor

__all__ = [
    "DEFAULT_TRUSTED_PROXIES",
    "IDENTITY_ENV",
    "IDENTITY_HEADER",
    "SECRET_ENV",
    "ReviewOpsIdentityProvider",
    "current_user_name",
    "make_identity_token",
    "open_session",
    "serve",
    "verify_identity_token",
    "voila_config",
]

MIN_VOILA = "0.5.6"  # GHSA-2q59-h24c-w6fg (path traversal in static files) is fixed from 0.5.6 on
IDENTITY_HEADER = "X-ReviewOps-Identity"
IDENTITY_ENV = "HTTP_X_REVIEWOPS_IDENTITY"  # how Voila names the header in the kernel (rfc3875 §4.1.18)
SECRET_ENV = "REVIEWOPS_SERVE_SECRET"
DEFAULT_TRUSTED_PROXIES: tuple[str, ...] = ("127.0.0.1", "::1")
DEFAULT_MAX_AGE_S = 600
CULL_IDLE_TIMEOUT_S = 600
#: kernels started ahead per form (issue 14 §4): the first open of a page finds a kernel that has done its
#: imports and opened the store and only waits to learn who asked (``reviewops serve --preheat``)
DEFAULT_PREHEAT = 1
FORM_TITLES = {  # the workbench forms (widgets/); other notebooks show their first heading
    "queue": "案件队列 / Case queue",
    "case": "案件处理 / Case",
    "approvals": "补偿审批 / Approvals",
    "followups": "回访任务 / Follow-ups",
    "dashboard": "数据看板 / Dashboard",  # widgets/dashboard.ipynb (issue 5, SPEC D1)
    "quiz": "知识测验 / Knowledge quiz",  # widgets/quiz.ipynb (issue 19 P1): any signed-in user, for themself
    "listing_audit": "商品信息审计 / Listing audit",  # widgets/listing_audit.ipynb (issue 19 P3): the user's shops only
    "ambassadors": "推荐大使 / Review ambassadors",  # widgets/ambassadors.ipynb (issue 20 V3): the user's shops only
}


# -------------------------------------------------------------- voila version
def check_voila_version(version: str | None = None) -> str:
    """Refuse a Voila older than 0.5.6 (or none); returns the installed version."""
    from packaging.version import InvalidVersion, Version

    if version is None:
        try:
            version = metadata.version("voila")
        except metadata.PackageNotFoundError:
            raise ConfigError(
                f"未安装 Voila；工作台需要 voila>={MIN_VOILA}：pip install 'voila>={MIN_VOILA},<0.6'\n"
                f"Voila is not installed; the workbench needs voila>={MIN_VOILA}: pip install 'voila>={MIN_VOILA},<0.6'"
            ) from None
    try:
        ok = Version(version) >= Version(MIN_VOILA)
    except InvalidVersion:
        ok = False
    if not ok:
        raise ConfigError(
            f"Voila 版本 {version} 过旧（有已知的静态文件路径穿越漏洞 GHSA-2q59-h24c-w6fg）；"
            f"请升级：pip install 'voila>={MIN_VOILA},<0.6'\n"
            f"Voila {version} is too old (static-file path traversal GHSA-2q59-h24c-w6fg); "
            f"upgrade: pip install 'voila>={MIN_VOILA},<0.6'"
        )
    return version


VOILA_VERSION = check_voila_version()  # at import: refuse to run on a vulnerable Voila


# ------------------------------------------------------------ identity tokens
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _secret_bytes(secret: str | bytes | None) -> bytes:
    raw = os.environ.get(SECRET_ENV, "") if secret is None else secret
    key = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    if len(key) < 16:
        raise AccessDenied(
            f"没有服务器密钥（环境变量 {SECRET_ENV} 为空或太短），无法确认身份；请通过 reviewops serve 打开工作台\n"
            f"no server secret ({SECRET_ENV} is empty or too short), so the identity cannot be checked; "
            f"open the workbench through `reviewops serve`"
        )
    return key


def make_identity_token(name: str, *, secret: str | bytes | None = None, now: float | None = None) -> str:
    """The signed identity token for user ``name``: ``base64url(json) + "." + base64url(HMAC-SHA256)``.

    ``secret`` defaults to ``$REVIEWOPS_SERVE_SECRET``.
    """
    payload = json.dumps({"u": name, "iat": int(time.time() if now is None else now), "n": secrets.token_hex(8)},
                         ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    body = _b64(payload.encode("utf-8"))
    mac = hmac.new(_secret_bytes(secret), body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify_identity_token(token: str, *, secret: str | bytes | None = None, max_age_s: int | None = DEFAULT_MAX_AGE_S,
                          now: float | None = None) -> str:
    """The user name in a token made by :func:`make_identity_token`; raises :class:`AccessDenied`
    for a bad signature, a malformed token, or one older than ``max_age_s`` seconds (``None``: no age check)."""
    key = _secret_bytes(secret)
    refused = ("身份令牌无效（{0}）；请重新登录后再打开表单\n"
               "the identity token is invalid ({0}); sign in again and reopen the form")
    if not isinstance(token, str) or token.count(".") != 1 or len(token) > 4096:
        raise AccessDenied(refused.format("格式错误 / malformed"))
    body, mac = token.split(".")
    want = hmac.new(key, body.encode("ascii", "replace"), hashlib.sha256).digest()
    try:
        got = _unb64(mac)
    except (ValueError, TypeError):
        got = b""
    if not hmac.compare_digest(want, got):
        raise AccessDenied(refused.format("签名不符 / bad signature"))
    try:
        data = json.loads(_unb64(body).decode("utf-8"))
        name, iat = data["u"], int(data["iat"])
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise AccessDenied(refused.format("内容错误 / bad payload")) from None
    if not isinstance(name, str) or not name:
        raise AccessDenied(refused.format("没有用户名 / no user name"))
    if max_age_s is not None:
        age = (time.time() if now is None else now) - iat
        if age > max_age_s or age < -60:
            raise AccessDenied(
                f"身份令牌已过期（签发于 {int(age)} 秒前，上限 {max_age_s} 秒）；请刷新页面\n"
                f"the identity token has expired (issued {int(age)} s ago, limit {max_age_s} s); reload the page"
            )
    return name


_ACCEPTED: dict[str, str] = {}  # token -> name: the identity this kernel was started for
_ACCEPT_LOCK = threading.Lock()
REQUEST_WAIT_OPEN_TIMEOUT_S = 10.0


def wait_for_request() -> None:
    """In a preheated kernel (``VOILA_PREHEAT=True``): block until the page is requested; the request's
    info (``QUERY_STRING``, the signed ``HTTP_X_REVIEWOPS_IDENTITY`` …) is then in ``os.environ``.

    Voila's own protocol (``voila.utils.wait_for_request``: one message on the server's
    ``/voila/query/<kernel id>`` websocket), spoken with the small ``websockets`` client: importing
    ``voila.utils`` loads Voila's whole server (jupyter_server, jupyterlab_server — over 2 s of CPU on
    this machine) in every preheated kernel before it can wait, so a kernel started with the server (or
    as a refill) was not ready for seconds, and a page opened meanwhile waited for it.
    Does nothing in a kernel started for a request (its environment already holds the request info).
    """
    if os.environ.get("VOILA_PREHEAT") != "True":
        return
    from websockets.sync.client import connect

    server_url = os.environ.get("VOILA_SERVER_URL", "/")
    url = (f"{os.environ.get('VOILA_WS_PROTOCOL', 'ws')}://{os.environ.get('VOILA_APP_IP', '127.0.0.1')}:"
           f"{os.environ.get('VOILA_APP_PORT', '8866')}{os.environ.get('VOILA_WS_BASE_URL', server_url)}"
           f"voila/query/{os.environ.get('VOILA_KERNEL_ID', '')}")
    try:
        with connect(url, open_timeout=REQUEST_WAIT_OPEN_TIMEOUT_S, max_size=1 << 20) as ws:
            info = json.loads(ws.recv())
    except Exception as e:  # noqa: BLE001 - no request info: no identity (refused below, never guessed)
        raise AccessDenied(
            f"没有收到页面请求的信息（{type(e).__name__}），无法确认身份；请刷新页面\n"
            f"the page request's info did not arrive ({type(e).__name__}), so the identity is unknown; reload the page"
        ) from None
    if isinstance(info, dict):
        for k, v in info.items():
            os.environ[str(k)] = str(v)


def current_user_name(max_age_s: int = DEFAULT_MAX_AGE_S) -> str:
    """Inside a workbench kernel: the signed-in user's name, as the server vouched for it.

    Reads ``HTTP_X_REVIEWOPS_IDENTITY`` (set by Voila from the server's header; a preheated
    kernel first waits for the request with :func:`wait_for_request`) and verifies
    its HMAC with ``REVIEWOPS_SERVE_SECRET``. The age is checked the first time this kernel
    reads the token; a kernel keeps the identity it was started for, so later calls (button
    callbacks) only re-check the signature. Raises :class:`AccessDenied` otherwise.
    """
    token = os.environ.get(IDENTITY_ENV)
    if not token and os.environ.get("VOILA_PREHEAT") == "True":
        wait_for_request()
        token = os.environ.get(IDENTITY_ENV)
    if not token:
        raise AccessDenied(
            "没有服务器签发的身份：请用 reviewops serve 打开工作台并登录后再使用表单\n"
            "no server-issued identity: open the workbench with `reviewops serve` and sign in to use the forms"
        )
    with _ACCEPT_LOCK:
        known = _ACCEPTED.get(token)
    if known is not None:
        return verify_identity_token(token, max_age_s=None)
    name = verify_identity_token(token, max_age_s=max_age_s)
    with _ACCEPT_LOCK:
        _ACCEPTED[token] = name
    return name


def open_session(db: str | None = None) -> tuple[Store, Actor]:
    """Inside a workbench kernel: the store (``db`` or ``REVIEWOPS_DB``) and the signed-in :class:`Actor`.

    Raises :class:`AccessDenied` (and records it in the access log) for a missing or invalid
    identity, or a user who is unknown or disabled. The caller closes the store.
    """
    from .core.policy import load_policy
    from .core.store import Store
    from .core.users import get_actor, log_denied

    # the store and the shop's policy (parsed once per kernel) first: in a preheated kernel this runs
    # before the request arrives; nothing here depends on who will sign in
    store = Store.open(db, migrate="if-needed")
    try:
        load_policy(store)
        name = current_user_name()
    except BaseException:
        store.close()
        raise
    try:
        actor = get_actor(store, name)
    except AccessDenied as e:
        try:
            log_denied(store, name, "session", e)
        finally:
            store.close()
        raise
    except BaseException:
        store.close()
        raise
    return store, actor


# ------------------------------------------------------------- server side
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]{0,63}$")
_RESERVED_HEADERS = {IDENTITY_HEADER.lower(), "cookie", "authorization", "host", "origin", "referer",
                     "x-xsrftoken", "x-forwarded-for", "content-type", "content-length"}
_NAME_OK = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")


def _check_header_name(name: str) -> str:
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name) or name.lower() in _RESERVED_HEADERS:
        raise ConfigError(
            f"可信请求头名称无效：{name!r}；请用代理设置的用户名请求头，例如 X-Forwarded-User\n"
            f"invalid trusted header name {name!r}; give the header your proxy sets, e.g. X-Forwarded-User"
        )
    return name


def _parse_proxies(proxies: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets = []
    for p in proxies:
        try:
            nets.append(ipaddress.ip_network(str(p).strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"可信代理地址无效：{p!r}；请给 IP 地址或网段，例如 127.0.0.1、::1、10.0.0.0/24\n"
                f"invalid trusted proxy address {p!r}; give an IP address or network, e.g. 127.0.0.1, ::1, 10.0.0.0/24"
            ) from None
    return nets


def _peer_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address((text or "").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _pw_fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode("utf-8")).hexdigest()[:16]


class ReviewOpsIdentityProvider(IdentityProvider):
    """Who is signed in, for Voila: the store's users, a signed session cookie, optionally a
    trusted proxy header; and the signed identity header every authenticated request carries
    to the kernel. Configure with ``--Voila.identity_provider_class``; :func:`serve` does."""

    db = Unicode("", config=True, help="The store (URL or path); default REVIEWOPS_DB or the default file.")
    trusted_header = Unicode("", config=True, help="Header naming the user, set by a trusted reverse proxy.")
    trusted_proxies = List(Unicode(), list(DEFAULT_TRUSTED_PROXIES), config=True,
                           help="Socket peer addresses (or networks) whose trusted_header is believed.")
    session_hours = Float(12.0, config=True, help="How long a sign-in lasts.")
    max_failures = Int(10, config=True, help="Failed sign-ins per user and address before a lockout.")
    lockout_minutes = Float(15.0, config=True, help="Window and length of the lockout.")

    def __init__(self, **kwargs: t.Any):
        super().__init__(**kwargs)
        self.token = ""  # no shared token: only our users sign in
        if self.trusted_header:
            _check_header_name(self.trusted_header)
        self._proxy_nets = _parse_proxies(self.trusted_proxies)
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._proxy_logged: dict[str, float] = {}
        self._dummy_hash: str | None = None

    # -- configuration of the base class
    @default("cookie_options")
    def _default_cookie_options(self) -> dict[str, t.Any]:
        return {"expires_days": None, "samesite": "Lax", "httponly": True}  # a browser-session cookie

    @default("get_secure_cookie_kwargs")
    def _default_get_cookie_kwargs(self) -> dict[str, t.Any]:
        return {"max_age_days": self.session_hours / 24.0}

    @property
    def auth_enabled(self) -> bool:
        return True  # always: there is no anonymous access to the workbench

    @property
    def login_available(self) -> bool:
        return True

    def get_handlers(self) -> list[tuple[str, object]]:
        return [(r"/login", ReviewOpsLoginHandler), (r"/logout", ReviewOpsLogoutHandler)]

    # -- the store
    @property
    def store(self) -> Store:
        with self._store_lock:
            if self._store is None:
                from .core.store import Store

                self._store = Store.open(self.db or None)
            return self._store

    def user_row(self, name: str) -> dict[str, t.Any] | None:
        from .core.users import user_row

        if not isinstance(name, str) or not _NAME_OK.fullmatch(name):
            return None
        return user_row(self.store, name)

    def _log(self, *, actor: str, role: str | None, action: str, outcome: str, detail: dict[str, t.Any]) -> None:
        from .core.users import log_access

        try:
            with self.store.write() as conn:
                log_access(conn, actor=actor[:64] or "(empty)", role=role, action=action, outcome=outcome,
                           detail=detail)
        except Exception:
            self.log.exception("access_log write failed for %s %s", action, actor[:64])

    # -- identity of a request
    async def get_user(self, handler: web.RequestHandler) -> User | None:  # type: ignore[override]
        headers = handler.request.headers
        if IDENTITY_HEADER in headers:  # never believe the browser about who it is
            del headers[IDENTITY_HEADER]
        user: User | None
        proxied = self._proxy_user(handler)
        if proxied is not False:
            user = proxied  # type: ignore[assignment]
        else:
            user = await self._get_user(handler)
        if user is not None:
            headers[IDENTITY_HEADER] = make_identity_token(user.username)
        return user

    def from_trusted_proxy(self, handler: web.RequestHandler) -> bool:
        ip = _peer_ip(handler.request.remote_ip or "")
        return ip is not None and any(ip in net for net in self._proxy_nets)

    def _proxy_user(self, handler: web.RequestHandler) -> User | None | bool:
        """The user named by the trusted header (None: named but refused); False: not a proxied request."""
        if not self.trusted_header or not self.from_trusted_proxy(handler):
            return False
        name = (handler.request.headers.get(self.trusted_header) or "").strip()
        if not name:
            return False  # the proxy did not name anyone: fall back to the login cookie
        row = self.user_row(name)
        now = time.monotonic()
        last = self._proxy_logged.get(name)
        fresh = last is None or now - last > 1800
        ip = handler.request.remote_ip
        if row is None or not row["active"]:
            if fresh:
                self._proxy_logged[name] = now
                self._log(actor=name, role=row["role"] if row else None, action="login_failed", outcome="denied",
                          detail={"ip": ip, "via": "proxy", "reason": "unknown_user" if row is None else "disabled"})
            return None
        if fresh:
            self._proxy_logged[name] = now
            self._log(actor=name, role=row["role"], action="login", outcome="ok", detail={"ip": ip, "via": "proxy"})
        return self._user(row)

    @staticmethod
    def _user(row: dict[str, t.Any]) -> User:
        display = row["display_name"] or row["name"]
        return User(username=row["name"], name=display, display_name=display)

    # -- the session cookie: user name + a fingerprint of the password hash, checked on every request
    def user_to_cookie(self, user: User) -> str:
        row = self.user_row(user.username)
        return json.dumps({"u": user.username, "pw": _pw_fingerprint(row["password_hash"] if row else None)})

    def user_from_cookie(self, cookie_value: str) -> User | None:
        data = json.loads(cookie_value)
        row = self.user_row(data.get("u", ""))
        if row is None or not row["active"] or not row["password_hash"]:
            return None
        if not hmac.compare_digest(str(data.get("pw", "")), _pw_fingerprint(row["password_hash"])):
            return None  # the password changed since this session began
        return self._user(row)

    # -- the login form
    def _locked(self, key: tuple[str, str]) -> bool:
        window = self.lockout_minutes * 60
        now = time.monotonic()
        q = self._failures.get(key)
        if q is None:
            return False
        while q and now - q[0] > window:
            q.popleft()
        if not q:
            del self._failures[key]
            return False
        return len(q) >= self.max_failures

    def _failed(self, key: tuple[str, str]) -> None:
        self._failures.setdefault(key, deque()).append(time.monotonic())
        if len(self._failures) > 10000:  # bound the memory an attacker can make us use
            self._failures.pop(next(iter(self._failures)))

    def process_login_form(self, handler: web.RequestHandler) -> User | None:
        from .core.users import hash_password, verify_password

        name = handler.get_argument("username", default="").strip()
        password = handler.get_argument("password", default="")
        ip = handler.request.remote_ip or ""
        key = (name.lower(), ip)
        if self._locked(key):
            handler._reviewops_error = "locked"  # type: ignore[attr-defined]
            self._log(actor=name, role=None, action="login_failed", outcome="denied",
                      detail={"ip": ip, "via": "password", "reason": "locked"})
            return None
        row = self.user_row(name)
        if self._dummy_hash is None:
            self._dummy_hash = hash_password(secrets.token_hex(16))
        stored = row["password_hash"] if row is not None and row["password_hash"] else self._dummy_hash
        ok = verify_password(password, stored)  # always one scrypt: the timing does not tell who exists
        reason = None
        if row is None:
            reason = "unknown_user"
        elif not row["password_hash"]:
            reason = "no_password"
        elif not row["active"]:
            reason = "disabled"
        elif not ok:
            reason = "bad_password"
        if reason is not None:
            self._failed(key)
            self._log(actor=name, role=row["role"] if row else None, action="login_failed", outcome="denied",
                      detail={"ip": ip, "via": "password", "reason": reason})
            return None
        assert row is not None
        self._failures.pop(key, None)
        self._log(actor=row["name"], role=row["role"], action="login", outcome="ok",
                  detail={"ip": ip, "via": "password"})
        return self._user(row)

    def validate_security(self, app: t.Any, ssl_options: dict[str, t.Any] | None = None) -> None:
        return None  # serve() checks the bind address itself (S-09)


# ------------------------------------------------------------------ pages
_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;background:#f5f6f8;margin:0;color:#222}}
main{{max-width:34rem;margin:8vh auto;background:#fff;padding:2rem 2.5rem;border-radius:8px;box-shadow:0 1px 4px #0002}}
h1{{font-size:1.35rem;margin:0 0 1.2rem}} label{{display:block;margin:.8rem 0 .3rem}}
input[type=text],input[type=password]{{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}}
button{{margin-top:1.2rem;padding:.5rem 1.6rem;font-size:1rem}} .err{{color:#b00020;margin-top:1rem}}
.muted{{color:#666;font-size:.9rem}} ul{{padding-left:1.2rem}} li{{margin:.5rem 0}}
</style></head><body><main>
{body}
</main></body></html>"""

_LOGIN_ERRORS = {
    "bad": "用户名或密码错误 / wrong user name or password",
    "locked": "失败次数过多，请 {m:g} 分钟后再试或联系管理员 / too many failed attempts; try again in {m:g} minutes "
              "or ask an admin",
}


class ReviewOpsLoginHandler(LoginFormHandler):
    """The login page (用户名 + 密码), self-contained: no template, no external assets."""

    def _render(self, message: dict[str, str] | None = None) -> None:
        nxt = self.get_argument("next", default=self.base_url)
        err = ""
        if message:
            code = getattr(self, "_reviewops_error", "bad")
            minutes = getattr(self.identity_provider, "lockout_minutes", 15)
            text = _LOGIN_ERRORS.get(code, _LOGIN_ERRORS["bad"]).format(m=minutes)
            err = f'<p class="err" role="alert">{html.escape(text)}</p>'
        action = f"{self.base_url}login?next={quote(nxt, safe='')}"
        body = (
            "<h1>ReviewOps 中差评工作台<br><span class=\"muted\">negative-review workbench</span></h1>"
            f'<form method="post" action="{html.escape(action)}">{self.xsrf_form_html()}'
            '<label for="username">用户名 User name</label>'
            '<input type="text" id="username" name="username" autocomplete="username" autofocus required>'
            '<label for="password">密码 Password</label>'
            '<input type="password" id="password" name="password" autocomplete="current-password" required>'
            '<button type="submit" id="login_submit">登录 Sign in</button></form>'
            f"{err}"
            '<p class="muted">账号由管理员用 <code>reviewops users add</code> 创建 / '
            "accounts are created by an admin with <code>reviewops users add</code></p>"
        )
        self.write(_PAGE.format(title="登录 Sign in · ReviewOps", body=body))

    @allow_unauthenticated
    def get(self) -> None:
        super().get()

    @allow_unauthenticated
    def post(self) -> None:
        super().post()


class ReviewOpsLogoutHandler(JupyterHandler):
    """Sign out: clear the session cookie, record it, back to the login page."""

    @allow_unauthenticated
    def get(self) -> None:
        user = self.current_user
        self.identity_provider.clear_login_cookie(self)
        ip_ = self.identity_provider
        if user is not None and isinstance(ip_, ReviewOpsIdentityProvider):
            row = ip_.user_row(user.username)
            ip_._log(actor=user.username, role=row["role"] if row else None, action="logout", outcome="ok",
                     detail={"ip": self.request.remote_ip})
        self.redirect(f"{self.base_url}login")


class MenuHandler(JupyterHandler):
    """The workbench's start page: who is signed in and the forms (replaces Voila's file tree)."""

    def initialize(self, forms: dict[str, str]) -> None:  # type: ignore[override]
        self.forms = forms

    @web.authenticated
    def get(self, path: str | None = None) -> None:
        user = self.current_user
        role = ""
        provider = self.identity_provider
        if isinstance(provider, ReviewOpsIdentityProvider):
            row = provider.user_row(user.username)
            role = row["role"] if row else ""
        items = "".join(
            f'<li><a href="{html.escape(self.base_url)}voila/render/{quote(name)}">{html.escape(title)}</a></li>'
            for name, title in self.forms.items()
        )
        body = (
            "<h1>ReviewOps 中差评工作台<br><span class=\"muted\">negative-review workbench</span></h1>"
            f'<p>当前用户 Signed in: <b id="who">{html.escape(user.display_name)}</b> '
            f'<span class="muted">({html.escape(user.username)} · {html.escape(role)})</span> · '
            f'<a href="{html.escape(self.base_url)}logout">退出 Sign out</a></p>'
            f"<ul>{items or '<li>没有表单 / no forms</li>'}</ul>"
        )
        self.set_header("Cache-Control", "no-store")
        self.write(_PAGE.format(title="ReviewOps 工作台", body=body))


_ERROR_TEMPLATE = _PAGE.format(
    title="{{ status_code }} · ReviewOps",
    body='<h1>{{ status_code }} {{ status_message }}</h1>'
         '<p><a href="{{ base_url }}">返回工作台 / back to the workbench</a></p>',
)


class NotFoundHandler(web.RequestHandler):
    """404 for every method (endpoints the workbench switches off)."""

    def prepare(self) -> None:
        raise web.HTTPError(404)

    def write_error(self, status_code: int, **kwargs: t.Any) -> None:
        self.finish(f"{status_code}")


class KernelOwnerAuthorizer(Authorizer):
    """A kernel belongs to the user whose page started it: another signed-in user who learns its
    id can neither connect to it (and drive that user's form) nor read its model. Owners are
    recorded by the workbench app when it hands a kernel to a request."""

    def is_authorized(self, handler: web.RequestHandler, user: User, action: str, resource: str) -> bool:
        if resource != "kernels":
            return True
        kernel_id = getattr(handler, "kernel_id", None) or handler.path_kwargs.get("kernel_id")
        owner = handler.settings.get("reviewops_kernel_owners", {}).get(kernel_id)
        allowed = owner is not None and user is not None and owner == user.username
        if not allowed:
            self.log.warning("refused %s on kernel %s for %s (owner %s)", action, kernel_id,
                             getattr(user, "username", None), owner)
        return allowed


_APP_CLASS: type | None = None


def _voila_app_class() -> type:
    """Voila with the workbench's handlers: our start page instead of the file tree, no contents
    API, and only the listed forms render. Built on first use (importing Voila's app takes ~1.5 s)."""
    global _APP_CLASS
    if _APP_CLASS is not None:
        return _APP_CLASS
    from voila.app import Voila
    from voila.static_file_handler import TemplateStaticFileHandler
    from voila.tornado.contentshandler import VoilaContentsHandler
    from voila.tornado.handler import TornadoVoilaHandler
    from voila.tornado.treehandler import TornadoVoilaTreeHandler

    class FormHandler(TornadoVoilaHandler):
        """Voila's render handler, for the listed forms only (anything else: 404, before any kernel starts)."""

        @web.authenticated
        async def get(self, path: str | None = None) -> None:
            if path not in self.settings.get("reviewops_forms", {}):
                raise web.HTTPError(404)
            await super().get(path)

    class TemplateStatic(TemplateStaticFileHandler):
        """Voila's template assets; a path that leaves ``<template>/static/`` is a 404 (Voila's own
        handler fails an assertion on it and answers 500)."""

        def get(self, path: str, include_body: bool = True) -> t.Any:
            parts = os.path.normpath(path).split(os.sep)
            if len(parts) < 3 or parts[1] != "static" or ".." in parts or path.startswith("/"):
                raise web.HTTPError(404)
            return super().get(path, include_body)

    class WorkbenchVoila(Voila):
        name = "voila"  # same config section names as Voila

        def init_settings(self) -> dict[str, t.Any]:
            import jinja2

            settings = super().init_settings()
            settings["reviewops_forms"] = self.reviewops_forms
            # jupyter_server's error pages need a static_path Voila does not have (they fail and leave an
            # empty body); ours are self-contained and show only the status, never exception details
            env = settings["jinja2_env"]
            env.loader = jinja2.ChoiceLoader([
                jinja2.DictLoader({"error.html": _ERROR_TEMPLATE, "404.html": _ERROR_TEMPLATE}), env.loader])
            settings["reviewops_kernel_owners"] = self._record_kernel_owners()
            return settings

        def _record_kernel_owners(self) -> dict[str, str]:
            """Note who each page's kernel belongs to (for :class:`KernelOwnerAuthorizer`): a fresh
            kernel from the identity token in its environment, a preheated one from the request."""
            from jupyter_core.utils import ensure_async
            from jupyter_server.base.call_context import CallContext

            owners: dict[str, str] = {}
            km = self.kernel_manager
            start_kernel = km.start_kernel

            async def start_kernel_with_owner(*args: t.Any, **kwargs: t.Any) -> str:
                kernel_id = await ensure_async(start_kernel(*args, **kwargs))
                token = (kwargs.get("env") or {}).get(IDENTITY_ENV)
                if token:
                    try:
                        owners[kernel_id] = verify_identity_token(token, max_age_s=None)
                    except AccessDenied:
                        pass
                return kernel_id

            km.start_kernel = start_kernel_with_owner
            get_rendered = getattr(km, "get_rendered_notebook", None)
            if get_rendered is not None:  # preheated kernels
                async def get_rendered_with_owner(*args: t.Any, **kwargs: t.Any) -> t.Any:
                    result = await get_rendered(*args, **kwargs)
                    handler = CallContext.get(CallContext.JUPYTER_HANDLER)
                    user = getattr(handler, "current_user", None)
                    if user is not None:
                        owners[result[2]] = user.username
                    return result

                km.get_rendered_notebook = get_rendered_with_owner
            shutdown_kernel = km.shutdown_kernel

            async def shutdown_kernel_and_forget(kernel_id: str, *args: t.Any, **kwargs: t.Any) -> None:
                try:
                    await ensure_async(shutdown_kernel(kernel_id, *args, **kwargs))
                finally:
                    owners.pop(kernel_id, None)

            km.shutdown_kernel = shutdown_kernel_and_forget
            return owners

        @property
        def reviewops_forms(self) -> dict[str, str]:
            return _form_titles(Path(self.root_dir))

        def init_handlers(self) -> list[t.Any]:
            out = []
            for spec in super().init_handlers():
                pattern, cls, *rest = spec
                if cls is VoilaContentsHandler:
                    out.append((pattern, NotFoundHandler))
                elif cls is TornadoVoilaTreeHandler:
                    out.append((pattern, MenuHandler, {"forms": self.reviewops_forms}))
                elif cls is TornadoVoilaHandler:
                    out.append((pattern, FormHandler, *rest))
                elif cls is TemplateStaticFileHandler:
                    out.append((pattern, TemplateStatic, *rest))
                else:
                    out.append(spec)
            return out

    _APP_CLASS = WorkbenchVoila
    return WorkbenchVoila


# ------------------------------------------------------------------- forms
def default_forms_dir() -> Path:
    """The installed ``reviewops_widgets`` package folder (``widgets/`` in the repository)."""
    import reviewops_widgets

    return Path(reviewops_widgets.__file__).resolve().parent


def _form_titles(folder: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for nb in sorted(folder.glob("*.ipynb"), key=lambda p: (list(FORM_TITLES).index(p.stem)
                                                             if p.stem in FORM_TITLES else 99, p.name)):
        title = FORM_TITLES.get(nb.stem)
        if title is None:
            title = nb.stem
            try:
                cells = json.loads(nb.read_text(encoding="utf-8")).get("cells", [])
                for cell in cells:
                    if cell.get("cell_type") == "markdown":
                        src = "".join(cell.get("source", []))
                        head = next((ln.lstrip("#").strip() for ln in src.splitlines() if ln.startswith("#")), "")
                        if head:
                            title = head[:80]
                        break
            except (OSError, ValueError, AttributeError):
                pass
        out[nb.name] = title
    return out


def _runtime_copy(forms_dir: Path) -> Path:
    """A private temporary folder holding only the forms' ``*.ipynb`` (no .py sources, data or config)."""
    if not forms_dir.is_dir():
        raise ConfigError(f"表单目录不存在：{forms_dir}；请检查 forms_dir / the forms folder {forms_dir} does not exist")
    notebooks = sorted(p for p in forms_dir.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))
    if not notebooks:
        raise ConfigError(
            f"表单目录 {forms_dir} 中没有 .ipynb 表单；请安装完整的 reviewops（pip install .）或指定 forms_dir\n"
            f"the forms folder {forms_dir} holds no .ipynb forms; install the full package or give forms_dir"
        )
    runtime = Path(tempfile.mkdtemp(prefix="reviewops-serve-"))
    os.chmod(runtime, 0o700)
    for nb in notebooks:
        shutil.copyfile(nb, runtime / nb.name)
    return runtime


# ------------------------------------------------------------------- serve
def _is_loopback(ip: str) -> bool:
    if ip.strip().lower() == "localhost":
        return True
    addr = _peer_ip(ip.strip("[]"))
    return addr is not None and addr.is_loopback


def voila_config(*, root_dir: str, db_url: str, ip: str = "127.0.0.1", port: int = 8866,
                 trusted_header: str | None = None, trusted_proxies: Sequence[str] = DEFAULT_TRUSTED_PROXIES,
                 preheat: int = DEFAULT_PREHEAT, open_browser: bool = False) -> t.Any:
    """The traitlets ``Config`` :func:`serve` runs Voila with (exposed so tests can check it)."""
    from traitlets.config import Config

    c = Config()
    c.Voila.ip = ip
    c.Voila.port = int(port)
    c.Voila.port_retries = 0  # the printed URL is the real one: never drift to another port
    c.Voila.open_browser = bool(open_browser)
    c.Voila.root_dir = root_dir
    c.Voila.config_file_paths = []  # no voila.py / voila.json from the working directory or ~/.jupyter
    c.Voila.identity_provider_class = ReviewOpsIdentityProvider
    c.Voila.authorizer_class = KernelOwnerAuthorizer
    local_only = _is_loopback(ip) and not trusted_header
    c.Voila.tornado_settings = {
        # loopback without a proxy: refuse requests whose Host is not local (DNS rebinding)
        "allow_remote_access": not local_only,
        "local_hostnames": ["localhost"],
        "headers": {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"},
    }
    c.VoilaConfiguration.show_tracebacks = False
    c.VoilaConfiguration.file_allowlist = []
    c.VoilaConfiguration.file_denylist = [".*"]
    c.VoilaConfiguration.strip_sources = True
    c.VoilaConfiguration.http_header_envs = [IDENTITY_HEADER]
    c.VoilaConfiguration.allow_template_override = "NO"
    c.VoilaConfiguration.allow_theme_override = "NO"
    c.VoilaConfiguration.extension_language_mapping = {}
    c.VoilaConfiguration.preheat_kernel = preheat > 0
    c.VoilaConfiguration.default_pool_size = max(int(preheat), 0)
    c.VoilaKernelManager.fill_delay = 0.5
    c.MappingKernelManager.cull_idle_timeout = CULL_IDLE_TIMEOUT_S
    c.MappingKernelManager.cull_interval = 60
    c.ReviewOpsIdentityProvider.db = db_url
    c.ReviewOpsIdentityProvider.trusted_header = trusted_header or ""
    c.ReviewOpsIdentityProvider.trusted_proxies = [str(p) for p in trusted_proxies]
    return c


def _check_port_free(ip: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError as e:
            raise ConfigError(
                f"无法在 {ip}:{port} 上监听（{e.strerror}）；端口可能已被占用，请用 --port 换一个端口\n"
                f"cannot listen on {ip}:{port} ({e.strerror}); the port may be in use: choose another with --port"
            ) from None


def serve(db: str | None = None, ip: str = "127.0.0.1", port: int = 8866, forms_dir: str | os.PathLike[str] | None = None,
          trusted_header: str | None = None, trusted_proxies: Sequence[str] = DEFAULT_TRUSTED_PROXIES,
          allow_remote: bool = False, preheat: int = DEFAULT_PREHEAT, open_browser: bool = False) -> None:
    """Run the operator workbench (Voila with ReviewOps sign-in) until Ctrl-C or SIGTERM.

    Refuses (:class:`ConfigError`) a non-loopback ``ip`` unless ``allow_remote`` or a
    ``trusted_header`` is given (S-09), a store without users, and a forms folder without
    notebooks. ``preheat`` (default :data:`DEFAULT_PREHEAT`) keeps that many started kernels per form,
    each waiting (imports done, store open) for the next page request; 0 starts a kernel per request.
    """
    from .core.redact import mask_url
    from .core.store import Store
    from .core.users import list_users

    ip = (ip or "").strip()
    if not ip:
        raise ConfigError("监听地址为空；默认 127.0.0.1 / the listen address is empty; the default is 127.0.0.1")
    if not _is_loopback(ip) and not allow_remote and not trusted_header:
        raise ConfigError(
            f"拒绝在非本机地址 {ip} 上监听：工作台默认只对本机开放。要让其他电脑访问，请加 --allow-remote"
            f"（并在前面放一个 HTTPS 反向代理），或用 --trusted-header 配置代理登录\n"
            f"refusing to listen on the non-loopback address {ip}: the workbench is local-only by default. "
            f"To serve other machines add --allow-remote (behind an HTTPS reverse proxy) or configure proxy sign-in "
            f"with --trusted-header"
        )
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"端口应在 1–65535 之间，收到 {port!r} / the port must be 1-65535, got {port!r}")
    if not isinstance(preheat, int) or not 0 <= preheat <= 8:
        raise ConfigError(f"--preheat 应在 0–8 之间，收到 {preheat!r} / --preheat must be 0-8, got {preheat!r}")
    if trusted_header:
        _check_header_name(trusted_header)
        if not trusted_proxies:
            raise ConfigError("代理模式需要至少一个可信代理地址（--trusted-proxy）/ proxy mode needs a --trusted-proxy")
    _parse_proxies(trusted_proxies)
    forms = Path(forms_dir) if forms_dir is not None else default_forms_dir()

    with Store.open(db) as store:
        url = store.url
        users = list_users(store)
    active = [u for u in users if u["active"]]
    if not active:
        raise ConfigError(
            "还没有可登录的用户；请先创建：reviewops users add 用户名 --role agent，或运行 reviewops demo 创建演示用户\n"
            "no user can sign in yet; create one first: reviewops users add NAME --role agent, "
            "or run reviewops demo for the demo users"
        )
    if not trusted_header and not any(u["has_password"] for u in active):
        raise ConfigError(
            "没有设置了密码的启用用户，没人能登录；请用 reviewops users passwd 用户名 设置密码\n"
            "no active user has a password, so nobody can sign in; set one with reviewops users passwd NAME"
        )
    _check_port_free(ip, port)

    # `python -m reviewops` puts the working directory first on sys.path: a voila.py there (Voila's own
    # config-file name) would be imported instead of the voila package. A server imports nothing from it.
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", ".", cwd)]
    runtime = _runtime_copy(forms)
    app_cls = _voila_app_class()
    exe_dir = os.path.dirname(sys.executable)  # kernels ("python -m ipykernel") run this interpreter
    kernel_env = {  # kernels inherit the server's environment
        SECRET_ENV: secrets.token_urlsafe(32),  # per server start
        "REVIEWOPS_DB": url,  # kernels open the same store
        IDENTITY_ENV: None,  # a kernel's identity only ever comes from a request
        # where a preheated kernel reaches the server's request-info websocket (wait_for_request)
        "VOILA_APP_IP": "127.0.0.1" if ip in ("0.0.0.0", "::", "localhost") else f"[{ip}]" if ":" in ip else ip,
        "PATH": exe_dir + os.pathsep + os.environ.get("PATH", ""),
    }
    host = socket.gethostname() if ip in ("0.0.0.0", "::") else (f"[{ip}]" if ":" in ip else ip)
    link = f"http://{host}:{port}/"
    lines = [
        f"ReviewOps 工作台 workbench: {link}",
        f"  数据库 database: {mask_url(url)}",  # never the password (issue 15 §2)
        f"  表单 forms: {', '.join(_form_titles(runtime))}",
        "  登录：用 reviewops users list 中的用户名和密码；新用户用 reviewops users add 创建",
        "  sign in with a user name and password from `reviewops users list`; add users with `reviewops users add`",
    ]
    if trusted_header:
        lines.append(f"  代理登录 proxy sign-in: 来自 {', '.join(trusted_proxies)} 的请求头 {trusted_header} 决定用户 / "
                     f"header {trusted_header} from {', '.join(trusted_proxies)} names the user")
    if not _is_loopback(ip):
        lines.append("  注意：本服务是明文 HTTP，请在前面放 HTTPS 反向代理 / note: plain HTTP — put an HTTPS reverse proxy in front")
    lines.append("  按 Ctrl-C 停止 / press Ctrl-C to stop")
    print("\n".join(lines), flush=True)
    try:
        with patched_environ(kernel_env):
            app_cls.launch_instance(argv=[], config=voila_config(
                root_dir=str(runtime), db_url=url, ip=ip, port=port, trusted_header=trusted_header,
                trusted_proxies=trusted_proxies, preheat=preheat, open_browser=open_browser))
    except KeyboardInterrupt:
        pass
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
        app_cls.clear_instance()
    print("工作台已停止 / workbench stopped", flush=True)
