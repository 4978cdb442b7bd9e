"""E-mail delivery of a finished report (issue 5) against a real SMTP server on loopback (aiosmtpd).

Covers: the attachments and subject of a real run, STARTTLS with a private CA and AUTH (the password
never crosses without TLS), a refused login, a server without STARTTLS, the loopback-only rule for
unencrypted SMTP, header injection in addresses, the size cap, the access-log record (P-05) and the
CLI's ``--mail-to`` end to end.
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.smtp import AuthResult, LoginPassword
from reviewops import runner
from reviewops.alerting.delivery import DeliveryFailed, SmtpConfig, build_message, parse_recipients, send_report
from reviewops.core.errors import ConfigError
from smtp_fixtures import Inbox, free_port, self_signed

FIXTURE = Path(__file__).parent / "playbooks_fixture" / "tiny.ipynb"
USER, PASSWORD = "reports@shop.example", "s3cret-pass"


class Auth:
    def __init__(self) -> None:
        self.seen_tls: list[bool] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.seen_tls.append(session.ssl is not None)
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USER \
            and auth_data.password.decode() == PASSWORD
        return AuthResult(success=ok, handled=ok)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("mailrun")
    return runner.run_playbook(FIXTURE, {"week": "2026-W47"}, out_dir=out, progress=False)


@pytest.fixture
def plain_server():
    inbox = Inbox()
    ctl = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=free_port())
    ctl.start()
    try:
        yield inbox, ctl.port
    finally:
        ctl.stop()


@pytest.fixture
def tls_server(tmp_path):
    crt, key = self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(crt), str(key))
    inbox, auth = Inbox(), Auth()
    ctl = aiosmtpd_controller.Controller(inbox, hostname="localhost", port=free_port(), tls_context=ctx,
                                         require_starttls=True, authenticator=auth, auth_required=True,
                                         auth_require_tls=True)
    ctl.start()
    try:
        yield inbox, auth, ctl.port, crt
    finally:
        ctl.stop()


def test_report_mailed_with_its_files(report, plain_server):
    inbox, port = plain_server
    cfg = SmtpConfig(host="127.0.0.1", port=port, security="none", sender="reviewops@shop.example")
    sent = send_report(report, ["lead@shop.example", "Lead@shop.example; buyer@shop.example"], cfg)
    assert sent.to == ["lead@shop.example", "buyer@shop.example"]  # de-duplicated, split on ;
    [(mail_from, rcpts, msg)] = inbox.messages
    assert mail_from == "reviewops@shop.example" and rcpts == ["lead@shop.example", "buyer@shop.example"]
    assert msg["Subject"].startswith("【ReviewOps】") and "week=2026-W47" in msg["Subject"]
    names = sorted(p.get_filename() for p in msg.iter_attachments())
    assert names == ["tiny.html", "tiny.xlsx"] == sorted(sent.attachments)
    html = next(p for p in msg.iter_attachments() if p.get_filename() == "tiny.html")
    assert html.get_content_type() == "text/html"
    assert html.get_content_charset() == "utf-8"
    assert html.get_payload(decode=True) == report.outputs["html"].read_bytes()  # byte for byte
    assert "个人信息均已脱敏" in msg.get_body(("plain",)).get_content()


def test_starttls_and_login_with_a_private_ca(report, tls_server):
    inbox, auth, port, crt = tls_server
    cfg = SmtpConfig(host="localhost", port=port, security="starttls", user=USER, password=PASSWORD,
                     sender=USER, cafile=str(crt))
    send_report(report, "lead@shop.example", cfg)
    assert len(inbox.messages) == 1 and auth.seen_tls == [True]  # the password crossed only inside TLS


def test_untrusted_certificate_is_refused(report, tls_server):
    inbox, _, port, _ = tls_server
    cfg = SmtpConfig(host="localhost", port=port, security="starttls", user=USER, password=PASSWORD, sender=USER)
    with pytest.raises(DeliveryFailed, match="TLS"):
        send_report(report, "lead@shop.example", cfg)
    assert inbox.messages == []


def test_wrong_password_is_a_clear_failure(report, tls_server):
    inbox, _, port, crt = tls_server
    cfg = SmtpConfig(host="localhost", port=port, user=USER, password="wrong", sender=USER, cafile=str(crt))
    with pytest.raises(DeliveryFailed, match="拒绝登录") as err:
        send_report(report, "lead@shop.example", cfg)
    assert "wrong" not in str(err.value) and inbox.messages == []


def test_server_without_starttls_gets_nothing(report, plain_server):
    inbox, port = plain_server
    cfg = SmtpConfig(host="127.0.0.1", port=port, security="starttls", sender="r@shop.example")
    with pytest.raises(DeliveryFailed, match="STARTTLS"):
        send_report(report, "lead@shop.example", cfg)
    assert inbox.messages == []


def test_unreachable_server(report):
    cfg = SmtpConfig(host="127.0.0.1", port=free_port(), security="none", sender="r@shop.example", timeout=5)
    with pytest.raises(DeliveryFailed, match="报告文件已生成"):
        send_report(report, "lead@shop.example", cfg)


@pytest.mark.parametrize("kwargs, match", [
    ({"host": "smtp.example.com", "security": "none"}, "只允许本机"),
    ({"host": "127.0.0.1", "security": "none", "password": "x", "user": "u"}, "加密连接"),
    ({"host": "smtp.example.com", "security": "tls"}, "加密方式"),
    ({"host": "smtp.example.com", "port": 70000}, "端口"),
    ({"host": "smtp.example.com", "sender": "not-an-address"}, "地址无效"),
    ({"host": "smtp.example.com\r\nRCPT TO:<x@y.z>"}, "服务器地址无效"),
])
def test_bad_settings_refused(kwargs, match):
    base = {"sender": "r@shop.example"}
    with pytest.raises(ConfigError, match=match):
        SmtpConfig(**{**base, **kwargs})


@pytest.mark.parametrize("bad", ["lead@shop.example\r\nBcc: all@evil.example", "lead", "@shop.example", ""])
def test_recipient_checks(bad):
    with pytest.raises(ConfigError):
        parse_recipients([bad])


def test_from_env_and_overrides():
    env = {"REVIEWOPS_SMTP_HOST": "smtp.shop.example", "REVIEWOPS_SMTP_PORT": "465",
           "REVIEWOPS_SMTP_SECURITY": "ssl", "REVIEWOPS_SMTP_USER": "u", "REVIEWOPS_SMTP_PASSWORD": "pw-Xq9",
           "REVIEWOPS_SMTP_FROM": "r@shop.example"}
    cfg = SmtpConfig.from_env(env)
    assert (cfg.host, cfg.effective_port, cfg.security, cfg.user, cfg.password) == \
        ("smtp.shop.example", 465, "ssl", "u", "pw-Xq9")
    assert "pw-Xq9" not in repr(cfg)  # the password is never printed
    assert SmtpConfig.from_env(env, port=2525, security="starttls").effective_port == 2525
    with pytest.raises(ConfigError, match="REVIEWOPS_SMTP_HOST"):
        SmtpConfig.from_env({})
    with pytest.raises(ConfigError, match="端口应为整数"):
        SmtpConfig.from_env({**env, "REVIEWOPS_SMTP_PORT": "abc"})


def test_oversized_attachments_are_named_not_sent(report):
    size = report.outputs["html"].stat().st_size
    msg, attached, left_out = build_message(report, ["a@shop.example"], "r@shop.example", max_bytes=size)
    assert attached == ["tiny.html"] and left_out == ["tiny.xlsx"]
    assert "tiny.xlsx" in msg.get_body(("plain",)).get_content()


def test_cli_mails_after_the_run_and_logs_it(tmp_path, plain_server, monkeypatch):
    import sqlalchemy as sa
    from reviewops.cli import main
    from reviewops.core.store import Store, access_log

    inbox, port = plain_server
    db = str(tmp_path / "s.db")
    monkeypatch.setenv("REVIEWOPS_SMTP_FROM", "reviewops@shop.example")
    code = main(["run", str(FIXTURE), "-p", "week=2026-W47", "--db", db, "--out", str(tmp_path / "out"),
                 "--no-progress", "--mail-to", "lead@shop.example", "--smtp-host", "127.0.0.1",
                 "--smtp-port", str(port), "--smtp-security", "none", "--json"])
    assert code == 0
    assert len(inbox.messages) == 1
    with Store.open(db) as store, store.read() as conn:
        rows = conn.execute(sa.select(access_log.c.action, access_log.c.detail_json)
                            .order_by(access_log.c.id)).all()
    assert [r.action for r in rows] == ["export", "deliver"]
    assert json.loads(rows[1].detail_json)["to"] == ["lead@shop.example"]


def test_cli_checks_addresses_before_running(tmp_path, capsys):
    from reviewops.cli import main

    code = main(["run", str(FIXTURE), "--out", str(tmp_path / "out"), "--mail-to", "not an address",
                 "--smtp-host", "127.0.0.1", "--mail-from", "r@shop.example", "--smtp-security", "none"])
    assert code != 0 and "地址无效" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing ran


def test_cli_failed_delivery_keeps_the_report(tmp_path, capsys):
    from reviewops.cli import main

    out = tmp_path / "out"
    code = main(["run", str(FIXTURE), "--out", str(out), "--no-progress", "--mail-to", "lead@shop.example",
                 "--smtp-host", "127.0.0.1", "--smtp-port", str(free_port()), "--smtp-security", "none",
                 "--mail-from", "r@shop.example"])
    err = capsys.readouterr().err
    assert code != 0 and "报告已写出" in err and "无法通过" in err
    assert (out / "tiny.html").is_file() and (out / "tiny.xlsx").is_file()
