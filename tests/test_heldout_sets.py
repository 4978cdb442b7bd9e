"""The held-out malicious-review sets (issue 17) pass their one checker, and the checker catches damage.

``benchmarks/data/malicious/check_fresh.py`` is the format and independence checker of every fresh
held-out set (its ``SETS`` table holds each set's rules). These tests run it on the committed sets and
on a damaged copy, so a hand edit that breaks a set's sha1 column, labels or independence fails CI.
"""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

MALICIOUS = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "malicious"


def _checker(root: Path):
    spec = importlib.util.spec_from_file_location("check_fresh_under_test", MALICIOUS / "check_fresh.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.HERE = root
    return mod


def test_every_committed_set_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    mod = _checker(MALICIOUS)
    present = [n for n in mod.SETS if (MALICIOUS / n).is_dir()]
    assert {"fresh", "fresh2"} <= set(present)
    assert mod.main([]) == 0
    out = capsys.readouterr().out
    assert out.count("\nok") + out.startswith("ok") == len(present), out


@pytest.fixture
def copy_of_sets(tmp_path: Path) -> Path:
    root = tmp_path / "malicious"
    root.mkdir()
    for f in ("buyer_texts.tsv", "seller_messages.tsv"):
        shutil.copy(MALICIOUS / f, root / f)
    for name in ("fresh", "fresh2"):
        shutil.copytree(MALICIOUS / name, root / name)
    return root


def _edit_line(path: Path, n: int, fn) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[n] = fn(lines[n])
    path.write_text("\n".join(lines), encoding="utf-8")


def test_a_changed_text_without_its_sha1_is_caught(copy_of_sets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mod = _checker(copy_of_sets)
    assert mod.main(["fresh2"]) == 0
    def add_a_char_to_the_text(line: str) -> str:
        cells = line.split("\t")
        cells[2] += "改"
        return "\t".join(cells)
    _edit_line(copy_of_sets / "fresh2" / "buyer_texts.tsv", 5, add_a_char_to_the_text)
    assert mod.main(["fresh2"]) == 1
    assert "sha1 column does not match" in capsys.readouterr().out


def test_a_row_copied_from_an_earlier_set_is_caught(copy_of_sets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mod = _checker(copy_of_sets)
    earlier = (copy_of_sets / "fresh" / "buyer_texts.tsv").read_text(encoding="utf-8").split("\n")[1].split("\t")
    # fresh2's row 1 takes fresh's first text, with a consistent sha1: only the independence check can see it
    def swap(line: str) -> str:
        cells = line.split("\t")
        cells[2], cells[-1] = earlier[2], earlier[-1]
        return "\t".join(cells)
    _edit_line(copy_of_sets / "fresh2" / "buyer_texts.tsv", 1, swap)
    assert mod.main(["fresh2"]) == 1
    assert "also in the earlier sets: ['GB0001']" in capsys.readouterr().out


def test_a_label_without_a_kind_is_caught(copy_of_sets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mod = _checker(copy_of_sets)
    path = copy_of_sets / "fresh" / "seller_messages.tsv"
    rows = path.read_text(encoding="utf-8").split("\n")
    n = next(i for i, r in enumerate(rows[1:], 1) if r.split("\t")[2] == "1")  # a blocked row
    _edit_line(path, n, lambda line: "\t".join(c if i != 3 else "" for i, c in enumerate(line.split("\t"))))
    assert mod.main(["fresh"]) == 1
    assert "label 1 needs a kind" in capsys.readouterr().out


def test_unknown_set_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert _checker(MALICIOUS).main(["nosuchset"]) == 2
    assert "unknown set" in capsys.readouterr().out
