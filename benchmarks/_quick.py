"""Quick mode shared by every benchmark here (``--quick``; tests/test_benchmarks_quick.py runs them all).

Contract of ``python benchmarks/X.py --quick``: small data, well under a minute, files written only to a
temporary place (never ``benchmarks/results/`` or ``docs/``), exit code 0, and the **last line of stdout is the
result as one JSON object**. The temporary place is ``$REVIEWOPS_BENCH_QUICK_DIR/<name>`` when that variable is
set (the test points it at its ``tmp_path`` to look at the files), else a temporary directory removed on exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

QUICK_DIR_ENV = "REVIEWOPS_BENCH_QUICK_DIR"


@contextlib.contextmanager
def quick_dir(name: str) -> Iterator[Path]:
    """Where a quick run writes its data and results."""
    given = os.environ.get(QUICK_DIR_ENV)
    if given:
        path = Path(given) / name
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix=f"reviewops-bench-{name}-") as tmp:
        yield Path(tmp)


def print_result(result: Any) -> None:
    """The quick-mode result line: one JSON object, the last line of stdout."""
    print(json.dumps(result, ensure_ascii=False, default=str), flush=True)
