"""The library's shape (issue 16, docs/architecture.md): stage packages, imports one way, no cycles.

Checked on the package the suite imports (the installed wheel in CI), with the contracts in the
repository's pyproject.toml ([tool.importlinter]). Each guard is also shown to fail: a copy of the
package with one deliberate upward import breaks the layers contract, and a copy with one import
inside a function that closes a loop is reported as a cycle.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import grimp
import pytest

import reviewops

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
PKG_DIR = Path(reviewops.__file__).resolve().parent
STAGES = ("core", "intake", "grading", "handling", "prevention", "alerting", "reporting")
SHELLS = ("cli", "serve", "runner", "excel", "demo", "lab")


def _lint(pythonpath: Path | None, config: Path) -> subprocess.CompletedProcess[str]:
    env = None
    if pythonpath is not None:
        import os

        env = dict(os.environ, PYTHONPATH=str(pythonpath))
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))")
    return subprocess.run([sys.executable, "-c", code, str(config)], capture_output=True, text=True, env=env,
                          cwd=str(pythonpath or ROOT), timeout=300)


def _cycles(package: str) -> list[list[str]]:
    """Strongly connected components (size > 1) of the module import graph, imports inside functions and
    under TYPE_CHECKING included (grimp reads every import statement)."""
    graph = grimp.build_graph(package, cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def _copy_package(tmp_path: Path) -> Path:
    dest = tmp_path / "site"
    shutil.copytree(PKG_DIR, dest / "reviewops", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_the_package_folder_reads_as_the_playbook():
    entries = sorted(p.name for p in PKG_DIR.iterdir()
                     if p.name not in ("__init__.py", "__main__.py", "__pycache__", "py.typed")
                     and not p.name.startswith("."))  # tool caches in a developer's tree
    expected = sorted(list(STAGES) + [f"{s}.py" for s in SHELLS if s != "demo"] + ["demo"])
    assert entries == expected, entries
    for stage in STAGES + ("demo",):
        assert (PKG_DIR / stage / "__init__.py").is_file(), stage


def test_no_subpackage_shadows_a_public_name():
    for name in STAGES + SHELLS:
        assert name not in reviewops.__all__, name
    # the public functions keep their names even though modules of the same name exist below them
    assert callable(reviewops.triage) and callable(reviewops.classify)


def test_import_contracts_are_kept():
    r = _lint(None, PYPROJECT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 kept, 0 broken" in r.stdout


def test_an_upward_import_breaks_the_layers(tmp_path):
    site = _copy_package(tmp_path)
    errors = site / "reviewops" / "core" / "errors.py"
    errors.write_text(errors.read_text() + textwrap.dedent("""

        def _reaches_up():  # deliberate: the core asking the reports for something
            from ..reporting import reports

            return reports
        """))
    shutil.copy(PYPROJECT, site / "pyproject.toml")
    r = _lint(site, site / "pyproject.toml")
    assert r.returncode != 0, r.stdout
    assert "BROKEN" in r.stdout and "reviewops.core.errors -> reviewops.reporting.reports" in r.stdout, r.stdout


def test_the_import_graph_has_no_cycle():
    assert _cycles("reviewops") == []


def test_a_cycle_through_a_function_level_import_is_found(tmp_path, monkeypatch):
    site = _copy_package(tmp_path)
    money = site / "reviewops" / "core" / "money.py"
    # core.money ← core.policy imports it; a local import back into policy closes a loop
    money.write_text(money.read_text() + "\n\ndef _loop():\n    from .policy import default_policy\n\n"
                     "    return default_policy\n")
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[2]);"
            "import test_architecture as t; print(json.dumps(t._cycles('reviewops')))")
    r = subprocess.run([sys.executable, "-c", code, str(site), str(Path(__file__).parent)], capture_output=True,
                       text=True, timeout=300, cwd=str(site))
    assert r.returncode == 0, r.stderr
    assert "reviewops.core.money" in r.stdout and "reviewops.core.policy" in r.stdout, r.stdout


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_package_says_what_it_holds(stage):
    import importlib

    mod = importlib.import_module(f"reviewops.{stage}")
    assert mod.__doc__ and len(mod.__doc__.strip()) > 60
