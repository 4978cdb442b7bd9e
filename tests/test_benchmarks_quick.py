"""Every benchmark in ``benchmarks/`` runs in its quick mode (issue 15 §5: benchmarks that cannot rot).

One test per ``benchmarks/*.py`` (discovered from the folder; helper modules — ``datagen.py`` and files whose
name starts with ``_`` — are not benchmarks): ``python benchmarks/X.py --quick`` as a subprocess from the
repository root, the way a person runs it, against the *installed* ``reviewops`` (CI installs the wheel, not
editable). What is checked is that it runs, not its figures:

* exit code 0 within the timeout (a benchmark without ``--quick`` fails here: argparse exits with 2);
* the last line of stdout is the result as one JSON object (the contract in ``benchmarks/_quick.py``), with the
  keys listed below for the known benchmarks;
* its files went to ``$REVIEWOPS_BENCH_QUICK_DIR`` (the test's ``tmp_path``), and ``benchmarks/results/`` was
  not touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
HELPERS = {"datagen.py"}  # imported by the benchmarks; not benchmarks themselves
QUICK_DIR_ENV = "REVIEWOPS_BENCH_QUICK_DIR"  # benchmarks/_quick.py


def _benchmarks() -> list[str]:
    return sorted(p.name for p in BENCH.glob("*.py") if p.name not in HELPERS and not p.name.startswith("_"))


# name -> (keys the result JSON must have, file the run must have written under QUICK_DIR_ENV or None, marks,
# timeout in seconds). A benchmark not listed here still has to pass the generic checks.
EXPECT: dict[str, tuple[set[str], str | None, tuple, int]] = {
    "accuracy.py": ({"corpus", "cold_start", "text_model", "categories"}, "accuracy/accuracy.json", (), 240),
    "accuracy_extortion.py": ({"split", "precision", "recall", "block_rate", "false_block_rate"},
                              "accuracy_extortion/accuracy_extortion.json", (), 240),
    "bench_extortion.py": ({"unique", "realistic"}, "extortion/extortion.json", (), 240),
    "bench_classify.py": ({"env", "corpus_batch", "rows"}, "classify/classify.json", (), 240),
    "bench_demo.py": ({"scale", "wall_s", "cpu_s", "phases_s", "cases"}, None, (), 240),
    "bench_excel.py": ({"function", "runs"}, "excel/excel.json", (), 240),
    "bench_risk.py": ({"speed", "store", "lift"}, "risk/risk.json", (), 240),
    "bench_listing_audit.py": ({"scale", "demo_s", "audit"}, "listing_audit/listing_audit.json", (), 240),
    "bench_import.py": ({"machine", "benchmarks", "profile", "loadavg_start"}, "import/import.json", (), 240),
    "bench_triage.py": ({"frame", "store"}, "triage/triage.json", (), 240),
    "bench_watch.py": ({"phases", "receiver", "goals"}, "watch/watch.json", (pytest.mark.slow,), 300),
    "bench_weekly_top3.py": ({"inprocess", "statements", "end_to_end"}, "weekly_top3/weekly_top3.json",
                             (pytest.mark.slow,), 300),
    "bench_workbench.py": ({"cases", "timings"}, "workbench/workbench.json", (), 240),
    "train_extortion_model.py": ({"version", "matches_shipped", "missing_sha1"},
                                 "extortion_model/extortion_model.json", (), 240),
    "train_guard_model.py": ({"version", "matches_shipped", "missing_sha1"}, "guard_model/guard_model.json", (), 240),
    "bench_workbench_browser.py": ({"first_open", "cold", "saves", "goals"},
                                   "workbench_browser/workbench_browser.json",
                                   (pytest.mark.e2e, pytest.mark.slow), 600),
}


def _params() -> list:
    out = []
    for name in _benchmarks():
        marks = EXPECT.get(name, (set(), None, (), 240))[2]
        out.append(pytest.param(name, marks=marks, id=name.removesuffix(".py")))
    return out


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else {}


def test_the_benchmark_list_is_discovered() -> None:
    """The folder holds the benchmarks this file knows, and each known one still exists (no stale entry)."""
    found = set(_benchmarks())
    assert "bench_import.py" in found and "datagen.py" not in found
    assert set(EXPECT) <= found, f"listed here but gone from benchmarks/: {sorted(set(EXPECT) - found)}"


@pytest.mark.parametrize("name", _params())
def test_benchmark_quick_mode_runs(name: str, tmp_path: Path) -> None:
    keys, written, _marks, timeout = EXPECT.get(name, (set(), None, (), 240))
    if name == "bench_workbench_browser.py":
        chromium = Path("/usr/bin/chromium")
        if not os.access(chromium, os.X_OK):
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail("CI=true but /usr/bin/chromium is missing (.ci/run installs it)", pytrace=False)
            pytest.skip("/usr/bin/chromium is missing (apt-get install chromium fonts-noto-cjk)")
    env = {k: v for k, v in os.environ.items() if k not in ("REVIEWOPS_DB",)}
    env[QUICK_DIR_ENV] = str(tmp_path)
    before = _snapshot(RESULTS)
    try:
        proc = subprocess.run([sys.executable, str(Path("benchmarks") / name), "--quick"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"")[-3000:] if isinstance(e.stdout, bytes) else (e.stdout or "")[-3000:]
        pytest.fail(f"benchmarks/{name} --quick took longer than {timeout} s\n{out}", pytrace=False)
    tail = f"--- stdout (end) ---\n{proc.stdout[-3000:]}\n--- stderr (end) ---\n{proc.stderr[-5000:]}"
    assert proc.returncode == 0, f"benchmarks/{name} --quick exited with {proc.returncode}\n{tail}"
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert lines, f"benchmarks/{name} --quick printed nothing\n{tail}"
    try:
        result = json.loads(lines[-1])
    except ValueError:
        pytest.fail(f"the last stdout line of benchmarks/{name} --quick is not JSON:\n{lines[-1][:500]}\n{tail}",
                    pytrace=False)
    assert isinstance(result, dict) and result, f"benchmarks/{name} --quick: the result is not a JSON object"
    missing = keys - set(result)
    assert not missing, f"benchmarks/{name} --quick: result lacks {sorted(missing)} (has {sorted(result)})"
    if written:
        path = tmp_path / written
        assert path.is_file(), f"benchmarks/{name} --quick did not write {written} under ${QUICK_DIR_ENV}"
        assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    after = _snapshot(RESULTS)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"benchmarks/{name} --quick changed benchmarks/results/: {changed}"
