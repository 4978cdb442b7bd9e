"""Excel functions (xlwings UDFs): ``=RO_CLASSIFY(A2)``, ``=RO_TRIAGE(A1:F5000)`` … for analysts.

Every function here is a thin wrapper: it converts what Excel sends, calls one
``reviewops`` function and shapes the result for a sheet. No rule lives here.

What Excel sends, and what these functions accept:

* numbers arrive as floats (classic xlwings) or ints (Office.js); whole floats are whole numbers;
* blank cells arrive as None;
* dates arrive as ``datetime`` (a cell formatted as a date) or as the Excel serial number
  (1900 date system: 45962.5 = 2025-11-01 12:00; serial 60 is the non-existent 1900-02-29 and is
  refused) or as text such as ``2025-11-01 12:00``; naive times are Beijing time;
* a range arrives as a list (one row or column) or a list of lists (2-D);
* error cells arrive as ``"#N/A"``, ``"#VALUE!"`` … (``err_to_str``), or as COM error codes.

What they return: plain values and lists (a list of lists spills as a table on Excel 365);
times as **naive Beijing-time datetimes** (Excel has no time zones); money as yuan text
(``"129.5"``); order IDs as text. Text that came from users is made formula-safe
(:func:`reviewops.core.outputs.formula_safe`, S-01/S-02) and personal numbers are masked.
A problem never raises: the function returns a short Chinese error text starting with
``#错误:`` instead (e.g. ``#错误: 评分应为1–5，收到 7``).

Nothing here changes any state (S-13): no store writes (but the access-log row of a refused
token, below), no policy saves, no files, no network.
The policy is the default one unless ``REVIEWOPS_DB`` names a store; then it is that store's
newest policy, read without ever storing one. :func:`ro_cases` and :func:`ro_kpi` read the
store named by ``REVIEWOPS_DB`` (or the default store) through a read-only connection (SQLite
``mode=ro``, PostgreSQL read-only transactions), never migrate it, and show only the shops of
the user whose personal token is in ``REVIEWOPS_TOKEN`` (``reviewops users token NAME`` prints
it once; the store keeps only its hash), who must be an active ReviewOps user. A refused token
is the one thing they write: a row in the access log, on a connection of its own.

xlwings is optional: without it the decorators below are identity functions, so the module
imports (and is tested) on any machine. Classic xlwings (Windows Excel) loads it through the
workbook's ``xlwings.conf`` sheet (``UDF Modules = reviewops.excel``); see docs/excel.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import re
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pandas as pd

from .core.columns import PLATFORM_ZH, PLATFORMS
from .core.errors import ReviewOpsError
from .core.outputs import formula_safe, local_naive
from .core.policy import CATEGORY_CODES, CATEGORY_ZH, Policy, default_policy, fen_to_yuan_text

_F = TypeVar("_F", bound=Callable[..., Any])

try:  # pragma: no cover - depends on the machine
    from xlwings import arg, func, ret
except ImportError:  # pragma: no cover - without xlwings the functions stay plain functions

    def func(f: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Identity stand-in for ``xlwings.func``."""
        return f if callable(f) else (lambda g: g)

    def arg(*args: Any, **kwargs: Any) -> Callable[[_F], _F]:
        """Identity stand-in for ``xlwings.arg``."""
        return lambda g: g

    def ret(*args: Any, **kwargs: Any) -> Callable[[_F], _F]:
        """Identity stand-in for ``xlwings.ret``."""
        return lambda g: g


__all__ = ["FUNCTIONS", "MAX_ROWS", "PURE_FUNCTIONS", "STORE_FUNCTIONS", "excel_datetime", "ro_cases",
           "ro_classify", "ro_kpi", "ro_mask", "ro_remedy", "ro_reply", "ro_risk", "ro_sla", "ro_tier", "ro_triage"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Largest range a function reads or returns (rows); more is refused (input) or cut with a note row (output).
MAX_ROWS = 100_000
#: Seconds a store's policy version is trusted before it is looked up again.
POLICY_TTL_S = 5.0
ERROR_PREFIX = "#错误: "

#: Excel error values as they arrive as text (``err_to_str``) and as COM error codes (classic, Windows).
EXCEL_ERRORS = frozenset({"#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!", "#SPILL!",
                          "#CALC!", "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!"})
_COM_ERRORS = {-2146826281: "#DIV/0!", -2146826246: "#N/A", -2146826259: "#NAME?", -2146826288: "#NULL!",
               -2146826252: "#NUM!", -2146826265: "#REF!", -2146826273: "#VALUE!"}


class ExcelInputError(ReviewOpsError):
    """A cell value the function cannot use; the message is the Chinese text shown in the cell."""


# ----------------------------------------------------------------- error text
def _error_text(e: BaseException) -> str:
    """The short Chinese text of an error (the part before `` / `` English)."""
    if isinstance(e, ExcelInputError):
        return ERROR_PREFIX + str(e)
    if isinstance(e, ReviewOpsError):
        msg = str(e).strip().split("\n")[0]
        zh = msg.split(" / ")[0].strip()
        if len(zh) > 160:
            zh = zh[:159] + "…"
        return ERROR_PREFIX + (zh or type(e).__name__)
    return ERROR_PREFIX + f"内部错误 {type(e).__name__}，请把这个单元格的输入发给管理员 / internal error"


def _safe(f: _F) -> _F:
    """Run ``f``; any exception becomes its ``#错误:`` text (Excel must never see a traceback)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - every failure is shown as text in the cell
            return _error_text(e)

    return wrapper  # type: ignore[return-value]


# ------------------------------------------------------------- Excel values in
def _excel_error(v: Any) -> str | None:
    """The Excel error a value stands for (``"#N/A"`` …), or None."""
    if isinstance(v, str):
        s = v.strip().upper()
        return s if s in EXCEL_ERRORS else None
    if isinstance(v, int) and not isinstance(v, bool) and v in _COM_ERRORS:
        return _COM_ERRORS[v]
    name = type(v).__name__.lower()
    if "error" in name and not isinstance(v, (str, int, float)):  # xlwings / pywintypes error objects
        return "#" + type(v).__name__
    return None


def _check(v: Any, what: str) -> Any:
    """``v`` unless it is an Excel error value (then refused naming ``what``); NaN → None."""
    err = _excel_error(v)
    if err:
        raise ExcelInputError(f"{what}是错误值 {err}，请先修正该单元格")
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, str) and not v.strip():
        return None
    return v


def _scalar(v: Any, what: str) -> Any:
    """One cell: a 1×1 range given as a list is unwrapped; a bigger range is refused."""
    while isinstance(v, (list, tuple)):
        if len(v) != 1:
            raise ExcelInputError(f"{what}只能是一个单元格，收到 {len(v)} 个")
        v = v[0]
    return _check(v, what)


def _column(v: Any, what: str) -> list[Any]:
    """A single cell, one row/column (list) or a one-column 2-D range → flat list of cells."""
    if not isinstance(v, (list, tuple)):
        return [v]
    if v and all(isinstance(r, (list, tuple)) for r in v):
        widths = {len(r) for r in v}
        if widths == {1}:
            out = [r[0] for r in v]
        elif len(v) == 1:
            out = list(v[0])
        else:
            raise ExcelInputError(f"{what}请只选一列（收到 {len(v)} 行 × {max(widths)} 列）")
    else:
        out = list(v)
    if len(out) > MAX_ROWS:
        raise ExcelInputError(f"{what}超过 {MAX_ROWS} 行（收到 {len(out)} 行），请分批计算")
    return out


_THOUSANDS_INT = re.compile(r"[+-]?[1-9]\d{0,2}(?:[,，]\d{3})+")


def _int(v: Any, what: str, *, blank: int | None = None) -> int:
    v = _scalar(v, what)
    if v is None:
        if blank is None:
            raise ExcelInputError(f"{what}不能为空")
        return blank
    if isinstance(v, bool):
        raise ExcelInputError(f"{what}应为整数，收到 {v}")
    if isinstance(v, str):
        text = v.strip()
        if ("," in text or "，" in text) and not _THOUSANDS_INT.fullmatch(text):  # "1,5" is not 15
            raise ExcelInputError(f"{what}应为整数，收到 {v!r}（逗号只能作千位分隔，如 1,234）")
        try:
            v = float(text.replace(",", "").replace("，", ""))
        except ValueError:
            raise ExcelInputError(f"{what}应为整数，收到 {v!r}") from None
    if isinstance(v, float) and not v.is_integer():
        raise ExcelInputError(f"{what}应为整数，收到 {v:g}")
    if not isinstance(v, (int, float)):
        raise ExcelInputError(f"{what}应为整数，收到 {v!r}")
    n = int(v)
    if n < 0:
        raise ExcelInputError(f"{what}不能为负，收到 {n}")
    return n


def _yuan_fen(v: Any, what: str, *, blank: int | None = None) -> int:
    """An amount in yuan (129.5, "¥129.50", "129元", "1,234.50") → integer fen with the kit's one yuan parser
    (:func:`reviewops.core.money.parse_yuan`): a comma only as a thousands separator in its place ("12,50" and
    "1,5" are refused, not read as 1,250 or 15 yuan); more than 2 decimals, negatives and another currency
    are refused too."""
    from .core.money import AmountError, parse_yuan

    v = _scalar(v, what)
    if v is None:
        if blank is None:
            raise ExcelInputError(f"{what}不能为空")
        return blank
    if isinstance(v, bool) or not isinstance(v, (int, float, str, Decimal)):
        raise ExcelInputError(f"{what}应为金额（元），收到 {v!r}")
    try:
        fen = parse_yuan(v)
    except AmountError as e:
        zh = str(e).split(" / ")[0]
        raise ExcelInputError(f"{what}{zh[2:]}" if zh.startswith("金额") else f"{what}：{zh}") from None
    if fen < 0:
        raise ExcelInputError(f"{what}不能为负，收到 {v}")
    if fen > 10**15:
        raise ExcelInputError(f"{what}过大，收到 {v}")
    return fen


_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def excel_datetime(v: Any, what: str = "时间") -> dt.datetime | None:
    """A cell's date/time → aware datetime (naive values are Beijing time); blank → None.

    Accepts ``datetime``/``date``/``pandas.Timestamp``, Excel serial numbers in the 1900 date
    system (1 = 1900-01-01; serials before 60 are shifted by Excel's 1900-02-29 bug; 60 itself
    does not exist and is refused) and text such as ``2025-11-01 12:00`` or ``2025/11/1``.
    """
    v = _scalar(v, what)
    if v is None:
        return None
    if isinstance(v, bool):
        raise ExcelInputError(f"{what}应为日期时间，收到 {v}")
    if isinstance(v, (int, float)):
        serial = float(v)
        if not math.isfinite(serial) or serial < 1 or serial >= 2958466:  # 9999-12-31 is the last Excel day
            raise ExcelInputError(f"{what}不是有效的 Excel 日期序号，收到 {v}")
        if 60 <= serial < 61:
            raise ExcelInputError(f"{what}是 1900-02-29（Excel 的虚构日期），收到序号 {v:g}")
        if serial < 60:
            serial += 1  # Excel counts the non-existent 1900-02-29
        naive = _EXCEL_EPOCH + dt.timedelta(days=serial)
        naive = naive.replace(microsecond=0) + dt.timedelta(seconds=round(naive.microsecond / 1e6))
        return naive.replace(tzinfo=SHANGHAI)
    if isinstance(v, str):
        try:
            ts = pd.Timestamp(v.strip().replace("年", "-").replace("月", "-").replace("日", " ").strip())
        except (ValueError, TypeError):
            raise ExcelInputError(f"{what}无法识别，收到 {v!r}；请写成 2025-11-01 12:00") from None
        if pd.isna(ts):
            return None
        v = ts.to_pydatetime()
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=SHANGHAI) if v.tzinfo is None else v
    if isinstance(v, dt.date):
        return dt.datetime.combine(v, dt.time(0), tzinfo=SHANGHAI)
    raise ExcelInputError(f"{what}应为日期时间，收到 {v!r}")


def _all_serials(col: pd.Series) -> bool:
    """True when every cell is an Excel serial after 1900-03-01 (61 ≤ n < 2958466) or blank, one not blank."""
    vals = [v for v in col.tolist() if v is not None]
    return bool(vals) and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 61 <= v < 2958466
                              for v in vals)


def _local(t: Any) -> dt.datetime | None:
    """Aware datetime → naive Beijing time for a cell (Excel has no time zones); NaT/None → None."""
    if t is None or t is pd.NaT or (not isinstance(t, dt.datetime) and pd.isna(t)):
        return None
    return local_naive(t)


def _order_id_text(v: Any) -> str | None:
    """An order ID cell as text; a number longer than 15 digits has lost digits in Excel and is refused."""
    if v is None or _excel_error(v):
        return None if v is None else _excel_error(v)
    if isinstance(v, float):
        if not v.is_integer():
            return formula_safe(repr(v))  # type: ignore[return-value]
        if abs(v) >= 1e15:
            return ERROR_PREFIX + "订单号被 Excel 存成了数字，后几位已丢失；请把该列设为文本后重新粘贴"
        return str(int(v))
    return formula_safe(str(v).strip())  # type: ignore[return-value]


_PLAIN_START = frozenset("=+-@\t\r\0{")


def _text_out(v: str) -> str:
    """:func:`~reviewops.core.outputs.formula_safe` with a fast path for text that plainly starts harmless
    (first character after spaces is ASCII and no trigger) — same result, no NFKC of long texts."""
    head = v.lstrip(" ")
    if head and head[0] < "\x80" and head[0] not in _PLAIN_START:
        return v
    return formula_safe(v)  # type: ignore[return-value]


def _cell(v: Any) -> Any:
    """One value for a sheet: text formula-safe, NaN/NaT → None, numpy scalars → Python."""
    if v is None:
        return None
    if isinstance(v, str):
        return _text_out(v)
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return _local(v)
    if hasattr(v, "item") and not isinstance(v, (list, tuple)):  # numpy scalar
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _cells(col: pd.Series) -> list[Any]:
    """A result column as sheet values (see :func:`_cell`), converted a column at a time."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        local = col.dt.tz_convert(SHANGHAI).dt.tz_localize(None)
        return [None if pd.isna(t) else t.to_pydatetime() for t in local]
    if pd.api.types.is_bool_dtype(col.dtype):
        return [bool(v) for v in col.tolist()]
    if pd.api.types.is_float_dtype(col.dtype):
        return [None if math.isnan(v) else v for v in col.tolist()]
    return [_cell(v) for v in col.tolist()]


# ------------------------------------------------------------- code lookups
def _norm_key(v: Any) -> str:
    import unicodedata

    return unicodedata.normalize("NFKC", str(v)).strip().lower().replace(" ", "_")


def _category_code(v: Any, policy: Policy, what: str = "分类") -> str:
    v = _scalar(v, what)
    if v is None:
        raise ExcelInputError(f"{what}不能为空；可用：{'、'.join(CATEGORY_ZH[c] for c in CATEGORY_CODES)}")
    key = _norm_key(v)
    names = {c: c for c in CATEGORY_CODES}
    names.update({_norm_key(z): c for c, z in CATEGORY_ZH.items()})
    names.update({_norm_key(r["name_zh"]): r["code"] for r in policy.tables["categories"]})
    if key in names:
        return names[key]
    raise ExcelInputError(f"未知{what} {v!r}；可用：{'、'.join(CATEGORY_ZH[c] for c in CATEGORY_CODES)} "
                          f"或代码 {', '.join(CATEGORY_CODES)}")


_PLATFORM_NAMES: dict[str, str] = {**{p: p for p in PLATFORMS}, **{z: p for p, z in PLATFORM_ZH.items()},
                                   "抖音": "douyin", "京麦": "jd", "千牛": "taobao"}


def _platform_code(v: Any, what: str = "平台") -> str:
    v = _scalar(v, what)
    if v is None:
        raise ExcelInputError(f"{what}不能为空；可用：{'、'.join(PLATFORM_ZH.values())}")
    key = _norm_key(v)
    if key in _PLATFORM_NAMES:
        return _PLATFORM_NAMES[key]
    raise ExcelInputError(f"未知{what} {v!r}；可用：{'、'.join(PLATFORM_ZH.values())} 或代码 {', '.join(PLATFORMS)}")


def _tier_code(v: Any, policy: Policy) -> str | None:
    v = _scalar(v, "客户分层")
    if v is None:
        return None
    key = _norm_key(v)
    for t in policy.tables["tiers"]:
        name = _norm_key(t["name_zh"])
        if key in (_norm_key(t["code"]), name, name.removesuffix("客户")):
            return str(t["code"])
    known = "、".join(f"{t['name_zh']}（{t['code']}）" for t in policy.tables["tiers"])
    raise ExcelInputError(f"未知客户分层 {v!r}；可用：{known}")


def _rating(v: Any, row: int | None = None) -> Any:
    """A rating cell checked: stars 1–5 (floats from Excel become ints), 好评/中评/差评, "4星"; blank → None."""
    from .grading.lexicon import _rating_stars

    where = f"第 {row} 行" if row is not None else ""
    v = _check(v, f"{where}评分")
    if v is None:
        return None
    if isinstance(v, bool):
        raise ExcelInputError(f"{where}评分应为1–5，收到 {v}")
    if isinstance(v, (int, float)):
        if not 1 <= v <= 5:
            raise ExcelInputError(f"{where}评分应为1–5，收到 {v:g}")
        return int(v) if float(v).is_integer() else float(v)
    if _rating_stars(v) is None:
        raise ExcelInputError(f"{where}评分应为1–5 或 好评/中评/差评，收到 {v!r}")
    return v


# ------------------------------------------------------------ store and policy
_lock = threading.Lock()
_stores: dict[str, Any] = {}
_versions: dict[str, tuple[float, int | None]] = {}
_policies: dict[tuple[str, int | None], Policy] = {}


def _db_url(required: bool) -> str | None:
    """The store URL from ``REVIEWOPS_DB``; without it the default store (``required``) or None."""
    from .core.store import ENV_DB, resolve_url

    raw = os.environ.get(ENV_DB, "").strip()
    if not raw:
        return resolve_url(None) if required else None
    return resolve_url(raw)


def _open_readonly(url: str) -> Any:
    """A :class:`~reviewops.core.store.Store` on a read-only connection; never creates or migrates a database.

    SQLite: the file must exist; it is opened with ``mode=ro`` (writes fail in SQLite itself).
    PostgreSQL: every transaction is ``READ ONLY``.
    """
    import sqlalchemy as sa

    from .core.store import Store, _safe_url

    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if not os.path.isfile(path):
            raise ExcelInputError(f"数据库文件不存在：{path}；请把 REVIEWOPS_DB 设为店铺数据库的路径")
        # a file: URI (percent-encoded, forward slashes — also for C:\… and Chinese folder names)
        import sqlite3
        from pathlib import Path

        uri = Path(path).resolve().as_uri() + "?mode=ro"  # handed to sqlite3 as is, never re-parsed

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, timeout=15, check_same_thread=False)

        engine = sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.QueuePool)
    else:
        try:
            engine = sa.create_engine(url, pool_pre_ping=True,
                                      execution_options={"postgresql_readonly": True})
        except ModuleNotFoundError:
            raise ExcelInputError("未安装 PostgreSQL 驱动：pip install 'reviewops[postgres]'") from None
    store = Store(engine, url)
    try:
        current = store.is_current()
    except Exception:  # noqa: BLE001
        current = False
    if not current:
        engine.dispose()
        raise ExcelInputError(f"数据库 {_safe_url(url)} 无法读取或版本较旧；请先用 reviewops 命令打开一次（会自动升级）")
    return store


def _store() -> Any:
    """The read-only store named by ``REVIEWOPS_DB`` (or the default store), opened once per URL."""
    url = _db_url(required=True)
    assert url is not None
    with _lock:
        s = _stores.get(url)
    if s is None:
        s = _open_readonly(url)
        with _lock:
            _stores[url] = s
    return s


def _policy() -> Policy:
    """The default policy, or the newest stored one of ``REVIEWOPS_DB`` (cached per db and version)."""
    url = _db_url(required=False)
    if url is None:
        return default_policy()
    from .core.policy import load_policy

    now = time.monotonic()
    with _lock:
        seen = _versions.get(url)
        if seen is not None and now - seen[0] < POLICY_TTL_S and (url, seen[1]) in _policies:
            return _policies[(url, seen[1])]
    p = load_policy(_store()) or default_policy()  # never stores a policy (current_policy would)
    with _lock:
        _versions[url] = (now, p.version)
        if len(_policies) > 16:
            _policies.clear()
        _policies[(url, p.version)] = p
    return p


#: the environment variable holding the analyst's personal token (``reviewops users token NAME``)
ENV_TOKEN = "REVIEWOPS_TOKEN"


def _actor(store: Any, policy: Policy, function: str = "RO_CASES") -> Any:
    """The ReviewOps user whose shops the store functions show: the active user whose personal token is in
    ``REVIEWOPS_TOKEN`` (:func:`reviewops.core.users.actor_for_token`) — never a name anyone could type. A missing,
    unknown or revoked token, or a disabled user, is refused and the refusal logged (:func:`_log_refusal`)."""
    from .core.errors import AccessDenied
    from .core.users import actor_for_token

    token = os.environ.get(ENV_TOKEN, "").strip()
    try:
        return actor_for_token(store, token, policy=policy)
    except AccessDenied as e:
        _log_refusal(store.url, function, e, token_given=bool(token))
        raise ExcelInputError(str(e).split("\n")[0]) from None


def _log_refusal(url: str, function: str, error: Exception, *, token_given: bool) -> None:
    """Write one refused read to the store's access log (action ``read``, outcome ``denied``, target
    ``excel:RO_CASES`` / ``excel:RO_KPI``): the only write these functions ever make, on a connection of
    its own, best effort (a store this machine may only read keeps no record). The token is never logged;
    the actor is ``excel:`` + the OS login (who sat at the machine), as claimed, not verified."""
    import getpass

    import sqlalchemy as sa

    from .core.users import log_access

    try:
        login = getpass.getuser()
    except Exception:  # noqa: BLE001
        login = "?"
    try:
        engine = sa.create_engine(url, connect_args={"timeout": 3} if url.startswith("sqlite") else {})
        try:
            with engine.begin() as conn:
                log_access(conn, actor=f"excel:{login}"[:64], role=None, action="read", outcome="denied",
                           target=f"excel:{function}",
                           detail={"reason": str(error)[:300], "token": "given" if token_given else "missing"})
        finally:
            engine.dispose()
    except Exception:  # noqa: BLE001 - the refusal stands whether or not it could be recorded
        pass


def _close_stores() -> None:
    """Dispose every cached store (tests; a changed ``REVIEWOPS_DB``)."""
    with _lock:
        for s in _stores.values():
            s.close()
        _stores.clear()
        _versions.clear()
        _policies.clear()


# ----------------------------------------------------------------- classify
_CLASSIFY_HEADER = ["中差评", "负面分", "主分类", "全部分类"]


@func
@arg("text", err_to_str=True, doc="评价内容：一个单元格，或一列评价（如 A2:A500）/ review text, one cell or a column")
@arg("rating", doc="可选：评分 1–5 或 好评/中评/差评，与评价一一对应 / optional rating, one per text")
@_safe
def ro_classify(text: Any, rating: Any = None) -> Any:
    """判断评价是否中差评，给出负面分、主分类和全部分类（一列评价时返回带表头的表）。
    Negative flag, score 0–1, primary category and categories of review text (reviewops.classify)."""
    from .grading.classify import classify

    policy = _policy()
    if not isinstance(text, (list, tuple)):
        t = _check(text, "评价内容")
        r = _rating(rating) if not isinstance(rating, (list, tuple)) else _rating(_scalar(rating, "评分"))
        row = classify([t], None if r is None else [r], policy=policy).iloc[0]
        return [bool(row["is_negative"]), float(row["negative_score"]), row["primary_category"] or "",
                row["categories"] or ""]
    cells = _column(text, "评价内容")
    errors = [_excel_error(t) for t in cells]  # an error cell gives an error row; the others are classified
    texts = [None if e else _check(t, "评价内容") for t, e in zip(cells, errors)]
    ratings = None
    if rating is not None:
        raw = _column(rating, "评分")
        if len(raw) != len(texts):
            raise ExcelInputError(f"评分有 {len(raw)} 个，评价有 {len(texts)} 条，请选同样多的行")
        ratings = [_rating(r, i + 1) for i, r in enumerate(raw)]
    frame = classify(texts, ratings, policy=policy)
    rows: list[list[Any]] = [list(_CLASSIFY_HEADER)]
    for err, (neg, score, prim, cats) in zip(errors, frame.itertuples(index=False)):
        rows.append([err, None, None, None] if err else [bool(neg), float(score), prim or "", cats or ""])
    return rows


# ------------------------------------------------------------------- triage
#: Header aliases (NFKC, lower case, spaces as _) → triage input field; other columns pass through.
TRIAGE_HEADERS: dict[str, str] = {}


def _build_headers() -> None:
    from .grading.triage import TRIAGE_INPUT

    for f in TRIAGE_INPUT:
        TRIAGE_HEADERS[_norm_key(f.name)] = f.name
        TRIAGE_HEADERS[_norm_key(f.zh)] = f.name
    TRIAGE_HEADERS.update({_norm_key(k): v for k, v in {
        "text": "content", "评价": "content", "内容": "content", "初评内容": "content", "评论内容": "content",
        "评价内容(初评)": "content", "追评": "append_content", "追评内容": "append_content",
        "评价等级": "rating", "星级": "rating", "评分": "rating", "rating": "rating",
        "created at": "created_at", "评价时间": "created_at", "初评时间": "created_at", "评论时间": "created_at",
        "detected at": "detected_at", "发现时间": "detected_at", "平台": "platform",
        "订单号": "order_id", "订单编号": "order_id", "主订单编号": "order_id", "order id": "order_id",
        "order_id": "order_id",
        "订单金额": "order_value", "实付金额": "order_value", "order value": "order_value",
        "order_value": "order_value",
    }.items()})


_build_headers()

#: The triage columns RO_TRIAGE returns, with their sheet headers.
TRIAGE_RESULT = (("is_negative", "中差评"), ("negative_score", "负面分"), ("primary_category", "主分类"),
                 ("categories", "全部分类"), ("severity", "严重程度"), ("sla_hours", "响应时效(小时)"),
                 ("owner_role", "负责角色"), ("due_at", "响应截止(北京时间)"), ("needs_appeal", "需申诉"),
                 ("reasons", "判定理由"))


def triage_frame(table: Any) -> pd.DataFrame:
    """The DataFrame :func:`ro_triage` hands to :func:`reviewops.grading.triage.triage` for a 2-D range with headers.

    Headers are mapped by :data:`TRIAGE_HEADERS` (Chinese or English); ratings are checked (1–5,
    好评/中评/差评); times become aware datetimes (serials, text, datetimes); order IDs stay text.
    """
    if not isinstance(table, (list, tuple)) or not table or not all(isinstance(r, (list, tuple)) for r in table):
        raise ExcelInputError("请选一个带表头的区域（第一行是表头，如 评价内容、评分、评价时间）")
    if len(table) - 1 > MAX_ROWS:
        raise ExcelInputError(f"区域超过 {MAX_ROWS} 行（收到 {len(table) - 1} 行），请分批计算")
    header = [_check(h, "表头") for h in table[0]]
    names: list[str] = []
    for i, h in enumerate(header):
        key = _norm_key(h) if h is not None else ""
        name = TRIAGE_HEADERS.get(key, f"col{i + 1}:{h}" if h is not None else f"col{i + 1}")
        if name in names:
            raise ExcelInputError(f"表头 {h!r} 重复（与另一列都表示 {name}）")
        names.append(name)
    if "content" not in names:
        raise ExcelInputError(f"没有找到评价内容列；表头应含 评价内容 或 text，收到 {[h for h in header]}")
    width = len(header)
    body = [list(r) + [None] * (width - len(r)) if len(r) < width else list(r)[:width] for r in table[1:]]
    # drop trailing blank rows (a whole-column selection)
    while body and all(v is None or (isinstance(v, str) and not v.strip()) for v in body[-1]):
        body.pop()
    cols: dict[str, list[Any]] = {n: [r[i] for r in body] for i, n in enumerate(names)}
    df = pd.DataFrame({n: pd.Series(v, dtype=object) for n, v in cols.items()}, columns=names)
    for name in ("content", "append_content"):
        if name in df:
            df[name] = [_check(v, f"第 {i + 2} 行评价内容") for i, v in enumerate(df[name])]
    if "rating" in df:
        seen: dict[Any, Any] = {}  # ratings repeat (1–5, 好评/中评/差评): check each distinct value once
        ratings = []
        for i, v in enumerate(df["rating"].tolist()):
            try:
                ratings.append(seen[v] if v in seen else seen.setdefault(v, _rating(v, i + 2)))
            except TypeError:  # unhashable cell
                ratings.append(_rating(v, i + 2))
        df["rating"] = pd.Series(ratings, index=df.index, dtype=object)
    for name in ("created_at", "detected_at"):
        if name in df and _all_serials(df[name]):
            df[name] = pd.to_datetime(pd.to_numeric(df[name]), unit="D", origin=_EXCEL_EPOCH).dt.round("s") \
                .dt.tz_localize(SHANGHAI)
        elif name in df:
            df[name] = pd.Series([excel_datetime(v, f"第 {i + 2} 行{'评价' if name == 'created_at' else '发现'}时间")
                                  for i, v in enumerate(df[name])], dtype=object)
    if "platform" in df:
        codes: dict[Any, str | None] = {}
        df["platform"] = [codes[v] if v in codes else codes.setdefault(
            v, None if _check(v, "平台") is None else _platform_code(v)) for v in df["platform"].tolist()]
    if "order_id" in df:
        df["order_id"] = [_order_id_text(v) for v in df["order_id"]]
    return df


@func
@arg("table", ndim=2, err_to_str=True,
     doc="带表头的区域：评价内容/text 必填，评分/rating、评价时间/created at、平台/platform、订单号 可选")
@arg("now", doc="可选：没有发现时间时用来起算时效的时间（默认现在，北京时间）/ optional clock start")
@_safe
def ro_triage(table: Any, now: Any = None) -> Any:
    """中差评分级：每行给出是否中差评、分类、响应时效、负责角色、截止时间（北京时间）和判定理由。
    Triage table for a range with a header row (reviewops.grading.triage.triage, vectorised)."""
    from .grading.triage import triage

    df = triage_frame(table)
    start = excel_datetime(now, "起算时间") if now is not None else None
    out = triage(df, _policy(), now=start.astimezone(dt.UTC) if start else None)
    header = (["订单号"] if "order_id" in df else []) + [h for _, h in TRIAGE_RESULT]
    rows: list[list[Any]] = [header]
    ids = [v if isinstance(v, str) else None for v in df["order_id"].tolist()] if "order_id" in df else None
    data = [_cells(out[c]) for c, _ in TRIAGE_RESULT]
    if ids is not None:
        data.insert(0, ids)
    rows.extend(list(r) for r in zip(*data))
    return rows


# ---------------------------------------------------------------------- sla
@func
@arg("category", doc="分类：中文名（物流、质量…）或代码（logistics…）/ category name or code")
@arg("created_at", doc="时效起算时间（日期时间或 Excel 日期序号，北京时间）/ when the clock starts")
@_safe
def ro_sla(category: Any, created_at: Any) -> Any:
    """分类的响应时效：返回 [时效(小时), 负责角色, 响应截止(北京时间)]，按策略的时钟（全天候或工作时间）。
    SLA hours, owner role and due time for a category from a start time (reviewops.core.sla)."""
    from .core.clock import calendar_of
    from .core.sla import add_working_time

    policy = _policy()
    code = _category_code(category, policy)
    start = excel_datetime(created_at, "起算时间")
    if start is None:
        raise ExcelInputError("起算时间不能为空")
    row = policy.category(code)
    hours = float(row["sla_hours"])
    due, _warnings = add_working_time(start.astimezone(dt.UTC), hours * 60.0, calendar_of(policy))
    return [hours, row["owner_role"], _local(due)]


# ------------------------------------------------------------ remedy / tier
@func
@arg("order_value", doc="订单金额（元），如 129.5 / order value in yuan")
@arg("tier", doc="可选：客户分层代码或中文名（如 high_value、高价值）/ optional customer tier")
@_safe
def ro_remedy(order_value: Any, tier: Any = None) -> Any:
    """按订单金额与客户分层给出补偿：返回 [补偿方式, 优惠券(元), 审批角色, 礼遇, 说明]（reviewops.handling.remedy.remedy_for）。
    Remedy band for an order value and tier: remedy, coupon (yuan), approver, gift, reason."""
    from .handling.remedy import remedy_for

    policy = _policy()
    r = remedy_for(_yuan_fen(order_value, "订单金额"), _tier_code(tier, policy), policy=policy)
    return [r.remedy_zh, fen_to_yuan_text(r.coupon_fen) if r.coupon_fen else "", r.approver_role,
            formula_safe(r.gift or ""), formula_safe(r.reason)]


@func
@arg("annual_spend", doc="近一年消费金额（元）/ spend in the last year, yuan")
@arg("orders", doc="订单数 / number of orders")
@arg("last_order_date", doc="可选：最近一次下单日期 / optional date of the last order")
@_safe
def ro_tier(annual_spend: Any, orders: Any, last_order_date: Any = None) -> Any:
    """客户分层（高价值、新客、沉默客户…）：返回 [分层代码, 分层名称, 理由]（reviewops.handling.remedy.tier_of）。
    Customer tier from annual spend (yuan), order count and last order date."""
    from .handling.remedy import tier_of

    policy = _policy()
    last = excel_datetime(last_order_date, "最近下单日期")
    today = dt.datetime.now(SHANGHAI).date()
    t = tier_of(_yuan_fen(annual_spend, "年消费金额"), _int(orders, "订单数", blank=0),
                last.astimezone(SHANGHAI).date() if last else None, policy=policy, today=today)
    return [t.code, t.name_zh, formula_safe(t.reason)]


# -------------------------------------------------------------------- reply
@func
@arg("category", doc="分类：中文名或代码 / category name or code")
@arg("remedy", doc="补偿：文字（如 退款并附赠5元优惠券）、代码 refund/resend/supervisor，或订单金额（数字，按档位）")
@arg("customer_name", doc="可选：顾客称呼（默认“亲”）/ optional customer name")
@arg("platform", doc="平台：淘宝、抖店、京东、拼多多… 或代码 / platform")
@_safe
def ro_reply(category: Any, remedy: Any = None, customer_name: Any = None, platform: Any = "taobao") -> Any:
    """3S 回复草稿（致歉-解决-微笑），在平台字数限制内：返回 [回复文本, 提示]（reviewops.handling.replies.draft_reply）。
    A 3S reply draft for a category, remedy, customer and platform; problems are listed next to it."""
    from .core.policy import REMEDIES, REMEDY_ZH
    from .core.privacy import mask_text
    from .handling.remedy import remedy_for
    from .handling.replies import draft_reply

    policy = _policy()
    code = _category_code(category, policy)
    plat = _platform_code(platform)
    rem = _scalar(remedy, "补偿")
    offer: Any
    if rem is None:
        offer = None
    elif isinstance(rem, (int, float)) and not isinstance(rem, bool):
        offer = remedy_for(_yuan_fen(rem, "订单金额"), policy=policy)
    elif _norm_key(rem) in REMEDIES:
        offer = REMEDY_ZH[_norm_key(rem)]
    else:
        offer = mask_text(str(rem))
    name = _scalar(customer_name, "顾客称呼")
    name = None if name is None else mask_text(str(int(name)) if isinstance(name, float) and name.is_integer()
                                                else str(name))
    d = draft_reply("reply_3s", category=code, platform=plat, customer=name, remedy=offer, policy=policy)
    return [formula_safe(mask_text(d.text) or ""), formula_safe("；".join(p.split(" / ")[0] for p in d.problems))]


# ------------------------------------------------------------------- mask
@func
@arg("text", err_to_str=True, doc="文本或区域：手机号、身份证号、座机、QQ 号会被打码 / text or range to mask")
@_safe
def ro_mask(text: Any) -> Any:
    """打码个人信息：手机号 138****8000、身份证 110101********0017 等（reviewops.core.privacy.mask_text），区域按原形状返回。
    Masks phone numbers, ID cards, landlines and QQ numbers in text; a range keeps its shape."""
    from .core.privacy import mask_text

    def one(v: Any) -> Any:
        err = _excel_error(v)
        if err:
            return err
        if v is None:
            return ""
        if isinstance(v, float):
            v = str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
        return formula_safe(mask_text(str(v)) or "")

    if isinstance(text, (list, tuple)):
        if len(text) > MAX_ROWS:
            raise ExcelInputError(f"区域超过 {MAX_ROWS} 行，请分批计算")
        return [[one(c) for c in r] if isinstance(r, (list, tuple)) else one(r) for r in text]
    return one(text)


# ------------------------------------------------------------ store readers
#: Rows :func:`ro_cases` returns at most (the workbench queue's own cap); a note row says when cut.
CASES_LIMIT = 500

_CASES_COLUMNS = (("case_id", "案件号"), ("state_zh", "状态"), ("platform", "平台"), ("shop", "店铺"),
                  ("rating", "评分"), ("category_zh", "主分类"), ("severity_zh", "严重程度"), ("owner_role", "负责角色"),
                  ("assignee", "处理人"), ("created_at", "建案时间(北京时间)"), ("due_at", "响应截止(北京时间)"),
                  ("sla_status_zh", "时效状态"),
                  ("excerpt", "评价摘录(已打码)"))


def _state_filter(status: Any) -> tuple[set[str] | None, bool]:
    """``status`` cell → (states to keep or None, list every case).

    Empty / 待处理 / 未关闭 / open: the cases awaiting action (:data:`reviewops.handling.cases.OPEN_STATES`, the
    same list as the workbench queue and ``reviewops queue``); 全部 / all: every case; else the states named.
    """
    from .handling.cases import STATE_ZH

    s = _scalar(status, "状态")
    if s is None or _norm_key(s) in ("open", "待处理", "未关闭", "进行中"):
        return None, False
    key = _norm_key(s)
    if key in ("all", "全部"):
        return None, True
    wanted: set[str] = set()
    for part in str(s).replace("，", ",").replace("、", ",").split(","):
        k = _norm_key(part)
        code = next((c for c, z in STATE_ZH.items() if k in (c, _norm_key(z))), None)
        if code is None:
            raise ExcelInputError(f"未知状态 {part.strip()!r}；可用：待处理、全部、{'、'.join(STATE_ZH.values())}")
        wanted.add(code)
    return wanted, False


@func
@arg("status", doc="可选：状态（待处理=默认，与工作台队列相同；全部；新建、待审批、已解决…，可用逗号分隔多个）/ case state(s)")
@arg("category", doc="可选：主分类（中文名或代码）/ optional primary category")
@arg("since", doc="可选：只列此时刻之后建案的案件（日期，北京时间）/ cases opened on or after this date")
@_safe
def ro_cases(status: Any = None, category: Any = None, since: Any = None) -> Any:
    """从店铺数据库读取案件列表（只读、已打码、最多 500 行）：默认为待处理案件，与工作台队列、reviewops queue 相同，按时效紧急程度排序。
    Cases from the store (REVIEWOPS_DB), read-only and masked, in the user's shops: by default the cases awaiting
    action, exactly the workbench queue (reviewops.handling.cases.case_queue), most urgent first."""
    from .handling.workbench import Workbench

    policy = _policy() if _db_url(required=False) else None
    store = _store()
    if policy is None:
        from .core.policy import load_policy

        policy = load_policy(store) or default_policy()
    actor = _actor(store, policy, "RO_CASES")
    states, include_closed = _state_filter(status)
    code = None if _scalar(category, "分类") is None else _category_code(category, policy)
    start = excel_datetime(since, "起始日期")
    q = Workbench(store, actor, via="excel", policy=policy).queue(
        category=code, include_closed=include_closed, states=states, since=start, limit=CASES_LIMIT)
    cut = len(q) >= CASES_LIMIT
    rows: list[list[Any]] = [[h for _, h in _CASES_COLUMNS]]
    data = [q[c].tolist() for c, _ in _CASES_COLUMNS]
    for i in range(len(q)):
        rows.append([_cell(col[i]) for col in data])
    if cut:
        rows.append([f"（只显示前 {CASES_LIMIT} 个案件；请用状态、分类或日期缩小范围）"] + [None] * (len(_CASES_COLUMNS) - 1))
    if len(rows) == 1:
        rows.append(["（没有符合条件的案件）"] + [None] * (len(_CASES_COLUMNS) - 1))
    return rows


#: ro_kpi metric names (code, Chinese) → how to read them from :class:`~reviewops.reporting.reports.ReportFigures`.
KPI_METRICS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "reviews": ("评价数", lambda f: f.reviews),
    "negative": ("中差评数", lambda f: f.negative),
    "rate": ("中差评率", lambda f: f.rate),
    "sla_compliance": ("时效达成率", lambda f: f.sla.get("compliance")),
    "sla_met": ("按时响应", lambda f: f.sla.get("met")),
    "sla_late": ("逾期响应", lambda f: f.sla.get("late")),
    "sla_breached": ("已超时", lambda f: f.sla.get("breached_unanswered")),
    "first_contact_hours": ("首次联系中位小时", lambda f: f.sla.get("first_contact_hours_median")),
    "resolution_hours": ("解决中位小时", lambda f: f.sla.get("resolution_hours_median")),
    "resolved": ("已解决", lambda f: f.resolved),
    "revised": ("评价已更新", lambda f: f.revised),
    "revision_rate": ("评价更新率", lambda f: f.revision_rate),
    "remedy_cost": ("补偿金额(元)", lambda f: fen_to_yuan_text(f.remedy_fen)),
}


#: names the SLA metrics had before they took the one SLA status's words; formulas written with them keep working
KPI_METRIC_ALIASES = {"超时响应": "sla_late", "超时未响应": "sla_breached"}


def _metric_code(metric: Any) -> str:
    m = _scalar(metric, "指标")
    if m is None:
        raise ExcelInputError(f"指标不能为空；可用：{'、'.join(z for z, _ in KPI_METRICS.values())}")
    key = _norm_key(m)
    for code, (zh, _) in KPI_METRICS.items():
        if key in (code, _norm_key(zh)):
            return code
    for alias, code in KPI_METRIC_ALIASES.items():
        if key == _norm_key(alias):
            return code
    raise ExcelInputError(f"未知指标 {m!r}；可用：{'、'.join(f'{z}（{c}）' for c, (z, _) in KPI_METRICS.items())}")


@func
@arg("metric", doc="指标：评价数、中差评数、中差评率、时效达成率、首次联系中位小时、补偿金额(元)… 或代码")
@arg("start", doc="开始日期（含，北京时间）/ first day, included")
@arg("end", doc="可选：结束日期（含，默认今天）/ last day, included")
@_safe
def ro_kpi(metric: Any, start: Any, end: Any = None) -> Any:
    """一个指标在日期范围内的值（按评价时间统计，北京时间，含首尾两天），来自报表数字（reviewops.reporting.reports.report_figures）。
    One KPI for the days start..end (Beijing time, both included) from the store, read-only, the user's shops."""
    from .core.policy import load_policy
    from .reporting.reports import day_bounds, report_figures

    code = _metric_code(metric)
    first = excel_datetime(start, "开始日期")
    if first is None:
        raise ExcelInputError("开始日期不能为空")
    last = excel_datetime(end, "结束日期") or dt.datetime.now(SHANGHAI)
    lo, hi = day_bounds(first.astimezone(SHANGHAI).date(), last.astimezone(SHANGHAI).date())
    store = _store()
    policy = load_policy(store) or default_policy()  # never stores a policy
    fig = report_figures(store, lo, hi, actor=_actor(store, policy, "RO_KPI"), policy=policy, breakdowns=False)
    return _cell(KPI_METRICS[code][1](fig))


#: Rows :func:`ro_risk` returns at most; a note row says when cut.
RISK_LIMIT = 500
_RISK_COLUMNS = (("order_id", "订单号"), ("shop", "店铺"), ("created_at", "下单时间(北京时间)"), ("score", "风险分"),
                 ("reasons", "原因"), ("recommendations", "建议措施"), ("expires_at", "提示过期(北京时间)"))


@func
@arg("since", doc="开始时刻（含，北京时间；空=今天0点）/ orders placed on or after this time")
@arg("until", doc="可选：评分时刻（空=现在），只看此前下单的订单与此前的历史 / scoring time (blank = now)")
@arg("threshold", doc="可选：风险分门槛 0–1（空=策略的 risk_flag_threshold，即只列高风险订单；0=全部订单）/ min score")
@_safe
def ro_risk(since: Any = None, until: Any = None, threshold: Any = None) -> Any:
    """高风险订单提示（P2，只读、不含个人信息、最多 500 行）：每单按买家下单前的历史打分（reviewops.prevention.risk.score_orders），
    列出分数、原因与策略中的建议措施（运费险、发货前联系、仔细打包）。只是提示，不是黑名单。
    High-risk order flags from the store (REVIEWOPS_DB), read-only, the user's shops: score, reasons, actions."""
    from .core.policy import load_policy
    from .prevention.risk import risk_settings, score_orders

    at = excel_datetime(until, "评分时刻") or dt.datetime.now(SHANGHAI)
    start = excel_datetime(since, "开始时刻")
    if start is None:
        start = at.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    th = _scalar(threshold, "门槛")
    if th is not None:
        if isinstance(th, str):
            try:
                th = float(th.strip().rstrip("%")) / (100 if th.strip().endswith("%") else 1)
            except ValueError:
                raise ExcelInputError(f"门槛应为 0–1 的数字，收到 {th!r}") from None
        if isinstance(th, bool) or not isinstance(th, (int, float)) or not 0 <= float(th) <= 1:
            raise ExcelInputError(f"门槛应为 0–1 的数字，收到 {th!r}")
    store = _store()
    policy = load_policy(store) or default_policy()  # never stores a policy
    actor = _actor(store, policy, "RO_RISK")
    settings = risk_settings(policy)
    df = score_orders(store, since=start, now=at, shop_ids=None if actor.shops is None else sorted(actor.shops),
                      settings=settings)
    df = df[df["score"] >= (settings.threshold if th is None else float(th)) - 1e-12]
    cut = len(df) > RISK_LIMIT
    df = df.head(RISK_LIMIT)
    rows: list[list[Any]] = [[h for _, h in _RISK_COLUMNS]]
    data = [_cells(df[c]) if c in ("created_at", "expires_at") else [_cell(v) for v in df[c].tolist()]
            for c, _ in _RISK_COLUMNS]
    for i in range(len(df)):
        rows.append([col[i] for col in data])
    if cut:
        rows.append([f"（只显示前 {RISK_LIMIT} 单；请缩短时间范围或提高门槛）"] + [None] * (len(_RISK_COLUMNS) - 1))
    if len(rows) == 1:
        rows.append(["（没有符合条件的订单）"] + [None] * (len(_RISK_COLUMNS) - 1))
    return rows


# ----------------------------------------------------------------- registry
#: Functions that need no database (the ones xlwings Lite can offer).
PURE_FUNCTIONS = (ro_classify, ro_triage, ro_sla, ro_remedy, ro_tier, ro_reply, ro_mask)
#: Functions that read the store (read-only).
STORE_FUNCTIONS = (ro_cases, ro_kpi, ro_risk)
#: Every Excel function, by its formula name (``=RO_CLASSIFY(…)``).
FUNCTIONS: dict[str, Callable[..., Any]] = {f.__name__.upper(): f for f in PURE_FUNCTIONS + STORE_FUNCTIONS}
