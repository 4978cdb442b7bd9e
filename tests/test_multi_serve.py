"""Two ``reviewops serve`` instances on one PostgreSQL store (issue 21 §2, docs/deploy.md).

Two real servers (``python -m reviewops serve``), each its own process on its own port, on the same brand-new
PostgreSQL database, both in proxy mode as docs/deploy.md runs them (``--trusted-header X-Forwarded-User
--trusted-proxy 127.0.0.1``; this test plays nginx and names the user). **A** keeps one preheated kernel (the
default), **B** starts a kernel per page (``--preheat 0``), so both ways a kernel learns its request are covered.

The form (``edit.ipynb``) is a thin page over the real :class:`~reviewops.handling.workbench.Workbench`: it opens
the session the server vouched for, optionally saves a reply with the version given in the query string, and prints
what the case looks like afterwards — so what a page shows is what the kernel read from the store.

Checked: an edit saved through one instance shows through the other at the next page; a save with a version that
is no longer current is refused (``ConflictError``) through either instance and overwrites nothing; two saves of
the same version through the two instances at the same moment have exactly one winner; a sign-in cookie made by
one instance is not valid on the other (why nginx must be sticky, docs/deploy.md); and two processes migrating a
new database at the same moment (every service does on start) leave one schema.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
import requests
import sqlalchemy as sa
from reviewops.core import store as st
from reviewops.core.store import Store
from wb_fixtures import case_row, make_case, make_users

pytestmark = pytest.mark.postgres

OUT = re.compile(r"(SAVED|REFUSED|ACTOR|VERSION|REPLY|ERROR)\[([^\]]*)\]")
FORM = """\
import os
from urllib.parse import parse_qs
from reviewops.core.errors import ConflictError
from reviewops.handling.workbench import Workbench
from reviewops.serve import open_session

store, actor = open_session()  # first: a preheated kernel learns its request here
q = {k: v[0] for k, v in parse_qs(os.environ.get("QUERY_STRING", "")).items()}
wb = Workbench(store, actor)
cid = int(q["case"])
if q.get("op") == "save":
    try:
        print(f"SAVED[{wb.save_reply(cid, int(q['version']), q['text'])}]")
    except ConflictError as e:
        print(f"REFUSED[{type(e).__name__}]")
view = wb.case(cid)
print(f"ACTOR[{actor.name}]")
print(f"VERSION[{view.version}]")
print(f"REPLY[{view.reply_text}]")
store.close()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name: str, db: str, forms: Path, workdir: Path, *extra: str):
        self.name, self.port = name, _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.err = workdir / f"{name}.err"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWOPS_", "HTTP_", "VOILA_"))}
        env["REVIEWOPS_PII_KEY"] = os.environ["REVIEWOPS_PII_KEY"]
        argv = [sys.executable, "-m", "reviewops", "serve", "--db", db, "--port", str(self.port), "--forms-dir",
                str(forms), "--trusted-header", "X-Forwarded-User", "--trusted-proxy", "127.0.0.1", *extra]
        self.proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=self.err.open("wb"),
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509

    def wait_ready(self, deadline: float) -> None:
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.proc.returncode}: {self.err.read_text()[-3000:]}")
            try:
                if requests.get(self.base + "/login", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not start: {self.err.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def page(self, user: str, **query: object) -> dict[str, str]:
        """The edit form as ``user`` (named the way nginx names them); what its kernel printed."""
        r = requests.get(f"{self.base}/voila/render/edit.ipynb", params={k: str(v) for k, v in query.items()},
                         headers={"X-Forwarded-User": user}, timeout=180)
        assert r.status_code == 200, (self.name, r.status_code, r.text[:500])
        out = dict(OUT.findall(r.content.decode("utf-8")))
        assert out.get("ACTOR") == user, (self.name, out, self.err.read_text()[-2000:])
        return out


@pytest.fixture
def two_servers(pg_db_url, tmp_path):
    store = Store.open(pg_db_url)
    make_users(store)  # a1, a2 (agents) … with passwords
    cid = make_case(store, tmp_path)
    forms = tmp_path / "forms"
    forms.mkdir()
    ks = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": ks})
    nb.cells = [nbformat.v4.new_markdown_cell("# 案件编辑 Edit"), nbformat.v4.new_code_cell(FORM)]
    nbformat.write(nb, forms / "edit.ipynb")
    a = Server("A", pg_db_url, forms, tmp_path)
    b = Server("B", pg_db_url, forms, tmp_path, "--preheat", "0")
    try:
        deadline = time.time() + 90
        a.wait_ready(deadline)
        b.wait_ready(deadline)
        yield a, b, store, cid
    finally:
        a.stop()
        b.stop()
        store.close()


def _reply_events(store: Store, cid: int) -> list[tuple[int, str, str]]:
    with store.read() as conn:
        rows = conn.execute(sa.select(st.case_events.c.version_to, st.case_events.c.actor, st.case_events.c.via,
                                      st.case_events.c.action)
                            .where(st.case_events.c.case_id == cid).order_by(st.case_events.c.version_to)).all()
    return [(r.version_to, r.actor, r.via) for r in rows if r.action == "reply"]


def test_two_instances_one_store_edits_show_stale_saves_refused_sessions_apart(two_servers):
    a, b, store, cid = two_servers
    assert b.page("a2", case=cid) == {"ACTOR": "a2", "VERSION": "1", "REPLY": ""}

    # an edit through A shows through B
    saved = a.page("a1", case=cid, op="save", version=1, text="亲，A 写的回复")
    assert (saved["SAVED"], saved["VERSION"]) == ("2", "2")
    seen = b.page("a2", case=cid)
    assert (seen["VERSION"], seen["REPLY"]) == ("2", "亲，A 写的回复")

    # a stale save through B (it still had version 1) is refused and overwrites nothing
    stale = b.page("a2", case=cid, op="save", version=1, text="亲，B 的旧回复")
    assert (stale["REFUSED"], stale["VERSION"], stale["REPLY"]) == ("ConflictError", "2", "亲，A 写的回复")
    assert "SAVED" not in stale

    # and the other way round: B saves with the current version, A's stale save is refused
    assert b.page("a2", case=cid, op="save", version=2, text="亲，B 写的回复")["SAVED"] == "3"
    stale = a.page("a1", case=cid, op="save", version=2, text="亲，A 的旧回复")
    assert (stale["REFUSED"], stale["VERSION"], stale["REPLY"]) == ("ConflictError", "3", "亲，B 写的回复")

    row = case_row(store, cid)
    assert (row["version"], row["reply_text"]) == (3, "亲，B 写的回复")
    assert _reply_events(store, cid) == [(2, "a1", "form"), (3, "a2", "form")]

    # the same version saved through both instances at the same moment: exactly one wins
    results: dict[str, dict[str, str]] = {}

    def save(server: Server, user: str) -> None:
        results[server.name] = server.page(user, case=cid, op="save", version=3, text=f"亲，{user} 同时保存")

    threads = [threading.Thread(target=save, args=(a, "a1")), threading.Thread(target=save, args=(b, "a2"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted("SAVED" in r for r in results.values()) == [False, True], results
    winner = next(name for name, r in results.items() if "SAVED" in r)
    loser = "B" if winner == "A" else "A"
    assert results[loser]["REFUSED"] == "ConflictError"
    row = case_row(store, cid)
    assert (row["version"], row["reply_text"]) == (4, f"亲，{'a1' if winner == 'A' else 'a2'} 同时保存")
    assert [v for v, _, _ in _reply_events(store, cid)] == [2, 3, 4]

    # each instance signs its sessions with its own secret: behind one host name (same cookie name) the other
    # instance sends the browser to the login page — so nginx keeps a user on one instance (docs/deploy.md)
    s = requests.Session()
    page = s.get(a.base + "/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    r = s.post(a.base + "/login?next=%2F", data={"username": "a1", "password": "password1", "_xsrf": xsrf},
               allow_redirects=False, timeout=60)
    assert r.status_code == 302 and r.headers["Location"] == "/", (r.status_code, r.text[:300])
    host = f"127.0.0.1:{a.port}"  # both behind one name: the browser sends the same cookie to either
    cookie = "; ".join(f"{k}={v}" for k, v in s.cookies.items())
    on_a = requests.get(a.base + "/", headers={"Host": host, "Cookie": cookie}, allow_redirects=False, timeout=30)
    on_b = requests.get(b.base + "/", headers={"Host": host, "Cookie": cookie}, allow_redirects=False, timeout=30)
    assert on_a.status_code == 200 and "a1" in on_a.content.decode("utf-8")
    assert on_b.status_code == 302 and "/login" in on_b.headers["Location"]


def test_two_processes_migrating_a_new_store_at_once_leave_one_schema(pg_db_url, tmp_path):
    """Every service migrates on start (docs/deploy.md "Upgrades"): two at once on an empty database."""
    env = {k: v for k, v in os.environ.items() if k != "REVIEWOPS_DB"}
    procs = [subprocess.Popen([sys.executable, "-m", "reviewops", "status", "--db", pg_db_url, "--json"], env=env,
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    with Store.open(pg_db_url, migrate=False) as store:
        assert store.is_current()
        with store.read() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar_one() == 1
