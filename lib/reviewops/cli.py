"""The ``reviewops`` command line: a thin shell over the library.

Each command converts its options, calls one library function and prints the
result (``--json`` for machines). Errors the kit raises on purpose are printed
as their message (Chinese and English) with exit code 2; anything unexpected is
logged with its traceback to a file and reported in one line (exit 70) — no
traceback ever reaches the user (I-02).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from . import __version__
from .columns import KINDS, PLATFORMS
from .errors import ConfigError, ReviewOpsError

EXIT_USER_ERROR = 2
EXIT_INTERNAL = 70

db_option = click.option(
    "--db", "db", metavar="URL",
    help="数据库：文件路径、sqlite:///… 或 postgresql+psycopg://…（默认 REVIEWOPS_DB 或用户数据目录）/ "
         "database: a file path, sqlite:///… or postgresql+psycopg://… (default: $REVIEWOPS_DB or the user data dir)",
)
json_option = click.option("--json", "as_json", is_flag=True, help="输出 JSON / print JSON for machines")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reviewops")
def cli() -> None:
    """ReviewOps：电商中差评处理全流程工具 / a shop's negative-review playbook, end to end."""


def _read_mapping(value: str) -> dict[str, str]:
    from .layouts import parse_map_option

    path = Path(value)
    if path.suffix.lower() in (".csv", ".txt") and path.exists():
        from .readers import decode_text

        text, _ = decode_text(path.read_bytes())
        out: dict[str, str] = {}
        for row in csv.reader(text.splitlines()):
            if len(row) >= 2 and row[0].strip() and row[1].strip() and row[0].strip() not in ("表头", "header"):
                out[row[0].strip()] = row[1].strip()
        if not out:
            raise ConfigError(f"映射文件 {path} 为空；每行写 表头,字段 / mapping file {path} is empty; write header,field per line")
        return out
    return parse_map_option(value)


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--platform", type=click.Choice(PLATFORMS), help="平台（不给则按表头识别）/ platform (detected from headers when omitted)")
@click.option("--kind", type=click.Choice(list(KINDS)), help="类型（不给则按表头识别）/ kind (detected when omitted)")
@click.option("--shop", help="店铺名称（文件中没有“店铺名称”列时使用）/ shop name when the file has no 店铺名称 column")
@click.option("--layout", "layout_name", help="使用已保存或内置的版式名称 / use this saved or built-in layout")
@click.option("--map", "mapping", help="表头映射 '表头=字段,…' 或映射 CSV 文件 / header mapping 'header=field,…' or a CSV file")
@click.option("--save-layout", help="把 --map 的映射保存为命名版式 / save the --map mapping as a named layout")
@click.option("--skip-bad-rows", is_flag=True, help="只导入合格的行，拒绝的行写到旁边的 .rejected.csv / import valid rows, write rejected rows beside the input")
@click.option("--progress/--no-progress", default=None, help="显示进度条（终端中默认显示）/ show a progress bar (default: on a terminal)")
@db_option
@json_option
def import_cmd(files: tuple[Path, ...], platform: str | None, kind: str | None, shop: str | None,
               layout_name: str | None, mapping: str | None, save_layout: str | None, skip_bad_rows: bool,
               progress: bool | None, db: str | None, as_json: bool) -> None:
    """导入平台导出文件（评价、订单、退款、聊天、物流）/ import platform export files."""
    from .ingest import describe, import_paths
    from .store import Store

    if save_layout and not mapping:
        raise ConfigError("--save-layout 需要和 --map 一起使用 / --save-layout needs --map")
    mapping_dict = _read_mapping(mapping) if mapping else None
    show_progress = (sys.stderr.isatty() and not as_json) if progress is None else progress
    with Store.open(db) as store:
        results = import_paths(store, files, platform=platform, kind=kind, shop=shop, layout=layout_name,
                               mapping=mapping_dict, save_as=save_layout, skip_bad_rows=skip_bad_rows,
                               progress=show_progress)
    if as_json:
        _echo_json({"results": [r.to_dict() for r in results]})
    else:
        click.echo(describe(results))
    if any(r.status in ("rejected", "failed") for r in results):
        sys.exit(EXIT_USER_ERROR)


@cli.command("demo")
@click.option("--seed", default=20261125, show_default=True, type=int, help="随机种子：同一种子生成同一店铺 / same seed, same shop")
@click.option("--scale", default=1.0, show_default=True, type=float, help="规模（1.0 = 2万客户、5万订单、1万评价）/ size factor")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="导出文件写到此目录 / folder for the generated export files")
@db_option
@json_option
def demo_cmd(seed: int, scale: float, out_dir: Path | None, db: str | None, as_json: bool) -> None:
    """生成演示店铺并通过导入器载入 / build the demo shop through the real importer."""
    from .demo import build_demo
    from .ingest import describe
    from .store import Store

    if scale <= 0 or scale > 20:
        raise ConfigError(f"--scale 应在 (0, 20] 之间 / --scale must be in (0, 20]; got {scale}")
    results = build_demo(db, seed=seed, scale=scale, out_dir=out_dir, progress=not as_json and sys.stderr.isatty())
    with Store.open(db) as store:
        counts = store.counts()
        url = store.url
    if as_json:
        _echo_json({"db": url, "counts": counts, "results": [r.to_dict() for r in results]})
    else:
        click.echo(describe(results))
        click.echo(f"\n数据库 database: {url}")
        click.echo("已载入 loaded: " + "，".join(f"{k} {v}" for k, v in counts.items()))
    if any(r.status in ("rejected", "failed") for r in results):
        sys.exit(EXIT_USER_ERROR)


@cli.command("layouts")
@db_option
@json_option
def layouts_cmd(db: str | None, as_json: bool) -> None:
    """列出内置和已保存的表头版式 / list built-in and saved header layouts."""
    from .ingest import saved_layouts
    from .layouts import BUILTIN
    from .store import Store

    with Store.open(db) as store:
        user = saved_layouts(store)
    rows = [{"name": lay.name, "platform": lay.platform, "kind": lay.kind, "version": lay.version,
             "confirmed": lay.confirmed, "builtin": lay.builtin, "source": lay.source,
             "headers": [a[0] for a in lay.columns.values()]} for lay in (*user, *BUILTIN)]
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        flag = "已确认 confirmed" if r["confirmed"] else "暂定 provisional"
        origin = "内置 built-in" if r["builtin"] else "已保存 saved"
        click.echo(f"{r['name']:<28} {r['platform'] or '-':<9} {r['kind']:<10} {flag:<18} {origin}  {r['version']}")


@cli.command("status")
@db_option
@json_option
def status_cmd(db: str | None, as_json: bool) -> None:
    """数据库位置与各表行数 / where the database is and how many rows each table holds."""
    from .store import Store

    with Store.open(db) as store:
        data = {"db": store.url, "dialect": store.dialect, "counts": store.counts()}
    if as_json:
        _echo_json(data)
    else:
        click.echo(f"数据库 database: {data['db']} ({data['dialect']})")
        for k, v in data["counts"].items():
            click.echo(f"  {k:<16} {v}")


def _log_path() -> Path:
    import platformdirs

    d = Path(platformdirs.user_log_dir("reviewops", appauthor=False))
    d.mkdir(parents=True, exist_ok=True)
    return d / "reviewops-errors.log"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        cli.main(args=argv, prog_name="reviewops", standalone_mode=False)
        return 0
    except click.exceptions.Abort:
        click.echo("已取消 / aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    except ReviewOpsError as e:
        click.echo(f"错误 error: {e}", err=True)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        click.echo("已中断，未完成的导入没有写入任何数据 / interrupted; an unfinished import wrote nothing", err=True)
        return 130
    except Exception as e:  # noqa: BLE001 - the last line of defence: no traceback to the user
        try:
            path = _log_path()
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(f"--- {dt.datetime.now().isoformat()} {' '.join(argv or sys.argv[1:])}\n")
                fh.write(traceback.format_exc())
            where = f"详情见 details in {path}"
        except OSError:
            where = ""
        click.echo(f"内部错误 internal error ({type(e).__name__}); 未写入不完整的数据 nothing partial was written. {where}",
                   err=True)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
