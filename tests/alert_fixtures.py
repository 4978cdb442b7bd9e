"""Shared helpers for the alert and watcher tests: a policy with channels and a duty roster, review
export files, and an in-process channel that records what it was asked to send."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from reviewops.core.policy import Policy, current_policy, save_policy

HEADER = "评价ID,订单编号,宝贝标题,买家昵称,评价结果,评价内容,评价时间,店铺名称"
PHONE = "13812345678"
NICK = "王小明同学"


def policy_with(store: Any, channels: Iterable[dict[str, Any]] = (), duty: Iterable[dict[str, Any]] = (),
                settings: dict[str, str] | None = None) -> Policy:
    """Store the current policy with these 提醒渠道 / 值班表 rows (and settings) as a new version.

    Combined messages are off unless ``settings`` sets ``alert_digest_over``: most tests count one
    message per alert."""
    settings = {"alert_digest_over": "0", **(settings or {})}
    p = current_policy(store)
    raw = {k: [dict(r) for r in v] for k, v in p.tables.items()}
    raw["channels"] = [{"secret_env": None, "events": None, "enabled": True, **c} for c in channels]
    raw["duty"] = [dict(d) for d in duty]
    for key, value in settings.items():
        for r in raw["settings"]:
            if r["key"] == key:
                r["value"] = value
    return save_policy(store, Policy.from_tables(raw), actor="test")


def feishu(name: str = "kf", **kw: Any) -> dict[str, Any]:
    return {"name": name, "type": "feishu", "target": "https://open.feishu.cn/open-apis/bot/v2/hook/test", **kw}


def recent(seconds_ago: float = 7200, plus: float = 0) -> str:
    """A Beijing wall time ``seconds_ago`` before now (+ ``plus`` s), as exports write it — reviews stay
    "new" (within the policy's alert_max_review_age_hours) whenever the suite runs."""
    from zoneinfo import ZoneInfo

    t = dt.datetime.now(ZoneInfo("Asia/Shanghai")) - dt.timedelta(seconds=seconds_ago - plus)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def review_rows(start: int, n: int, *, negative_every: int = 2, shop: str = "测试店", posted: str | None = None,
                content: str | None = None) -> list[str]:
    """``n`` Taobao review rows posted about two hours ago (or at ``posted``, Beijing time); every
    ``negative_every``-th is a 差评 with a phone number and a nickname."""
    out = []
    for i in range(start, start + n):
        neg = negative_every and i % negative_every == 0
        text = content or (f"质量太差了，投诉！联系我{PHONE}" if neg else "很好，物流快")
        when = posted or recent(plus=i % 3600)
        out.append(f"R{i},{2841234567000000 + i},商品{i % 7},{NICK}{i},{'差评' if neg else '好评'},{text},{when},{shop}")
    return out


def write_export(path: Path, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


class Recorder:
    """An in-process channel: records each message; ``fail`` = exceptions to raise on the next sends."""

    def __init__(self, name: str = "kf", type: str = "fake") -> None:  # "fake": no service rate limit
        self.name, self.type = name, type
        self.messages: list[Any] = []
        self.fail: list[Exception] = []
        self.lock = threading.Lock()

    def send(self, msg: Any, *, timeout: float = 5.0) -> None:
        with self.lock:
            if self.fail:
                raise self.fail.pop(0)
            self.messages.append(msg)

    @property
    def keys(self) -> list[str]:
        with self.lock:
            return [m.key for m in self.messages]


class FeishuReceiver:
    """A loopback stand-in for a Feishu custom-bot webhook that checks the signature as Feishu does
    (base64 HMAC-SHA256 keyed with "timestamp\\nsecret" over an empty message, timestamp within 1 h) and
    records the 提醒编号 of every accepted message."""

    def __init__(self, secret: str) -> None:
        import base64
        import hashlib
        import hmac
        import json
        import re
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.keys: list[str] = []
        self.refused = 0
        self.last = time.monotonic()
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                ts = str(body.get("timestamp", ""))
                want = base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
                ok = ts.isdigit() and abs(time.time() - int(ts)) < 3600 and body.get("sign") == want
                if ok:
                    found = re.findall(r"(?:new_case|warn_\d+|breach):\d+", json.dumps(body, ensure_ascii=False))
                    with outer.lock:
                        outer.keys.append(found[0] if found else "?")
                else:
                    outer.refused += 1
                data = json.dumps({"code": 0, "msg": "success"} if ok else
                                  {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}).encode()
                outer.last = time.monotonic()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/open-apis/bot/v2/hook/test-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def idle_for(self) -> float:
        import time

        return time.monotonic() - self.last

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
