"""Spreadsheet-safe output (S-01, S-02).

User text (reviews, chats, nicknames) must never become a formula when a file
is opened in Excel or WPS: a cell whose NFKC-normalised, left-stripped text
starts with ``= + - @``, tab, CR, NUL or ``{=`` gets a leading apostrophe. The
importer strips exactly that apostrophe again, so export → import round-trips.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import tempfile
import unicodedata
from collections.abc import Iterable
from pathlib import Path

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0", "{=")


def formula_safe(value: object) -> object:
    """Prefix ``'`` to text that a spreadsheet would run as a formula; other values pass unchanged."""
    if not isinstance(value, str) or not value:
        return value
    probe = unicodedata.normalize("NFKC", value)
    if value.startswith(("\t", "\r", "\0")) or probe.lstrip(" ").startswith(_TRIGGERS):
        return "'" + value
    return value


def write_csv_atomic(path: Path, header: list[str], rows: Iterable[Iterable[object]]) -> Path:
    """Write a UTF-8-SIG CSV (RFC 4180 quoting, formula-safe cells) via a temporary file and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh, quoting=csv.QUOTE_ALL)
            w.writerow([formula_safe(h) for h in header])
            for row in rows:
                w.writerow(["" if v is None else formula_safe(v) for v in row])
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path



def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
