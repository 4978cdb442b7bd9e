"""Named exceptions of ReviewOps.

Every message says what went wrong, the value received and what to do next,
in Chinese first with English alongside. Shells (CLI, forms, Excel functions)
translate these into their own way of showing an error; they never parse the
text.

* ReviewOpsError                 base of everything the kit raises on purpose
  + ImportRejected               a file failed validation; ``problems`` lists every one
  + UnknownLayout                the headers match no known or saved layout
  + UnsupportedFile              the bytes are not a table we can read (type, encoding, size)
  + StoreError                   the database cannot be opened or used safely
    - NetworkFilesystemError     SQLite on a network share in multi-user mode (R-08)
    - ConflictError              optimistic-lock conflict: the row changed under you (R-03)
    - NotFound                   a case, shop or layout that does not exist
  + ConfigError                  a bad option, URL or mapping given by the user
    - PolicyInvalid              a policy (workbook or JSON) failed validation; ``problems`` lists every one
    - ModelError                 a text model cannot be trained or loaded
  + AccessDenied                 the signed-in user may not do this (role, shop, own request, unmask)
  + ComplianceBlocked            a message or remedy breaks the compliance rules (conditional incentives)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class ReviewOpsError(Exception):
    """Base class of every error the kit raises on purpose."""

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": str(self)}


@dataclass(frozen=True)
class Problem:
    """One validation problem, in spreadsheet terms.

    ``row`` is the row number as Excel shows it (1-based, counting banner and
    header rows); ``None`` when the problem concerns the whole file.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    reason_zh: str
    reason_en: str
    code: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" 第{self.row}行 (row {self.row})"
        if self.column:
            where += f" 列「{self.column}」"
        value = "" if self.value is None else f" 值 value={_short(self.value)!r}"
        return f"{where}{value}: {self.reason_zh} / {self.reason_en}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _listed(problems: list[Problem], limit: int) -> tuple[str, str]:
    """The first ``limit`` problems as indented lines, and a "… n more" line for the rest (or "")."""
    n = len(problems)
    shown = "\n".join(f"  - {p}" for p in problems[:limit])
    more = f"\n  … 另有 {n - limit} 个问题 / {n - limit} more" if n > limit else ""
    return shown, more


class ImportRejected(ReviewOpsError):
    """A file (or part of it) failed validation; nothing of it was written."""

    def __init__(self, file: str, problems: list[Problem], *, rows_read: int = 0):
        self.file = file
        self.problems = problems
        self.rows_read = rows_read
        n = len(problems)
        shown, more = _listed(problems, 20)
        super().__init__(
            f"导入被拒绝：{file} 有 {n} 个问题，未写入任何数据。"
            f"修正后重新导入，或加 --skip-bad-rows 只导入合格的行。\n"
            f"Import rejected: {file} has {n} problem(s); nothing was written. "
            f"Fix them and re-import, or use --skip-bad-rows to import only the valid rows.\n"
            f"{shown}{more}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": type(self).__name__,
            "file": self.file,
            "rows_read": self.rows_read,
            "problems": [p.to_dict() for p in self.problems],
        }


class UnknownLayout(ReviewOpsError):
    """The file's headers match no built-in or saved layout."""

    def __init__(self, file: str, headers: list[str], detail: str = ""):
        self.file = file
        self.headers = headers
        shown = ", ".join(h for h in headers[:40] if h)
        super().__init__(
            f"无法识别表头：{file}。找到的列：[{shown}]。{detail}"
            f"请用 --platform/--kind 指明平台和类型，或用 --map '表头=字段,…' 映射一次并用 --save-layout 名称 保存。\n"
            f"Unrecognised headers in {file}. Columns found: [{shown}]. {detail}"
            f"Give --platform/--kind, or map the columns once with --map 'header=field,…' "
            f"and save them with --save-layout NAME."
        )


class UnsupportedFile(ReviewOpsError):
    """The bytes are not a table ReviewOps can read."""


class StoreError(ReviewOpsError):
    """The database cannot be opened or used safely."""


class NetworkFilesystemError(StoreError):
    """An SQLite file on a network filesystem was opened in multi-user mode (R-08)."""


class ConflictError(StoreError):
    """Optimistic-lock conflict: the row changed since it was read (R-03, R-05)."""


class NotFound(StoreError):
    """A case, shop, layout or other record that does not exist."""


class ConfigError(ReviewOpsError):
    """A bad option, URL or mapping given by the user."""


class PolicyInvalid(ConfigError):
    """A policy failed validation; ``problems`` names sheet, row and column of each. Nothing was stored."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        n = len(problems)
        shown, more = _listed(problems, 30)
        super().__init__(
            f"策略无效：{source} 有 {n} 个问题，未保存。请按提示修改后重新导入。\n"
            f"Policy rejected: {source} has {n} problem(s); nothing was stored. Fix them and import again.\n"
            f"{shown}{more}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "source": self.source,
                "problems": [p.to_dict() for p in self.problems]}


class ModelError(ConfigError):
    """A text model cannot be trained (too few labelled reviews) or loaded (unknown version, bad blob)."""


class AccessDenied(ReviewOpsError):
    """The signed-in user may not do this: wrong role, another shop's case, approving their own
    request, unmasking without the right, or no valid server-side identity. Always audited."""


class ComplianceBlocked(ReviewOpsError):
    """A message, template or remedy breaks the compliance rules (SPEC Compliance): conditional
    incentives for a review change, or revision guidance before the remedy was delivered."""
