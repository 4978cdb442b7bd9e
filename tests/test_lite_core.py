"""xlwings Lite's distribution, reviewops-core, works alone (issue 14, point 7).

xlwings Lite (Excel on Mac and the web) runs Pyodide, which installs a wheel's declared dependencies with
micropip and cannot install voila, ipykernel, pyahocorasick … So ``packaging/core/pyproject.toml`` builds
``reviewops-core`` from the same ``lib/reviewops`` with only Pyodide-installable dependencies. Here:

* the core wheel is built from a clean copy of ``lib/`` and ``packaging/core/``;
* it is installed ALONE into a fresh venv WITHOUT the test environment's packages, its declared
  dependencies (and xlwings, which Lite provides) from PyPI — pip's cache makes reruns quick;
* in that venv none of the server/UI packages is importable, and every function of
  ``workbooks/lite/main.py`` (the file a shop pastes into Lite, loaded with the real xlwings decorators)
  is called and gives real results — the same results as the full kit gives in the test environment.

Not covered: a real Pyodide inside Excel (no browser Excel in CI).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LITE_MAIN = ROOT / "workbooks" / "lite" / "main.py"

#: packages of the full kit that Pyodide cannot install or Lite does not need: none may be importable
ABSENT = ("voila", "ipykernel", "papermill", "ahocorasick", "jupyter_server", "ipywidgets", "nbformat",
          "nbconvert", "jupytext", "sklearn", "matplotlib", "openpyxl", "python_calamine", "xlsxwriter",
          "alembic", "click", "tqdm", "platformdirs", "psycopg")

#: what every Lite function is called with in the venv (and, for comparison, in the test environment)
CALLS: list[tuple[str, list]] = [
    ("ro_classify", ["质量太差了，用了两天就坏了，客服也不回复", 1.0]),
    ("ro_classify", ["很好很满意，物流也快，下次还来", 5.0]),
    ("ro_classify", [["物流太慢了，等了十天才到", "宝贝不错", None]]),
    ("ro_classify", ["还行", 7.0]),
    ("ro_triage", [[["订单号", "评价内容", "评分", "评价时间", "平台"],
                    ["3287461953021847561", "质量太差，一洗就破，要求退款", 1.0, 45962.5, "淘宝"],
                    ["3287461953021847562", "很好，会回购", 5.0, 45962.5, "京东"]], 45962.5]),
    ("ro_sla", ["质量", "2026-11-20 17:30"]),
    ("ro_sla", ["物流", 45962.5]),
    ("ro_sla", ["天气", 45962.5]),
    ("ro_remedy", [129.5, "高价值"]),
    ("ro_remedy", [100.0, None]),
    ("ro_tier", [1500.0, 6.0, None]),
    ("ro_reply", ["物流", "退款并附赠5元优惠券", "张女士", "淘宝"]),
    ("ro_mask", ["收件人电话 13800138000，身份证 110101199001010017"]),
]

_PROBE = r"""
import importlib.util, json, sys
sys.path.insert(0, sys.argv[1])   # the folder of workbooks/lite/main.py, as Lite's main.py tab
import main                        # the real xlwings decorators
import reviewops
lexicon = sys.modules["reviewops.grading.lexicon"]  # the matcher lives with the lexicon
calls = json.loads(sys.argv[2])
results = [getattr(main, name)(*args) for name, args in calls]
print(json.dumps({
    "results": results,
    "absent": [m for m in json.loads(sys.argv[3]) if importlib.util.find_spec(m) is not None],
    "reviewops": reviewops.__file__,
    "xlwings": __import__("xlwings").__file__,
    "matcher": type(lexicon._new_matcher("auto")).__name__,  # pyahocorasick absent: the pure-Python one
    "prefix": sys.prefix,
}, ensure_ascii=False, default=str))
"""

pytestmark = pytest.mark.timeout(900)


@dataclass
class Core:
    wheel: Path
    venv: Path
    work: Path
    env: dict[str, str]

    def python(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.venv / "bin" / "python"), *args], cwd=self.work, env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)


def _lite_functions() -> list[str]:
    tree = ast.parse(LITE_MAIN.read_text(encoding="utf-8"))
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef)
            and any(getattr(d, "id", None) == "func" for d in n.decorator_list)]


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Core:
    base = tmp_path_factory.mktemp("lite_core")
    src = base / "src"  # the layout packaging/core expects: ../../lib
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    shutil.copytree(ROOT / "lib", src / "lib", ignore=ignore)
    shutil.copytree(ROOT / "packaging" / "core", src / "packaging" / "core", ignore=ignore)
    dist = base / "dist"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist),
                        str(src / "packaging" / "core")], capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = dist.glob("reviewops_core-*.whl")

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=180)  # no system packages
    home = base / "home"
    home.mkdir()
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1",
           # pip's own cache (not the temporary HOME's), so reruns do not download again
           "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")}
    for k in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY",
              "https_proxy", "http_proxy", "no_proxy", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        if k in os.environ:
            env[k] = os.environ[k]
    # the core wheel and its declared dependencies only (+ xlwings, which Lite itself provides)
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel), "xlwings"],
                       env=env, capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, f"installing the core wheel from PyPI failed:\n{r.stderr[-3000:]}"
    work = base / "work"
    work.mkdir()
    return Core(wheel=wheel, venv=venv, work=work, env=env)


@pytest.fixture(scope="module")
def probe(core: Core) -> dict:
    r = core.python("-c", _PROBE, str(LITE_MAIN.parent), json.dumps(CALLS, ensure_ascii=False), json.dumps(ABSENT))
    assert r.returncode == 0, r.stderr[-4000:]
    return json.loads(r.stdout)


# ------------------------------------------------------------------ the distribution
def test_core_declares_only_pyodide_installable_dependencies(core: Core):
    with zipfile.ZipFile(core.wheel) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode("utf-8")
        names = zf.namelist()
    requires = {re.split(r"[<>=!~ ;\[]", ln.split(":", 1)[1].strip())[0].lower()
                for ln in meta.splitlines() if ln.startswith("Requires-Dist:")}
    assert requires == {"pandas", "numpy", "sqlalchemy", "cryptography", "chinesecalendar", "tzdata"}, requires
    # the same floor as the full kit for every dependency they share
    full = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    core_deps = tomllib.loads((ROOT / "packaging" / "core" / "pyproject.toml").read_text(encoding="utf-8"))
    for dep in core_deps["project"]["dependencies"]:
        name = re.split(r"[<>=!~ ;\[]", dep)[0].lower()
        same = [d for d in full if re.split(r"[<>=!~ ;\[]", d)[0].lower() == name]
        assert not same or same[0].replace(" ", "") == dep.replace(" ", ""), (dep, same)
    # the whole library from the same source, its data, no other top-level package, no console script
    lib = {p.relative_to(ROOT / "lib").as_posix() for p in (ROOT / "lib" / "reviewops").rglob("*.py")
           if "__pycache__" not in p.parts}
    assert lib <= set(names), sorted(lib - set(names))
    assert "reviewops/core/data/lexicon_zh.tsv" in names
    assert {n.split("/")[0] for n in names if not n.startswith("reviewops_core-")} == {"reviewops"}
    assert not any(n.endswith("entry_points.txt") for n in names)
    assert "Version: " + _version() in meta


def _version() -> str:
    text = (ROOT / "lib" / "reviewops" / "core" / "__init__.py").read_text(encoding="utf-8")  # the one literal
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def test_the_core_venv_has_none_of_the_server_packages(core: Core, probe: dict):
    assert probe["absent"] == [], f"importable in the core venv: {probe['absent']}"
    assert Path(probe["prefix"]).resolve() == core.venv.resolve()
    assert Path(probe["reviewops"]).resolve().is_relative_to(core.venv.resolve()), probe["reviewops"]
    assert Path(probe["xlwings"]).resolve().is_relative_to(core.venv.resolve()), probe["xlwings"]
    assert probe["matcher"] == "RegexMatcher", probe["matcher"]


def test_lite_requirements_name_the_core_wheel_and_nothing_pyodide_lacks():
    lines = [ln.split("#")[0].strip() for ln in
             (ROOT / "workbooks" / "lite" / "requirements.txt").read_text(encoding="utf-8").splitlines()]
    lines = [ln for ln in lines if ln]
    wheels = [ln for ln in lines if ln.startswith("https://")]
    assert len(wheels) == 1 and wheels[0].endswith(f"/reviewops_core-{_version()}-py3-none-any.whl"), wheels
    names = {re.split(r"[<>=!~ ;\[]", ln)[0].lower() for ln in lines if ln not in wheels}
    assert names <= {"xlwings", "pandas", "numpy", "sqlalchemy", "cryptography", "chinesecalendar", "tzdata",
                     "python-dateutil"}, names
    assert "reviewops" not in names and "pyahocorasick" not in names


# ------------------------------------------------------------------ every Lite function, for real
def test_every_lite_function_is_exercised():
    called = {name for name, _ in CALLS}
    assert called == set(_lite_functions()), (called, _lite_functions())


def test_lite_functions_give_real_results_in_the_core_venv(probe: dict):
    res = dict(enumerate(probe["results"]))
    neg, pos, column, bad_rating = res[0], res[1], res[2], res[3]
    assert neg[0] is True and neg[1] >= 0.5 and neg[2] == "quality", neg
    assert pos[0] is False and pos[2] == "", pos
    assert column[0] == ["中差评", "负面分", "主分类", "全部分类"]
    assert column[1][0] is True and column[1][2] == "logistics" and column[2][0] is False, column
    assert bad_rating == "#错误: 评分应为1–5，收到 7", bad_rating

    table = res[4]
    head = table[0]
    assert head[:2] == ["订单号", "中差评"] and "响应截止(北京时间)" in head, head
    rows = [dict(zip(head, row)) for row in table[1:]]
    assert rows[0]["订单号"] == "3287461953021847561" and rows[0]["中差评"] is True
    assert rows[0]["主分类"] == "quality" and rows[0]["响应时效(小时)"] > 0 and rows[0]["负责角色"]
    assert rows[0]["响应截止(北京时间)"].startswith("2025-11-01"), rows[0]
    assert rows[1]["中差评"] is False and rows[1]["响应时效(小时)"] is None

    assert res[5] == [4.0, "supervisor", "2026-11-20 21:30:00"], res[5]  # docs/excel.md's example
    hours, role, due = res[6]
    assert hours > 0 and role and due.startswith("2025-11-01"), res[6]
    assert res[7].startswith("#错误: 未知分类 '天气'"), res[7]

    assert res[8][:4] == ["补发", "10", "agent", "VIP专属礼包"], res[8]
    assert res[9][:3] == ["退款", "5", "agent"], res[9]  # bands are right-closed: 100 yuan is in 0–100
    assert res[10][0] == "high_value", res[10]
    assert "退款" in res[11][0] and res[11][1] == "", res[11]
    assert res[12] == "收件人电话 138****8000，身份证 110101********0017", res[12]


def test_core_results_equal_the_full_kit(probe: dict, monkeypatch: pytest.MonkeyPatch):
    """Same source, same answers: the full kit in the test environment gives the same results."""
    monkeypatch.delenv("REVIEWOPS_DB", raising=False)
    from reviewops import excel

    expected = [getattr(excel, name)(*args) for name, args in CALLS]
    assert json.loads(json.dumps(expected, ensure_ascii=False, default=str)) == probe["results"]
