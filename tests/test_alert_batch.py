"""The batched sender (issue 21 §2): one claim, one message query and few outcome transactions per round; robot
connections kept alive between messages; the rate kept across senders sharing the ledger; drop-folder claims —
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import pytest
import sqlalchemy as sa
from alert_fixtures import Recorder, feishu, policy_with, review_rows, write_export
from reviewops.alerting import alerts
from reviewops.alerting.channels import AlertMessage, ChannelError, FeishuChannel
from reviewops.alerting.watch import FILE_LEASE, _claim_file, take_file
from reviewops.core.policy import current_policy
from reviewops.core.store import Store, alert_deliveries, watch_files
from reviewops.handling.opening import triage_store
from reviewops.intake.ingest import import_file


def _alerts(store: Store, tmp_path: Path, start: int, n: int, name: str) -> None:
    """``n`` reviews (every second negative) imported and triaged: n/2 new-case alerts due now."""
    res = import_file(store, write_export(tmp_path / name, review_rows(start, n)))
    policy = current_policy(store)
    triage_store(store, policy=policy, batch_ids=[int(r.batch_id) for r in res],
                 on_case=alerts.case_alert_hook(policy, source="folder", arrived_at=None))


def _states(store: Store) -> dict[str, int]:
    with store.read() as conn:
        return dict(conn.execute(sa.select(alert_deliveries.c.state, sa.func.count())
                                 .group_by(alert_deliveries.c.state)).all())


class Statements:
    """Counts the statements a block runs against the store (executemany counts once)."""

    def __init__(self, store: Store) -> None:
        self.store, self.seen = store, []

    def __enter__(self) -> Self:
        sa.event.listen(self.store.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.store.engine, "before_cursor_execute", self._on)

    def _on(self, conn: Any, cursor: Any, statement: str, *a: Any) -> None:
        self.seen.append(" ".join(statement.split()).upper())

    def count(self, prefix: str, containing: str = "") -> int:
        return sum(s.startswith(prefix.upper()) and containing.upper() in s for s in self.seen)


def test_a_round_claims_builds_and_records_in_a_few_statements(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu()])
    _alerts(store, tmp_path, 0, 80, "a.csv")  # 40 alerts due
    rec = Recorder()
    with Statements(store) as st:
        res = alerts.dispatch(store, channels={"kf": rec})
    assert (res.delivered, len(set(rec.keys))) == (40, 40)
    assert _states(store) == {"delivered": 40}
    # one alert at a time was 2 UPDATEs and 1 message query each: 80 and 40 here
    assert st.count("UPDATE alert_deliveries") <= 6, st.seen
    assert st.count("SELECT", "FROM alert_events LEFT OUTER JOIN cases") == 1
    with store.read() as conn:
        times = conn.execute(sa.select(alert_deliveries.c.delivered_at)).scalars().all()
    assert len(set(times)) == 40  # each delivery keeps the moment its own message was accepted


def test_a_failure_in_a_batch_only_touches_its_own_delivery(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu()], settings={"alert_retry_seconds": "5"})
    _alerts(store, tmp_path, 0, 10, "a.csv")
    rec = Recorder()
    rec.fail = [ChannelError("HTTP 503", channel="kf", retryable=True)]
    res = alerts.dispatch(store, channels={"kf": rec})
    assert (res.delivered, res.retried, res.dead) == (4, 1, 0)
    with store.read() as conn:
        rows = conn.execute(sa.select(alert_deliveries)).mappings().all()
    (failed,) = [r for r in rows if r["state"] == "pending"]
    assert failed["attempts"] == 1 and failed["last_error"].startswith("kf: HTTP 503")
    assert failed["lease_until"] is None and failed["next_attempt_at"] > failed["updated_at"]


class KeepAliveRobot:
    """A loopback Feishu bot over HTTP/1.1: answers success, counts connections and requests. ``drop_idle``:
    closes each connection right after answering, without saying so (as a service does with an idle one)."""

    def __init__(self, drop_idle: bool = False) -> None:
        self.connections = 0
        self.requests = 0
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
                self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.requests += 1
                data = b'{"code":0,"msg":"success"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                if drop_idle:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/open-apis/bot/v2/hook/ka"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def robot() -> Iterator[KeepAliveRobot]:
    r = KeepAliveRobot()
    yield r
    r.close()


def _msg(i: int) -> AlertMessage:
    return AlertMessage(key=f"new_case:{i}", kind="new_case", title="新中差评", case_id=i, platform_zh="淘宝",
                        shop="测试店", customer="t***1", rating=1, category_zh="质量", severity_zh="高", excerpt="太差",
                        due_local="2026-12-08 12:00", role_zh="客服", case_url="https://kefu.example/")


def test_a_robot_channel_keeps_its_connection_between_messages(robot: KeepAliveRobot) -> None:
    ch = FeishuChannel("kf", robot.url, "s3cret")
    for i in range(20):
        ch.send(_msg(i), timeout=5)
    assert (robot.requests, robot.connections, ch.session.opened) == (20, 1, 1)
    ch.close()
    ch.send(_msg(21), timeout=5)  # closed: the next message opens a new one
    assert (robot.requests, robot.connections) == (21, 2)
    ch.close()


def test_a_connection_the_service_closed_is_replaced_and_the_message_sent_once() -> None:
    robot = KeepAliveRobot(drop_idle=True)
    try:
        ch = FeishuChannel("kf", robot.url)
        for i in range(5):
            ch.send(_msg(i), timeout=5)
            time.sleep(0.05)  # the service has closed it by the next message
        assert robot.requests == 5  # never twice
        assert robot.connections == 5
        ch.close()
    finally:
        robot.close()


def test_the_watchers_sender_reuses_the_channel_and_its_connection_between_rounds(store: Store, tmp_path: Path,
                                                                                  robot: KeepAliveRobot) -> None:
    policy_with(store, [feishu(target=robot.url)])
    cache = alerts.ChannelCache()
    try:
        for k in range(3):
            _alerts(store, tmp_path, 100 * k, 4, f"r{k}.csv")
            assert alerts.dispatch(store, cache=cache, pace=False, env={}).delivered == 2
        assert (robot.requests, robot.connections) == (6, 1)
        policy_with(store, [feishu(target=robot.url + "-new")])  # the row changed: built again
        _alerts(store, tmp_path, 900, 2, "new.csv")
        alerts.dispatch(store, cache=cache, pace=False, env={})
        assert robot.connections == 2
    finally:
        cache.close()


def test_two_senders_together_keep_to_the_per_second_limit(store: Store, tmp_path: Path) -> None:
    """Feishu takes 5 messages a second per robot: the send slots are reserved in the ledger, so a second sender
    (another watcher) starting while the first is still sending queues behind it instead of doubling the rate."""
    policy_with(store, [feishu()])
    _alerts(store, tmp_path, 0, 8, "a.csv")  # 4 alerts: slots 0, 0.2, 0.4, 0.6 s
    rec = Recorder("kf", "feishu")
    times: list[float] = []
    send = rec.send

    def timed(msg: Any, *, timeout: float = 5.0) -> None:
        send(msg, timeout=timeout)
        with rec.lock:
            times.append(time.monotonic())

    rec.send = timed  # type: ignore[method-assign]
    first = threading.Thread(target=lambda: alerts.dispatch(store, channels={"kf": rec}))
    first.start()
    time.sleep(0.1)
    _alerts(store, tmp_path, 100, 8, "b.csv")  # 4 more while the first sender is still at it
    res = alerts.dispatch(store, channels={"kf": rec})
    first.join()
    assert res.delivered + res.throttled >= 1
    while _states(store).get("pending"):  # what was left for a later round
        alerts.dispatch(store, channels={"kf": rec})
    assert _states(store) == {"delivered": 8} and len(set(rec.keys)) == 8
    gaps = [b - a for a, b in zip(sorted(times), sorted(times)[1:], strict=False)]
    assert min(gaps) >= 0.15, gaps


def test_the_minute_budget_counts_what_other_senders_have_in_flight(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu(per_minute=3)])
    _alerts(store, tmp_path, 0, 4, "a.csv")  # 2 due
    now = dt.datetime.now(dt.UTC)
    with store.write() as conn:  # another sender claimed 2 single messages a moment ago and is sending them
        ids = conn.execute(sa.select(alert_deliveries.c.id).order_by(alert_deliveries.c.id)).scalars().all()
        for i, slot in zip(ids, (now, now + dt.timedelta(seconds=0.2)), strict=True):
            conn.execute(alert_deliveries.update().where(alert_deliveries.c.id == i).values(
                state="sending", lease_until=now + dt.timedelta(seconds=60), next_attempt_at=slot))
    _alerts(store, tmp_path, 100, 4, "b.csv")  # 2 more due: the minute has 3 - 2 = 1 left → one combined message
    rec = Recorder("kf", "feishu")
    res = alerts.dispatch(store, channels={"kf": rec}, pace=False)
    assert (res.delivered, res.digests, len(rec.messages)) == (2, 1, 1)


# --------------------------------------------------------------------------------------- file claims
def test_a_file_another_watcher_is_taking_is_left_to_it(store: Store, tmp_path: Path) -> None:
    policy_with(store, [feishu()])
    f = write_export(tmp_path / "drop" / "a.csv", review_rows(0, 4))
    key = str(f.resolve())
    now = dt.datetime.now(dt.UTC)
    assert _claim_file(store, key, sha="x", size=1, source="folder", now=now) == "mine"
    # a second watcher, now and later: busy while the claim is fresh …
    assert take_file(store, f).state == "busy"
    assert _claim_file(store, key, sha="y", size=1, source="folder", now=now + FILE_LEASE / 2) == "busy"
    # … and taken over when it ran out (the first watcher died mid-import)
    with store.write() as conn:
        conn.execute(watch_files.update().values(imported_at=now - FILE_LEASE - dt.timedelta(seconds=1)))
    out = take_file(store, f)
    assert (out.state, out.cases) == ("done", 2)
    assert take_file(store, f).state == "unchanged"


def test_a_claim_by_a_process_that_is_gone_is_taken_over_at_once(store: Store, tmp_path: Path) -> None:
    f = write_export(tmp_path / "drop" / "a.csv", review_rows(0, 2))
    key = str(f.resolve())
    now = dt.datetime.now(dt.UTC)
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    with store.write() as conn:
        conn.execute(watch_files.insert().values(
            path=key, source="folder", sha256="x", size=1, state="taking", first_seen_at=now, imported_at=now,
            summary=json.dumps({"taking": {"host": socket.gethostname(), "pid": dead}})))
    assert take_file(store, f).state == "done"
