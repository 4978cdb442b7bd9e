"""Deliver a finished report by e-mail (issue 5: "optional delivery of the report").

``send_report(result, to, config)`` mails what :func:`reviewops.runner.run_playbook` wrote — the
HTML report, the XLSX tables and the PDF when one was printed — to a list of addresses through the
shop's SMTP server, and records the delivery in the access log (P-05).

The SMTP settings come from :class:`SmtpConfig` (``SmtpConfig.from_env()`` reads
``REVIEWOPS_SMTP_HOST``, ``_PORT``, ``_SECURITY``, ``_USER``, ``_PASSWORD``, ``_FROM``, ``_CAFILE``).
Rules:

* ``security`` is ``starttls`` (default, port 587), ``ssl`` (implicit TLS, port 465) or ``none``;
  ``none`` is refused for any host but loopback, and a password is only ever sent over TLS.
* The server's certificate is verified (system CAs, or ``cafile`` for a private CA).
* Addresses are checked before anything is sent; a line break in any header value is refused
  (header injection). Attachments larger than ``max_bytes`` in total are left out and named in the
  body instead.

A failed delivery raises :class:`DeliveryFailed`; the report files stay where they were written.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import mimetypes
import os
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import Any, Protocol

from ..core.errors import ConfigError, ReviewOpsError
from ..core.redact import mask_login, redact_secrets

__all__ = ["DeliveryFailed", "DeliveryResult", "SmtpConfig", "build_message", "parse_recipients", "send_report"]

class RunReport(Protocol):
    """What a report e-mail needs from a playbook run (:class:`reviewops.runner.RunResult` is one): the
    playbook's name, its parameters, the files it wrote by format and when it finished. Delivery stays
    below the shells: it never imports the runner."""

    playbook: str
    params: dict[str, Any]
    outputs: dict[str, Path]
    finished: dt.datetime


SECURITY = ("starttls", "ssl", "none")
ENV_PREFIX = "REVIEWOPS_SMTP_"
ATTACH_KINDS = ("html", "pdf", "xlsx")
MAX_BYTES = 20 * 1024 * 1024
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_TITLE = re.compile(r"^#\s+(.+)$", re.MULTILINE)


def _said(error: BaseException, config: SmtpConfig) -> str:
    """What the server or the socket said, with the login and password masked (issue 15 §2)."""
    text = str(redact_secrets(error, extra=[config.password or ""]))
    return text.replace(config.user, str(mask_login(config.user))) if config.user else text


class DeliveryFailed(ReviewOpsError):
    """The report was written but could not be mailed (server, login or TLS problem)."""


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send: host, port, ``starttls`` | ``ssl`` | ``none``, login, sender."""

    host: str
    sender: str
    port: int | None = None
    security: str = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.host or any(c in self.host for c in " \r\n/"):
            raise ConfigError(f"SMTP 服务器地址无效：{self.host!r}；请填写主机名，如 smtp.example.com / "
                              f"bad SMTP host {self.host!r}")
        if self.security not in SECURITY:
            raise ConfigError(f"SMTP 加密方式应为 {'、'.join(SECURITY)}，收到 {self.security!r} / "
                              f"security must be one of {', '.join(SECURITY)}")
        if self.port is not None and not 0 < int(self.port) < 65536:
            raise ConfigError(f"SMTP 端口应在 1–65535，收到 {self.port!r} / port must be 1–65535")
        parse_recipients([self.sender], what="发件人 sender")
        if self.security == "none" and not is_loopback_host(self.host):
            raise ConfigError(f"不加密的 SMTP 只允许本机（127.0.0.1/localhost），收到 {self.host!r}；请用 starttls 或 ssl / "
                              f"unencrypted SMTP is allowed only on loopback; use starttls or ssl")
        if self.password and self.security == "none":
            raise ConfigError("密码只能通过加密连接发送；请用 starttls 或 ssl / a password is only sent over TLS")
        if self.cafile is not None and not Path(self.cafile).is_file():
            raise ConfigError(f"找不到 CA 证书文件 {self.cafile!r} / CA file {self.cafile!r} not found")

    @property
    def effective_port(self) -> int:
        return int(self.port) if self.port else {"ssl": 465, "starttls": 587, "none": 25}[self.security]

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> SmtpConfig:
        """Settings from ``REVIEWOPS_SMTP_*`` variables; keyword arguments that are not None win."""
        env = dict(os.environ if env is None else env)

        def get(key: str) -> str | None:
            v = env.get(ENV_PREFIX + key.upper())
            return v if v not in (None, "") else None

        values: dict[str, Any] = {k: get(k) for k in ("host", "port", "security", "user", "password", "cafile")}
        values["sender"] = get("from")
        values.update({k: v for k, v in overrides.items() if v is not None})
        if not values.get("host"):
            raise ConfigError("没有设置 SMTP 服务器：请设置 REVIEWOPS_SMTP_HOST 或 --smtp-host / no SMTP host: set "
                              "REVIEWOPS_SMTP_HOST or --smtp-host")
        if not values.get("sender"):
            raise ConfigError("没有设置发件人：请设置 REVIEWOPS_SMTP_FROM 或 --mail-from / no sender: set "
                              "REVIEWOPS_SMTP_FROM or --mail-from")
        port = values.get("port")
        if port is not None:
            try:
                port = int(str(port).strip())
            except ValueError:
                raise ConfigError(f"SMTP 端口应为整数，收到 {values['port']!r} / the SMTP port must be an integer") \
                    from None
        return cls(host=str(values["host"]).strip(), sender=str(values["sender"]).strip(), port=port,
                   security=str(values.get("security") or "starttls").strip().lower(), user=values.get("user"),
                   password=values.get("password"), cafile=values.get("cafile"))


@dataclass
class DeliveryResult:
    """What was sent: recipients, attachments (file names), the Message-ID and what was left out."""

    to: list[str]
    attachments: list[str]
    message_id: str
    left_out: list[str] = field(default_factory=list)


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback IP (``127.0.0.0/8``, ``::1``, brackets allowed): where plain text may go."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_recipients(items: list[str] | tuple[str, ...] | str, *, what: str = "收件人 recipient") -> list[str]:
    """Addresses from a list (each item may hold several, separated by , ; or spaces); checked, de-duplicated."""
    raw = [items] if isinstance(items, str) else list(items)
    out: list[str] = []
    for item in raw:
        if any(c in str(item) for c in "\r\n\x00"):
            raise ConfigError(f"{what}地址含换行或控制字符：{item!r} / {what} contains a line break")
        for addr in re.split(r"[,;，；\s]+", str(item).strip()):
            if not addr:
                continue
            if not _ADDRESS.match(addr) or len(addr) > 254:
                raise ConfigError(f"{what}地址无效：{addr!r}；应形如 name@example.com / bad e-mail address {addr!r}")
            if addr.lower() not in {a.lower() for a in out}:
                out.append(addr)
    if not out:
        raise ConfigError(f"没有{what}地址 / no {what} address given")
    return out


def _report_title(result: RunReport) -> str:
    """The playbook's first ``# heading`` (e.g. 每周差评TOP3 周报), else its name."""
    nb = result.outputs.get("ipynb")
    if nb is not None and Path(nb).is_file():
        import nbformat

        for cell in nbformat.read(str(nb), as_version=4).cells:
            if cell.cell_type == "markdown":
                m = _TITLE.search(cell.source)
                if m:
                    return m.group(1).strip()
    return result.playbook


def build_message(result: RunReport, to: list[str], sender: str, *, max_bytes: int = MAX_BYTES,
                  kinds: tuple[str, ...] = ATTACH_KINDS) -> tuple[EmailMessage, list[str], list[str]]:
    """The e-mail for a finished run: subject, a plain-text summary, the report files attached.

    Returns (message, attached file names, left-out file names).
    """
    title = _report_title(result)
    params = "，".join(f"{k}={v}" for k, v in result.params.items() if v not in ("", None))
    subject = f"【ReviewOps】{title}" + (f"（{params}）" if params else "")
    subject = " ".join(subject.split())[:200]
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = formataddr(("ReviewOps", sender))
    msg["To"] = ", ".join(to)
    msg["Date"] = dt.datetime.now(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    attached: list[str] = []
    left_out: list[str] = []
    total = 0
    files: list[Path] = []
    for kind in kinds:
        p = result.outputs.get(kind)
        if p is not None and Path(p).is_file():
            files.append(Path(p))
    for p in files:
        size = p.stat().st_size
        if total + size > max_bytes:
            left_out.append(p.name)
            continue
        total += size
        attached.append(p.name)
    from ..core.outputs import fmt_time  # Beijing time, the one formatter for people

    lines = [f"{title}", "",
             f"剧本 playbook：{result.playbook}",
             f"参数 parameters：{params or '默认 defaults'}",
             f"生成时间 generated：{fmt_time(result.finished)}（北京时间）",
             f"附件 attachments：{'、'.join(attached) or '无 none'}"]
    if left_out:
        lines.append(f"附件过大未随信发送，请到报告目录取用 too large to attach：{'、'.join(left_out)}")
    lines += ["", "报告中的个人信息均已脱敏。/ Personal data in the report is masked.",
              "此邮件由 ReviewOps 自动发送。/ Sent automatically by ReviewOps."]
    msg.set_content("\n".join(lines))
    for p in files:
        if p.name not in attached:
            continue
        ctype, _ = mimetypes.guess_type(p.name)
        maintype, subtype = (ctype or "application/octet-stream").split("/", 1)
        params = {"charset": "utf-8"} if maintype == "text" else None  # base64 bytes: exactly the file
        msg.add_attachment(p.read_bytes(), maintype=maintype, subtype=subtype, filename=p.name, params=params)
    return msg, attached, left_out


def _tls_context(config: SmtpConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=config.cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def send_report(result: RunReport, to: list[str] | tuple[str, ...] | str, config: SmtpConfig, *,
                db: str | None = None, actor: str | None = None, max_bytes: int = MAX_BYTES) -> DeliveryResult:
    """Mail the run's HTML, PDF and XLSX to ``to``; with ``db`` the delivery is written to the access log."""
    recipients = parse_recipients(to)
    msg, attached, left_out = build_message(result, recipients, config.sender, max_bytes=max_bytes)
    where = f"{config.host}:{config.effective_port}"
    try:
        if config.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.effective_port, timeout=config.timeout,
                                                   context=_tls_context(config))
        else:
            client = smtplib.SMTP(config.host, config.effective_port, timeout=config.timeout)
        with client:
            client.ehlo()
            if config.security == "starttls":
                if not client.has_extn("starttls"):
                    raise DeliveryFailed(f"邮件服务器 {where} 不支持 STARTTLS，未发送；请确认端口或改用 ssl / the server "
                                         f"does not offer STARTTLS; nothing was sent")
                client.starttls(context=_tls_context(config))
                client.ehlo()
            if config.user:
                client.login(config.user, config.password or "")
            refused = client.send_message(msg, from_addr=config.sender, to_addrs=recipients)
    except DeliveryFailed:
        raise
    except smtplib.SMTPAuthenticationError as e:
        raise DeliveryFailed(f"邮件服务器 {where} 拒绝登录（用户 {mask_login(config.user)}）：{e.smtp_code}；请检查 "
                             f"REVIEWOPS_SMTP_USER / REVIEWOPS_SMTP_PASSWORD / login refused") from None
    except smtplib.SMTPRecipientsRefused as e:
        raise DeliveryFailed(f"邮件服务器 {where} 拒收全部收件人 {sorted(e.recipients)}；请检查地址 / all recipients "
                             f"refused") from None
    except (ssl.SSLError, ssl.CertificateError) as e:
        raise DeliveryFailed(f"与邮件服务器 {where} 的 TLS 握手失败（{e.__class__.__name__}: {_said(e, config)}）；证书不受信任时请设置 "
                             f"REVIEWOPS_SMTP_CAFILE / TLS failed") from None
    except (OSError, smtplib.SMTPException) as e:
        raise DeliveryFailed(f"无法通过 {where} 发送邮件（{e.__class__.__name__}: {_said(e, config)}）；报告文件已生成，可稍后重发 / could "
                             f"not send the mail; the report files were written") from None
    sent = [a for a in recipients if a not in (refused or {})]
    out = DeliveryResult(to=sent, attachments=attached, message_id=str(msg["Message-ID"]),
                         left_out=left_out + [f"refused:{a}" for a in (refused or {})])
    if db is not None:
        from ..core.store import Store
        from ..core.users import log_access, os_actor

        with Store.open(db) as store, store.write() as conn:
            log_access(conn, actor=actor or os_actor(), role=None, action="deliver", outcome="ok",
                       target=result.playbook,
                       detail={"to": sent, "attachments": attached, "message_id": out.message_id,
                               "smtp": where, "left_out": out.left_out})
    return out
