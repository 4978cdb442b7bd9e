"""The operator workbench in a real browser: time-to-interactive and case-save latency.

    python benchmarks/bench_workbench_browser.py                       # ~6 min on 2 cores
    python benchmarks/bench_workbench_browser.py --db /tmp/bench/demo_pristine.db --password demo-pass-1 \\
        --loads 15 --saves 40 --preheat 2 --out benchmarks/results/workbench_browser.json

Debian's Chromium (``/usr/bin/chromium``) through Playwright against real ``reviewops serve`` servers,
on the full-size demo shop: ``--db`` is **copied** (never modified); without it,
``/tmp/bench/demo_pristine.db`` is copied when it exists, else ``reviewops demo`` builds one (~75 s).
``--password`` is the demo users' password in that store (the prebuilt one uses ``demo-pass-1``).

Both servers serve one forms folder (``--forms-dir``) holding copies of the installed
``workbench.ipynb`` and ``case.ipynb``, ``bare.ipynb`` — one cell, one ``ipywidgets.Button`` — and
``imports.ipynb`` (the bare notebook after the workbench cell's imports), so the workbench is measured
next to a bare Voila notebook by the same kind of server, in the same run, and the difference splits
into imports and the rest (store, queue, building and sending ~825 widget models):

1. **Time to interactive** of ``/voila/render/<form>.ipynb``, from navigation start
   (``performance.now()`` origin) until the form can be used: for the workbench, a row's 处理 button
   (``.ro-queue-table .ro-queue-open``) is visible and enabled; for the bare notebook, its button.
   A MutationObserver installed before the page's own scripts records the moment. ``--loads`` loads
   of each notebook, alternating, on a server with fresh kernels (``cold``), then on one with
   ``--preheat N`` kernels per form (``preheated``; before each load the pool is refilled and settled,
   and the server log is checked that a preheated kernel served it). One warm-up load per notebook
   and server is reported apart. Every page's kernel is shut down after its load.
2. **Case save in the browser**: one agent-owned case open in ``case.ipynb?case=…``; ``--saves``
   times 保存回复 (and as many 记录联系): click → kernel → the status line saying the new version
   (``回复已保存（版本 vN）``) — the whole round trip including the form's reload of the case.

Writes ``--out`` (JSON) and, with ``--screenshots``, PNGs of the queue and the case form next to it.
``--quick`` (the test suite's e2e smoke run, ~2 min under load): a scale-0.05 demo built in a temporary
directory, one first open (a default, preheated server), one load of each notebook on the cold server, 2 saves of
each kind, no preheated-loads phase (``--preheat 0``), no screenshots; the JSON goes to that directory
(``benchmarks/_quick.py``, never ``results/``) and is printed as the last stdout line.
The domain-level costs under these round trips are ``bench_workbench.py`` → ``results/workbench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from e2e_site import CHROMIUM, Server, close_form, free_port, login, start_server

sys.path.insert(0, str(ROOT / "benchmarks"))  # _quick.py (already there when run as a script)
from _quick import print_result, quick_dir

PRISTINE = Path("/tmp/bench/demo_pristine.db")
WORKBENCH_READY = ".ro-queue-table .ro-queue-open:not([disabled])"
BARE_READY = ".ro-bare-button:not([disabled])"
GOAL_RATIO = 1.5
GOAL_SAVE_P95_MS = 200.0
GOAL_FIRST_OPEN_MS = 2000.0  # issue 14 §4: the first open after `reviewops serve`, default settings

#: records performance.now() the first time `sel` matches a visible, enabled element
TTI_SCRIPT = """(() => {
  const sel = %s;
  const ready = () => {
    for (const el of document.querySelectorAll(sel)) {
      if (!el.disabled && el.offsetParent !== null) return true;
    }
    return false;
  };
  const check = () => {
    if (window.__roTTI !== undefined) return true;
    if (ready()) { window.__roTTI = performance.now(); return true; }
    return false;
  };
  if (check()) return;
  const obs = new MutationObserver(() => { if (check()) obs.disconnect(); });
  obs.observe(document, {subtree: true, childList: true, attributes: true});
})();"""

#: click `btn`, resolve with ms until `statusSel` contains `expected` (the round trip of one save)
SAVE_JS = """async ([btnSel, statusSel, expected]) => {
  const status = document.querySelector(statusSel);
  const btn = document.querySelector(btnSel);
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { obs.disconnect(); reject(new Error('no status: ' + status.textContent)); }, 15000);
    const obs = new MutationObserver(() => {
      if (status.textContent.includes(expected)) {
        const dt = performance.now() - t0;
        obs.disconnect(); clearTimeout(timer); resolve(dt);
      }
    });
    obs.observe(status, {subtree: true, childList: true, characterData: true});
    const t0 = performance.now();
    btn.click();
  });
}"""


# ------------------------------------------------------------------ helpers
def pct(xs: list[float], p: float) -> float:
    """Nearest-rank percentile (as benchmarks/bench_workbench.py)."""
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def summary(ms: list[float]) -> dict[str, Any]:
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 1), "p95_ms": round(pct(ms, 95), 1),
            "min_ms": round(min(ms), 1), "max_ms": round(max(ms), 1), "mean_ms": round(statistics.fmean(ms), 1),
            "samples_ms": [round(x, 1) for x in ms]}


def bare_notebook(path: Path, imports: str = "") -> None:
    """One cell, one Button (``imports``: extra import lines run first, to split the workbench's cost)."""
    import nbformat

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(
        imports
        + "import ipywidgets as widgets\n"
        "button = widgets.Button(description='OK')\n"
        "button.add_class('ro-bare-button')\n"
        "display(button)")]
    nbformat.write(nb, path)


def forms_dir(work: Path) -> Path:
    from reviewops.serve import default_forms_dir

    folder = work / "forms"
    folder.mkdir()
    for form in ("workbench.ipynb", "case.ipynb"):
        shutil.copy2(default_forms_dir() / form, folder / form)
    bare_notebook(folder / "bare.ipynb")
    bare_notebook(folder / "imports.ipynb", "from reviewops.serve import open_session\n"
                  "from reviewops.handling.workbench import Workbench\n"
                  "from reviewops_widgets import build_workbench, show_error\n")
    return folder


def bench_env(work: Path, db: str) -> dict[str, str]:
    """The servers' environment: no REVIEWOPS_/HTTP_/VOILA_ settings inherited (the copied store keeps its
    own PII key unless ``REVIEWOPS_PII_KEY`` is given to this script)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWOPS_", "HTTP_", "VOILA_"))}
    if os.environ.get("REVIEWOPS_PII_KEY"):
        env["REVIEWOPS_PII_KEY"] = os.environ["REVIEWOPS_PII_KEY"]
    env.update(REVIEWOPS_DB=db, XDG_DATA_HOME=str(work / "xdg-data"), PYTHONUNBUFFERED="1")
    return env


def prepare_db(args: argparse.Namespace, work: Path, env: dict[str, str]) -> tuple[str, str]:
    db = work / "full.db"
    src = Path(args.db) if args.db else (PRISTINE if PRISTINE.exists() else None)
    if src is not None:
        for suffix in ("", "-wal", "-shm"):
            if Path(str(src) + suffix).exists():
                shutil.copy2(str(src) + suffix, str(db) + suffix)
        return str(db), f"copy of {src}"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "reviewops", "demo", "--db", str(db), "--out", str(work / "out"),
                    "--demo-password", args.password], env=env, check=True, capture_output=True)
    return str(db), f"built by reviewops demo in {time.perf_counter() - t:.0f} s"


def log_count(server: Server, pattern: str) -> int:
    return len(re.findall(pattern, server.err.read_text(errors="replace")))


def background_kernels(own: list[Server]) -> int:
    """ipykernel processes on this machine that none of our servers started (other users' noise)."""
    ours = {str(s.proc.pid) for s in own}
    out = subprocess.run(["ps", "-eo", "ppid,args"], capture_output=True, text=True, check=False).stdout
    return sum(1 for line in out.splitlines() if "ipykernel_launcher" in line and line.split()[0] not in ours)


def filled_pattern(form: str) -> str:
    return rf"Kernel pool of {re.escape(form)} is filled"


def wait_log(server: Server, pattern: str, more_than: int, timeout_s: float = 90) -> int:
    """Wait until ``pattern`` occurs more than ``more_than`` times in the server's log; the new count."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        n = log_count(server, pattern)
        if n > more_than:
            return n
        time.sleep(0.1)
    raise TimeoutError(f"{pattern!r} did not appear in {server.err} within {timeout_s} s")


def one_load(ctx: Any, server: Server, form: str, ready: str, timeout_ms: int = 120_000) -> dict[str, float]:
    page = ctx.new_page()
    try:
        page.add_init_script(TTI_SCRIPT % json.dumps(ready))
        t = time.perf_counter()
        page.goto(f"{server.base}/voila/render/{form}")
        page.wait_for_function("window.__roTTI !== undefined", timeout=timeout_ms, polling=50)
        wall = (time.perf_counter() - t) * 1000
        nav = page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
            return {tti: window.__roTTI, response_start: n.responseStart, response_end: n.responseEnd,
                    dom_content_loaded: n.domContentLoadedEventEnd}; }""")
        return {**{k: float(v) for k, v in nav.items()}, "wall": wall}
    finally:
        close_form(page)


def measure_loads(browser: Any, server: Server, n: int, *, preheated: bool, settle_s: float,
                  password: str) -> dict[str, Any]:
    ctx = login(browser, server, "xiaowang", password)
    forms = {"bare": ("bare.ipynb", BARE_READY), "imports": ("imports.ipynb", BARE_READY),
             "workbench": ("workbench.ipynb", WORKBENCH_READY)}
    out: dict[str, Any] = {name: {"samples": []} for name in forms}
    filled = {f: 0 for f, _ in forms.values()}
    try:
        if preheated:  # every pool full and settled before the first load
            for f, _ in forms.values():
                filled[f] = wait_log(server, filled_pattern(f), 0)
            time.sleep(settle_s)
        used_before = log_count(server, "Using pre-heated kernel")
        for i in range(n + 1):  # load 0 of each form: warm-up, reported apart
            order = list(forms.items())
            for name, (f, ready) in order[i % len(order):] + order[:i % len(order)]:  # rotate the order
                r = one_load(ctx, server, f, ready)
                if preheated:
                    used = log_count(server, "Using pre-heated kernel")
                    r["preheated_kernel"] = used > used_before
                    used_before = used
                    # the pool refills (Voila logs it once the kernel started); then let the new kernel
                    # run the notebook up to open_session()'s wait_for_request before the next load
                    filled[f] = wait_log(server, filled_pattern(f), filled[f])
                    time.sleep(settle_s)
                else:
                    time.sleep(0.5)
                if i == 0:
                    out[name]["warmup"] = r
                else:
                    out[name]["samples"].append(r)
                print(f"  {'preheated' if preheated else 'cold'} {name:9s} #{i}: tti {r['tti']:7.0f} ms  "
                      f"(html done {r['response_end']:6.0f} ms, wall {r['wall']:6.0f} ms)", flush=True)
    finally:
        ctx.close()
    for name in forms:
        s = out[name]["samples"]
        out[name]["tti"] = summary([r["tti"] for r in s])
        out[name]["html_response_end"] = summary([r["response_end"] for r in s])
        out[name]["frontend_after_html"] = summary([r["tti"] - r["response_end"] for r in s])
        if preheated:
            out[name]["loads_served_by_a_preheated_kernel"] = sum(bool(r.get("preheated_kernel")) for r in s)
    b, w = out["bare"]["tti"], out["workbench"]["tti"]
    out["ratio_workbench_to_bare"] = {"median": round(w["median_ms"] / b["median_ms"], 2),
                                      "p95": round(w["p95_ms"] / b["p95_ms"], 2)}
    return out


def measure_saves(browser: Any, server: Server, n: int, password: str, shots: Path | None) -> dict[str, Any]:
    from reviewops import Store, Workbench, get_actor

    with Store.open(server.db) as store:
        wb = Workbench(store, get_actor(store, "xiaowang"))
        q = wb.queue(role="agent", limit=50)
        q = q[q.state == "new"]
        cid = int(q.case_id.iloc[0])
    ctx = login(browser, server, "xiaowang", password)
    out: dict[str, Any] = {"case_id": cid}
    try:
        page = ctx.new_page()
        page.goto(f"{server.base}/voila/render/case.ipynb?case={cid}")
        page.wait_for_selector(f".ro-case-header:has-text('案件 #{cid}')", timeout=120_000)
        if shots is not None:
            page.screenshot(path=str(shots / "workbench_case.png"))

        def version() -> int:
            return int(re.search(r"版本 v(\d+)", page.locator(".ro-case-header").inner_text()).group(1))

        for key, editor, button, done in (
            ("save_reply", ".ro-case-reply textarea", ".ro-case-save-reply", "回复已保存"),
            ("record_contact", ".ro-case-contact-note textarea", ".ro-case-contact", "已记录联系"),
        ):
            ms = []
            for i in range(n + 1):
                v = version()
                page.fill(editor, f"基准测试第 {i} 次：非常抱歉给您带来不便，我们已核实并为您处理。")
                page.wait_for_timeout(150)  # the typed text reaches the kernel before the click
                dt = page.evaluate(SAVE_JS, [button, ".ro-case-status", f"{done}（版本 v{v + 1}）"])
                if i:  # the first click of each kind is a warm-up
                    ms.append(dt)
                else:
                    out[f"{key}_warmup_ms"] = round(dt, 1)
            out[key] = summary(ms)
            print(f"  {key}: p50 {out[key]['median_ms']} ms  p95 {out[key]['p95_ms']} ms  (n={len(ms)})", flush=True)
        close_form(page)
    finally:
        ctx.close()
    return out


def measure_first_open(browser: Any, work: Path, db: str, env: dict[str, str], n: int, password: str,
                       *extra: str, delay_s: float = 5.0, warm_cache: bool = False) -> dict[str, Any]:
    """The first open after ``reviewops serve`` (issue 14 §4): ``n`` times a new server with default
    settings (``extra``: other options); ``delay_s`` after its login page first answers (a person reading
    the printed address and typing a password; 0 = the worst case), a new browser context (empty cache)
    signs in through the login page and opens the workbench at once — time to interactive of that first
    page. The load average and whether a preheated kernel served it are recorded per sample.

    ``warm_cache``: an operator's browser that has opened the workbench before (a previous day's server on
    the same port): one browser context for every sample, filled once by a warm-up open; before each
    sample its cookies are cleared (a new server, a new sign-in), its HTTP cache is kept."""
    samples = []
    shared_ctx, port = None, None
    if warm_cache:
        port = free_port()
        shared_ctx = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        warm = start_server(work, db, env, *extra, name="first_warmup", port=port)
        try:
            login(browser, warm, "xiaowang", password, ctx=shared_ctx)
            one_load(shared_ctx, warm, "workbench.ipynb", WORKBENCH_READY)
        finally:
            warm.stop()
    for i in range(n):
        t0 = time.perf_counter()
        server = start_server(work, db, env, *extra, name=f"first{i}", port=port)
        try:
            up = time.perf_counter() - t0
            time.sleep(delay_s)
            t1 = time.perf_counter()
            if shared_ctx is not None:
                shared_ctx.clear_cookies()
            ctx = login(browser, server, "xiaowang", password, ctx=shared_ctx)
            signed_in = time.perf_counter() - t1
            try:
                r = one_load(ctx, server, "workbench.ipynb", WORKBENCH_READY)
            finally:
                if shared_ctx is None:
                    ctx.close()
            r.update(server_up_s=round(up, 2), sign_in_s=round(signed_in, 2), loadavg_1m=os.getloadavg()[0],
                     preheated_kernel=log_count(server, "Using pre-heated kernel") > 0)
            samples.append(r)
            print(f"  first open #{i}: tti {r['tti']:6.0f} ms (html done {r['response_end']:6.0f} ms; server up "
                  f"{up:.1f} s, sign-in {signed_in:.1f} s, preheated {r['preheated_kernel']}, "
                  f"load {r['loadavg_1m']:.2f})", flush=True)
        finally:
            server.stop()
        time.sleep(2)
    if shared_ctx is not None:
        shared_ctx.close()
    return {"options": list(extra), "delay_after_login_page_s": delay_s, "browser_cache": "warm" if warm_cache else "empty",
            "tti": summary([r["tti"] for r in samples]),
            "html_response_end": summary([r["response_end"] for r in samples]),
            "served_by_a_preheated_kernel": sum(bool(r["preheated_kernel"]) for r in samples),
            "loadavg_1m": [r["loadavg_1m"] for r in samples], "samples": samples}


def screenshot_queue(browser: Any, server: Server, password: str, shots: Path) -> None:
    ctx = login(browser, server, "xiaowang", password)
    try:
        page = ctx.new_page()
        page.goto(f"{server.base}/voila/render/workbench.ipynb")
        page.wait_for_selector(WORKBENCH_READY, timeout=120_000)
        page.screenshot(path=str(shots / "workbench_queue.png"))
        close_form(page)
    finally:
        ctx.close()


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {p: metadata.version(p) for p in ("voila", "ipywidgets", "jupyterlab_widgets", "playwright")}
    r = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=False)
    out["chromium"] = r.stdout.strip()
    return out


def store_size(db: str) -> dict[str, int]:
    import sqlalchemy as sa
    from reviewops import Store

    with Store.open(db) as store, store.read() as conn:
        return {t: conn.execute(sa.text(f"select count(*) from {t}")).scalar_one()
                for t in ("reviews", "orders", "customers", "cases")}


# ------------------------------------------------------------------ main
class _FirstOpenOnly(Exception):
    """--first-open-only: stop after the first-open measurement."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help=f"store to copy (default: {PRISTINE} if present, else build the full demo)")
    ap.add_argument("--password", default="demo-pass-1", help="the demo users' password in that store")
    ap.add_argument("--loads", type=int, default=15, help="measured loads per notebook and server (>= 10)")
    ap.add_argument("--saves", type=int, default=40, help="measured saves of each kind (>= 30)")
    ap.add_argument("--preheat", type=int, default=2, help="preheated kernels per form on the second server")
    ap.add_argument("--settle", type=float, default=4.0, help="seconds to let a refilled kernel settle")
    ap.add_argument("--first-open", type=int, default=7,
                    help="servers started with default settings to time the first open of the workbench (0: skip)")
    ap.add_argument("--first-open-compare", default="",
                    help="also time the first open with these serve options, e.g. '--preheat 0' (the old default)")
    ap.add_argument("--first-open-only", action="store_true", help="only the first-open measurement")
    ap.add_argument("--first-open-warm-cache", action="store_true",
                    help="also time the first open in a browser that opened the workbench before (same port)")
    ap.add_argument("--first-open-delay", type=float, default=5.0,
                    help="seconds between the login page answering and signing in (a person; 0 = worst case)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "workbench_browser.json")
    ap.add_argument("--screenshots", action=argparse.BooleanOptionalAction, default=True,
                    help="write workbench_queue.png and workbench_case.png next to --out")
    ap.add_argument("--quick", action="store_true", help="smoke run (small demo, a few loads and saves, temp dir)")
    args = ap.parse_args()
    if args.quick:
        args.loads, args.saves, args.preheat, args.first_open = 1, 2, 0, 1
        args.first_open_delay, args.screenshots = 0.0, False
        with quick_dir("workbench_browser") as tmp:
            args.out = tmp / "workbench_browser.json"
            if not args.db:
                from reviewops.demo import run_demo

                os.environ.setdefault("REVIEWOPS_PII_KEY", "5e" * 32)
                args.db = str(tmp / "demo.db")
                run_demo(args.db, scale=0.05, as_of="2026-11-30T09:00", password=args.password)
            result = run(args)
        print_result(result)
        return
    run(args)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium fonts-noto-cjk (never `playwright install`)")

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench_wb_browser_"))
    servers: list[Server] = []
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    try:
        env = bench_env(work, str(work / "full.db"))
        db, source = prepare_db(args, work, env)
        forms = forms_dir(work)
        shots = args.out.parent if args.screenshots else None
        result: dict[str, Any] = {
            "started": started, "store": {"source": source, **store_size(db)},
            "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                        "cpu": platform.processor() or platform.machine(), "loadavg_start": os.getloadavg()},
            "versions": versions(), "loads_per_notebook": args.loads, "preheat": args.preheat,
            "method": ("time to interactive = performance.now() when the form's first button is visible and "
                       "enabled (MutationObserver injected before page scripts); nearest-rank p95; "
                       "save = click → status line shows the new version, in-page"),
        }
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                if args.first_open > 0:
                    print("first open after `reviewops serve` (default settings)", flush=True)
                    result["machine"]["background_ipykernels_first_open"] = background_kernels(servers)
                    result["first_open"] = measure_first_open(browser, work, db, env, args.first_open,
                                                              args.password, delay_s=args.first_open_delay)
                    if args.first_open_compare:
                        print(f"first open with {args.first_open_compare}", flush=True)
                        result["first_open_compare"] = measure_first_open(
                            browser, work, db, env, args.first_open, args.password, *args.first_open_compare.split(),
                            delay_s=args.first_open_delay)
                    if args.first_open_warm_cache:
                        print("first open, browser cache warm from an earlier server on the same port", flush=True)
                        result["first_open_warm_cache"] = measure_first_open(
                            browser, work, db, env, args.first_open, args.password, delay_s=args.first_open_delay,
                            warm_cache=True)
                if args.first_open_only:
                    raise _FirstOpenOnly
                print("cold server (a fresh kernel per page)", flush=True)
                cold = start_server(work, db, env, "--forms-dir", str(forms), "--preheat", "0", name="cold")
                servers.append(cold)
                result["machine"]["background_ipykernels"] = background_kernels(servers)
                result["cold"] = measure_loads(browser, cold, args.loads, preheated=False, settle_s=0,
                                               password=args.password)
                print("case saves (cold server)", flush=True)
                result["saves"] = measure_saves(browser, cold, args.saves, args.password, shots)
                if shots is not None:
                    screenshot_queue(browser, cold, args.password, shots)
                cold.stop()
                if args.preheat > 0:
                    print(f"preheated server (--preheat {args.preheat})", flush=True)
                    hot = start_server(work, db, env, "--forms-dir", str(forms), "--preheat", str(args.preheat),
                                       name="hot")
                    servers.append(hot)
                    result["preheated"] = measure_loads(browser, hot, args.loads, preheated=True,
                                                        settle_s=args.settle, password=args.password)
                    hot.stop()
            except _FirstOpenOnly:
                pass
            finally:
                browser.close()
        result["machine"]["loadavg_end"] = os.getloadavg()
        if args.first_open_only:
            fo = result.get("first_open", {}).get("tti")
            result["goals"] = {"first_open_max_ms": GOAL_FIRST_OPEN_MS,
                               "first_open_median_met": None if fo is None else fo["median_ms"] <= GOAL_FIRST_OPEN_MS}
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            print(json.dumps({k: result.get(k, {}).get("tti")
                              for k in ("first_open", "first_open_compare", "first_open_warm_cache")},
                             ensure_ascii=False, indent=2))
            print(f"wrote {args.out}")
            return result
        domain = ROOT / "benchmarks" / "results" / "workbench.json"
        if domain.exists():
            t = json.loads(domain.read_text())["timings"]
            result["domain_level"] = {"source": "benchmarks/results/workbench.json (bench_workbench.py)",
                                      **{k: {"p50_ms": v["p50_ms"], "p95_ms": v["p95_ms"]} for k, v in t.items()}}
        fo = result.get("first_open", {}).get("tti")
        result["goals"] = {
            "first_open_max_ms": GOAL_FIRST_OPEN_MS,
            "first_open_median_met": None if fo is None else fo["median_ms"] <= GOAL_FIRST_OPEN_MS,
            "workbench_tti_vs_bare_max_ratio": GOAL_RATIO,
            "cold_ratio_median_met": result["cold"]["ratio_workbench_to_bare"]["median"] <= GOAL_RATIO,
            "preheated_ratio_median_met": (result["preheated"]["ratio_workbench_to_bare"]["median"] <= GOAL_RATIO
                                           if "preheated" in result else None),
            "save_p95_max_ms": GOAL_SAVE_P95_MS,
            "save_reply_p95_met": result["saves"]["save_reply"]["p95_ms"] <= GOAL_SAVE_P95_MS,
            "record_contact_p95_met": result["saves"]["record_contact"]["p95_ms"] <= GOAL_SAVE_P95_MS,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(json.dumps({k: result[k] for k in ("goals",)}, ensure_ascii=False, indent=2))
        for mode in ("cold", "preheated"):
            if mode in result:
                r = result[mode]
                cells = "   ".join(f"{f} {r[f]['tti']['median_ms']:6.0f} / {r[f]['tti']['p95_ms']:6.0f} ms"
                                   for f in ("bare", "imports", "workbench"))
                print(f"{mode:9s} (median / p95) {cells}   ratio {r['ratio_workbench_to_bare']}")
        print(f"wrote {args.out}")
        return result
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
