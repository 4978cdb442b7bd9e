"""Alert channels (SPEC E1) against real loopback receivers that check requests as the services do.

* Feishu: recomputes ``sign`` from the body's ``timestamp`` and the secret; 19021 for a bad sign or a
  timestamp more than an hour off.
* DingTalk: checks ``access_token``, recomputes ``sign`` from the query's ``timestamp``; 310000 for a bad
  sign or a stale timestamp.
* WeCom: checks ``key`` (93000) and the 4096-byte markdown limit.
* E-mail: a real aiosmtpd server with STARTTLS, AUTH and a private CA.
* SMS: the real Tencent Cloud SDK pointed at a loopback endpoint that verifies the TC3-HMAC-SHA256
  signature and answers like SendSms; plus a fake provider for the interface.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from reviewops.alerting.channels import (
    CHANNEL_TYPE_ZH,
    CHANNEL_TYPES,
    AlertMessage,
    ChannelError,
    DingTalkChannel,
    FeishuChannel,
    Mention,
    SmsChannel,
    TencentSms,
    WeComChannel,
    build_channel,
    render,
)
from reviewops.core.errors import ConfigError
from smtp_fixtures import Inbox, free_port, self_signed

FEISHU_SECRET = "feishu-secret-Kq2"
DING_SECRET = "SECdingtalk-secret-9z"
DING_TOKEN = "tok123"
WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
HOSTILE = ('[点我](http://evil.example/x) <at user_id="all">所有人</at> <@all> @13800000000\n# 标题\n'
           '<script>alert(1)</script> **x** ![img](http://evil.example/i.png) <a href="http://evil.example">a</a>')

ONDUTY = Mention("李四", mobile="13911112222", feishu_id="ou_lisi", wecom_id="lisi", email="lisi@shop.example")


def _msg(**kw) -> AlertMessage:
    base: dict = {"key": "new_case:123", "kind": "new_case", "title": "新中差评", "case_id": 123,
                  "platform_zh": "淘宝", "shop": "示例旗舰店", "customer": "张**", "rating": 2, "category_zh": "质量",
                  "severity_zh": "高", "excerpt": "衣服洗一次就起球，质量太差", "due_local": "2026-11-20 11:30",
                  "role_zh": "客服主管", "case_url": "https://wb.shop.example/cases/123", "mentions": (ONDUTY,)}
    return AlertMessage(**{**base, **kw})


# ------------------------------------------------------------------------------ loopback receivers


class Receiver:
    """One fake robot endpoint: ``mode`` is ok | 500 | limit | sleep; ``accepted`` the JSON it took."""

    def __init__(self, kind: str, secret: str | None = None):
        self.kind, self.secret = kind, secret
        self.mode = "ok"
        self.accepted: list[dict] = []
        self.seen: list[tuple[str, dict]] = []
        self.port = 0

    @property
    def url(self) -> str:
        return {"feishu": f"http://127.0.0.1:{self.port}/open-apis/bot/v2/hook/hook-abc",
                "dingtalk": f"http://127.0.0.1:{self.port}/robot/send?access_token={DING_TOKEN}",
                "wecom": f"http://127.0.0.1:{self.port}/cgi-bin/webhook/send?key={WECOM_KEY}"}[self.kind]

    def answer(self, path: str, body: dict) -> tuple[int, dict]:
        if self.mode == "500":
            return 500, {}
        if self.mode == "sleep":
            time.sleep(1.5)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        return getattr(self, "_" + self.kind)(query, body)

    def _feishu(self, query: dict, body: dict) -> tuple[int, dict]:
        if self.secret is not None:
            ts = str(body.get("timestamp", ""))
            want = base64.b64encode(hmac.new(f"{ts}\n{self.secret}".encode(), b"", hashlib.sha256).digest()).decode()
            if not ts.isdigit() or abs(time.time() - int(ts)) > 3600 or body.get("sign") != want:
                return 200, {"code": 19021, "data": {},
                             "msg": "sign match fail or timestamp is not within one hour from current time"}
        if self.mode == "limit":
            return 200, {"code": 11232, "data": {}, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]"}
        if body.get("msg_type") != "post" or "zh_cn" not in body.get("content", {}).get("post", {}):
            return 200, {"code": 19002, "data": {}, "msg": "params error"}
        self.accepted.append(body)
        return 200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}

    def _dingtalk(self, query: dict, body: dict) -> tuple[int, dict]:
        if query.get("access_token") != DING_TOKEN:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}
        if self.secret is not None:
            ts = query.get("timestamp", "")
            want = base64.b64encode(hmac.new(self.secret.encode(), f"{ts}\n{self.secret}".encode(),
                                             hashlib.sha256).digest()).decode()
            if not ts.isdigit() or abs(time.time() * 1000 - int(ts)) > 3600_000:
                return 200, {"errcode": 310000, "errmsg": "invalid timestamp"}
            if query.get("sign") != want:
                return 200, {"errcode": 310000, "errmsg": "sign not match"}
        if self.mode == "limit":
            return 200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        if body.get("msgtype") != "markdown" or body.get("at", {}).get("isAtAll"):
            return 200, {"errcode": 40035, "errmsg": "缺少参数 json"}
        self.accepted.append(body)
        return 200, {"errcode": 0, "errmsg": "ok"}

    def _wecom(self, query: dict, body: dict) -> tuple[int, dict]:
        if query.get("key") != WECOM_KEY:
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url, hint: [1], more info at "
                                                     "https://open.work.weixin.qq.com/devtool/query?e=93000"}
        if self.mode == "limit":
            return 200, {"errcode": 45009, "errmsg": "api freq out of limit"}
        mtype = body.get("msgtype")
        content = body.get(mtype, {}).get("content", "") if mtype in ("markdown", "text") else None
        if content is None:
            return 200, {"errcode": 40008, "errmsg": "invalid message type"}
        limit = 4096 if mtype == "markdown" else 2048
        if len(content.encode("utf-8")) > limit:
            return 200, {"errcode": 40058, "errmsg": f"markdown.content exceed max length {limit}"}
        self.accepted.append(body)
        return 200, {"errcode": 0, "errmsg": "ok"}


def _serve(handler_cls) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def _robot(kind: str, secret: str | None):
    rec = Receiver(kind, secret)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):  # quiet
            pass

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            rec.seen.append((self.path, body))
            status, answer = rec.answer(self.path, body)
            data = json.dumps(answer).encode() if answer else b"<html>Internal Server Error</html>"
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if answer else "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass

    server, _ = _serve(Handler)
    rec.port = server.server_address[1]
    return rec, server


def _running(kind: str, secret: str | None):
    """A fixture body: the ``kind`` receiver for the test, shut down after it."""
    rec, server = _robot(kind, secret)
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def feishu():
    yield from _running("feishu", FEISHU_SECRET)


@pytest.fixture
def dingtalk():
    yield from _running("dingtalk", DING_SECRET)


@pytest.fixture
def wecom():
    yield from _running("wecom", None)


ENV = {"FEISHU_SECRET": FEISHU_SECRET, "DING_SECRET": DING_SECRET}


def _channel(rec: Receiver, *, secret_env: str | None = "auto", env: dict | None = None):
    if secret_env == "auto":
        secret_env = {"feishu": "FEISHU_SECRET", "dingtalk": "DING_SECRET", "wecom": None}[rec.kind]
    row = {"name": f"{rec.kind}-ops", "type": rec.kind, "target": rec.url, "secret_env": secret_env,
           "events": None, "enabled": True}
    return build_channel(row, env=ENV if env is None else env)


# ------------------------------------------------------------------------------------ IM payloads


def _feishu_text(body: dict) -> tuple[str, list[dict]]:
    post = body["content"]["post"]["zh_cn"]
    elements = [el for line in post["content"] for el in line]
    return post["title"] + "\n" + "".join(el.get("text", "") for el in elements), elements


def test_feishu_signed_post_carries_the_case(feishu):
    ch = _channel(feishu)
    assert isinstance(ch, FeishuChannel) and (ch.name, ch.type) == ("feishu-ops", "feishu")
    ch.send(_msg())
    [body] = feishu.accepted
    assert body["timestamp"].isdigit() and body["sign"]              # the receiver verified them
    text, elements = _feishu_text(body)
    for part in ("新中差评", "淘宝", "示例旗舰店", "张＊＊", "★★☆☆☆", "质量", "高", "衣服洗一次就起球",
                 "2026-11-20 11:30", "客服主管", "提醒编号：new_case:123"):
        assert part in text, part
    [link] = [el for el in elements if el["tag"] == "a"]
    assert link["href"] == "https://wb.shop.example/cases/123" and "#123" in link["text"]
    [at] = [el for el in elements if el["tag"] == "at"]
    assert at == {"tag": "at", "user_id": "ou_lisi", "user_name": "李四"}


def test_dingtalk_signed_markdown_mentions_by_mobile(dingtalk):
    ch = _channel(dingtalk)
    ch.send(_msg())
    [body] = dingtalk.accepted
    path, _ = dingtalk.seen[0]
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
    assert q["access_token"] == DING_TOKEN and len(q["timestamp"]) == 13          # ms
    text = body["markdown"]["text"]
    for part in ("新中差评", "淘宝", "示例旗舰店", "张＊＊", "2 星", "质量", "衣服洗一次就起球", "2026-11-20 11:30",
                 "客服主管", "new_case:123", "[打开案件 #123](https://wb.shop.example/cases/123)"):
        assert part in text, part
    assert body["at"] == {"atMobiles": ["13911112222"], "isAtAll": False}
    assert "@13911112222" in text                                   # DingTalk needs both
    assert "中差评" in body["markdown"]["title"]


def test_wecom_markdown_userid_mention_and_mobile_followup(wecom):
    ch = _channel(wecom)
    assert isinstance(ch, WeComChannel)
    only_mobile = Mention("王五", mobile="+86 139-0000-1111")
    ch.send(_msg(mentions=(ONDUTY, only_mobile)))
    md, follow = wecom.accepted
    content = md["markdown"]["content"]
    for part in ("新中差评", "淘宝", "示例旗舰店", "张＊＊", "2 星", "质量", "衣服洗一次就起球", "2026-11-20 11:30",
                 "客服主管", "new_case:123", "[打开案件 #123](https://wb.shop.example/cases/123)"):
        assert part in content, part
    assert re.findall(r"<@([^>]*)>", content) == ["lisi"]
    assert follow["msgtype"] == "text"
    assert follow["text"]["mentioned_mobile_list"] == ["13900001111"]
    assert "new_case:123" in follow["text"]["content"]
    assert "mentioned_list" not in follow["text"]


def test_wecom_without_mobile_only_people_sends_one_message(wecom):
    _channel(wecom).send(_msg())
    assert len(wecom.accepted) == 1


def test_wecom_long_excerpt_is_cut_to_4096_bytes_never_the_link(wecom):
    ch = _channel(wecom)
    roster = tuple(Mention(f"值班{i}", wecom_id=f"{i:02d}" + "w" * 98) for i in range(28))   # a big duty roster
    full = "质量太差" * 3000
    ch.send(_msg(excerpt=full, shop="店" * 200, mentions=roster))
    [md] = wecom.accepted
    content = md["markdown"]["content"]
    assert 4000 < len(content.encode("utf-8")) <= 4096
    assert content.count("[打开案件 #123](https://wb.shop.example/cases/123)") == 1
    assert len(re.findall(r"<@(\d\d)w{98}>", content)) == 28
    excerpt = re.search(r"评价摘录\*\*：(.*)", content).group(1)
    assert excerpt.endswith("…") and 20 < len(excerpt) < 300


def test_unsigned_robots_are_allowed():
    rec, server = _robot("feishu", None)
    try:
        _channel(rec, secret_env=None).send(_msg())
        [body] = rec.accepted
        assert "sign" not in body and "timestamp" not in body
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------ hostile user text


def _links_and_mentions(kind: str, body: dict) -> tuple[list[str], list[str], str]:
    if kind == "feishu":
        text, elements = _feishu_text(body)
        links = [el["href"] for el in elements if el["tag"] == "a"]
        mentions = [el["user_id"] for el in elements if el["tag"] == "at"]
        return links, mentions, text
    text = body["markdown"]["text"] if kind == "dingtalk" else body["markdown"]["content"]
    links = re.findall(r"\[[^\]]*\]\(([^)]*)\)", text)
    if kind == "dingtalk":
        mentions = re.findall(r"@(\d{11})", text) + body["at"]["atMobiles"]
    else:
        mentions = re.findall(r"<@([^>]*)>", text)
    return links, mentions, text


@pytest.mark.parametrize("kind", ["feishu", "dingtalk", "wecom"])
def test_hostile_excerpt_creates_no_link_mention_header_or_html(kind, request):
    rec = request.getfixturevalue(kind)
    nick = "<@all>**"
    _channel(rec).send(_msg(excerpt=HOSTILE, customer=nick, shop="[店](http://evil.example)"))
    body = rec.accepted[0]
    links, mentions, text = _links_and_mentions(kind, body)
    assert links == ["https://wb.shop.example/cases/123"]
    assert mentions in (["ou_lisi"], ["13911112222", "13911112222"], ["lisi"])
    assert "13800000000" not in json.dumps(body.get("at", {}))
    for bad in ("<at", "<@all", "<script", "<a ", "](http://evil", "![", "http://evil", "@13800000000", "**x**"):
        assert bad not in text, bad
    if kind != "feishu":
        assert not any(line.lstrip("> ").startswith("#") for line in text.splitlines()[1:])
        assert text.count("\n#") == 0
    assert "点我" in text and "标题" in text                   # the words stay readable


# ----------------------------------------------------------------------------- failure classification


@pytest.mark.parametrize("kind, code", [("feishu", "19021"), ("dingtalk", "310000")])
def test_wrong_secret_is_not_retryable(kind, code, request):
    rec = request.getfixturevalue(kind)
    ch = _channel(rec, env={"FEISHU_SECRET": "wrong", "DING_SECRET": "SECwrong"})
    with pytest.raises(ChannelError) as err:
        ch.send(_msg())
    e = err.value
    assert (e.retryable, e.code, e.channel) == (False, code, f"{kind}-ops") and rec.accepted == []
    assert code in str(e) and "wrong" not in str(e) and "李四" not in str(e)


@pytest.mark.parametrize("kind, cls, secret", [("feishu", FeishuChannel, FEISHU_SECRET),
                                               ("dingtalk", DingTalkChannel, DING_SECRET)])
def test_timestamp_more_than_an_hour_off_is_rejected(kind, cls, secret, request):
    rec = request.getfixturevalue(kind)
    stale = cls(f"{kind}-ops", rec.url, secret, clock=lambda: time.time() - 2 * 3600)
    with pytest.raises(ChannelError) as err:
        stale.send(_msg())
    assert err.value.retryable is False and err.value.code in ("19021", "310000")
    cls(f"{kind}-ops", rec.url, secret, clock=lambda: time.time() - 600).send(_msg())   # 10 min skew is fine
    assert len(rec.accepted) == 1


def test_wecom_wrong_key_is_not_retryable(wecom):
    row = {"name": "wx", "type": "wecom", "target": wecom.url.replace(WECOM_KEY, "bad-key"), "enabled": True}
    with pytest.raises(ChannelError) as err:
        build_channel(row, env={}).send(_msg())
    assert (err.value.retryable, err.value.code) == (False, "93000")
    assert "bad-key" not in str(err.value)


@pytest.mark.parametrize("kind", ["feishu", "dingtalk", "wecom"])
@pytest.mark.parametrize("mode, code", [("500", "http_500"), ("limit", None), ("sleep", "timeout")])
def test_transient_failures_are_retryable(kind, mode, code, request):
    rec = request.getfixturevalue(kind)
    rec.mode = mode
    with pytest.raises(ChannelError) as err:
        _channel(rec).send(_msg(), timeout=0.4)
    assert err.value.retryable is True
    want = code or {"feishu": "11232", "dingtalk": "130101", "wecom": "45009"}[kind]
    assert err.value.code == want
    assert WECOM_KEY not in str(err.value) and DING_TOKEN not in str(err.value)


@pytest.mark.parametrize("kind", ["feishu", "dingtalk", "wecom"])
def test_closed_port_is_retryable(kind):
    rec = Receiver(kind)
    rec.port = free_port()
    with pytest.raises(ChannelError) as err:
        _channel(rec).send(_msg(), timeout=1)
    assert err.value.retryable is True and err.value.code == "network"


# ------------------------------------------------------------------------------------ build_channel


@pytest.mark.parametrize("row, env, match", [
    ({"type": "feishu", "target": "http://open.feishu.cn/open-apis/bot/v2/hook/abc"}, {}, r"https.*open\.feishu\.cn"),
    ({"type": "dingtalk", "target": "http://10.0.0.5/robot/send?access_token=x"}, {}, r"https.*10\.0\.0\.5"),
    ({"type": "feishu", "target": "https://open.feishu.cn/open-apis/bot/v2/hook/abc", "secret_env": "NOPE_SECRET"},
     {}, "NOPE_SECRET"),
    ({"type": "pager", "target": "x"}, {}, "'pager'"),
    ({"type": "feishu", "target": ""}, {}, "webhook"),
    ({"type": "feishu", "target": "ftp://open.feishu.cn/x"}, {}, "ftp://open.feishu.cn"),
    ({"type": "wecom", "target": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}, {}, "key"),
    ({"type": "dingtalk", "target": "https://oapi.dingtalk.com/robot/send"}, {}, "access_token"),
    ({"type": "wecom", "target": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "secret_env": "X"},
     {"X": "1"}, "secret_env"),
    ({"type": "email", "target": "lead@shop.example, not-an-address"}, {}, "not-an-address"),
    ({"type": "email", "target": "lead@shop.example"}, {}, "REVIEWOPS_SMTP_HOST"),
    ({"type": "sms", "target": "12345"}, {}, "号码"),
])
def test_build_channel_config_errors_name_the_value(row, env, match):
    with pytest.raises(ConfigError, match=match) as err:
        build_channel({"name": "ops", "enabled": True, **row}, env=env)
    assert "ops" in str(err.value)


def test_webhook_secrets_are_not_echoed_in_config_errors():
    with pytest.raises(ConfigError) as err:
        build_channel({"name": "d", "type": "dingtalk", "target": "http://oapi.dingtalk.com/robot/send?access_token="
                       "very-secret-token"}, env={})
    assert "very-secret-token" not in str(err.value) and "oapi.dingtalk.com" in str(err.value)


def test_loopback_http_allowed_and_type_names():
    for host in ("127.0.0.1", "localhost", "[::1]"):
        ch = build_channel({"name": "f", "type": "飞书", "target": f"http://{host}:9/open-apis/bot/v2/hook/x"}, env={})
        assert ch.type == "feishu" and "hook" not in repr(ch)
    assert CHANNEL_TYPES == ("feishu", "dingtalk", "wecom", "email", "sms")
    assert CHANNEL_TYPE_ZH["wecom"] == "企业微信"
    with pytest.raises(ConfigError):
        render("pager", _msg())


# ------------------------------------------------------------------------------------------ e-mail

SMTP_USER, SMTP_PASSWORD = "alerts@shop.example", "s3cret-pass"


def _auth(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = session.ssl is not None and isinstance(auth_data, LoginPassword) \
        and auth_data.login.decode() == SMTP_USER and auth_data.password.decode() == SMTP_PASSWORD
    return AuthResult(success=ok, handled=ok)


@pytest.fixture
def smtp_server(tmp_path):
    aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
    crt, key = self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(crt), str(key))
    inbox = Inbox()
    ctl = aiosmtpd_controller.Controller(inbox, hostname="localhost", port=free_port(), tls_context=ctx,
                                         require_starttls=True, authenticator=_auth, auth_required=True,
                                         auth_require_tls=True)
    ctl.start()
    env = {"REVIEWOPS_SMTP_HOST": "localhost", "REVIEWOPS_SMTP_PORT": str(ctl.port),
           "REVIEWOPS_SMTP_SECURITY": "starttls", "REVIEWOPS_SMTP_USER": SMTP_USER,
           "REVIEWOPS_SMTP_PASSWORD": SMTP_PASSWORD, "REVIEWOPS_SMTP_FROM": SMTP_USER,
           "REVIEWOPS_SMTP_CAFILE": str(crt)}
    try:
        yield inbox, env
    finally:
        ctl.stop()


def test_email_over_starttls_with_escaped_html_and_the_on_duty_recipient(smtp_server):
    inbox, env = smtp_server
    ch = build_channel({"name": "mail", "type": "email", "target": "lead@shop.example；buyer@shop.example",
                        "enabled": True}, env=env)
    ch.send(_msg(excerpt=HOSTILE))
    [(mail_from, rcpts, msg)] = inbox.messages
    assert mail_from == SMTP_USER
    assert rcpts == ["lead@shop.example", "buyer@shop.example", "lisi@shop.example"]
    assert msg["Subject"].startswith("【中差评提醒】新中差评") and "示例旗舰店" in msg["Subject"]
    plain = msg.get_body(("plain",)).get_content()
    page = msg.get_body(("html",)).get_content()
    for part in ("淘宝", "张**", "2026-11-20 11:30", "客服主管", "new_case:123", "https://wb.shop.example/cases/123"):
        assert part in plain and part in page, part
    assert "<script" not in page and "&lt;script&gt;" in page
    assert re.findall(r"<a\s+href=\"([^\"]*)\"", page) == ["https://wb.shop.example/cases/123"]
    assert "<at " not in page and "http://evil" not in page


def test_email_wrong_password_not_retryable_and_closed_port_retryable(smtp_server):
    inbox, env = smtp_server
    bad = build_channel({"name": "mail", "type": "email", "target": "lead@shop.example"},
                        env={**env, "REVIEWOPS_SMTP_PASSWORD": "wrong-pw"})
    with pytest.raises(ChannelError) as err:
        bad.send(_msg())
    assert err.value.retryable is False and "wrong-pw" not in str(err.value) and inbox.messages == []
    closed = build_channel({"name": "mail", "type": "email", "target": "lead@shop.example"},
                           env={**env, "REVIEWOPS_SMTP_PORT": str(free_port())})
    with pytest.raises(ChannelError) as err:
        closed.send(_msg(), timeout=2)
    assert err.value.retryable is True


def test_email_untrusted_certificate_not_retryable(smtp_server):
    inbox, env = smtp_server
    env = {k: v for k, v in env.items() if k != "REVIEWOPS_SMTP_CAFILE"}
    with pytest.raises(ChannelError) as err:
        build_channel({"name": "mail", "type": "email", "target": "lead@shop.example"}, env=env).send(_msg())
    assert (err.value.retryable, err.value.code) == (False, "tls") and inbox.messages == []


# --------------------------------------------------------------------------------------------- SMS


class FakeSms:
    def __init__(self, fail: Exception | None = None):
        self.calls: list[tuple[list[str], list[str], float]] = []
        self.fail = fail

    def send(self, phones, params, *, timeout):
        self.calls.append((phones, params, timeout))
        if self.fail:
            raise self.fail


def test_sms_provider_gets_e164_numbers_and_short_params():
    fake = FakeSms()
    ch = build_channel({"name": "sms-duty", "type": "sms", "target": "13700001111, +8613911112222"}, env={},
                       sms_provider=fake)
    assert isinstance(ch, SmsChannel)
    ch.send(_msg(mentions=(ONDUTY, Mention("王五", mobile="0086 139-0000-1111"), Mention("无号"))), timeout=3)
    [(phones, params, timeout)] = fake.calls
    assert phones == ["+8613700001111", "+8613911112222", "+8613900001111"] and timeout == 3
    assert params == ["淘宝示例旗舰店", "2星质量", "11-20 11:30", "new_case:123"]
    long = render("sms", _msg(key="warn_80:1234567", kind="warn_80", shop="一个名字非常非常长的旗舰店",
                              excerpt="http://evil.example"))
    assert all(len(p) <= 12 for p in long) and long[3] == "W80-123" and long[0] == "淘宝一个名字非常非常长的"


def test_sms_failures_are_classified_and_carry_no_phone():
    ch = build_channel({"name": "sms-duty", "type": "sms"}, env={}, sms_provider=FakeSms(TimeoutError()))
    with pytest.raises(ChannelError) as err:
        ch.send(_msg())
    assert err.value.retryable is True and err.value.channel == "sms-duty"
    fail = ChannelError("x tencent-sms", channel="tencent-sms", retryable=False, code="AuthFailure.SignatureFailure")
    ch = build_channel({"name": "sms-duty", "type": "sms"}, env={}, sms_provider=FakeSms(fail))
    with pytest.raises(ChannelError) as err:
        ch.send(_msg())
    assert (err.value.channel, err.value.retryable, err.value.code) == ("sms-duty", False, "AuthFailure.SignatureFailure")
    with pytest.raises(ChannelError) as err:
        ch.send(_msg(mentions=(Mention("李四", mobile="139-1111"),)))
    assert err.value.code == "bad_phone" and "1111" not in str(err.value)
    with pytest.raises(ChannelError, match="no recipient"):
        ch.send(_msg(mentions=()))


SMS_ID, SMS_KEY = "AKIDtestid", "test-secret-key"


class TencentSmsEndpoint:
    """Answers SendSms like sms.tencentcloudapi.com, after checking the TC3-HMAC-SHA256 signature."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict, dict]] = []
        self.status_code = "Ok"

    def handle(self, headers: dict, raw: bytes) -> dict:
        host, ctype, ts = headers.get("Host", ""), headers.get("Content-Type", ""), headers.get("X-TC-Timestamp", "")
        auth = headers.get("Authorization", "")
        date = dt.datetime.fromtimestamp(int(ts or 0), dt.UTC).strftime("%Y-%m-%d")
        canonical = (f"POST\n/\n\ncontent-type:{ctype}\nhost:{host}\n\ncontent-type;host\n"
                     f"{hashlib.sha256(raw).hexdigest()}")
        scope = f"{date}/sms/tc3_request"
        to_sign = f"TC3-HMAC-SHA256\n{ts}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"

        def h(key: bytes, m: str) -> bytes:
            return hmac.new(key, m.encode(), hashlib.sha256).digest()

        k = h(h(h(("TC3" + SMS_KEY).encode(), date), "sms"), "tc3_request")
        want = (f"TC3-HMAC-SHA256 Credential={SMS_ID}/{scope}, SignedHeaders=content-type;host, "
                f"Signature={hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()}")
        body = json.loads(raw)
        self.requests.append((dict(headers), body))
        if auth != want or abs(time.time() - int(ts or 0)) > 300:
            return {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure",
                                           "Message": "The provided credentials could not be validated."},
                                 "RequestId": "req-1"}}
        statuses = [{"SerialNo": "2433:1", "PhoneNumber": p, "Fee": 1, "SessionContext": "",
                     "Code": self.status_code, "Message": "send success" if self.status_code == "Ok" else "limit",
                     "IsoCode": "CN"} for p in body["PhoneNumberSet"]]
        return {"Response": {"SendStatusSet": statuses, "RequestId": "req-2"}}


@pytest.fixture
def tencent():
    pytest.importorskip("tencentcloud.sms.v20210111")
    ep = TencentSmsEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            data = json.dumps(ep.handle(dict(self.headers), raw)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server, _ = _serve(Handler)
    env = {"REVIEWOPS_SMS_SECRET_ID": SMS_ID, "REVIEWOPS_SMS_SECRET_KEY": SMS_KEY,
           "REVIEWOPS_SMS_APP_ID": "1400006666", "REVIEWOPS_SMS_SIGN": "示例店铺", "REVIEWOPS_SMS_TEMPLATE": "1110",
           "REVIEWOPS_SMS_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}"}
    yield ep, env
    server.shutdown()
    server.server_close()


def test_tencent_sdk_request_is_signed_and_complete(tencent):
    ep, env = tencent
    ch = build_channel({"name": "sms-duty", "type": "sms"}, env=env)
    ch.send(_msg())
    [(headers, body)] = ep.requests
    assert headers["X-TC-Action"] == "SendSms" and headers["X-TC-Version"] == "2021-01-11"
    assert headers["X-TC-Region"] == "ap-guangzhou"
    assert body == {"PhoneNumberSet": ["+8613911112222"], "SmsSdkAppId": "1400006666", "SignName": "示例店铺",
                    "TemplateId": "1110", "TemplateParamSet": ["淘宝示例旗舰店", "2星质量", "11-20 11:30", "new_case:123"]}


def test_tencent_errors_map_to_retryable(tencent):
    ep, env = tencent
    bad = build_channel({"name": "sms-duty", "type": "sms"}, env={**env, "REVIEWOPS_SMS_SECRET_KEY": "wrong"})
    with pytest.raises(ChannelError) as err:
        bad.send(_msg())
    assert (err.value.retryable, err.value.code, err.value.channel) == (False, "AuthFailure.SignatureFailure",
                                                                        "sms-duty")
    ep.status_code = "LimitExceeded.PhoneNumberDailyLimit"
    with pytest.raises(ChannelError) as err:
        build_channel({"name": "sms-duty", "type": "sms"}, env=env).send(_msg())
    assert (err.value.retryable, err.value.code) == (True, "LimitExceeded.PhoneNumberDailyLimit")
    assert "13911112222" not in str(err.value)
    closed = {**env, "REVIEWOPS_SMS_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    with pytest.raises(ChannelError) as err:
        build_channel({"name": "sms-duty", "type": "sms"}, env=closed).send(_msg(), timeout=1)
    assert (err.value.retryable, err.value.code) == (True, "ClientNetworkError")


def test_tencent_settings_are_checked():
    pytest.importorskip("tencentcloud.sms.v20210111")
    with pytest.raises(ConfigError, match="REVIEWOPS_SMS_SECRET_ID"):
        build_channel({"name": "s", "type": "sms"}, env={})
    base = {"REVIEWOPS_SMS_SECRET_ID": "a", "REVIEWOPS_SMS_SECRET_KEY": "b", "REVIEWOPS_SMS_APP_ID": "1400006666",
            "REVIEWOPS_SMS_SIGN": "店", "REVIEWOPS_SMS_TEMPLATE": "1"}
    with pytest.raises(ConfigError, match="https"):
        TencentSms.from_env({**base, "REVIEWOPS_SMS_ENDPOINT": "http://sms.example.com"})
    assert "b" not in repr(TencentSms.from_env(base)).replace("app_id", "")


# ------------------------------------------------------------------------------------------ golden


GOLDEN = AlertMessage(key="breach:7", kind="breach", title="超时升级", case_id=7, platform_zh="抖音", shop="A店",
                      customer="王*", rating=None, category_zh="物流", severity_zh="中", excerpt="还没到",
                      due_local="2026-11-20 09:00", role_zh="客服主管", case_url="https://wb.example/c/7",
                      mentions=(Mention("赵六", mobile="13800001234", feishu_id="ou_z", wecom_id="zhao"),))


def test_golden_feishu():
    def t(s):
        return [{"tag": "text", "text": s}]
    assert render("feishu", GOLDEN) == {"msg_type": "post", "content": {"post": {"zh_cn": {
        "title": "【中差评提醒】超时升级",
        "content": [t("平台店铺：抖音 · A店"), t("顾客：王＊"), t("评分：未知"), t("分类：物流（严重度：中）"),
                    t("评价摘录：还没到"), t("处理截止：2026-11-20 09:00（北京时间）"), t("负责角色：客服主管"),
                    t("提醒编号：breach:7"),
                    [{"tag": "text", "text": "案件："}, {"tag": "a", "text": "打开案件 #7", "href": "https://wb.example/c/7"}],
                    [{"tag": "text", "text": "值班："}, {"tag": "at", "user_id": "ou_z", "user_name": "赵六"},
                     {"tag": "text", "text": " "}, {"tag": "text", "text": "请尽快处理"}]]}}}}


def test_golden_dingtalk():
    assert render("dingtalk", GOLDEN) == {
        "msgtype": "markdown",
        "markdown": {"title": "中差评提醒：超时升级", "text": (
            "### 【中差评提醒】超时升级\n\n**平台店铺**：抖音 · A店\n\n**顾客**：王＊\n\n**评分**：未知\n\n"
            "**分类**：物流（严重度：中）\n\n**评价摘录**：还没到\n\n**处理截止**：2026-11-20 09:00（北京时间）\n\n"
            "**负责角色**：客服主管\n\n**提醒编号**：breach:7\n\n[打开案件 #7](https://wb.example/c/7)\n\n"
            "值班：@13800001234 请尽快处理")},
        "at": {"atMobiles": ["13800001234"], "isAtAll": False}}


def test_golden_wecom():
    assert render("wecom", GOLDEN) == {"msgtype": "markdown", "markdown": {"content": (
        "### 【中差评提醒】<font color=\"warning\">超时升级</font>\n> **平台店铺**：抖音 · A店\n> **顾客**：王＊\n"
        "> **评分**：未知\n> **分类**：物流（严重度：中）\n> **评价摘录**：还没到\n"
        "> **处理截止**：2026-11-20 09:00（北京时间）\n> **负责角色**：客服主管\n> **提醒编号**：breach:7\n"
        "[打开案件 #7](https://wb.example/c/7)\n值班：<@zhao> 请尽快处理")}}


def test_golden_email_and_sms():
    em = render("email", GOLDEN)
    assert em["Subject"] == "【中差评提醒】超时升级｜抖音·A店｜案件 #7"
    assert em.get_body(("plain",)).get_content().splitlines()[:11] == [
        "【中差评提醒】超时升级", "", "平台店铺：抖音 · A店", "顾客：王*", "评分：未知", "分类：物流（严重度：中）",
        "评价摘录：还没到", "处理截止：2026-11-20 09:00（北京时间）", "负责角色：客服主管", "提醒编号：breach:7",
        "案件：#7 https://wb.example/c/7"]
    assert render("sms", GOLDEN) == ["抖音A店", "物流", "11-20 09:00", "breach:7"]


def test_bad_case_link_and_everyone_ids_are_never_rendered():
    everyone = Mention("全体", mobile="13800001234", feishu_id="all", wecom_id="@all")
    odd = Mention("怪ID", feishu_id='ou_x" href="http://evil', wecom_id="a>b")
    msg = _msg(case_url="javascript:alert(1)", mentions=(everyone, odd))
    fs = json.dumps(render("feishu", msg), ensure_ascii=False)
    assert '"tag": "a"' not in fs and '"tag": "at"' not in fs and "javascript" not in fs
    wx = render("wecom", msg)["markdown"]["content"]
    assert "<@" not in wx and "](" not in wx and "javascript" not in wx
    dd = render("dingtalk", msg)
    assert dd["at"] == {"atMobiles": ["13800001234"], "isAtAll": False} and "](" not in dd["markdown"]["text"]
    assert "<a " not in render("email", msg).get_body(("html",)).get_content()
    link = render("dingtalk", _msg(case_url="https://wb.example/c/1?q=a b)(x"))["markdown"]["text"]
    assert "[打开案件 #123](https://wb.example/c/1?q=a%20b%29%28x)" in link


def test_a_grade_without_stars_is_shown_as_the_platform_wrote_it_and_stays_inert() -> None:
    """Taobao grades 好评/中评/差评 without stars: the alert shows the grade, never markup from it."""
    import dataclasses

    base = AlertMessage(key="new_case:5", kind="new_case", title="新中差评", case_id=5, platform_zh="淘宝",
                        shop="店", customer="张**", rating=None, category_zh="质量", severity_zh="高", excerpt="差",
                        due_local="2026-11-26 12:00", role_zh="客服主管",
                        case_url="https://kefu.example/voila/render/workbench.ipynb?case=5")
    for kind in ("feishu", "dingtalk", "wecom"):
        text = json.dumps(render(kind, dataclasses.replace(base, rating_text="差评")), ensure_ascii=False)
        assert "评分：差评" in text or "评分**：差评" in text or "差评" in text.split("评分", 1)[1][:20], kind
        hostile = json.dumps(render(kind, dataclasses.replace(base, rating_text="[x](http://evil)")),
                             ensure_ascii=False)
        assert "](http://evil)" not in hostile and "http://evil" not in hostile, kind
    assert "未知" in json.dumps(render("feishu", base), ensure_ascii=False)


def test_a_malicious_alert_has_its_own_title_and_colour():
    """A case routed to 法务 after it was opened (issue 17 §1, kind ``malicious``) is named as such, not the
    generic 中差评提醒, and WeCom shows it in the warning colour like a breach."""
    from reviewops.alerting.channels import alert_title

    assert alert_title("malicious") == "疑似恶意差评（转法务）"
    assert alert_title("something_else") == "中差评提醒"
