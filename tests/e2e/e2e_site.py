"""Shared by the browser tests (tests/e2e) and benchmarks/bench_workbench_browser.py: start a real
``reviewops serve`` on a free port, sign in through its login page, open a form and close it with its kernel.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "e2e-demo-pass-1"  # the demo users' password in this store (reviewops demo --demo-password)
SHOP_AGENT = "e2e_shop1"  # an agent limited to shop 1 (created in site())
PII_KEY = "5e" * 8 + "0123456789abcdef" * 3  # tests/conftest.py TEST_PII_KEY_HEX: the same key for every process

#: S-04 payloads: a review text whose <img> would set data-pwned if it ever became markup, and a nickname
XSS_TEXT = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
XSS_NICK = "<script>document.body.dataset.pwned=1</script>"
XSS_SHOP = "E2E安全测试店"
XSS_ORDER = "2841234567890199901"
READY_TIMEOUT_MS = 90_000  # a cold kernel renders the workbench in ~4 s; generous for a busy CI box


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


def chromium_missing_reason() -> str | None:
    if os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return None
    return (f"Debian's Chromium ({CHROMIUM}) is not installed: `apt-get install chromium fonts-noto-cjk` "
            "(never `playwright install`); .ci/run installs it")


# ------------------------------------------------------------------ the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(work: Path, db: str) -> dict[str, str]:
    """The environment of every reviewops subprocess: nothing inherited from REVIEWOPS_/HTTP_/VOILA_."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWOPS_", "HTTP_", "VOILA_"))}
    env.update(REVIEWOPS_PII_KEY=PII_KEY, REVIEWOPS_DB=db, XDG_DATA_HOME=str(work / "xdg-data"),
               PYTHONUNBUFFERED="1")
    return env


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 300) -> str:
    r = subprocess.run([sys.executable, "-m", "reviewops", *args], env=env, input=stdin, capture_output=True,
                       text=True, timeout=timeout, check=False)
    if r.returncode != 0:
        raise AssertionError(f"reviewops {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-2000:]}\n"
                             f"{r.stderr[-3000:]}")
    return r.stdout


def write_xss_reviews(path: Path) -> Path:
    """A Taobao review export with one hostile bad review (text and nickname are HTML/JS)."""
    header = ["订单编号", "买家昵称", "评价结果", "评价内容", "评价时间", "宝贝标题", "追评内容", "追评时间", "解释内容"]
    row = [XSS_ORDER, XSS_NICK, "差评", XSS_TEXT + " 质量太差，客服不理人", "2026-11-20 10:00:00",
           "<b>外套</b>", XSS_TEXT, "2026-11-21 09:00:00", ""]
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header, row])
    return path


@dataclass
class Server:
    base: str
    port: int
    db: str
    work: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    err: Path
    info: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_server(work: Path, db: str, env: dict[str, str], *extra: str, name: str = "serve",
                 timeout_s: float = 90, port: int | None = None) -> Server:
    """``python -m reviewops serve --db DB --port <port or a free one> [extra…]``; returns once /login answers 200."""
    import requests

    port = port or free_port()
    out, err = work / f"{name}.out", work / f"{name}.err"
    proc = subprocess.Popen([sys.executable, "-m", "reviewops", "serve", "--db", db, "--port", str(port), *extra],
                            cwd=work, env=env, stdout=out.open("wb"), stderr=err.open("wb"))
    server = Server(base=f"http://127.0.0.1:{port}", port=port, db=db, work=work, env=env, proc=proc, err=err)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"reviewops serve exited {proc.returncode}: {err.read_text()[-3000:]}")
        try:
            if requests.get(server.base + "/login", timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.stop()
    raise AssertionError(f"reviewops serve did not start within {timeout_s} s: {err.read_text()[-3000:]}")


# ------------------------------------------------------------------ pages
def login(browser: Any, server: Server, user: str, password: str = PASSWORD, *, ctx: Any = None,
          **context_args: Any) -> Any:
    """A browser context (a new one, or ``ctx``) signed in as ``user`` through the real login page."""
    ctx = ctx or browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", **context_args)
    page = ctx.new_page()
    page.goto(server.base + "/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#login_submit")
    page.wait_for_url(re.compile(re.escape(server.base) + r"/(\?.*)?$"))
    assert page.locator("#who").count() == 1, page.content()[:500]
    page.close()
    return ctx


def open_form(ctx: Any, server: Server, path: str, ready: str, timeout_ms: int = READY_TIMEOUT_MS) -> Any:
    """Open ``/voila/render/<path>`` in a new tab and wait until ``ready`` (a ``ro-…`` selector) is visible."""
    page = ctx.new_page()
    page.goto(server.base + "/voila/render/" + path)
    page.wait_for_selector(ready, state="visible", timeout=timeout_ms)
    return page


def close_form(page: Any) -> None:
    """Shut the page's kernel down, then close the tab (best effort)."""
    with contextlib.suppress(Exception):  # the page or its kernel may already be gone
        page.evaluate("""async () => {
            const m = window.jupyterapp && window.jupyterapp.widgetManager;
            if (m && m.kernel) { await m.kernel.shutdown(); }
        }""")
    with contextlib.suppress(Exception):
        page.close()
