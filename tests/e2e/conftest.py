"""Browser tests of the operator workbench: a real ``reviewops serve`` and Debian's Chromium.

* **Browser.** pytest-playwright drives ``/usr/bin/chromium`` (``executable_path``, ``--no-sandbox``);
  no Playwright browser is ever downloaded. Without ``/usr/bin/chromium`` the tests are skipped —
  except under ``CI=true`` (``.ci/run`` installs it), where they fail, as the PostgreSQL tests do.
* **Server.** One per test session (:func:`site`; shared by the workbench and dashboard modules): a temporary SQLite store built by
  ``reviewops demo --scale 0.05`` (demo users xiaowang/agent, laoli/supervisor, zhaofa/legal,
  dianzhang/admin), plus a CSV of hostile reviews imported with ``reviewops import`` and graded by
  ``reviewops triage`` (S-04), plus a user limited to one shop (S-07/S-08); then
  ``python -m reviewops serve --db … --port <free>`` in a subprocess, stopped at the end of the session.
* **Sign-in** goes through the real login page (``e2e_site.login``). Widget content arrives over the
  websocket after the page has loaded, so tests wait for the ``ro-…`` classes (docs/forms.md), never
  for page load.
* **Kernels.** Every page opened with ``open_form`` is closed with ``close_form`` (``e2e_site.py``), which
  shuts its kernel down first (Voila keeps a closed page's kernel until the idle cull, and idle
  workbench kernels refresh their queue every 30 s — noise on a 2-core machine).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_site import (
    CHROMIUM,
    PASSWORD,
    PII_KEY,
    SHOP_AGENT,
    XSS_SHOP,
    Server,
    chromium_missing_reason,
    clean_env,
    in_ci,
    run_cli,
    start_server,
    write_xss_reviews,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = chromium_missing_reason()
    if reason is None:
        return
    if in_ci():
        return  # site() fails instead: CI must run the browser tests
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.skip(reason=reason))

# ------------------------------------------------------------------ the browser
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright launches Debian's Chromium, never a downloaded one."""
    args = list(browser_type_launch_args.get("args") or [])
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": [*args, "--no-sandbox"]}


# ------------------------------------------------------------------ the server
# --- dashboard (issue 5): one server for the whole session — the dashboard module only reads, so it
# --- shares the workbench module's store and server instead of building its own (~25 s each)
@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One demo store (scale 0.05) with hostile reviews and a one-shop agent, served for the session."""
    reason = chromium_missing_reason()
    if reason is not None:
        if in_ci():
            pytest.fail("CI must run the browser tests: " + reason)
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("e2e")
    db = str(work / "d.db")
    env = clean_env(work, db)
    run_cli(env, "demo", "--scale", "0.05", "--db", db, "--out", str(work / "out"), "--demo-password", PASSWORD)
    xss = write_xss_reviews(work / "xss_reviews.csv")
    run_cli(env, "import", str(xss), "--platform", "taobao", "--kind", "reviews", "--shop", XSS_SHOP, "--db", db)
    run_cli(env, "triage", "--db", db, "--limit", "0")
    run_cli(env, "users", "add", SHOP_AGENT, "--role", "agent", "--shop", "1", "--display-name", "一店客服",
            "--password-stdin", "--db", db, stdin=PASSWORD + "\n")
    # the server (and its kernels) on a New York clock: a time shown in the server's local time instead of
    # Beijing time would be 13 hours off (issue 14 §5); the store and the test process are unaffected
    server = start_server(work, db, {**env, "TZ": "America/New_York"})
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(work / "out", ignore_errors=True)


@pytest.fixture(scope="module")
def store(site: Server) -> Iterator[Any]:
    """The served store, opened by the test process (reads and test set-up only)."""
    from reviewops.core.store import Store

    prev = os.environ.get("REVIEWOPS_PII_KEY")
    os.environ["REVIEWOPS_PII_KEY"] = PII_KEY
    s = Store.open(site.db)
    try:
        yield s
    finally:
        s.close()
        if prev is None:
            os.environ.pop("REVIEWOPS_PII_KEY", None)
        else:
            os.environ["REVIEWOPS_PII_KEY"] = prev


