"""The ReviewOps Excel workbooks, installed as ``reviewops_workbooks``.

This folder is ``workbooks/`` in the repository; ``pip install .`` ships it inside the wheel:
``ReviewOps.xlsm`` (classic xlwings, Windows) and ``lite/main.py`` + ``lite/requirements.txt``
(xlwings Lite). ``build_workbook.py`` is the maintainers' script that rebuilds the ``.xlsm``.
See docs/excel.md.
"""

from __future__ import annotations

from pathlib import Path


def workbooks_dir() -> Path:
    """The installed folder holding ``ReviewOps.xlsm`` and ``lite/`` (``workbooks/`` in the repository)."""
    return Path(__file__).resolve().parent
