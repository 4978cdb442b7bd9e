"""Two ``reviewops watch`` processes on one PostgreSQL store and one alert ledger (issue 21 §2): both take files from
the same drop folder and signed pushes at the same time; every alert reaches the channel exactly once (none lost,
none twice), no dropped file is imported by both, and together they keep to the robot's rate (Feishu: 5 a second).

PostgreSQL only (``pg_db_url``): that is the deployment with more than one watcher; CI always has the server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alert_fixtures import (
    NICK,
    PHONE,
    feishu,
    policy_with,
    recent,
    review_rows,
    write_export,
)
from reviewops.alerting.watch import sign_push
from reviewops.core.store import (
    Store,
    alert_deliveries,
    alert_events,
    import_batches,
    push_events,
    watch_files,
    watch_heartbeats,
)

PUSH_SECRET = "multi-push-secret-0123456789"
ROBOT_SECRET = "multi-robot-secret"
KEY_RE = re.compile(r"提醒编号[：:]\s*(\S+)")

pytestmark = pytest.mark.postgres


class Robot:
    """A loopback Feishu custom bot (HTTP/1.1 keep-alive): checks the signature as Feishu does and records the
    receive time and 提醒编号 of every accepted message, and how many connections were opened."""

    def __init__(self, secret: str) -> None:
        self.got: list[tuple[float, str]] = []
        self.refused = 0
        self.connections = 0
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with outer.lock:
                    outer.connections += 1

            def log_message(self, *a: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                now = time.time()
                ts = str(body.get("timestamp", ""))
                want = base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
                ok = ts.isdigit() and abs(now - int(ts)) < 3600 and body.get("sign") == want
                keys = KEY_RE.findall(json.dumps(body, ensure_ascii=False).replace("\\n", " ").replace('"', " "))
                with outer.lock:
                    if ok:
                        outer.got.append((now, keys[0] if keys else "?"))
                    else:
                        outer.refused += 1
                data = json.dumps({"code": 0, "msg": "success"} if ok else {"code": 19021, "msg": "sign"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/open-apis/bot/v2/hook/multi"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def keys(self) -> list[str]:
        with self.lock:
            return [k for _, k in self.got]

    def times(self) -> list[float]:
        with self.lock:
            return sorted(t for t, _ in self.got)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _push(port: int, body: bytes) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/reviews", data=body, method="POST",
                                 headers=sign_push(body, PUSH_SECRET))
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def _event(event_id: str, start: int, n: int) -> bytes:
    """A push event of reviews R<start>… as the files write them (every second one 差评)."""
    items = []
    for i in range(start, start + n):
        neg = i % 2 == 0
        items.append({"review_id": f"R{i}", "order_id": str(2841234567000000 + i), "product_title": f"商品{i % 7}",
                      "buyer_nick": f"{NICK}{i}", "rating_raw": "差评" if neg else "好评",
                      "content": f"质量太差了，投诉！联系我{PHONE}" if neg else "很好，物流快",
                      "created_at": recent(plus=i % 3600)})
    return json.dumps({"event_id": event_id, "platform": "taobao", "shop": "测试店", "reviews": items},
                      ensure_ascii=False).encode("utf-8")


@pytest.fixture
def two_watchers(pg_db_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    store = Store.open(pg_db_url)
    robot = Robot(ROBOT_SECRET)
    drop = tmp_path / "drop"
    drop.mkdir()
    policy_with(store, [feishu(target=robot.url, secret_env="RO_MULTI_FEISHU_SECRET")],
                settings={"alert_retry_seconds": "1"})
    env = {**os.environ, "RO_MULTI_FEISHU_SECRET": ROBOT_SECRET, "REVIEWOPS_PUSH_SECRET": PUSH_SECRET,
           "PYTHONUNBUFFERED": "1"}
    procs: dict[str, tuple[subprocess.Popen, int]] = {}
    for name in ("watch-a", "watch-b"):
        port = _free_port()
        cmd = [sys.executable, "-m", "reviewops", "watch", "--db", pg_db_url, "--folder", str(drop), "--http",
               f"127.0.0.1:{port}", "--name", name, "--poll", "0.1", "--settle", "0.3"]
        procs[name] = (subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), port)
    try:
        for name, (proc, port) in procs.items():
            def up(port: int = port, proc: subprocess.Popen = proc) -> bool:
                assert proc.poll() is None, proc.communicate()[1][-3000:]
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                        return True
                except OSError:
                    return False

            _wait(up, 60, f"{name} to listen")
        yield {"store": store, "robot": robot, "drop": drop, "procs": procs}
    finally:
        for name, (proc, _) in procs.items():
            if proc.poll() is None:
                proc.kill()
                print(f"--- {name} log (killed):", proc.communicate(timeout=20)[1][-4000:])
        robot.close()
        store.close()


def test_two_watchers_take_files_and_pushes_and_deliver_every_alert_exactly_once(two_watchers) -> None:
    store: Store = two_watchers["store"]
    robot: Robot = two_watchers["robot"]
    drop: Path = two_watchers["drop"]
    procs = two_watchers["procs"]
    port_a, port_b = procs["watch-a"][1], procs["watch-b"][1]

    files = 12  # 10 reviews each, R0…R119: 60 差评
    pushes = 24  # 2 reviews each, R1000…R1047: 24 差评
    twice = 4  # sent to both watchers at once (a sender retrying on the other instance): R2000…R2007, 4 差评
    overlap = 3  # pushed events whose reviews are also in a file (an export after the push): no new alert
    statuses: dict[str, list[int]] = {}
    lock = threading.Lock()

    def note(key: str, status: int) -> None:
        with lock:
            statuses.setdefault(key, []).append(status)

    def drop_files() -> None:
        for i in range(files):
            write_export(drop / f".f{i}.landing", review_rows(i * 10, 10))
            os.replace(drop / f".f{i}.landing", drop / f"export_{i:02d}.csv")
            time.sleep(0.25)

    def send_pushes(pool: ThreadPoolExecutor) -> None:
        futures = []
        for i in range(pushes):
            port = port_a if i % 2 else port_b
            futures.append(pool.submit(lambda i=i, port=port: note(f"p{i}", _push(port, _event(f"p{i}", 1000 + 2 * i, 2)))))
            time.sleep(0.1)
            if i < twice:
                body = _event(f"both{i}", 2000 + 2 * i, 2)
                futures += [pool.submit(lambda body=body, port=port, i=i: note(f"both{i}", _push(port, body)))
                            for port in (port_a, port_b)]
            if i < overlap:
                futures.append(pool.submit(lambda i=i, port=port: note(
                    f"o{i}", _push(port, _event(f"o{i}", 10 * i, 2)))))  # R0,R1 / R10,R11 / R20,R21: in files 0–2
        for f in futures:
            f.result()

    with ThreadPoolExecutor(max_workers=8) as pool:
        t = threading.Thread(target=drop_files)
        t.start()
        send_pushes(pool)
        t.join()

    assert {k: sorted(v) for k, v in statuses.items() if not k.startswith("both")} == {
        **{f"p{i}": [200] for i in range(pushes)}, **{f"o{i}": [200] for i in range(overlap)}}
    for i in range(twice):  # the replayed event: taken once, refused once (409)
        assert sorted(statuses[f"both{i}"]) == [200, 409], statuses

    # every negative review: one case, one new-case alert, received exactly once
    expected_negatives = files * 5 + pushes + twice
    _wait(lambda: len(set(robot.keys())) >= expected_negatives, 120, "every alert at the robot")
    time.sleep(1.5)  # anything sent twice would arrive by now
    with store.read() as conn:
        keys = sorted(conn.execute(sa.select(alert_events.c.key)).scalars())
        deliveries = Counter(conn.execute(sa.select(alert_deliveries.c.state)).scalars())
    assert len(keys) == expected_negatives and all(k.startswith("new_case:") for k in keys)
    got = Counter(robot.keys())
    assert sorted(got) == keys, "lost or unknown alerts"
    assert [k for k, n in got.items() if n > 1] == [], "duplicated alerts"
    assert deliveries == {"delivered": expected_negatives} and robot.refused == 0

    # no dropped file imported by both watchers: one import batch, one watch_files row per file
    with store.read() as conn:
        batches = Counter(conn.execute(sa.select(import_batches.c.file_name)
                                       .where(import_batches.c.file_name.like("export_%"))).scalars())
        taken = conn.execute(sa.select(watch_files.c.path, watch_files.c.state)).all()
        pushed = conn.execute(sa.select(sa.func.count()).select_from(push_events)).scalar_one()
    assert batches == {f"export_{i:02d}.csv": 1 for i in range(files)}, batches
    assert sorted(Path(p).name for p, _ in taken) == [f"export_{i:02d}.csv" for i in range(files)]
    assert {s for _, s in taken} == {"done"}
    assert pushed == pushes + twice + overlap

    # together within Feishu's 5 messages a second, over kept-alive connections. Send slots are 0.2 s apart in the
    # ledger; what a sender records (delivered_at) holds at most 10 + 1 (a late send) in any 2 s, the robot's receive
    # times (its threads share 2 cores with both watchers and PostgreSQL) at most 5.5 a second over the run —
    # two senders that each kept only their own pace would make ~10 a second and ~20 in 2 s
    with store.read() as conn:
        sent = sorted(t.timestamp() for t in conn.execute(sa.select(alert_deliveries.c.delivered_at)).scalars())
    worst = max(sum(1 for u in sent if t <= u < t + 2.0) for t in sent)
    assert worst <= 12, f"{worst} messages within 2 s"
    times = robot.times()
    assert (len(times) - 1) / (times[-1] - times[0]) <= 5.5, times
    assert robot.connections < len(times) / 4, (robot.connections, len(times))

    # both watchers took work; stopped with SIGTERM they exit cleanly, and the log has no personal data
    counters = {}
    for name, (proc, _) in procs.items():
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-3000:]
        assert PHONE not in err and NICK not in err
        with store.read() as conn:
            stats = conn.execute(sa.select(watch_heartbeats.c.stats_json)
                                 .where(watch_heartbeats.c.name == name)).scalar_one()
        counters[name] = json.loads(stats)
    assert all(c["pushes"] >= pushes // 2 for c in counters.values()), counters
    assert sum(c["files"] for c in counters.values()) == files, counters
    assert sum(c["delivered"] for c in counters.values()) == expected_negatives, counters
