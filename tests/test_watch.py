"""The review watcher (issue 7, SPEC E1): drop folder, signed HTTP push, scheduled re-imports, restarts and
faults with zero lost and zero duplicated alerts, the health command — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alert_fixtures import (
    NICK,
    PHONE,
    Recorder,
    feishu,
    policy_with,
    recent,
    review_rows,
    write_export,
)
from reviewops.alerting import alerts
from reviewops.alerting.channels import ChannelError
from reviewops.core.errors import ConfigError
from reviewops.intake.ingest import import_file
from reviewops.core.store import (
    Store,
    alert_deliveries,
    alert_events,
    import_batches,
    push_events,
    reviews,
    watch_files,
)
from reviewops.alerting.watch import (
    PushRejected,
    WatchConfig,
    Watcher,
    parse_schedule,
    sign_push,
    verify_push,
    watch_status,
)

SECRET = "push-secret-0123456789abcdef"


def _wait(cond: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _count(store: Store, table: sa.Table, *where: sa.ColumnElement) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())


@pytest.fixture
def running(store: Store, tmp_path: Path) -> Iterator[Callable[..., tuple[Watcher, Recorder]]]:
    """Start watchers on ``store`` with a recording channel; all stopped at the end."""
    started: list[Watcher] = []

    def start(rec: Recorder | None = None, **kw: object) -> tuple[Watcher, Recorder]:
        rec = rec or Recorder()
        cfg = {"folder": tmp_path / "drop", "poll": 0.1, "settle": 0.4, "beat_every": 0.5, "channels": {"kf": rec}}
        cfg.update(kw)
        if cfg.get("folder") is not None:
            Path(cfg["folder"]).mkdir(exist_ok=True)
        w = Watcher(store, WatchConfig(**cfg))  # type: ignore[arg-type]
        w.start()
        started.append(w)
        return w, rec

    yield start
    for w in started:
        w.stop()


# ------------------------------------------------------------------------------------------- folder
def test_a_file_still_being_written_is_waited_out_then_taken_once(store: Store, tmp_path: Path, running) -> None:
    policy_with(store, [feishu()])
    _w, rec = running()
    drop = tmp_path / "drop"
    path = drop / "淘宝评价.csv"
    text = "评价ID,订单编号,宝贝标题,买家昵称,评价结果,评价内容,评价时间,店铺名称\n" + "\n".join(review_rows(0, 40)) + "\n"
    data = text.encode("utf-8")
    with path.open("wb") as fh:  # a slow copy: a third, a pause, another third, a pause, the rest
        for part in (data[: len(data) // 3], data[len(data) // 3: 2 * len(data) // 3], data[2 * len(data) // 3:]):
            fh.write(part)
            fh.flush()
            time.sleep(0.25)
    _wait(lambda: len(rec.messages) == 20, what="20 alerts")
    time.sleep(0.6)
    assert len(rec.messages) == 20 and len(set(rec.keys)) == 20
    assert _count(store, reviews) == 40
    assert _count(store, import_batches) == 1  # never an attempt on the half-written file
    with store.read() as conn:
        row = conn.execute(sa.select(watch_files)).mappings().one()
    assert row["state"] == "done" and row["source"] == "folder" and row["path"].endswith("淘宝评价.csv")
    events = [e for e in alerts_events(store)]
    assert all(e["source"] == "folder" for e in events)
    # arrival = when the file finished landing (its modification time), detection after it
    mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    assert all(abs((e["arrived_at"] - mtime).total_seconds()) < 1e-3 for e in events)
    assert all(0 <= (e["detected_at"] - e["arrived_at"]).total_seconds() < 10 for e in events)


def alerts_events(store: Store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(alert_events).order_by(alert_events.c.id)).mappings()]


def test_unchanged_files_are_skipped_and_an_update_alerts_only_what_is_new(store: Store, tmp_path: Path,
                                                                          running) -> None:
    policy_with(store, [feishu()])
    _w, rec = running()
    drop = tmp_path / "drop"
    write_export(drop / "a.csv", review_rows(0, 10))
    _wait(lambda: len(rec.messages) == 5, what="first alerts")
    os.utime(drop / "a.csv")  # touched, same content
    write_export(drop / "copy.csv", review_rows(0, 10))  # the same export saved again under another name
    time.sleep(1.2)
    assert len(rec.messages) == 5
    write_export(drop / "a.csv", review_rows(0, 14))  # the next export: 4 more rows, 2 negative
    _wait(lambda: len(rec.messages) == 7, what="alerts for the new rows")
    time.sleep(0.5)
    assert len(rec.messages) == len(set(rec.keys)) == 7
    # ignored: hidden, Office lock, partial downloads, the importer's own rejected-rows files
    for name in (".hidden.csv", "~$lock.xlsx", "b.csv.part", "c.crdownload", "d.tmp", "x.rejected.csv"):
        write_export(drop / name, review_rows(100, 4))
    time.sleep(1.0)
    assert len(rec.messages) == 7 and _count(store, reviews) == 14


def test_a_bad_file_is_refused_whole_without_personal_data_in_logs(store: Store, tmp_path: Path, running,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="reviewops")
    policy_with(store, [feishu()])
    w, rec = running()
    drop = tmp_path / "drop"
    rows = review_rows(0, 6)
    rows[3] = rows[3].replace("2841234567000003", "O-3")  # a bad order id: the whole file is refused
    write_export(drop / "bad.csv", rows)
    _wait(lambda: _count(store, watch_files, watch_files.c.state != "taking") == 1, what="the refusal")
    with store.read() as conn:
        row = conn.execute(sa.select(watch_files)).mappings().one()
    assert row["state"] == "rejected" and "订单编号" in row["summary"]
    assert _count(store, reviews) == 0 and not rec.messages
    write_export(drop / "bad.csv", review_rows(0, 6))  # corrected and saved again
    _wait(lambda: len(rec.messages) == 3, what="alerts after the fix")
    everything = caplog.text + row["summary"] + json.dumps(w.counters())
    for secret in (PHONE, NICK, "质量太差", "O-3"):
        assert secret not in everything


def test_scheduled_reimports(store: Store, tmp_path: Path, running) -> None:
    policy_with(store, [feishu()])
    erp = tmp_path / "erp"
    write_export(erp / "reviews-1.csv", review_rows(0, 4))
    write_export(erp / "reviews-2.csv", review_rows(4, 4))
    sched = parse_schedule(f"{erp}/reviews-*.csv@10s")
    assert sched.every == 10.0
    w, rec = running(folder=None, schedules=[sched])
    _wait(lambda: len(rec.messages) == 4, what="scheduled import")
    assert {e["source"] for e in alerts_events(store)} == {"schedule"}
    write_export(erp / "reviews-2.csv", review_rows(4, 6))  # overwritten by the ERP; read at the next tick
    w._next_run.clear()  # the next tick is now (instead of in 10 s)
    _wait(lambda: len(rec.messages) == 5, what="the re-import")
    for bad in ("reviews.csv", "reviews.csv@", "x@3s", "x@soon"):
        with pytest.raises(ConfigError):
            parse_schedule(bad)


# --------------------------------------------------------------------------------------------- push
def _post(port: int, body: bytes, headers: dict[str, str] | None = None, path: str = "/v1/reviews"
          ) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST",
                                 headers=headers if headers is not None else sign_push(body, SECRET))
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _event(event_id: str, n: int = 2, start: int = 0, **extra: object) -> bytes:
    items = [{"review_id": f"P{i}", "order_id": str(2841234567100000 + i), "buyer_nick": f"{NICK}{i}",
              "rating_raw": "差评" if i % 2 == 0 else "好评", "content": f"物流太慢了，电话{PHONE}" if i % 2 == 0 else "好",
              "created_at": recent(), "product_title": "羊毛衫"} for i in range(start, start + n)]
    return json.dumps({"event_id": event_id, "platform": "taobao", "shop": "推送店", "reviews": items, **extra},
                      ensure_ascii=False).encode("utf-8")


def test_signed_push_is_taken_and_alerted_bad_ones_are_refused(store: Store, running) -> None:
    policy_with(store, [feishu()])
    w, rec = running(folder=None, http_port=0, push_secret=SECRET)
    port = w.http_port
    before = time.time()
    status, out = _post(port, _event("evt-1", 4))
    assert status == 200 and (out["reviews_new"], out["cases"], out["alerts"]) == (4, 2, 2)
    _wait(lambda: len(rec.messages) == 2, what="push alerts")
    events = alerts_events(store)
    assert {e["source"] for e in events} == {"push"}
    assert all(before - 1 <= e["arrived_at"].timestamp() <= time.time() for e in events)

    body = _event("evt-2", 2, start=10)
    good = sign_push(body, SECRET)
    refusals = {
        "unsigned": _post(port, body, {"Content-Type": "application/json"}),
        "wrong secret": _post(port, body, sign_push(body, "another-secret-0123456789")),
        "tampered body": _post(port, body.replace(b"evt-2", b"evt-3"), good),
        "stale timestamp": _post(port, body, sign_push(body, SECRET, timestamp=time.time() - 600)),
        "future timestamp": _post(port, body, sign_push(body, SECRET, timestamp=time.time() + 600)),
        "replayed event": _post(port, _event("evt-1", 4)),
        "not json": _post(port, b"{oops", sign_push(b"{oops", SECRET)),
        "unknown field": _post(port, b2 := json.dumps({"event_id": "e", "platform": "taobao", "reviews": [
            {"rating": 1, "created_at": recent()}]}).encode(), sign_push(b2, SECRET)),
        "bad platform": _post(port, b3 := json.dumps({"event_id": "e", "platform": "amazon", "reviews": [
            {"created_at": recent()}]}).encode(), sign_push(b3, SECRET)),
        "invalid rows": _post(port, b4 := _event("evt-bad", 2, start=20).replace(b"2841234567100020", b"12"),
                              sign_push(b4, SECRET)),
    }
    expected = {"unsigned": 401, "wrong secret": 401, "tampered body": 401, "stale timestamp": 401,
                "future timestamp": 401, "replayed event": 409, "not json": 400, "unknown field": 400,
                "bad platform": 400, "invalid rows": 422}
    assert {k: v[0] for k, v in refusals.items()} == expected
    assert "第1条评价" in refusals["invalid rows"][1]["error"] and "order_id" in refusals["invalid rows"][1]["error"]
    assert all(PHONE not in json.dumps(v[1], ensure_ascii=False) for v in refusals.values())
    assert _count(store, reviews) == 4 and _count(store, push_events) == 1  # nothing of a refusal was written
    assert _post(port, body, good)[0] == 200  # the untampered request is still fine
    status, _health = _post(port, b"", {}, path="/nope")
    assert status == 404
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
        h = json.loads(r.read())
    assert h["status"] == "ok" and h["pushes"] == 2 and h["push_refused"] == 10


def test_verify_push_unit() -> None:
    body = b'{"a":1}'
    h = sign_push(body, SECRET, timestamp=1_000_000)
    verify_push(body, h["X-ReviewOps-Timestamp"], h["X-ReviewOps-Signature"], SECRET, now=1_000_100)
    for ts, sig, now in ((None, h["X-ReviewOps-Signature"], 1_000_000), ("abc", "x", 1_000_000),
                         (h["X-ReviewOps-Timestamp"], h["X-ReviewOps-Signature"], 1_000_301),
                         (h["X-ReviewOps-Timestamp"], "sha256=" + "0" * 64, 1_000_000)):
        with pytest.raises(PushRejected) as e:
            verify_push(body, ts, sig, SECRET, now=now)
        assert e.value.status == 401


def test_the_watcher_refuses_a_config_it_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="REVIEWOPS_PUSH_SECRET"):
        WatchConfig(http_port=0, env={})
    with pytest.raises(ConfigError, match="不存在"):
        WatchConfig(folder=tmp_path / "missing")
    with pytest.raises(ConfigError, match="来源"):
        WatchConfig(env={})
    assert WatchConfig(http_port=0, env={"REVIEWOPS_PUSH_SECRET": SECRET}).push_secret == SECRET
    env = {"REVIEWOPS_PUSH_SECRET": SECRET}
    with pytest.raises(ConfigError, match="TLS"):  # personal data never crosses a network in clear text
        WatchConfig(http_host="0.0.0.0", http_port=0, env=env)
    assert WatchConfig(http_host="0.0.0.0", http_port=0, env=env, allow_remote=True).allow_remote
    assert WatchConfig(http_host="::1", http_port=0, env=env).http_host == "::1"


# ----------------------------------------------------------------------------------- faults, restarts
def test_channel_failures_and_timeouts_are_retried_until_delivered(store: Store, tmp_path: Path, running) -> None:
    policy_with(store, [feishu()], settings={"alert_retry_seconds": "1", "alert_max_attempts": "6"})
    rec = Recorder()
    rec.fail = [ChannelError("HTTP 503", channel="kf", retryable=True),
                ChannelError("timeout", channel="kf", retryable=True),
                ChannelError("频率限制 11232", channel="kf", retryable=True, code="11232")]
    _w, rec = running(rec)
    write_export(tmp_path / "drop" / "a.csv", review_rows(0, 4))
    _wait(lambda: _count(store, alert_deliveries, alert_deliveries.c.state == "delivered") == 2, timeout=30,
          what="delivery after failures")
    with store.read() as conn:
        rows = conn.execute(sa.select(alert_deliveries)).mappings().all()
    assert all(r["state"] == "delivered" for r in rows) and sum(r["attempts"] for r in rows) == 5
    assert len(set(rec.keys)) == 2


def test_restarts_mid_stream_lose_and_double_nothing(store: Store, tmp_path: Path, running) -> None:
    """Files keep arriving while the watcher is stopped and started three times, and the channel is down
    for a while: every negative review is alerted exactly once."""
    policy_with(store, [feishu()], settings={"alert_retry_seconds": "1"})
    rec = Recorder()
    drop = tmp_path / "drop"
    drop.mkdir()
    n = 0
    for round_ in range(4):
        w, _ = running(rec)
        for _ in range(3):
            write_export(drop / f"f{n}.csv", review_rows(n * 10, 10))
            n += 1
            time.sleep(0.15)
        if round_ == 1:  # the channel goes down for the next round
            rec.fail = [ChannelError("HTTP 502", channel="kf", retryable=True) for _ in range(4)]
        time.sleep(0.3)
        w.stop()  # mid-stream: some files not settled yet, some alerts not sent
    w, _ = running(rec)
    _wait(lambda: _count(store, alert_deliveries, alert_deliveries.c.state == "delivered") >= n * 5, timeout=40,
          what="all alerts")
    time.sleep(1.0)
    assert sorted(rec.keys) == sorted(set(rec.keys)) and len(rec.keys) == n * 5
    assert _count(store, alert_events) == n * 5
    assert _count(store, alert_deliveries, alert_deliveries.c.state != "delivered") == 0


def test_a_crash_between_import_and_triage_is_recovered(store: Store, tmp_path: Path, running) -> None:
    """Reviews imported but never triaged (the watcher died in between) and cases opened by a manual
    import are alerted when the watcher starts."""
    policy_with(store, [feishu()])
    import_file(store, write_export(tmp_path / "orphan.csv", review_rows(0, 6)))  # imported, no case yet
    from reviewops.handling.opening import triage_store

    import_file(store, write_export(tmp_path / "manual.csv", review_rows(100, 4)))
    manual = triage_store(store, batch_ids=[2])  # a manual import that opened its cases without alerts
    assert manual.created == 2
    w, rec = running()
    _wait(lambda: len(rec.messages) == 5, what="recovered alerts")
    assert sorted(e["source"] for e in alerts_events(store)) == ["import"] * 2 + ["recovery"] * 3
    w.stop()
    running(rec, sla_every=0.2)
    time.sleep(1.0)
    assert len(rec.messages) == 5  # a second start finds nothing more to do
    # a case opened by a manual import + triage while the watcher runs is alerted at its next SLA check
    import_file(store, write_export(tmp_path / "later.csv", review_rows(200, 2)))
    triage_store(store, batch_ids=[3])
    _wait(lambda: len(rec.messages) == 6, what="the manual case's alert")
    assert alerts_events(store)[-1]["source"] == "import"


def test_the_watcher_process_survives_sigkill_and_sigterm(db_url: str, store: Store, tmp_path: Path) -> None:
    """``reviewops watch`` as a real process: killed with SIGKILL while files arrive, started again, and
    finally stopped with SIGTERM — the store ends with every alert delivered exactly once."""
    from alert_fixtures import FeishuReceiver

    drop = tmp_path / "drop"
    drop.mkdir()
    with FeishuReceiver("robot-secret-1") as rx:
        policy_with(store, [feishu(target=rx.url, secret_env="RO_TEST_FEISHU_SECRET")],
                    settings={"alert_retry_seconds": "1"})
        env = {**os.environ, "RO_TEST_FEISHU_SECRET": "robot-secret-1", "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "reviewops", "watch", "--db", db_url, "--folder", str(drop), "--poll", "0.1",
               "--settle", "0.3"]

        def start() -> subprocess.Popen:
            return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        n = 0
        for _ in range(3):
            proc = start()
            for _ in range(3):
                write_export(drop / f"f{n}.csv", review_rows(n * 10, 10))
                n += 1
                time.sleep(0.4)
            # kill only when no delivery is in flight (the one window where a repeat is possible)
            _wait(lambda: _count(store, alert_deliveries, alert_deliveries.c.state == "sending") == 0 and
                  rx.idle_for() > 0.3, timeout=20, what="an idle moment")
            proc.kill()
            proc.wait(10)
        proc = start()
        _wait(lambda: len(rx.keys) >= n * 5, timeout=60, what="all alerts at the receiver")
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err[-2000:]
        assert len(rx.keys) == len(set(rx.keys)) == n * 5
        assert PHONE not in err and NICK not in err  # the service log has no personal data
        st = watch_status(store)
        assert st["deliveries"] == {"delivered": n * 5}
        assert st["watchers"] and not st["watchers"][0]["alive"] or st["watchers"][0]["age_s"] >= 0


# ------------------------------------------------------------------------------------------- status
def test_status_dead_letters_and_resend_from_the_cli(db_url: str, store: Store, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from reviewops.cli import main

    policy_with(store, [feishu("kf"), feishu("broken", secret_env="NOT_SET_ANYWHERE")])
    assert main(["watch", "--status", "--db", db_url]) == 1  # never ran
    assert "从未运行" in capsys.readouterr().out
    drop = tmp_path / "drop"
    write_export(drop / "a.csv", review_rows(0, 4))
    os.environ.pop("NOT_SET_ANYWHERE", None)
    rec = Recorder()
    w = Watcher(store, WatchConfig(folder=drop, channels={"kf": rec}))
    stats = w.run_once()
    assert stats["files"] == 1 and stats["delivered"] == 2 and stats["dead"] == 2
    assert main(["watch", "--status", "--db", db_url]) == 2  # running recently, but dead letters
    out = capsys.readouterr().out
    assert "死信" in out and "NOT_SET_ANYWHERE" in out
    assert main(["watch", "--dead", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert out.count("broken") >= 2 and "--resend" in out
    dead_ids = alerts.dead_letters(store)["delivery_id"].tolist()
    assert main(["watch", "--resend", str(dead_ids[0]), "--db", db_url]) == 0
    assert "1" in capsys.readouterr().out
    assert main(["watch", "--resend", "999999", "--db", db_url]) == 2
    assert main(["watch", "--json", "--status", "--db", db_url]) == 2
    st = json.loads(capsys.readouterr().out)
    assert st["deliveries"] == {"delivered": 2, "dead": 1, "pending": 1} and st["watchers"][0]["alive"]
    assert main(["watch", "--db", db_url]) == 2  # no source given
    assert "来源" in capsys.readouterr().err
