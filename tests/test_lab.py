"""``reviewops lab`` (issue 14, point 6): JupyterLab on copies of the playbooks, with the store preselected.

The rules (which files are copied, what is kept, the server's configuration and the kernels'
environment) are checked directly on :mod:`reviewops.lab`. One test then runs ``reviewops lab
--no-browser`` as a real process on a demo shop, as an analyst would use it: it listens on 127.0.0.1
only, refuses requests without the token, pairs the notebook with its ``.py`` on save (Jupytext),
executes ``weekly_top3`` through the server's kernel websocket with the figures ``reviewops run`` gives
for the same week, stops cleanly on SIGTERM, and on a second start keeps the analyst's edited copy.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

pytest.importorskip("jupyterlab")
websocket = pytest.importorskip("websocket")  # websocket-client, installed with jupyter_server

import nbformat
import sqlalchemy as sa

import reviewops
from reviewops import lab
from reviewops.core.errors import ConfigError
from reviewops.reporting.reports import iso_week
from reviewops.runner import playbooks_dir


# ------------------------------------------------------------------ the rules, without a server

def _fake_source(base: Path) -> Path:
    src = base / "installed"
    src.mkdir()
    for name in ("alpha", "beta"):
        (src / f"{name}.ipynb").write_text(f'{{"nb": "{name} v1"}}', encoding="utf-8")
        (src / f"{name}.py").write_text(f"# {name} v1\n", encoding="utf-8")
    (src / "__init__.py").write_text("", encoding="utf-8")
    (src / "README.md").write_text("readme", encoding="utf-8")
    return src


def test_first_start_copies_every_pair_and_pairs_the_folder(tmp_path: Path) -> None:
    src = _fake_source(tmp_path)
    dest = tmp_path / "work"
    res = lab.prepare_lab_dir(dest, source=src)
    assert sorted(res.copied) == ["alpha.ipynb", "alpha.py", "beta.ipynb", "beta.py"]
    assert not res.kept and not res.updated and res.config_written
    assert sorted(p.name for p in dest.iterdir()) == [
        ".reviewops-lab.json", "alpha.ipynb", "alpha.py", "beta.ipynb", "beta.py", "jupytext.toml"]
    assert 'formats = "ipynb,py:percent"' in (dest / "jupytext.toml").read_text(encoding="utf-8")
    # Jupytext refuses a text file older than its notebook: the .py is never older
    assert (dest / "alpha.py").stat().st_mtime >= (dest / "alpha.ipynb").stat().st_mtime
    again = lab.prepare_lab_dir(dest, source=src)
    assert not again.copied and not again.updated and not again.kept and not again.config_written
    assert sorted(again.unchanged) == ["alpha.ipynb", "alpha.py", "beta.ipynb", "beta.py"]


def test_an_edited_pair_is_kept_and_an_untouched_one_follows_the_installed_version(tmp_path: Path) -> None:
    src = _fake_source(tmp_path)
    dest = tmp_path / "work"
    lab.prepare_lab_dir(dest, source=src)
    (dest / "alpha.py").write_text("# alpha, my own edit\n", encoding="utf-8")  # the analyst edits one file
    (dest / "beta.py").unlink()                                               # and deletes another
    for name in ("alpha", "beta"):                                            # a new kit version
        (src / f"{name}.ipynb").write_text(f'{{"nb": "{name} v2"}}', encoding="utf-8")
        (src / f"{name}.py").write_text(f"# {name} v2\n", encoding="utf-8")
    res = lab.prepare_lab_dir(dest, source=src)
    assert sorted(res.kept) == ["alpha.ipynb", "alpha.py"]  # the whole pair: never half-updated
    assert (dest / "alpha.py").read_text(encoding="utf-8") == "# alpha, my own edit\n"
    assert (dest / "alpha.ipynb").read_text(encoding="utf-8") == '{"nb": "alpha v1"}'
    assert res.updated == ["beta.ipynb"] and res.copied == ["beta.py"]
    assert (dest / "beta.py").read_text(encoding="utf-8") == "# beta v2\n"
    text = "\n".join(res.lines())
    assert "alpha.ipynb, alpha.py" in text and "未覆盖" in text and "not overwritten" in text


def test_a_differing_file_without_a_record_counts_as_the_analysts(tmp_path: Path) -> None:
    src = _fake_source(tmp_path)
    dest = tmp_path / "work"
    dest.mkdir()
    (dest / "beta.ipynb").write_text("mine", encoding="utf-8")
    (dest / "jupytext.toml").write_text('formats = "ipynb,py:light"\n', encoding="utf-8")
    res = lab.prepare_lab_dir(dest, source=src)
    assert res.kept == ["beta.ipynb"] and not (dest / "beta.py").exists()
    assert (dest / "beta.ipynb").read_text(encoding="utf-8") == "mine"
    assert not res.config_written and "py:light" in (dest / "jupytext.toml").read_text(encoding="utf-8")


def test_the_installed_folder_itself_and_an_empty_source_are_refused(tmp_path: Path) -> None:
    src = _fake_source(tmp_path)
    with pytest.raises(ConfigError, match="--dir"):
        lab.prepare_lab_dir(src, source=src)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="REVIEWOPS_PLAYBOOKS"):
        lab.prepare_lab_dir(tmp_path / "w", source=empty)


def test_the_default_source_is_the_installed_playbooks(tmp_path: Path) -> None:
    res = lab.prepare_lab_dir(tmp_path / "w")
    assert res.installed == playbooks_dir()
    assert "weekly_top3.ipynb" in res.copied and "weekly_top3.py" in res.copied
    assert not [n for n in res.copied if not n.endswith((".ipynb", ".py")) or n.startswith("__")]


def test_the_default_folder_is_in_the_documents_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_documents_dir", lambda: str(tmp_path / "Docs"))
    assert lab.default_lab_dir() == tmp_path / "Docs" / "reviewops-playbooks"


def test_server_configuration_is_loopback_with_a_token_and_jupytext(tmp_path: Path) -> None:
    argv = lab.lab_argv(tmp_path, port=8123, token="abc123", open_browser=False)
    assert "--ServerApp.ip=127.0.0.1" in argv and "--ServerApp.port=8123" in argv
    assert "--IdentityProvider.token=abc123" in argv and "--ServerApp.allow_remote_access=False" in argv
    assert "--ServerApp.contents_manager_class=jupytext.AsyncTextFileContentsManager" in argv
    assert "--ServerApp.open_browser=False" in argv and "--ServerApp.allow_root=False" in argv
    for empty in ("", "  "):
        with pytest.raises(ConfigError):
            lab.lab_argv(tmp_path, port=8123, token=empty, open_browser=False)
    assert len({lab.new_token() for _ in range(3)}) == 3 and len(lab.new_token()) >= 32


def test_kernels_get_the_chosen_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWOPS_RUN_DIR", "/tmp/x")
    env = lab.lab_env("sqlite:////data/shop.db")
    assert env["REVIEWOPS_DB"] == "sqlite:////data/shop.db" and "REVIEWOPS_RUN_DIR" not in env


def test_no_display_means_no_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert not lab.has_display()
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert lab.has_display()


def test_a_taken_port_and_root_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        with pytest.raises(ConfigError, match="--port"):
            lab.choose_port(taken)
    monkeypatch.setattr(lab, "_is_root", lambda: True)
    with pytest.raises(ConfigError, match="--allow-root"):
        lab.run_lab(tmp_path / "w", db=str(tmp_path / "x.db"), port=taken, open_browser=False)
    assert not (tmp_path / "w").exists()  # refused before anything is made


# ------------------------------------------------------------------ a real server on a demo shop

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """``reviewops lab --no-browser`` in its own process; stdout is read on a thread."""

    def __init__(self, folder: Path, db: str, env: dict[str, str], wait_up: bool = True):
        self.port = _free_port()
        cmd = [sys.executable, "-m", "reviewops", "lab", "--no-browser", "--dir", str(folder), "--db", db,
               "--port", str(self.port)]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        self.err: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.out, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.err, False), daemon=True).start()
        self.token = self._wait_url()
        self.base = f"http://127.0.0.1:{self.port}"
        if wait_up:
            self._wait_up()

    def _pump(self, stream, sink: list[str], announce: bool) -> None:
        for line in stream:
            sink.append(line)
            if announce:
                self.lines.put(line)

    def _wait_url(self, timeout: float = 60) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            m = re.match(rf"JupyterLab: http://127\.0\.0\.1:{self.port}/lab\?token=([0-9a-f]+)$", line.strip())
            if m:
                return m.group(1)
        raise AssertionError(f"no URL printed; out={''.join(self.out)} err={''.join(self.err)[-3000:]}")

    def _wait_up(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.proc.poll() is None, "".join(self.err)[-3000:]
            try:
                self.get("/api/status")
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("server did not answer: " + "".join(self.err)[-3000:])

    def request(self, method: str, path: str, body: dict | None = None, token: bool = True):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        if token:
            req.add_header("Authorization", f"token {self.token}")
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")

    def get(self, path: str):
        return self.request("GET", path)[1]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:  # pragma: no cover - only if the clean stop failed
                self.proc.kill()
                self.proc.wait()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None


def _listening(port: int) -> list[str]:
    """Local addresses (hex, as in /proc/net/tcp*) of the sockets listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            parts = row.split()
            addr, hexport = parts[1].split(":")
            if parts[3] == "0A" and int(hexport, 16) == port:
                found.append(addr)
    return found


def _run_cells(lab_: Lab, kernel_id: str, codes: list[str]) -> list[list[dict]]:
    """Execute ``codes`` one after another on the kernel's websocket; the outputs of each, as nbformat dicts."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{lab_.port}/api/kernels/{kernel_id}/channels",
                                     header=[f"Authorization: token {lab_.token}"], timeout=120)
    session = uuid.uuid4().hex
    results = []
    try:
        for code in codes:
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({
                "header": {"msg_id": msg_id, "username": "analyst", "session": session, "date": "",
                           "msg_type": "execute_request", "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            outputs: list[dict] = []
            idle = replied = False
            while not (idle and replied):
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if msg["channel"] == "shell" and kind == "execute_reply":
                    replied = True
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
                elif kind in ("stream", "display_data", "execute_result", "error"):
                    outputs.append({"output_type": kind, **content})
            errors = [o for o in outputs if o["output_type"] == "error"]
            assert not errors, (code[:200], errors[0].get("ename"), errors[0].get("evalue"))
            results.append(outputs)
    finally:
        ws.close()
    return results


def _texts(outputs) -> list[str]:
    """The HTML and Markdown a reader sees, in order."""
    texts = []
    for o in outputs:
        data = o.get("data", {})
        text = data.get("text/html") or data.get("text/markdown")
        if text:
            texts.append("".join(text) if isinstance(text, list) else text)
    return texts


@pytest.fixture(scope="module")
def demo_shop(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small demo shop (``reviewops demo --scale 0.02``) and the week with the most reviews."""
    base = tmp_path_factory.mktemp("lab_demo")
    env = dict(os.environ, XDG_DATA_HOME=str(base / "xdg-data"), XDG_CONFIG_HOME=str(base / "xdg-config"),
               REVIEWOPS_DB=str(base / "elsewhere.db"), JUPYTER_CONFIG_DIR=str(base / "jupyter-config"),
               JUPYTER_RUNTIME_DIR=str(base / "jupyter-runtime"))
    env.pop("REVIEWOPS_MULTI_USER", None)
    db = base / "shop.db"
    subprocess.run([sys.executable, "-m", "reviewops", "demo", "--scale", "0.02", "--db", str(db), "--limit", "0"],
                   check=True, env=env, capture_output=True, timeout=300)
    from reviewops.core.store import reviews

    with reviewops.Store.open(str(db)) as store, store.read() as conn:
        created = [r[0] for r in conn.execute(sa.select(reviews.c.created_at))]
    week = collections.Counter(iso_week(t if t.tzinfo else t.replace(tzinfo=dt.UTC)) for t in created)
    return {"base": base, "db": str(db), "week": week.most_common(1)[0][0], "env": env}


def test_reviewops_lab_serves_the_playbooks_and_runs_them_like_reviewops_run(demo_shop: dict) -> None:
    base, db, week, env = demo_shop["base"], demo_shop["db"], demo_shop["week"], demo_shop["env"]
    folder = base / "lab"
    # the same playbook through the batch runner, meanwhile (the store is only read)
    batch = subprocess.Popen([sys.executable, "-m", "reviewops", "run", "weekly_top3", "-p", f"week={week}",
                              "--db", db, "--out", str(base / "reports"), "--json"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = Lab(folder, db, env)
    try:
        # loopback only
        listening = _listening(server.port)
        assert listening and set(listening) == {"0100007F"}, listening
        # the token is required
        with pytest.raises(urllib.error.HTTPError) as refused:
            server.request("GET", "/api/contents", token=False)
        assert refused.value.code in (401, 403)
        opener = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as login:
            opener.open(server.base + "/lab", timeout=30)
        assert login.value.code == 302 and "/login" in login.value.headers["Location"]
        status, listing = server.request("GET", "/api/contents")
        assert status == 200
        names = {item["name"] for item in listing["content"]}
        installed = {p.name for p in playbooks_dir().glob("*.ipynb")}
        installed |= {p.with_suffix(".py").name for p in playbooks_dir().glob("*.ipynb")
                      if p.with_suffix(".py").is_file()}
        assert installed <= names and "weekly_top3.ipynb" in installed and "weekly_top3.py" in installed
        for n in installed:  # copies, byte for byte
            assert (folder / n).read_bytes() == (playbooks_dir() / n).read_bytes(), n

        # the analyst sets the week in the parameters cell and saves the notebook: Jupytext rewrites the .py
        nb = server.get("/api/contents/weekly_top3.ipynb?content=1")["content"]
        [params] = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
        source = "".join(params["source"]) if isinstance(params["source"], list) else params["source"]
        assert 'week: str = ""' in source and 'db: str = ""' in source
        params["source"] = source.replace('week: str = ""', f'week: str = "{week}"')
        server.request("PUT", "/api/contents/weekly_top3.ipynb",
                       {"type": "notebook", "format": "json", "content": nb})
        assert f'week: str = "{week}"' in (folder / "weekly_top3.py").read_text(encoding="utf-8")
        assert f'week: str = \\"{week}\\"' in (folder / "weekly_top3.ipynb").read_text(encoding="utf-8")

        # open it through the server (a session and its kernel) and run it cell by cell, as Run All does
        saved = server.get("/api/contents/weekly_top3.ipynb?content=1")["content"]
        _, sess = server.request("POST", "/api/sessions", {"path": "weekly_top3.ipynb", "type": "notebook",
                                                           "name": "weekly_top3.ipynb", "kernel": {"name": "python3"}})
        codes = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                 for c in saved["cells"] if c["cell_type"] == "code"]
        probe = "import os\nprint(os.environ['REVIEWOPS_DB'], os.getpid(), os.getcwd())"
        results = _run_cells(server, sess["kernel"]["id"], codes + [probe])
        db_seen, kernel_pid, cwd = "".join(o["text"] for o in results[-1] if o["output_type"] == "stream").split()
        assert db_seen == f"sqlite:///{Path(db).resolve()}"  # the store given to --db, not $REVIEWOPS_DB
        assert Path(cwd) == folder.resolve()
        interactive = _texts(o for outs in results[:-1] for o in outs)

        out, err = batch.communicate(timeout=120)
        assert batch.returncode == 0, err[-3000:]
        ran = nbformat.read(json.loads(out)["outputs"]["ipynb"], as_version=4)
        batch_texts = _texts(o for c in ran.cells for o in c.get("outputs", []))

        # the same figures: every table and heading, except the SLA table's count of cases still within
        # their deadline, which depends on the moment of the run
        def stable(texts):
            return [t for t in texts if "未到截止、尚未联系" not in t]

        assert stable(interactive) == stable(batch_texts)
        overview = next(t for t in interactive if "<td>中差评数</td>" in t)
        negative = int(re.search(r"<td>中差评数</td>\s*<td[^>]*>(\d+)</td>", overview).group(1))
        assert negative > 0
        assert any(t.startswith(f"## 概览：{week}") for t in interactive)
        assert any("<th>分类代码</th>" in t for t in interactive)
    finally:
        code = server.stop()
        if batch.poll() is None:
            batch.kill()
    assert code == 0, "".join(server.err)[-3000:]
    assert any("已停止" in line for line in server.out)
    assert not _listening(server.port)
    state = Path(f"/proc/{kernel_pid}/status")
    assert not state.exists() or "\nState:\tZ" in state.read_text(), "the kernel outlived the server"

    # a second start: the edited pair stays as the analyst left it, a deleted untouched file comes back
    # (the folder is prepared before the address is printed; the server need not be waited for)
    edited = {n: (folder / n).read_bytes() for n in ("weekly_top3.ipynb", "weekly_top3.py")}
    (folder / "daily_sweep.py").unlink()
    again = Lab(folder, db, env, wait_up=False)
    try:
        printed = "".join(again.out)
        assert re.search(r"kept your edited copies, not overwritten: .*weekly_top3\.ipynb, weekly_top3\.py", printed)
        assert re.search(r"copied: daily_sweep\.py", printed)
        assert {n: (folder / n).read_bytes() for n in edited} == edited
        assert (folder / "daily_sweep.py").read_bytes() == (playbooks_dir() / "daily_sweep.py").read_bytes()
        assert again.token != server.token  # a new token every start
    finally:
        again.stop()
