"""Small builders of test files shared by the test modules."""

from __future__ import annotations

import io

import openpyxl


def xlsx_bytes(sheets: dict[str, list[list]]) -> bytes:
    """An XLSX workbook with one sheet per ``{name: rows}`` entry (openpyxl, as Excel would save it)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
