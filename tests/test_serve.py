"""``reviewops serve``: a real Voila server with ReviewOps sign-in (S-07 identity, S-09 deployment).

Two servers run for the whole module, each in its own process on a free port on 127.0.0.1 with a
temporary SQLite store and a tiny forms folder:

* **A** — started through the CLI (``python -m reviewops serve --preheat 0``): password sign-in only, a
  fresh kernel per page (identity in the kernel's environment);
* **B** — ``serve()`` in proxy mode (``X-Forwarded-User`` believed only from 127.0.0.2) with one
  preheated kernel per form, so identity also travels through Voila's request-info websocket.

The test form prints ``current_user_name()`` and the :class:`Actor` from ``open_session()``, so
what the page shows is what the kernel was told by the server.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import requests
import sqlalchemy as sa
from reviewops import serve as srv
from reviewops.core import store as st
from reviewops.core.errors import AccessDenied, ConfigError
from reviewops.core.store import Store
from reviewops.core.users import add_user, set_active, set_password

PASSWORDS = {"alice": "alice-pass-1", "carol": "carol-pass-1", "erin": "erin-pass-1", "dave": "dave-pass-1"}
OUT = re.compile(r"(WHOAMI|ACTOR|CWD|FILES|PREHEAT|VOILA_SERVER_LOADED)\[([^\]]*)\]")
UUID = re.compile(r'kernelId"?\s*:\s*"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"')


# ------------------------------------------------------------------ fixtures
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _forms(folder: Path) -> Path:
    ks = {"name": "python3", "display_name": "Python 3", "language": "python"}
    who = nbformat.v4.new_notebook(metadata={"kernelspec": ks})
    who.cells = [
        nbformat.v4.new_markdown_cell("# 我是谁 Who am I"),
        nbformat.v4.new_code_cell("import os, sys\nfrom reviewops.serve import current_user_name, open_session\n"
                                  "print(f'WHOAMI[{current_user_name()}]')\n"
                                  "print(f'PREHEAT[{os.environ.get(\"VOILA_PREHEAT\")}]')\n"
                                  "print(f'VOILA_SERVER_LOADED[{\"voila.utils\" in sys.modules}]')"),
        nbformat.v4.new_code_cell("store, actor = open_session()\nprint(f'ACTOR[{actor.name}|{actor.role}]')\n"
                                  "store.close()\nprint(f'CWD[{os.getcwd()}]')\n"
                                  "print(f'FILES[{\",\".join(sorted(os.listdir()))}]')"),
    ]
    boom = nbformat.v4.new_notebook(metadata={"kernelspec": ks})
    boom.cells = [nbformat.v4.new_code_cell("raise ValueError('SECRET-TRACE-42 /etc/reviewops')")]
    folder.mkdir()
    nbformat.write(who, folder / "whoami.ipynb")
    nbformat.write(boom, folder / "boom.ipynb")
    (folder / "helper.py").write_text("SECRET_SOURCE = 1\n")  # must never be served or copied
    (folder / "evidence.png").write_bytes(b"\x89PNG fake evidence")
    return folder


class Server:
    def __init__(self, name: str, argv: list[str], port: int, workdir: Path):
        self.name, self.port = name, port
        self.base = f"http://127.0.0.1:{port}"
        self.out, self.err = workdir / f"{name}.out", workdir / f"{name}.err"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWOPS_", "HTTP_", "VOILA_"))}
        env["REVIEWOPS_PII_KEY"] = "5e" * 32
        self.proc = subprocess.Popen(
            argv, cwd=workdir, env=env, stdout=self.out.open("wb"), stderr=self.err.open("wb"),
            # a terminal's Ctrl-C: SIGINT at its default even if this test run was started with it ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509 - no threads yet

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


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("serve")
    db = str(work / "serve.db")
    with Store.open(db) as s:
        for name, role in (("alice", "agent"), ("carol", "agent"), ("erin", "agent"), ("dave", "agent")):
            add_user(s, name, role=role, password=PASSWORDS[name], actor="test", display_name=f"{name}-显示")
        add_user(s, "bob", role="supervisor", actor="test")  # no password: proxy sign-in only
        set_active(s, "dave", False, actor="test")
    forms = _forms(work / "forms")
    # config files in the working directory (and a forms folder) must not loosen anything
    for folder in (work, forms):
        (folder / "voila.json").write_text('{"VoilaConfiguration": {"show_tracebacks": true, "file_allowlist": [".*"]}}')
        (folder / "voila.py").write_text("c.VoilaConfiguration.show_tracebacks = True\n")
    pa, pb = _free_port(), _free_port()
    a = Server("A", [sys.executable, "-m", "reviewops", "serve", "--db", db, "--port", str(pa),
                     "--forms-dir", str(forms), "--preheat", "0"], pa, work)
    code = ("from reviewops.serve import serve; "
            f"serve(db={db!r}, port={pb}, forms_dir={str(forms)!r}, trusted_header='X-Forwarded-User', "
            "trusted_proxies=('127.0.0.2',), preheat=1)")
    b = Server("B", [sys.executable, "-c", code], pb, work)
    try:
        deadline = time.time() + 60
        a.wait_ready(deadline)
        b.wait_ready(deadline)
        yield {"A": a, "B": b, "db": db, "work": work}
    finally:
        a.stop()
        b.stop()


@pytest.fixture(scope="module")
def store(site):
    with Store.open(site["db"]) as s:
        yield s


def login(server: Server, name: str, password: str) -> requests.Response:
    s = requests.Session()
    page = s.get(server.base + "/login", timeout=10)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    r = s.post(server.base + "/login?next=%2F", data={"username": name, "password": password, "_xsrf": xsrf},
               allow_redirects=False, timeout=30)
    r.session = s  # type: ignore[attr-defined]
    return r


def session(server: Server, name: str) -> requests.Session:
    r = login(server, name, PASSWORDS[name])
    assert r.status_code == 302 and r.headers["Location"] == "/", (r.status_code, r.text[:300])
    return r.session  # type: ignore[attr-defined]


def outputs(html: str) -> dict[str, str]:
    return dict(OUT.findall(html))


def raw(server: Server, path: str, headers: dict[str, str] | None = None, source: str | None = None,
        cookies: requests.Session | None = None) -> tuple[int, dict[str, str], str]:
    """One request exactly as given: no client-side path normalisation, optional source address."""
    h = dict(headers or {})
    if cookies is not None:
        h["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.cookies.items())
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request("GET", path, headers=h)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def access_log(store: Store, **where) -> list[dict]:
    with store.read() as conn:
        q = sa.select(st.access_log).order_by(st.access_log.c.id)
        for k, v in where.items():
            q = q.where(st.access_log.c[k] == v)
        return [dict(r) for r in conn.execute(q).mappings()]


# ------------------------------------------------------------ sign-in (A)
def test_unauthenticated_requests_go_to_the_login_page(site):
    a = site["A"]
    for path in ("/", "/voila/render/whoami.ipynb", "/voila/tree/"):
        r = requests.get(a.base + path, allow_redirects=False, timeout=10)
        assert r.status_code == 302 and r.headers["Location"].startswith("/login?next="), (path, r.status_code)
    r = requests.get(a.base + "/api/kernels/00000000-0000-0000-0000-000000000000", allow_redirects=False, timeout=10)
    assert r.status_code == 403
    page = requests.get(a.base + "/login", timeout=10)
    assert page.status_code == 200 and "用户名" in page.text and "密码" in page.text and "Sign in" in page.text
    assert "cdn" not in page.text.lower()  # self-contained: works offline


def test_wrong_password_is_refused_and_logged(site, store):
    a = site["A"]
    for name, pw, reason in (("alice", "not-her-password", "bad_password"), ("mallory", "guess-123", "unknown_user"),
                             ("dave", PASSWORDS["dave"], "disabled"), ("bob", "anything-1", "no_password")):
        r = login(a, name, pw)
        assert r.status_code == 401, (name, r.status_code)
        assert "用户名或密码错误" in r.text and "wrong user name or password" in r.text
        assert not any(k.startswith("username-") for k in r.session.cookies.get_dict())  # type: ignore[attr-defined]
        row = access_log(store, action="login_failed", actor=name)[-1]
        assert row["outcome"] == "denied"
        detail = json.loads(row["detail_json"])
        assert detail == {"ip": "127.0.0.1", "via": "password", "reason": reason}
        assert pw not in json.dumps(access_log(store), default=str)  # no password in the log, ever


def test_login_shows_the_right_user_and_a_forged_identity_header_changes_nothing(site, store):
    a = site["A"]
    alice = session(a, "alice")
    assert access_log(store, action="login", actor="alice")[-1]["outcome"] == "ok"
    menu = alice.get(a.base + "/", timeout=10)
    assert 'id="who">alice-显示<' in menu.text and "/voila/render/whoami.ipynb" in menu.text
    assert "helper.py" not in menu.text and "evidence.png" not in menu.text
    forged_token = srv.make_identity_token("carol", secret="not-the-server-secret-at-all")
    for forged in (forged_token, "carol"):
        page = alice.get(a.base + "/voila/render/whoami.ipynb", headers={srv.IDENTITY_HEADER: forged}, timeout=60)
        assert page.status_code == 200
        out = outputs(page.text)
        assert out["WHOAMI"] == "alice" and out["ACTOR"] == "alice|agent", out
    # the kernel runs in a private copy of the forms folder holding the notebooks only
    assert out["FILES"] == "boom.ipynb,whoami.ipynb"
    assert Path(out["CWD"]).name.startswith("reviewops-serve-")
    carol = session(a, "carol")
    assert outputs(carol.get(a.base + "/voila/render/whoami.ipynb", timeout=60).text)["WHOAMI"] == "carol"


def test_s09_probes_are_refused_even_when_signed_in(site):
    a = site["A"]
    alice = session(a, "alice")
    for path in ("/static/etc/passwd", "/voila/files/evidence.png", "/voila/files/helper.py",
                 "/voila/files/whoami.ipynb", "/voila/files/../serve.db", "/voila/render/admin.ipynb",
                 "/voila/render/helper.py", "/voila/render/evidence.png", "/voila/api/contents",
                 "/voila/api/contents/whoami.ipynb", "/api/contents", "/api/contents/whoami.ipynb", "/api/kernels",
                 "/api/sessions", "/api/terminals", "/files/helper.py", "/tree", "/lab"):
        r = alice.get(a.base + path, allow_redirects=False, timeout=30)
        assert r.status_code in (403, 404), (path, r.status_code)
    for path in ("/voila/render/../../etc/passwd", "/voila/render/%2e%2e/%2e%2e/etc/passwd",
                 "/voila/render/..%2f..%2fetc%2fpasswd", "/voila/static/../../../../../../etc/passwd",
                 "/voila/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                 "/voila/templates/lab/static/../../../../../../../etc/passwd", "/voila/files/../../etc/passwd",
                 "/voila/labextensions/../../../../etc/passwd"):
        status, _, body = raw(a, path, cookies=alice)
        assert status in (403, 404), (path, status)
        assert "root:" not in body and "SECRET_SOURCE" not in body


def test_no_tracebacks_reach_the_page(site):
    """Even with a voila.json/voila.py asking for tracebacks in the working directory and the forms folder."""
    a = site["A"]
    page = session(a, "alice").get(a.base + "/voila/render/boom.ipynb", timeout=60)
    assert page.status_code == 200
    assert "SECRET-TRACE-42" not in page.text and "Traceback" not in page.text and "/etc/reviewops" not in page.text
    c = srv.voila_config(root_dir="/x", db_url="sqlite:///x.db")
    assert c.VoilaConfiguration.show_tracebacks is False and c.VoilaConfiguration.file_allowlist == []
    assert c.VoilaConfiguration.http_header_envs == [srv.IDENTITY_HEADER] and c.Voila.ip == "127.0.0.1"
    assert c.MappingKernelManager.cull_idle_timeout == 600 and c.Voila.config_file_paths == []


def test_a_kernel_belongs_to_the_user_whose_page_started_it(site):
    """Another signed-in user who learns a kernel id can neither read nor drive it; no cross-origin websocket."""
    a = site["A"]
    alice, carol = session(a, "alice"), session(a, "carol")
    kid = UUID.search(alice.get(a.base + "/voila/render/whoami.ipynb", timeout=60).text).group(1)
    assert alice.get(f"{a.base}/api/kernels/{kid}", timeout=10).status_code == 200
    assert carol.get(f"{a.base}/api/kernels/{kid}", timeout=10).status_code == 403

    def upgrade(sess: requests.Session, origin: str) -> int:
        return raw(a, f"/api/kernels/{kid}/channels", cookies=sess, headers={
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(), "Origin": origin})[0]

    assert upgrade(alice, a.base) == 101  # the page's own connection works
    assert upgrade(alice, "http://evil.example") == 403  # cross-origin upgrade
    assert upgrade(carol, a.base) == 403  # someone else's kernel
    assert upgrade(requests.Session(), a.base) == 403  # not signed in


def test_changing_the_password_or_disabling_ends_the_session(site, store):
    a = site["A"]
    erin = session(a, "erin")
    assert erin.get(a.base + "/", allow_redirects=False, timeout=10).status_code == 200
    set_password(store, "erin", "erin-pass-2", actor="test")
    assert erin.get(a.base + "/", allow_redirects=False, timeout=10).status_code == 302
    PASSWORDS["erin"] = "erin-pass-2"
    erin = session(a, "erin")
    assert erin.get(a.base + "/", allow_redirects=False, timeout=10).status_code == 200
    set_active(store, "erin", False, actor="test")
    assert erin.get(a.base + "/", allow_redirects=False, timeout=10).status_code == 302
    assert login(a, "erin", "erin-pass-2").status_code == 401
    erin.get(a.base + "/logout", timeout=10)


def test_foreign_host_header_is_refused_on_loopback(site):
    """DNS rebinding: a page on another name resolving to 127.0.0.1 gets 403 from a loopback-only server."""
    assert raw(site["A"], "/login", headers={"Host": f"evil.example:{site['A'].port}"})[0] == 403
    assert raw(site["A"], "/login", headers={"Host": f"localhost:{site['A'].port}"})[0] == 200


def test_logout_is_logged_and_ends_the_session(site, store):
    a = site["A"]
    carol = session(a, "carol")
    r = carol.get(a.base + "/logout", allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert carol.get(a.base + "/", allow_redirects=False, timeout=10).status_code == 302
    assert access_log(store, action="logout", actor="carol")[-1]["outcome"] == "ok"


# ------------------------------------------------------------ proxy mode + preheat (B)
def test_trusted_header_counts_only_from_a_trusted_address(site, store):
    b = site["B"]
    hdr = {"X-Forwarded-User": "bob"}
    # 127.0.0.1 is not a trusted proxy of B: the header is ignored
    status, headers, _ = raw(b, "/voila/render/whoami.ipynb", headers=hdr)
    assert status == 302 and headers["Location"].startswith("/login")
    # from the trusted proxy (127.0.0.2) it signs bob in; a forged identity header changes nothing
    forged = srv.make_identity_token("alice", secret="guessed-secret-guessed-secret")
    status, _, body = raw(b, "/voila/render/whoami.ipynb", source="127.0.0.2",
                          headers={**hdr, srv.IDENTITY_HEADER: forged})
    assert status == 200
    out = outputs(body)
    assert out["WHOAMI"] == "bob" and out["ACTOR"] == "bob|supervisor", out
    # a preheated kernel learnt who asked over the request-info websocket without loading Voila's server
    assert out["PREHEAT"] == "True" and out["VOILA_SERVER_LOADED"] == "False", out
    kid = UUID.search(body).group(1)  # bob owns the preheated kernel he was handed
    assert raw(b, f"/api/kernels/{kid}", source="127.0.0.2", headers=hdr)[0] == 200
    assert raw(b, f"/api/kernels/{kid}", source="127.0.0.2", headers={"X-Forwarded-User": "alice"})[0] == 403
    # unknown or disabled users named by the proxy are not signed in
    for name in ("dave", "nobody", "../alice"):
        status, headers, _ = raw(b, "/voila/render/whoami.ipynb", source="127.0.0.2",
                                 headers={"X-Forwarded-User": name})
        assert status == 302 and headers["Location"].startswith("/login"), name
    assert [r["detail_json"] for r in access_log(store, action="login", actor="bob")][-1] == \
        json.dumps({"ip": "127.0.0.2", "via": "proxy"}, sort_keys=True)
    assert {r["actor"] for r in access_log(store, action="login_failed")} >= {"dave", "nobody"}
    # the password login still works next to proxy mode, and the kernel gets the right name
    r = login(b, "alice", PASSWORDS["alice"])
    assert r.status_code == 302
    page = r.session.get(b.base + "/voila/render/whoami.ipynb", timeout=60)  # type: ignore[attr-defined]
    assert outputs(page.text)["WHOAMI"] == "alice"


# ------------------------------------------------------------ first open (issue 14 §4)
def test_the_first_open_is_preheated_by_default():
    """Structural guard for the ≤ 2 s first open (benchmarks/bench_workbench_browser.py --first-open): by
    default every form has a kernel started ahead that has done its imports and opened the store."""
    import inspect

    from click.testing import CliRunner
    from reviewops.cli import cli

    assert srv.DEFAULT_PREHEAT >= 1
    assert inspect.signature(srv.serve).parameters["preheat"].default == srv.DEFAULT_PREHEAT
    assert inspect.signature(srv.voila_config).parameters["preheat"].default == srv.DEFAULT_PREHEAT
    serve_cmd = cli.commands["serve"]
    assert next(p for p in serve_cmd.params if p.name == "preheat").default == srv.DEFAULT_PREHEAT
    assert "--preheat" in CliRunner().invoke(cli, ["serve", "--help"]).output
    c = srv.voila_config(root_dir="/tmp", db_url="sqlite:///x.db")
    assert c.VoilaConfiguration.preheat_kernel is True and c.VoilaConfiguration.default_pool_size == srv.DEFAULT_PREHEAT
    off = srv.voila_config(root_dir="/tmp", db_url="sqlite:///x.db", preheat=0)
    assert off.VoilaConfiguration.preheat_kernel is False


def test_form_notebooks_wait_for_the_user_only_after_the_heavy_work():
    """Every served form opens the session (imports, store, policy — nothing about the user) before it
    builds anything, and never imports Voila's server or the chart library in its first cell."""
    from reviewops.serve import default_forms_dir

    forms = sorted(default_forms_dir().glob("*.ipynb"))
    assert {f.name for f in forms} >= {"workbench.ipynb", "case.ipynb", "dashboard.ipynb"}
    for f in forms:
        code = [c for c in nbformat.read(f, as_version=4).cells if c.cell_type == "code"]
        assert len(code) == 1, f.name
        src = code[0].source
        first_build = re.search(r"\bbuild_\w+\(", src)
        assert "open_session()" in src and first_build and src.index("open_session()") < first_build.start(), f.name
        for heavy in ("voila", "matplotlib", "import pandas", "sqlalchemy"):
            assert heavy not in src, (f.name, heavy)


def test_the_kernel_side_never_loads_voilas_server():
    """What a form's kernel imports (reviewops.serve, the workbench, the forms) stays clear of Voila's
    server packages (2+ s of imports): a preheated kernel would pay them after the page was requested."""
    code = ("import sys\n"
            "from reviewops.serve import open_session, current_user_name, wait_for_request\n"
            "from reviewops.handling.workbench import Workbench\n"
            "from reviewops_widgets import build_workbench, build_case, show_error\n"
            "from reviewops_widgets.app import case_from_query, page_query_string\n"
            "bad = [m for m in ('voila', 'voila.utils', 'jupyter_server.serverapp', 'jupyterlab_server', 'matplotlib')"
            " if m in sys.modules]\n"
            "print('LOADED', bad)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "LOADED []" in r.stdout, r.stdout + r.stderr


def test_wait_for_request_takes_the_request_info_from_the_server(monkeypatch):
    """A preheated kernel's wait: one JSON message on ``/voila/query/<kernel id>`` (Voila's protocol) sets
    the request's environment; no server, no identity (AccessDenied, never a guess)."""
    import threading

    from websockets.sync.server import serve as ws_serve

    seen: list[str] = []

    def handler(ws):
        seen.append(ws.request.path)
        ws.send(json.dumps({"QUERY_STRING": "case=5", srv.IDENTITY_ENV: "tok.en"}))

    with ws_serve(handler, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.socket.getsockname()[1]
        for k, v in {"VOILA_PREHEAT": "True", "VOILA_APP_IP": "127.0.0.1", "VOILA_APP_PORT": str(port),
                     "VOILA_SERVER_URL": "/", "VOILA_KERNEL_ID": "k-123"}.items():
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("QUERY_STRING", raising=False)
        monkeypatch.delenv(srv.IDENTITY_ENV, raising=False)
        srv.wait_for_request()
        assert seen == ["/voila/query/k-123"]
        assert os.environ["QUERY_STRING"] == "case=5" and os.environ[srv.IDENTITY_ENV] == "tok.en"
        server.shutdown()
    monkeypatch.setenv("VOILA_APP_PORT", str(_free_port()))  # nobody listens
    with pytest.raises(AccessDenied, match="请刷新页面"):
        srv.wait_for_request()
    monkeypatch.setenv("VOILA_PREHEAT", "False")  # a kernel started for its request does not wait
    srv.wait_for_request()


# ------------------------------------------------------------ refusals (no server)
def test_serve_refuses_unsafe_or_empty_setups(tmp_path, monkeypatch):
    forms = _forms(tmp_path / "forms")
    db = str(tmp_path / "r.db")
    for ip in ("0.0.0.0", "192.168.1.10", "::"):
        with pytest.raises(ConfigError, match="非本机地址.*--allow-remote"):
            srv.serve(db=db, ip=ip, forms_dir=forms)
    with pytest.raises(ConfigError, match="reviewops users add.*reviewops demo"):
        srv.serve(db=db, forms_dir=forms)
    with Store.open(db) as s:
        add_user(s, "bob", role="agent", actor="t")
    with pytest.raises(ConfigError, match="reviewops users passwd"):
        srv.serve(db=db, forms_dir=forms)  # nobody could sign in
    with Store.open(db) as s:
        add_user(s, "alice", role="agent", password="alice-pass-1", actor="t")
    with pytest.raises(ConfigError, match="可信请求头名称无效"):
        srv.serve(db=db, forms_dir=forms, trusted_header="Cookie")
    with pytest.raises(ConfigError, match="可信代理地址无效"):
        srv.serve(db=db, forms_dir=forms, trusted_header="X-Forwarded-User", trusted_proxies=("proxy.lan",))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.py").write_text("")
    with pytest.raises(ConfigError, match="没有 .ipynb"):
        srv.serve(db=db, forms_dir=empty, port=_free_port())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(ConfigError, match="--port"):
            srv.serve(db=db, forms_dir=forms, port=busy.getsockname()[1])


def test_voila_older_than_0_5_6_is_refused():
    with pytest.raises(ConfigError, match="0.5.5.*GHSA-2q59-h24c-w6fg"):
        srv.check_voila_version("0.5.5")
    assert srv.check_voila_version("0.5.6") == "0.5.6"
    assert srv.VOILA_VERSION == srv.check_voila_version()


# ------------------------------------------------------------ identity tokens (kernel side)
SECRET = "s" * 43


def test_identity_token_round_trip_and_refusals():
    tok = srv.make_identity_token("alice", secret=SECRET, now=1_000_000)
    body, mac = tok.split(".")
    assert json.loads(base64.urlsafe_b64decode(body + "==")).keys() == {"u", "iat", "n"}
    assert srv.verify_identity_token(tok, secret=SECRET, now=1_000_100) == "alice"
    tampered = base64.urlsafe_b64encode(json.dumps({"u": "boss", "iat": 1_000_000, "n": "x"}).encode()).decode()
    cases = {
        "bad signature": f"{tampered.rstrip('=')}.{mac}",
        "other secret": srv.make_identity_token("alice", secret="t" * 43, now=1_000_000),
        "malformed": "alice",
        "two dots": tok + ".x",
    }
    for bad in cases.values():
        with pytest.raises(AccessDenied, match="身份令牌无效"):
            srv.verify_identity_token(bad, secret=SECRET, now=1_000_100)
    with pytest.raises(AccessDenied, match="已过期"):
        srv.verify_identity_token(tok, secret=SECRET, now=1_000_601)
    with pytest.raises(AccessDenied, match="已过期"):  # from the future
        srv.verify_identity_token(tok, secret=SECRET, now=999_000)
    with pytest.raises(AccessDenied, match=srv.SECRET_ENV):
        srv.verify_identity_token(tok, secret="")


def test_current_user_name_reads_only_the_server_token(monkeypatch):
    monkeypatch.delenv(srv.IDENTITY_ENV, raising=False)
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    monkeypatch.setenv(srv.SECRET_ENV, SECRET)
    with pytest.raises(AccessDenied, match="reviewops serve"):
        srv.current_user_name()
    monkeypatch.setenv(srv.IDENTITY_ENV, srv.make_identity_token("alice", now=time.time() - 700))
    with pytest.raises(AccessDenied, match="已过期"):
        srv.current_user_name()
    tok = srv.make_identity_token("alice")
    monkeypatch.setenv(srv.IDENTITY_ENV, tok)
    assert srv.current_user_name() == "alice"
    real = time.time
    monkeypatch.setattr(srv.time, "time", lambda: real() + 3600)
    assert srv.current_user_name() == "alice"  # the kernel keeps the identity it was started for
    monkeypatch.setenv(srv.SECRET_ENV, "x" * 43)  # but the signature is always checked
    with pytest.raises(AccessDenied, match="签名不符"):
        srv.current_user_name()


def test_open_session_refuses_a_disabled_user_and_logs_it(tmp_path, monkeypatch):
    db = str(tmp_path / "k.db")
    with Store.open(db) as s:
        add_user(s, "alice", role="agent", password="alice-pass-1", actor="t")
        set_active(s, "alice", False, actor="t")
    monkeypatch.setenv(srv.SECRET_ENV, SECRET)
    monkeypatch.setenv(srv.IDENTITY_ENV, srv.make_identity_token("alice"))
    with pytest.raises(AccessDenied, match="不存在或已停用"):
        srv.open_session(db)
    with Store.open(db) as s:
        assert access_log(s, action="session")[-1]["outcome"] == "denied"
        set_active(s, "alice", True, actor="t")
    s2, actor = srv.open_session(db)
    s2.close()
    assert (actor.name, actor.role) == ("alice", "agent")


# ------------------------------------------------------------ Ctrl-C (last: stops server A)
def test_ctrl_c_stops_the_server_cleanly(site):
    a = site["A"]
    alice = session(a, "alice")
    cwd = outputs(alice.get(a.base + "/voila/render/whoami.ipynb", timeout=60).text)["CWD"]
    assert Path(cwd).is_dir()
    a.proc.send_signal(signal.SIGINT)
    assert a.proc.wait(30) == 0
    assert "工作台已停止 / workbench stopped" in a.out.read_text()
    assert "Traceback" not in a.out.read_text()
    assert not Path(cwd).exists()  # the runtime copy is removed
    with pytest.raises(requests.ConnectionError):
        requests.get(a.base + "/login", timeout=5)
