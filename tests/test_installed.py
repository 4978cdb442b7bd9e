"""The installed wheel carries everything the README uses (issue 14, point 1).

An editable install reads playbooks, forms and workbooks from the source tree, which hid that a plain
``pip install .`` shipped no playbooks at all. Here the wheel is built from a copy of the repository,
installed NON-editable into a fresh virtual environment, and every command of the README is run with that
environment's own ``reviewops`` script from an empty temporary folder, with HOME and the XDG folders inside
the temporary folder too (no user state leaks in or out):

* ``reviewops demo --scale 0.02``
* ``reviewops run <name>`` for every playbook the installed package carries (the same set as ``playbooks/``)
* ``reviewops run ./my_copy.ipynb`` (a shop's own playbook, by path; it also reports where the kernel's
  ``reviewops`` comes from — the venv, not the repository)
* ``reviewops export analysis`` and ``reviewops policy export`` (the Excel workbooks the CLI writes)
* ``reviewops serve`` until its sign-in page answers over HTTP, then Ctrl-C (SIGINT) stops it

The wheel is installed with ``--no-deps`` and the venv sees the test environment's site-packages through a
``.pth`` file placed after its own (like ``--system-site-packages``, but also right when the tests themselves
run in a venv, whose packages ``--system-site-packages`` would not reach), so the dependencies come from
the test environment (no download, a few seconds); the assertions make sure the *reviewops* packages
themselves are the venv's. One module fixture builds, installs and runs the demo once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import site
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]  # only read to build the wheel and to compare file lists

#: what a source copy for the build leaves out (build leftovers, caches, the data of other tools)
_IGNORE = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".hypothesis",
                                 ".pytest_cache", ".ipynb_checkpoints", ".venv", "venv", "node_modules",
                                 "*.db", "*.db-wal", "*.db-shm", "reports")

#: repository folder → installed package (pyproject.toml's package-dir)
_SHIPPED = {"lib/reviewops": "reviewops", "widgets": "reviewops_widgets", "playbooks": "reviewops_playbooks",
            "workbooks": "reviewops_workbooks"}

pytestmark = pytest.mark.timeout(900)


@dataclass
class Installed:
    base: Path
    venv: Path
    wheel: Path
    work: Path
    env: dict[str, str]
    demo_output: str

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def reviewops(self) -> Path:
        return self.venv / "bin" / "reviewops"

    def run(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``reviewops ARGS`` with the venv's script, from the empty work folder."""
        r = subprocess.run([str(self.reviewops), *args], cwd=self.work, env=self.env, capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        if check and r.returncode != 0:
            pytest.fail(f"reviewops {' '.join(args)} exited {r.returncode}\n--- stdout\n{r.stdout[-3000:]}"
                        f"\n--- stderr\n{r.stderr[-3000:]}")
        return r

    def py(self, code: str) -> str:
        """Run ``code`` with the venv's python (from the work folder, isolated env); return its stdout."""
        r = subprocess.run([str(self.python), "-c", code], cwd=self.work, env=self.env, capture_output=True,
                           text=True, timeout=120, check=False)
        assert r.returncode == 0, r.stderr[-3000:]
        return r.stdout


def _jupyter_data_dirs() -> list[str]:
    """The test environment's Jupyter data folders (templates, kernels), without the user's own."""
    from jupyter_core.paths import jupyter_data_dir, jupyter_path

    return [d for d in jupyter_path() if Path(d) != Path(jupyter_data_dir())]


def _clean_env(base: Path, venv: Path) -> dict[str, str]:
    home = base / "home"
    for sub in ("data", "config", "cache", "state"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items()
            if k in ("LANG", "LC_ALL", "TZ", "TMPDIR")}
    return {
        **keep,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "VIRTUAL_ENV": str(venv),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_STATE_HOME": str(home / "state"),
        "LANG": os.environ.get("LANG") or "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "REVIEWOPS_DEMO_PASSWORD": "demo-pass-14",
        # the venv sees the test environment's packages but not their data files (nbconvert's and voila's
        # templates live in <prefix>/share/jupyter, and Jupyter searches only the venv's prefix). A real
        # `pip install .` puts them into the venv; here we point Jupyter at the test environment's.
        "JUPYTER_PATH": os.pathsep.join(_jupyter_data_dirs()),
    }


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("installed")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=_IGNORE)  # a clean copy: no stale build/ or egg-info can leak into the wheel
    dist = base / "dist"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = dist.glob("reviewops-*.whl")

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                        "--no-deps", "--ignore-installed", str(wheel)],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    # the dependencies: the test environment's site-packages, searched after the venv's own
    venv_site = subprocess.run([str(venv / "bin" / "python"), "-c",
                                "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip()
    outer = dict.fromkeys([*site.getsitepackages(), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (Path(venv_site) / "zz_test_environment.pth").write_text(
        "".join(f"import site; site.addsitedir({d!r})\n" for d in outer if Path(d).is_dir()), encoding="utf-8")
    shutil.rmtree(src)  # nothing below may read the copy

    work = base / "work"
    work.mkdir()
    inst = Installed(base=base, venv=venv, wheel=wheel, work=work, env=_clean_env(base, venv), demo_output="")
    assert not any(work.iterdir())
    r = inst.run("demo", "--scale", "0.02", "--limit", "3", timeout=300)
    inst.demo_output = r.stdout
    return inst


def _under(path: str, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


# ------------------------------------------------------------------ the install itself
def test_packages_and_script_come_from_the_venv_not_the_source_tree(installed: Installed):
    out = json.loads(installed.py(
        "import json, sys, reviewops, reviewops_widgets, reviewops_playbooks, reviewops_workbooks\n"
        "from reviewops import runner, serve\n"
        "print(json.dumps({'reviewops': reviewops.__file__, 'widgets': reviewops_widgets.__file__,"
        " 'playbooks': reviewops_playbooks.__file__, 'workbooks': reviewops_workbooks.__file__,"
        " 'playbooks_dir': str(runner.playbooks_dir()), 'forms_dir': str(serve.default_forms_dir()),"
        " 'workbooks_dir': str(reviewops_workbooks.workbooks_dir()), 'prefix': sys.prefix}))"))
    assert Path(out["prefix"]).resolve() == installed.venv.resolve()
    for key, value in out.items():
        assert _under(value, installed.venv), (key, value)
        assert not _under(value, ROOT), (key, value)
    first = installed.reviewops.read_text(encoding="utf-8").splitlines()[0]
    assert first == f"#!{installed.python}", first  # the console script runs the venv's interpreter


def test_the_wheel_ships_every_playbook_form_workbook_and_data_file(installed: Installed):
    """Every file of the four shipped folders is in the wheel (a new data file must be added to package-data)."""
    with zipfile.ZipFile(installed.wheel) as zf:
        names = set(zf.namelist())
    missing = []
    for folder, package in _SHIPPED.items():
        for f in sorted((ROOT / folder).rglob("*")):
            rel = f.relative_to(ROOT / folder)
            if (f.is_dir() or any(p.startswith(".") or p == "__pycache__" or p.endswith(".egg-info")
                                  for p in rel.parts) or f.suffix in (".pyc", ".db")):
                continue
            if f"{package}/{rel.as_posix()}" not in names:
                missing.append(f"{folder}/{rel.as_posix()}")
    assert not missing, f"not in the wheel (add them to [tool.setuptools.package-data]): {missing}"
    site = Path(installed.py("import reviewops_workbooks as w; print(w.workbooks_dir())").strip())
    assert (site / "ReviewOps.xlsm").read_bytes() == (ROOT / "workbooks" / "ReviewOps.xlsm").read_bytes()
    assert (site / "lite" / "main.py").is_file() and (site / "lite" / "requirements.txt").is_file()


def test_demo_ran_from_an_empty_folder_into_the_temporary_home(installed: Installed):
    assert "reviewops serve" in installed.demo_output
    # the store is in the temporary XDG data folder, not the work folder nor the user's home
    dbs = list((installed.base / "home").rglob("*.db"))
    assert dbs, "the demo store was not created under the temporary HOME/XDG folders"
    assert not list(installed.work.rglob("*.db"))
    status = json.loads(installed.run("status", "--json").stdout)
    assert status["db"] == f"sqlite:///{installed.base / 'home' / 'data' / 'reviewops' / 'reviewops.db'}", status
    assert status["counts"]["reviews"] > 0 and status["counts"]["cases"] > 0, status


# ------------------------------------------------------------------ playbooks
def test_every_installed_playbook_runs_by_name_from_an_empty_folder(installed: Installed):
    names = json.loads(installed.py(
        "import json; from reviewops import runner;"
        "print(json.dumps(sorted(p.stem for p in runner.playbooks_dir().glob('*.ipynb'))))"))
    assert names == sorted(p.stem for p in (ROOT / "playbooks").glob("*.ipynb"))
    assert "weekly_top3" in names
    for name in names:
        out = installed.work / "reports" / name
        r = installed.run("run", name, "--out", str(out), "--no-progress", "--json", timeout=300)
        result = json.loads(r.stdout)
        assert set(result["outputs"]) >= {"ipynb", "html", "xlsx", "json"}, result
        for fmt, path in result["outputs"].items():
            if fmt in ("ipynb", "html", "xlsx", "json"):
                assert Path(path).is_file() and Path(path).stat().st_size > 0, (name, fmt, path)
        html = (out / f"{name}.html").read_text(encoding="utf-8")
        assert "Traceback" not in html, name


def test_a_shops_own_playbook_runs_by_path_in_a_kernel_that_imports_the_installed_package(installed: Installed):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('note = "默认"  # a parameter')
    params.metadata["tags"] = ["parameters"]
    probe = nbformat.v4.new_code_cell(
        "import json, sys, reviewops, reviewops_widgets\n"
        "print(json.dumps({'note': note, 'reviewops': reviewops.__file__,"
        " 'widgets': reviewops_widgets.__file__, 'python': sys.executable}))")
    nb.cells = [params, probe]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, installed.work / "my_copy.ipynb")
    out = installed.work / "reports" / "own"
    installed.run("run", "./my_copy.ipynb", "-p", "note=店铺自己的", "--out", str(out), "--no-progress")
    executed = nbformat.read(out / "my_copy.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []))
    seen = json.loads(text.strip().splitlines()[-1])
    assert seen["note"] == "店铺自己的"
    assert _under(seen["reviewops"], installed.venv) and _under(seen["widgets"], installed.venv), seen
    # a name that is neither installed nor a file says where it looked
    r = installed.run("run", "no_such_playbook", check=False)
    assert r.returncode != 0 and "reviewops_playbooks" in (r.stdout + r.stderr)


# ------------------------------------------------------------------ workbooks
def test_export_analysis_writes_the_workbook(installed: Installed):
    import openpyxl

    today = time.strftime("%Y-%m-%d")
    start = time.strftime("%Y-%m-%d", time.localtime(time.time() - 120 * 86400))
    out = installed.work / "分析.xlsx"
    r = installed.run("export", "analysis", "--period", f"{start}..{today}", "--out", str(out), "--json")
    info = json.loads(r.stdout)
    assert info["rows"]["评价分级"] > 0, info
    wb = openpyxl.load_workbook(out, read_only=True)
    assert {"说明", "评价分级", "案件", "补偿", "KPI"} <= set(wb.sheetnames)


def test_policy_workbook_exports(installed: Installed):
    import openpyxl

    out = installed.work / "策略.xlsx"
    installed.run("policy", "export", str(out))
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb.sheetnames[0] == "说明" and len(wb.sheetnames) > 3


def test_export_workbook_hands_out_the_excel_kit_from_the_installed_package(installed: Installed):
    out = installed.work / "excel"
    r = installed.run("export", "workbook", "--out", str(out), "--json")
    files = {Path(f).relative_to(out).as_posix() for f in json.loads(r.stdout)["files"]}
    assert files == {"ReviewOps.xlsm", "lite/main.py", "lite/requirements.txt"}
    assert (out / "ReviewOps.xlsm").read_bytes() == (ROOT / "workbooks" / "ReviewOps.xlsm").read_bytes()


# ------------------------------------------------------------------ serve
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_its_sign_in_page_and_stops_on_ctrl_c(installed: Installed):
    port = _free_port()
    log = (installed.base / "serve.log").open("w", encoding="utf-8")
    # Ctrl-C reaches a terminal program even when the test runner itself was started in the background
    # (a non-interactive shell's `cmd &` ignores SIGINT, and children inherit that): restore the default.
    proc = subprocess.Popen([str(installed.reviewops), "serve", "--port", str(port)], cwd=installed.work,
                            env=installed.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        body, deadline = "", time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, (installed.base / "serve.log").read_text(encoding="utf-8")[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as resp:
                    assert resp.status == 200
                    body = resp.read().decode("utf-8")
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        assert "登录" in body and 'type="password"' in body, body[:2000]
        # the workbench itself asks for sign-in first
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        except urllib.error.HTTPError as e:  # pragma: no cover - a redirect is followed to /login (200)
            pytest.fail(f"/ answered {e.code}")
        proc.send_signal(signal.SIGINT)  # Ctrl-C, as the CLI tells the user
        try:
            proc.wait(timeout=90)  # kernels still starting under load are shut down first
        except subprocess.TimeoutExpired:
            pytest.fail("reviewops serve did not stop within 90 s of Ctrl-C (SIGINT)")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
    text = (installed.base / "serve.log").read_text(encoding="utf-8")
    assert "工作台已停止" in text, text[-2000:]
