"""Secrets are never printed or saved (issue 15 §2): the one masking helper.

Every place that shows or writes a database URL, an SMTP login, a robot webhook or an error text
passes it through this module first:

* :func:`mask_url` — one URL for display: the password in ``user:password@`` becomes ``***``, and
  so does the value of every secret query parameter (``password``, ``access_token``, ``token``,
  ``key``, ``secret``, ``sign``, ``signature`` …, any case) and the token of a Feishu/Lark robot
  hook (``…/bot/v2/hook/***``). ``sqlite:///path`` and plain paths are returned as they are.
* :func:`redact_secrets` — free text (error messages, tracebacks, command lines, log lines): every
  URL in it masked as above, ``password=…`` written libpq-style masked, and every occurrence of a
  *known secret value* replaced by ``***``. Known values are the current values of the secret
  environment variables (:data:`SECRET_ENV_NAMES`, and any variable whose name says SECRET,
  PASSWORD, TOKEN or ``…_KEY``), the passwords inside any URL held by an environment variable, and
  the values :func:`remember_secret` / :func:`remember_url` were given in this process (the password
  of the ``--db`` URL, a robot's signing secret). Values shorter than 4 characters are never matched
  as free text (they would mangle ordinary words); inside a URL they are still masked.
* :func:`redact_obj` — the same over every string of a JSON-like structure (a notebook, a summary);
  base64 images are left alone.
* :func:`mask_login` — an SMTP login name for an error message (``r***@shop.example``).
* :func:`install_log_redaction` — every log record's message passes :func:`redact_secrets`.

The module imports only the standard library so that the crash handler can always use it.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "MASK", "SECRET_ENV_NAMES", "SECRET_PARAMS", "has_masked_secret", "install_log_redaction", "mask_login",
    "mask_url", "redact_obj", "redact_secrets", "remember_secret", "remember_url", "secret_values",
]

MASK = "***"

#: Environment variables whose values are secrets wherever they turn up.
SECRET_ENV_NAMES = (
    "REVIEWOPS_PII_KEY", "REVIEWOPS_VAULT_KEY", "REVIEWOPS_SMTP_PASSWORD", "REVIEWOPS_PUSH_SECRET",
    "REVIEWOPS_SERVE_SECRET", "REVIEWOPS_SMS_SECRET_KEY", "REVIEWOPS_TOKEN", "PGPASSWORD",
)
#: Other variables are treated as secret when their name says so (robot 加签 secrets are named by the
#: policy's secret_env column, e.g. FEISHU_SECRET); such values must be at least 8 characters.
_SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|CREDENTIAL|(?:^|_)KEY$", re.IGNORECASE)
#: Query parameters whose value is a secret (DingTalk access_token/sign, WeCom key, libpq password …).
SECRET_PARAMS = ("password", "passwd", "pwd", "pass", "access_token", "token", "key", "secret", "sign",
                 "signature", "sig", "api_key", "apikey", "client_secret", "auth", "sslpassword")
_MIN_VALUE = 4          # shorter known values are only masked inside URLs
_MIN_NAMED_VALUE = 8    # … values of variables recognised only by their name

_USERINFO = re.compile(
    r"(?P<pre>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"<>]*):(?P<pw>[^\s'\"<>]*)@(?=[^\s@'\"<>]*)")
_PARAM = re.compile(r"(?i)(?P<pre>[?&;](?:" + "|".join(SECRET_PARAMS) + r")=)(?P<v>[^&\s'\"<>#]+)")
_DSN_PASSWORD = re.compile(r"(?i)(?P<pre>(?<![\w.\-?&;])(?:password|passwd|sslpassword)\s*=\s*)"
                           r"(?P<v>'[^']*'|[^\s&'\"<>,;)]+)")
_HOOK = re.compile(r"(?i)(?P<pre>/bot/v2/hook/)(?P<v>[A-Za-z0-9_\-]+)")

_remembered: set[str] = set()


# ------------------------------------------------------------------------------------ known values
def remember_secret(value: str | None) -> None:
    """Treat ``value`` as a secret in every later :func:`redact_secrets` of this process."""
    if value and len(str(value)) >= _MIN_VALUE and str(value) != MASK:
        _remembered.add(str(value))


def remember_url(url: str | None) -> None:
    """Remember the password and secret query values of ``url`` (e.g. the ``--db`` URL)."""
    for v in _url_secrets(url):
        remember_secret(v)


def _url_secrets(text: str | None) -> list[str]:
    """Passwords and secret query values inside ``text``, as written and percent-decoded."""
    if not text or not ("=" in text or "@" in text or "/hook/" in text):
        return []
    out: list[str] = []
    for m in _USERINFO.finditer(text):
        out.append(m.group("pw"))
    for m in _PARAM.finditer(text):
        out.append(m.group("v"))
    for m in _DSN_PASSWORD.finditer(text):
        out.append(m.group("v").strip("'"))
    for m in _HOOK.finditer(text):
        out.append(m.group("v"))
    decoded = [urllib.parse.unquote(v) for v in out]
    return [v for v in out + decoded if v and v != MASK]


def secret_values(env: Mapping[str, str] | None = None) -> set[str]:
    """Every value :func:`redact_secrets` replaces in free text (see the module docstring)."""
    env = os.environ if env is None else env
    found = set(_remembered)
    for name, value in env.items():
        if not value:
            continue
        if name in SECRET_ENV_NAMES:
            if len(value) >= _MIN_VALUE:
                found.add(value)
        elif _SECRET_NAME.search(name) and len(value) >= _MIN_NAMED_VALUE:
            found.add(value)
        if "://" in value or "password" in value.lower():
            found.update(v for v in _url_secrets(value) if len(v) >= _MIN_VALUE)
    found.discard(MASK)
    return found


@functools.lru_cache(maxsize=8)
def _values_pattern(values: frozenset[str]) -> re.Pattern[str] | None:
    if not values:
        return None
    return re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))


# ------------------------------------------------------------------------------------ masking
def _mask_structure(text: str) -> str:
    text = _USERINFO.sub(lambda m: f"{m.group('pre')}:{MASK}@", text)
    text = _PARAM.sub(lambda m: m.group("pre") + MASK, text)
    text = _DSN_PASSWORD.sub(lambda m: m.group("pre") + MASK, text)
    return _HOOK.sub(lambda m: m.group("pre") + MASK, text)


def redact_secrets(text: Any, *, env: Mapping[str, str] | None = None,
                   extra: Iterable[str] = ()) -> Any:
    """``text`` with every URL secret and every known secret value replaced by ``***``.

    ``None`` stays ``None``; anything else is turned into a string first. ``extra`` adds values to
    mask for this call only. Idempotent: redacting twice gives the same text.
    """
    if text is None:
        return None
    text = str(text)
    values = secret_values(env) | {str(v) for v in extra if v and len(str(v)) >= _MIN_VALUE}
    pattern = _values_pattern(frozenset(values))
    if pattern is not None:
        text = pattern.sub(MASK, text)
    if "=" in text or "@" in text or "/hook/" in text:
        text = _mask_structure(text)
    return text


def mask_url(url: Any) -> Any:
    """A database, webhook or other URL for display: password and secret query values as ``***``.

    ``sqlite:///path`` and plain file paths come back unchanged; ``None`` stays ``None``.
    """
    return redact_secrets(url)


def has_masked_secret(url: str | None) -> bool:
    """True when ``url`` carries a secret that was masked (``user:***@`` or ``?password=***``):
    it was copied from a report or a banner and cannot be used to connect as it is."""
    if not url or MASK not in url:
        return False
    if any(m.group("pw") == MASK for m in _USERINFO.finditer(url)):
        return True
    return any(m.group("v") == MASK for m in _PARAM.finditer(url))


def mask_login(user: str | None) -> str | None:
    """An account name for an error message: first character, ``***``, and the mail domain if any
    (``reports@shop.example`` → ``r***@shop.example``, ``admin`` → ``a***``)."""
    if not user:
        return user
    name, at, domain = str(user).partition("@")
    return f"{name[:1]}{MASK}{at}{domain}"


_IMAGE_KEYS = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")


def redact_obj(obj: Any, *, extra: Iterable[str] = ()) -> Any:
    """A copy of a JSON-like structure with :func:`redact_secrets` applied to every string (keys
    included); base64 images (``image/png`` … in notebook outputs) are copied as they are."""
    extra = tuple(extra)
    values = secret_values() | {str(v) for v in extra if v and len(str(v)) >= _MIN_VALUE}
    pattern = _values_pattern(frozenset(values))

    def text(s: str) -> str:
        if pattern is not None:
            s = pattern.sub(MASK, s)
        return _mask_structure(s) if ("=" in s or "@" in s or "/hook/" in s) else s

    def walk(o: Any) -> Any:
        if isinstance(o, str):
            return text(o)
        if isinstance(o, dict):
            return {text(k) if isinstance(k, str) else k: (v if k in _IMAGE_KEYS else walk(v)) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return type(o)(walk(v) for v in o)
        return o

    return walk(obj)


# ------------------------------------------------------------------------------------ logging
class _RedactingRecord(logging.LogRecord):
    def getMessage(self) -> str:  # noqa: N802 - logging's name
        return redact_secrets(super().getMessage())


_installed = False


def install_log_redaction() -> None:
    """Make every log record's message (and so every handler's output) pass :func:`redact_secrets`.

    Tracebacks attached to records are redacted by the formatter wrapper below. Idempotent.
    """
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()
    if previous is logging.LogRecord:
        logging.setLogRecordFactory(_RedactingRecord)
    else:  # someone else installed a factory: wrap theirs
        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            msg = record.getMessage()
            record.msg, record.args = redact_secrets(msg), None
            return record
        logging.setLogRecordFactory(factory)
    original = logging.Formatter.formatException

    def format_exception(self: logging.Formatter, ei: Any) -> str:
        return redact_secrets(original(self, ei))

    logging.Formatter.formatException = format_exception  # type: ignore[method-assign]
    _installed = True
