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
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from .core import __version__
from .core.columns import KINDS, PLATFORMS
from .core.errors import ConfigError, ReviewOpsError
from .core.redact import install_log_redaction, mask_url, redact_obj, redact_secrets

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
    from .intake.layouts import parse_map_option

    path = Path(value)
    if path.suffix.lower() in (".csv", ".txt") and path.exists():
        from .intake.readers import decode_text

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
    from .core.store import Store
    from .intake.ingest import describe, import_paths

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
@click.option("--limit", default=15, show_default=True, type=click.IntRange(0, None),
              help="分级后显示多少个最紧急的案件 / open cases to show after triage")
@click.option("--demo-password", metavar="PW",
              help="演示用户的密码（默认 $REVIEWOPS_DEMO_PASSWORD 或随机）/ password of the demo users (default: env or random)")
@click.option("--as-of", "as_of", metavar="TIME",
              help="演示历史截止时刻（ISO，不带时区按北京时间；默认现在）/ the demo's history ends here "
                   "(ISO, Beijing time without an offset; default now): same seed + same as-of = same files")
@db_option
@json_option
def demo_cmd(seed: int, scale: float, out_dir: Path | None, limit: int, demo_password: str | None, db: str | None,
             as_json: bool, as_of: str | None = None) -> None:
    """生成演示店铺、通过导入器载入、分级建案并列出待处理案件 / build the demo shop, import, triage, show the queue."""
    from .core.store import Store
    from .demo import demo_as_of, run_demo
    from .intake.ingest import describe

    if scale <= 0 or scale > 20:
        raise ConfigError(f"--scale 应在 (0, 20] 之间 / --scale must be in (0, 20]; got {scale}")
    from .demo import DEMO_PASSWORD_ENV

    pw = demo_password or os.environ.get(DEMO_PASSWORD_ENV)
    if pw is not None and len(pw) < 8:
        raise ConfigError(f"演示用户密码至少 8 位（--demo-password 或 {DEMO_PASSWORD_ENV}），收到 {len(pw)} 位 / "
                          f"the demo password needs at least 8 characters, got {len(pw)}")
    from .handling.opening import open_queue

    run = run_demo(db, seed=seed, scale=scale, as_of=demo_as_of(as_of), out_dir=out_dir, password=demo_password,
                   actor=_actor(), progress=not as_json and sys.stderr.isatty())
    results, triaged, demo_users, history = run.results, run.triage, run.users, run.history
    with Store.open(db) as store:
        counts = store.counts()
        url = mask_url(store.url)  # never the password (issue 15 §2)
        queue = open_queue(store, limit=limit, now=run.as_of)  # 剩余 at the demo's as-of, not the real clock
        total = _count_open(store)
    if as_json:
        _echo_json({"db": url, "counts": counts, "results": [r.to_dict() for r in results],
                    "triage": triaged.to_dict() | {"case_ids": len(triaged.case_ids)},
                    "open_cases": total, "queue": _queue_json(queue), "users": demo_users, "history": history})
    else:
        click.echo(describe(results))
        click.echo(f"\n数据库 database: {url}")
        click.echo("已载入 loaded: " + "，".join(f"{k} {v}" for k, v in counts.items()))
        click.echo("")
        _echo_triage(triaged)
        click.echo("演示处理历史 worked history: " + "，".join(f"{k} {v}" for k, v in history.items()))
        if limit:
            click.echo("\n待处理案件（最紧急在前）/ open cases, most urgent first:")
            _print_queue(queue, total)
        _print_demo_users(demo_users)
    if any(r.status in ("rejected", "failed") for r in results):
        sys.exit(EXIT_USER_ERROR)


@cli.command("layouts")
@db_option
@json_option
def layouts_cmd(db: str | None, as_json: bool) -> None:
    """列出内置和已保存的表头版式 / list built-in and saved header layouts."""
    from .core.store import Store
    from .intake.ingest import saved_layouts
    from .intake.layouts import BUILTIN

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
    """数据库位置、各表行数与待处理案件数 / where the database is, rows per table, cases awaiting action."""
    from .core.store import Store

    with Store.open(db) as store:
        data = {"db": mask_url(store.url), "dialect": store.dialect, "counts": store.counts(), "open_cases": _count_open(store)}
    if as_json:
        _echo_json(data)
    else:
        click.echo(f"数据库 database: {data['db']} ({data['dialect']})")
        for k, v in data["counts"].items():
            click.echo(f"  {k:<16} {v}")
        click.echo(f"待处理案件 cases awaiting action: {data['open_cases']}")


def _print_demo_users(rows: list[dict[str, Any]]) -> None:
    click.echo("\n演示用户 demo users (工作台登录 workbench sign-in):")
    click.echo(f"  {_pad('用户名 name', 14)} {_pad('角色 role', 12)} {_pad('显示名 display', 16)} 密码 password")
    for u in rows:
        pw = u["password"] if u["created"] else "（已存在，密码未改 / existed, unchanged）"
        click.echo(f"  {_pad(u['name'], 14)} {_pad(u['role'], 12)} {_pad(u['display_name'], 16)} {pw}")
    click.echo("运行 reviewops serve 打开工作台，用上面的用户名和密码登录 / "
               "run `reviewops serve` to open the workbench and sign in with these names")


def _print_queue(queue: Any, total_open: int | None = None) -> None:
    """The queue of cases awaiting action as a plain table (most urgent first, reviewops.handling.cases.case_queue).

    剩余 counts down only while the SLA clock runs; once contacted the clock has stopped and the
    row shows its status (按时响应 / 逾期响应), never a time past the deadline."""
    if queue.empty:
        click.echo("没有待处理的案件 / no cases await action")
        return
    from .core.policy import SEVERITY_ZH as sev
    from .core.sla import UNANSWERED_STATUSES

    head = (f"{'案件':>6}  {'平台':<8} {'状态':<8} {'评分':<6} {'分类':<8} {'严重':<4} {'负责':<10} "
            f"{'截止(北京时间)':<16} {'时效':<6} {'剩余':>8}  摘录")
    click.echo(head)
    for r in queue.itertuples(index=False):
        left = r.minutes_left
        if r.sla_status not in UNANSWERED_STATUSES or left is None or left != left:
            left_s = "-"
        elif left < 0:
            left_s = f"超时{int(-left) // 60}h{int(-left) % 60:02d}"
        else:
            left_s = f"{int(left) // 60}h{int(left) % 60:02d}"
        rating = r.rating if isinstance(r.rating, str) and r.rating else "-"
        click.echo(f"{r.case_id:>6}  {r.platform:<8} {r.state_zh:<8} {rating:<6} {r.category_zh:<8} "
                   f"{sev.get(r.severity, r.severity or '-'):<4} {r.owner_role or '-':<10} {r.due_local:<16} "
                   f"{r.sla_status_zh:<6} {left_s:>8}  {r.excerpt}")
    if total_open is not None and total_open > len(queue):
        click.echo(f"… 共 {total_open} 个待处理案件，显示最紧急的 {len(queue)} 个 / {total_open} cases await action, "
                   f"showing the {len(queue)} most urgent")


def _queue_json(queue: Any) -> list[dict[str, Any]]:
    import pandas as pd

    out = queue.copy()
    for col in ("due_at", "created_at"):
        out[col] = out[col].map(lambda t: None if t is None or t != t else t.isoformat())
    out["minutes_left"] = pd.Series([None if v is None or v != v else int(v) for v in out["minutes_left"]],
                                    index=out.index, dtype=object)  # null once contacted (the clock stopped)
    return out.to_dict(orient="records")


def _count_open(store: Any, shop_ids: Any = None) -> int:
    """Cases awaiting action (reviewops.handling.cases.count_open: the one definition of open)."""
    from .handling.cases import count_open

    return count_open(store, shop_ids=shop_ids)


@cli.command("triage")
@click.option("--no-model", is_flag=True, help="不用训练好的模型，只用词库 / use the lexicon even if a model was trained")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(0, None),
              help="之后显示多少个最紧急的案件 / how many open cases to show afterwards")
@db_option
@json_option
def triage_cmd(no_model: bool, limit: int, db: str | None, as_json: bool) -> None:
    """把新的中差评分级并建案（可重复执行），并检测恶意差评 / grade new negative reviews into cases (idempotent)
    and run the malicious-review detection on them and on the cases of newly imported chats."""
    from .alerting.watch import malicious_alert_hook
    from .core.policy import current_policy
    from .core.store import Store
    from .handling.defence import detect_new_chats
    from .handling.opening import open_queue, triage_store

    with Store.open(db) as store:
        alert = malicious_alert_hook(current_policy(store), source="import")
        result = triage_store(store, model=not no_model, actor=_actor(), via="cli", detect=True, on_malicious=alert)
        # chats imported since the last run: their buyers' cases again (a chat after its review updates the case)
        chats = detect_new_chats(store, actor=_actor(), via="cli", on_malicious=alert)
        queue = open_queue(store, limit=limit)
        total = _count_open(store)
    if as_json:
        data = result.to_dict()
        data["chat_cases_examined"] = chats.examined
        data["malicious"] = sorted({*result.malicious, *chats.malicious})
        data["queue"] = _queue_json(queue)
        data["open_cases"] = total
        _echo_json(data)
        return
    _echo_triage(result)
    routed = sorted({*result.malicious, *chats.malicious})
    if routed or chats.examined:
        shown = "、".join(str(i) for i in routed[:20]) + (" …" if len(routed) > 20 else "")
        click.echo(f"恶意差评检测 malicious-review detection：{len(routed)} 个案件转法务（1 小时内处理）"
                   + (f"：{shown}" if routed else "")
                   + (f"；新聊天涉及案件 {chats.examined} 个 / chats re-examined {chats.examined} cases" if chats.examined else ""))
    if limit:
        click.echo("")
        _print_queue(queue, total)


def _echo_triage(result: Any) -> None:
    model = f"模型 v{result.model_version}" if result.model_version else "词库（未训练模型）"
    click.echo(f"分级 triage：检查 {result.examined} 条未建案评价，中差评 {result.negative} 条，新建案件 {result.created} 个"
               f"（策略 v{result.policy_version}，{model}）")
    click.echo(f"  examined {result.examined}, negative {result.negative}, cases created {result.created}"
               + (f", already cased {result.already_cased}" if result.already_cased else ""))
    for w in result.warnings:  # missing holiday data: the cases counted Mon–Fri, then the next 60 days
        click.echo(f"⚠ {w}")


@cli.command("queue")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, None), help="显示条数 / rows to show")
@click.option("--user", "user_name", metavar="NAME",
              help="只列此用户店铺的案件（与工作台、RO_CASES 相同）/ only this user's shops, as the workbench lists them")
@db_option
@json_option
def queue_cmd(limit: int, user_name: str | None, db: str | None, as_json: bool) -> None:
    """待处理案件，未联系的按响应截止时间在前 / cases awaiting action, most urgent first."""
    from .core.store import Store
    from .handling.opening import open_queue

    with Store.open(db) as store:
        shop_ids = None
        if user_name:
            from .core.users import get_actor

            shop_ids = get_actor(store, user_name).shops
        queue = open_queue(store, limit=limit, shop_ids=shop_ids)
        total = _count_open(store, shop_ids)
    if as_json:
        _echo_json({"open_cases": total, "queue": _queue_json(queue)})
    else:
        _print_queue(queue, total)


@cli.command("classify")
@click.argument("texts", nargs=-1, required=True)
@click.option("--rating", "ratings", multiple=True, help="评分（每条文本一个：1–5 或 好评/中评/差评）/ rating per text")
@db_option
@json_option
def classify_cmd(texts: tuple[str, ...], ratings: tuple[str, ...], db: str | None, as_json: bool) -> None:
    """判断评价文本是否中差评及其分类（用当前策略与模型）/ classify review texts."""
    from .core.policy import current_policy
    from .core.store import Store
    from .grading.classify import classify
    from .grading.textmodel import TextModel

    if ratings and len(ratings) != len(texts):
        raise ConfigError(f"--rating 给了 {len(ratings)} 个，文本 {len(texts)} 条；要么不给，要么每条一个 / "
                          f"{len(ratings)} --rating values for {len(texts)} texts; give none or one per text")
    with Store.open(db) as store:
        policy = current_policy(store, actor=_actor())
        model = TextModel.load(store)
    out = classify(list(texts), list(ratings) if ratings else None, model, policy=policy)
    out.insert(0, "text", list(texts))
    if as_json:
        _echo_json(out.to_dict(orient="records"))
        return
    for r in out.itertuples(index=False):
        flag = "中差评" if r.is_negative else "非中差评"
        click.echo(f"{flag}  负面分 {r.negative_score:.2f}  主分类 {r.primary_category or '-'}  "
                   f"[{r.categories}]  {r.text}")


@cli.command("train")
@click.option("--min-reviews", type=click.IntRange(40, None),
              help="至少需要多少条带评分评价（默认取策略参数 model_min_reviews）/ rated reviews needed")
@db_option
@json_option
def train_cmd(min_reviews: int | None, db: str | None, as_json: bool) -> None:
    """用店铺自己的带评分评价训练文本模型并保存新版本 / train the text model on the shop's rated reviews."""
    from .core.store import Store
    from .grading.textmodel import train_from_store

    with Store.open(db) as store:
        info = train_from_store(store, actor=_actor(), min_reviews=min_reviews)
    if as_json:
        _echo_json(info)
        return
    h = info.get("holdout") or {}
    click.echo(f"模型 v{info['version']} 已保存：训练评价 {info['n_train']} 条（差评 {info['n_negative']}，"
               f"好评 {info['n_positive']}）/ model v{info['version']} saved")
    if h:
        click.echo(f"  留出集 holdout ({h['n']} 条)：F1 {h['f1']:.3f}，精确率 precision {h['precision']:.3f}，"
                   f"召回率 recall {h['recall']:.3f}")
    click.echo("  之后 reviewops triage 会用这个模型 / `reviewops triage` now uses this model")


@cli.group("policy")
def policy_group() -> None:
    """策略：导出为 Excel 编辑，导入为新版本 / the shop's policy: export to Excel, import a new version."""


@policy_group.command("export")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--version", "version", type=int, help="导出指定版本（默认最新）/ version to export (default newest)")
@db_option
def policy_export_cmd(file: Path, version: int | None, db: str | None) -> None:
    """把策略写成可编辑的工作簿 / write the policy as an editable workbook."""
    from .core.policy import current_policy, export_policy, load_policy
    from .core.store import Store

    with Store.open(db) as store:
        policy = load_policy(store, version) if version is not None else current_policy(store, actor=_actor())
    assert policy is not None
    export_policy(policy, file)
    click.echo(f"已导出策略 v{policy.version} 到 {file} / exported policy v{policy.version} to {file}")


@policy_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", help="版本说明 / note for this version")
@db_option
@json_option
def policy_import_cmd(file: Path, note: str | None, db: str | None, as_json: bool) -> None:
    """校验工作簿并保存为新的策略版本 / validate a workbook and store it as a new policy version."""
    from .core.policy import import_policy, load_policy, save_policy
    from .core.store import Store

    policy = import_policy(file)
    with Store.open(db) as store:
        before = load_policy(store)
        saved = save_policy(store, policy, actor=_actor(), note=note or f"import {file.name}")
    changed = before is None or before.version != saved.version
    if as_json:
        _echo_json({"version": saved.version, "changed": changed, "sha256": saved.sha256,
                    "notes": [str(n) for n in policy.notes]})
        return
    if changed:
        click.echo(f"策略已保存为 v{saved.version} / policy stored as version {saved.version}")
    else:
        click.echo(f"内容与当前 v{saved.version} 相同，未新建版本 / same as version {saved.version}; nothing stored")
    for n in policy.notes:  # accepted, but worth knowing (a 节假日 row that differs from chinese_calendar)
        click.echo(f"注意 note：{n}")


@policy_group.command("show")
@db_option
@json_option
def policy_show_cmd(db: str | None, as_json: bool) -> None:
    """列出策略版本 / list policy versions."""
    from .core.policy import policy_versions_list
    from .core.store import Store

    with Store.open(db) as store:
        rows = policy_versions_list(store)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("尚无已保存的策略；首次分级时会保存默认策略 / no stored policy yet; the default is stored on first use")
    for r in rows:
        click.echo(f"v{r['version']:<4} {r['created_at']}  {r['created_by']:<12} {r['sha256'][:12]}  {r['note'] or ''}")


# ------------------------------------------------------------ users and serve (workbench)
@cli.group("users")
def users_group() -> None:
    """工作台用户：添加、列出、停用/启用、改密码、改角色、Excel 令牌 / workbench users: add, list, disable, password,
    role, Excel token."""


_shop_option = click.option("--shop", "shops", multiple=True, type=click.IntRange(1, None), metavar="ID",
                            help="可处理的店铺编号（可重复）/ shop id the user may work on (repeatable)")
_all_shops_option = click.option("--all-shops", is_flag=True, help="可处理全部店铺 / every shop")
_password_stdin_option = click.option("--password-stdin", is_flag=True,
                                      help="从标准输入读一行作为密码（脚本用）/ read the password from one line of stdin")


def _shops_arg(shops: tuple[int, ...], all_shops: bool, *, default: Any) -> Any:
    if shops and all_shops:
        raise ConfigError(f"--shop {' '.join(map(str, shops))} 与 --all-shops 只能二选一 / "
                          f"give either --shop or --all-shops, not both")
    return "*" if all_shops else list(shops) if shops else default


def _read_password(name: str, password_stdin: bool) -> str:
    if password_stdin:
        pw = sys.stdin.readline().rstrip("\r\n")
        if not pw:
            raise ConfigError("--password-stdin：标准输入中没有密码 / no password on standard input")
        return pw
    return click.prompt(f"{name} 的密码 password (≥8)", hide_input=True,
                        confirmation_prompt="再输入一次 repeat password")


def _pad(text: Any, width: int) -> str:
    """``text`` left-aligned in ``width`` terminal columns (CJK characters take two)."""
    import unicodedata

    text = str(text)
    cols = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - cols, 0)


def _shops_zh(shops: str) -> str:
    return "全部 all" if shops == "*" else shops.replace(";", ",")


@users_group.command("add")
@click.argument("name")
@click.option("--role", required=True, help="角色：agent 客服 / supervisor 主管 / legal 法务 / admin 店长（以策略为准）/ a role of the policy")
@_shop_option
@_all_shops_option
@click.option("--display-name", help="显示名，如 客服小王 / display name")
@_password_stdin_option
@click.option("--no-password", is_flag=True, help="不设密码：只能通过可信代理登录 / no password: proxy sign-in only")
@db_option
@json_option
def users_add_cmd(name: str, role: str, shops: tuple[int, ...], all_shops: bool, display_name: str | None,
                  password_stdin: bool, no_password: bool, db: str | None, as_json: bool) -> None:
    """添加用户 / add a workbench user."""
    from .core.store import Store
    from .core.users import add_user, list_users

    if no_password and password_stdin:
        raise ConfigError("--no-password 与 --password-stdin 只能二选一 / give either --no-password or --password-stdin")
    shop_arg = _shops_arg(shops, all_shops, default="*")
    password = None if no_password else _read_password(name, password_stdin)
    with Store.open(db) as store:
        add_user(store, name, role=role, password=password, shops=shop_arg, display_name=display_name, actor=_actor())
        row = next(u for u in list_users(store) if u["name"] == name)
    if as_json:
        _echo_json(row)
    else:
        click.echo(f"已添加用户 {name}（角色 {role}，店铺 {_shops_zh(row['shops'])}）/ added user {name} "
                   f"(role {role}, shops {_shops_zh(row['shops'])})")


@users_group.command("list")
@db_option
@json_option
def users_list_cmd(db: str | None, as_json: bool) -> None:
    """列出用户（不含密码）/ list users (no password hashes)."""
    from .core.policy import current_policy
    from .core.store import Store
    from .core.users import list_users

    with Store.open(db) as store:
        rows = list_users(store)
        role_zh = {r["code"]: r["name_zh"] for r in current_policy(store, actor=_actor()).tables["roles"]}
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("还没有用户；用 reviewops users add 用户名 --role agent 添加 / no users yet: reviewops users add NAME --role agent")
        return
    click.echo(f"{_pad('用户名 name', 16)} {_pad('显示名 display', 16)} {_pad('角色 role', 20)} {_pad('店铺 shops', 12)} "
               f"{_pad('状态 state', 11)} 密码 password")
    for r in rows:
        role = f"{r['role']} {role_zh.get(r['role'], '?')}"
        click.echo(f"{_pad(r['name'], 16)} {_pad(r['display_name'] or '', 16)} {_pad(role, 20)} "
                   f"{_pad(_shops_zh(r['shops']), 12)} {_pad('启用 on' if r['active'] else '停用 off', 11)} "
                   f"{'有 yes' if r['has_password'] else '无 no'}")


@users_group.command("disable")
@click.argument("name")
@db_option
def users_disable_cmd(name: str, db: str | None) -> None:
    """停用用户：立即不能登录，已登录的会话失效 / disable a user (their sessions end at once)."""
    from .core.store import Store
    from .core.users import set_active

    with Store.open(db) as store:
        set_active(store, name, False, actor=_actor())
    click.echo(f"已停用 {name} / disabled {name}")


@users_group.command("enable")
@click.argument("name")
@db_option
def users_enable_cmd(name: str, db: str | None) -> None:
    """重新启用用户 / enable a user again."""
    from .core.store import Store
    from .core.users import set_active

    with Store.open(db) as store:
        set_active(store, name, True, actor=_actor())
    click.echo(f"已启用 {name} / enabled {name}")


@users_group.command("passwd")
@click.argument("name")
@_password_stdin_option
@db_option
def users_passwd_cmd(name: str, password_stdin: bool, db: str | None) -> None:
    """设置或更改密码（已登录的会话失效）/ set or change a password (existing sessions end)."""
    from .core.errors import NotFound
    from .core.store import Store
    from .core.users import set_password, user_row

    with Store.open(db) as store:
        if user_row(store, name) is None:
            raise NotFound(f"用户 {name!r} 不存在；用 reviewops users list 查看 / no user {name!r}; see reviewops users list")
        set_password(store, name, _read_password(name, password_stdin), actor=_actor())
    click.echo(f"已更改 {name} 的密码 / password of {name} changed")


@users_group.command("set-role")
@click.argument("name")
@click.argument("role")
@_shop_option
@_all_shops_option
@db_option
def users_set_role_cmd(name: str, role: str, shops: tuple[int, ...], all_shops: bool, db: str | None) -> None:
    """更改角色（及店铺）；不能改自己的角色 / change a user's role (and shops); nobody changes their own."""
    from .core.store import Store
    from .core.users import set_role

    with Store.open(db) as store:
        set_role(store, name, role, actor=_actor(), shops=_shops_arg(shops, all_shops, default=None))
    click.echo(f"{name} 的角色已改为 {role} / {name} is now {role}")


@users_group.command("token")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="作废该用户的令牌 / revoke the user's token")
@db_option
def users_token_cmd(name: str, revoke: bool, db: str | None) -> None:
    """Excel 个人令牌：打印一次新令牌（旧令牌作废；库里只存哈希）/ print a new personal token for Excel
    (RO_CASES/RO_KPI read REVIEWOPS_TOKEN); the store keeps only its hash; the old one stops working."""
    from .core.store import Store
    from .core.users import issue_token, revoke_token

    with Store.open(db) as store:
        if revoke:
            had = revoke_token(store, name, actor=_actor())
            click.echo(f"已作废 {name} 的令牌 / token of {name} revoked" if had else
                       f"{name} 没有令牌 / {name} had no token")
            return
        token = issue_token(store, name, actor=_actor())
    click.echo(f"{name} 的 Excel 个人令牌（只显示这一次，请让本人设置为环境变量 REVIEWOPS_TOKEN）/ "
               f"personal token of {name} (shown once; set it as REVIEWOPS_TOKEN on their machine):")
    click.echo(token)


@cli.command("serve")
@db_option
@click.option("--ip", default="127.0.0.1", show_default=True,
              help="监听地址；非本机地址需要 --allow-remote 或 --trusted-header / listen address")
@click.option("--port", default=8866, show_default=True, type=click.IntRange(1, 65535), help="端口 / port")
@click.option("--trusted-header", metavar="HEADER",
              help="可信反向代理传用户名的请求头，如 X-Forwarded-User / header naming the user, set by a trusted proxy")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="IP",
              help="可信代理地址（可重复，默认 127.0.0.1 和 ::1）/ trusted proxy address (repeatable)")
@click.option("--allow-remote", is_flag=True, help="允许在非本机地址上监听 / allow a non-loopback --ip")
@click.option("--preheat", default=1, show_default=True, type=click.IntRange(0, 8),  # serve.DEFAULT_PREHEAT
              help="每个表单预先启动、等候下一次打开的内核数；0 = 每次打开才启动 / preheated kernels per form "
                   "(0: start one per page open)")
@click.option("--open", "open_browser", is_flag=True, help="启动后打开浏览器 / open a browser")
@click.option("--forms-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="表单目录（默认为安装的工作台表单）/ folder of form notebooks (default: the installed forms)")
def serve_cmd(db: str | None, ip: str, port: int, trusted_header: str | None, trusted_proxies: tuple[str, ...],
              allow_remote: bool, preheat: int, open_browser: bool, forms_dir: Path | None) -> None:
    """启动操作工作台（Voila，需登录），Ctrl-C 停止 / run the operator workbench (Voila with sign-in)."""
    from .serve import DEFAULT_TRUSTED_PROXIES, serve

    if trusted_proxies and not trusted_header:
        raise ConfigError("--trusted-proxy 需要和 --trusted-header 一起使用 / --trusted-proxy needs --trusted-header")
    serve(db=db, ip=ip, port=port, forms_dir=forms_dir, trusted_header=trusted_header,
          trusted_proxies=trusted_proxies or DEFAULT_TRUSTED_PROXIES, allow_remote=allow_remote, preheat=preheat,
          open_browser=open_browser)


@cli.command("lab")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="工作文件夹（默认 文档/reviewops-playbooks），放剧本副本 / working folder for the playbook copies "
                   "(default: reviewops-playbooks in your documents folder)")
@db_option
@click.option("--port", type=click.IntRange(1, 65535), help="端口（默认 8890 起第一个空闲端口）/ port (default: the first "
                                                          "free one from 8890)")
@click.option("--no-browser", is_flag=True, help="不打开浏览器（没有显示器时也不打开）/ do not open a browser")
@click.option("--allow-root", is_flag=True, help="允许以 root 运行 / allow running as root")
def lab_cmd(folder: Path | None, db: str | None, port: int | None, no_browser: bool, allow_root: bool) -> None:
    """在剧本副本上打开 JupyterLab（本机、带令牌），Ctrl-C 停止 / open JupyterLab on copies of the playbooks."""
    from .lab import run_lab

    run_lab(folder, db=db, port=port, open_browser=not no_browser, allow_root=allow_root,
            echo=lambda line: click.echo(line))


@cli.command("watch")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path),
              help="监视的文件夹：放入平台导出文件即导入并提醒 / drop folder for platform exports")
@click.option("--http", "http_addr", metavar="HOST:PORT",
              help="接收推送的地址，如 127.0.0.1:8877（签名密钥在 $REVIEWOPS_PUSH_SECRET）/ endpoint for signed pushes")
@click.option("--allow-remote", is_flag=True,
              help="允许推送地址监听非本机地址（应在 TLS 反向代理之后）/ allow a non-loopback --http address (behind TLS)")
@click.option("--every", "schedules", multiple=True, metavar="PATH@INTERVAL",
              help="定时重新导入，如 /data/erp/评价.xlsx@10m（可重复）/ scheduled re-import (repeatable)")
@click.option("--shop", help="文件中没有“店铺名称”列时使用的店铺 / shop for files without a 店铺名称 column")
@click.option("--platform", type=click.Choice(PLATFORMS), help="平台（不给则按表头识别）/ platform (detected when omitted)")
@click.option("--poll", default=0.5, show_default=True, type=click.FloatRange(0.05, 60), help="扫描间隔（秒）/ scan interval (s)")
@click.option("--settle", default=1.0, show_default=True, type=click.FloatRange(0.05, 600),
              help="文件需保持不变的秒数（等待写完）/ seconds a file must stay unchanged before it is taken")
@click.option("--sla-every", default=60.0, show_default=True, type=click.FloatRange(5, 3600),
              help="时效检查间隔（秒）/ SLA check interval (s)")
@click.option("--name", default="watcher", show_default=True, help="服务名（心跳用）/ service name for the heartbeat")
@click.option("--once", is_flag=True, help="只运行一轮（导入、时效检查、发送）后退出，供 cron 使用 / one round, then exit")
@click.option("--status", "show_status", is_flag=True,
              help="显示运行状况后退出（0=正常，1=未运行，2=有问题）/ health check (exit 0 ok, 1 not running, 2 problems)")
@click.option("--dead", "show_dead", is_flag=True, help="列出发送失败的提醒（死信）/ list dead letters")
@click.option("--resend", "resend_ids", multiple=True, type=int, metavar="ID",
              help="重新发送这条死信（可重复）/ re-send this dead letter (repeatable)")
@click.option("--resend-all", is_flag=True, help="重新发送全部死信 / re-send every dead letter")
@db_option
@json_option
def watch_cmd(folder: Path | None, http_addr: str | None, allow_remote: bool, schedules: tuple[str, ...],
              shop: str | None,
              platform: str | None, poll: float, settle: float, sla_every: float, name: str, once: bool,
              show_status: bool, show_dead: bool, resend_ids: tuple[int, ...], resend_all: bool, db: str | None,
              as_json: bool) -> None:
    """监控服务：文件夹、推送与定时导入的新评价在几秒内提醒到值班人 / the review watcher and its alerts."""
    from .core.store import Store

    if show_status or show_dead or resend_ids or resend_all:
        from .alerting.alerts import dead_letters, resend
        from .alerting.watch import watch_status

        with Store.open(db) as store:
            if resend_ids or resend_all:
                n = resend(store, list(resend_ids) if resend_ids else None, actor=_actor())
                click.echo(f"已重新排队 {n} 条提醒 / re-queued {n} alert deliveries")
            if show_dead:
                dead = dead_letters(store)
                if as_json:
                    _echo_json({"dead": redact_obj(dead.to_dict("records"))})
                elif dead.empty:
                    click.echo("没有死信 / no dead letters")
                else:
                    for r in dead.itertuples():
                        click.echo(f"#{r.delivery_id}  {r.key}  渠道 {r.channel}（{r.channel_type}）  尝试 {r.attempts} 次  "
                                   f"{redact_secrets(r.last_error or '')}")
                    click.echo("重新发送 re-send: reviewops watch --resend ID  或 or --resend-all")
            if show_status:
                st = redact_obj(watch_status(store))  # channel problems may quote a webhook (issue 15 §2)
                if as_json:
                    _echo_json(st)
                else:
                    for w in st["watchers"]:
                        s = w["stats"]
                        click.echo(f"{w['name']}@{w['host']} pid {w['pid']}：{'运行中 running' if w['alive'] else '无心跳 stale'}"
                                   f"（{w['age_s']} 秒前 s ago）文件 files {s.get('files', 0)}，推送 pushes {s.get('pushes', 0)}，"
                                   f"案件 cases {s.get('cases', 0)}，已送达 delivered {s.get('delivered', 0)}")
                    if not st["watchers"]:
                        click.echo("从未运行过监控服务 / no watcher has run")
                    click.echo("提醒队列 deliveries: " + ("，".join(f"{k} {v}" for k, v in sorted(st["deliveries"].items()))
                                                       or "空 empty"))
                    for c in st["channels"]:
                        click.echo(f"渠道 {c['channel']}（{c['type']}）：{'启用' if c['enabled'] else '停用'} "
                                   f"{c['events']} {c['problem']}")
                    for prob in st["problems"]:
                        click.echo(f"问题 problem: {prob}")
                    click.echo("正常 OK" if st["ok"] else "需要处理 needs attention")
                if not st["watchers"] or not any(w["alive"] for w in st["watchers"]):
                    sys.exit(1)
                if not st["ok"]:
                    sys.exit(EXIT_USER_ERROR)
        return
    from .alerting.watch import WatchConfig, Watcher, parse_schedule

    host, port = "127.0.0.1", None
    if http_addr:
        host, _, port_text = http_addr.rpartition(":")
        if not host or not port_text.isdigit():
            raise ConfigError(f"--http 应写成 地址:端口，如 127.0.0.1:8877，收到 {http_addr!r} / --http must be HOST:PORT")
        host, port = host.strip("[]"), int(port_text)
    config = WatchConfig(folder=folder, http_host=host, http_port=port, allow_remote=allow_remote,
                         schedules=[parse_schedule(s) for s in schedules],
                         shop=shop, platform=platform, poll=poll, settle=settle, sla_every=sla_every, name=name)
    logging.basicConfig(level=logging.WARNING, force=True, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("reviewops").setLevel(logging.INFO)  # ids, counts, file and channel names; no personal data
    with Store.open(db) as store:
        watcher = Watcher(store, config)
        if once:
            stats = watcher.run_once()
            if as_json:
                _echo_json(stats)
            else:
                click.echo("，".join(f"{k} {v}" for k, v in stats.items()))
            return
        click.echo(f"监控服务已启动 watcher running：文件夹 folder {folder or '-'}，推送 http {http_addr or '-'}，"
                   f"定时 schedules {len(schedules)}；Ctrl-C 停止 / stop", err=True)
        watcher.run_forever()


@cli.command("run")
@click.argument("playbook")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="剧本参数（可重复；按声明的类型检查）/ playbook parameter (repeatable; checked against its type)")
@db_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="报告写到此目录（默认 ./reports）/ folder for the reports (default ./reports)")
@click.option("--pdf", is_flag=True, help="另用 chromium 打印 PDF / also print a PDF with headless chromium")
@click.option("--progress/--no-progress", default=None, help="显示进度条（终端中默认显示）/ show progress (default: on a terminal)")
@click.option("--mail-to", "mail_to", multiple=True, metavar="ADDRESS",
              help="完成后把报告发到这些邮箱（可重复）/ e-mail the report to these addresses (repeatable)")
@click.option("--mail-from", help="发件人（默认 $REVIEWOPS_SMTP_FROM）/ sender (default $REVIEWOPS_SMTP_FROM)")
@click.option("--smtp-host", help="SMTP 服务器（默认 $REVIEWOPS_SMTP_HOST）/ SMTP server")
@click.option("--smtp-port", type=int, help="SMTP 端口（默认 starttls 587、ssl 465）/ SMTP port")
@click.option("--smtp-security", type=click.Choice(["starttls", "ssl", "none"]),
              help="加密方式（默认 starttls）/ TLS mode (default starttls)")
@click.option("--smtp-user", help="SMTP 登录名；密码只从 $REVIEWOPS_SMTP_PASSWORD 读取 / SMTP login (password from the "
                                  "environment only)")
@json_option
def run_cmd(playbook: str, params: tuple[str, ...], db: str | None, out_dir: Path | None, pdf: bool,
            progress: bool | None, mail_to: tuple[str, ...], mail_from: str | None, smtp_host: str | None,
            smtp_port: int | None, smtp_security: str | None, smtp_user: str | None, as_json: bool) -> None:
    """用 papermill 运行剧本并写出报告（可选邮件发送）/ run a playbook with papermill, write its reports, optionally mail them."""
    from .runner import parse_param_args, run_playbook

    smtp = None
    recipients: list[str] = []
    if mail_to:  # checked before anything runs
        from .alerting.delivery import SmtpConfig, parse_recipients

        recipients = parse_recipients(mail_to)
        smtp = SmtpConfig.from_env(host=smtp_host, port=smtp_port, security=smtp_security, user=smtp_user,
                                   sender=mail_from)
    result = run_playbook(playbook, parse_param_args(params), db=db, out_dir=out_dir, pdf=pdf, progress=progress,
                          actor=_actor())
    delivered = None
    if smtp is not None:
        from .alerting.delivery import DeliveryFailed, send_report

        try:
            delivered = send_report(result, recipients, smtp, db=db, actor=_actor())
        except DeliveryFailed:
            click.echo(f"报告已写出 reports written to {Path(next(iter(result.outputs.values()))).parent}", err=True)
            raise
    if as_json:
        _echo_json({"playbook": result.playbook, "params": result.params, "duration_s": round(result.duration, 3),
                    "outputs": {k: str(v) for k, v in result.outputs.items()}, "notes": result.notes,
                    "mailed": None if delivered is None else {"to": delivered.to,
                                                               "attachments": delivered.attachments,
                                                               "left_out": delivered.left_out}})
        return
    click.echo(f"剧本 playbook {result.playbook} 完成 done in {result.duration:.1f} s")
    for kind, path in result.outputs.items():
        click.echo(f"  {kind:<6} {path}")
    for note in result.notes:
        click.echo(f"  注意 note: {note}")
    if delivered is not None:
        click.echo(f"  已发送邮件 mailed to {', '.join(delivered.to)}: {', '.join(delivered.attachments)}")
        for name in delivered.left_out:
            click.echo(f"  未随信发送 not attached: {name}")


# ---- export analysis (issue 6: analysis workbook for analysts without Python) ----
@cli.group("export")
def export_group() -> None:
    """导出给分析师的文件 / exports for analysts."""


@export_group.command("analysis")
@click.option("--period", required=True, metavar="PERIOD",
              help="期间：2026-11（月）、2026-W47（周）或 2026-11-01..2026-11-30（日期，含两端）/ "
                   "a month, an ISO week or a date range (both days included)")
@click.option("--shops", "shops", metavar="1,2", help="店铺编号，逗号分隔（默认全部）/ shop ids, comma-separated (default all)")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="输出文件 FILE.xlsx / the workbook to write")
@db_option
@json_option
def export_analysis_cmd(period: str, shops: str | None, out: Path, db: str | None, as_json: bool) -> None:
    """写出分析工作簿（评价分级、案件、补偿、KPI 公式；无需 Python，WPS 可用）/ write the analysis workbook."""
    from .core.store import Store
    from .reporting.analysis import export_analysis

    shop_ids = None
    if shops is not None and shops.strip():
        parts = [p.strip() for p in shops.replace("，", ",").split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            raise ConfigError(f"--shops 应为逗号分隔的店铺编号，收到 {shops!r} / --shops takes comma-separated shop ids, "
                              f"got {shops!r}")
        shop_ids = [int(p) for p in parts]
    with Store.open(db) as store:
        result = export_analysis(store, period, out, shop_ids=shop_ids, actor=_actor())
    if as_json:
        _echo_json({"file": str(result.path), "period": result.period.label, "shops": result.shop_ids,
                    "rows": result.rows, "sha256": result.sha256,
                    "kpis": {k["key"]: k["value"] for k in result.kpis}, "notes": result.notes})
        return
    click.echo(f"已写出分析工作簿 wrote {result.path}（{result.period.label}）")
    for sheet, n in result.rows.items():
        click.echo(f"  {sheet}: {n} 行 rows")
    for note in result.notes:
        click.echo(f"  注意 note: {note}")
# ---- end export analysis ----


@export_group.command("workbook")
@click.option("--out", "out", default=".", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="输出文件夹 / the folder to write into")
@click.option("--overwrite", is_flag=True, help="覆盖已有的同名文件 / replace files that already exist")
@json_option
def export_workbook_cmd(out: Path, overwrite: bool, as_json: bool) -> None:
    """复制 Excel 工作簿 ReviewOps.xlsm 和 xlwings Lite 文件到文件夹 / copy the Excel workbook and the Lite files."""
    from .reporting.analysis import export_workbooks

    written = export_workbooks(out, overwrite=overwrite)
    if as_json:
        _echo_json({"files": [str(p) for p in written]})
        return
    for p in written:
        click.echo(f"已写出 wrote {p}")
    click.echo("在 Excel 中打开 ReviewOps.xlsm 前，请先 pip install xlwings 并安装其加载项；Mac 与网页版 Excel 用 lite/ "
               "下的文件（见 docs/excel.md）/ before opening ReviewOps.xlsm install xlwings and its add-in; "
               "Excel on a Mac or the web uses the files in lite/ (docs/excel.md)")

# ---- surveys (issue 5: CSAT/NPS answers for the scorecard and customer value) ----
@cli.group("surveys")
def surveys_group() -> None:
    """满意度（CSAT）与 NPS 问卷 / survey answers."""


@surveys_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--shop", "shop_id", required=True, type=int, help="店铺编号（reviewops status）/ the shop id")
@click.option("--skip-bad-rows", is_flag=True, help="只导入合格的行，报告其余 / import the good rows, report the bad")
@db_option
@json_option
def surveys_import_cmd(file: Path, shop_id: int, skip_bad_rows: bool, db: str | None, as_json: bool) -> None:
    """导入问卷答案（CSV/XLSX：问卷编号、类型 csat/nps、分数、订单号、回答时间）/ import survey answers."""
    from .core.store import Store
    from .intake.surveys import import_surveys

    with Store.open(db) as store:
        result = import_surveys(store, file, shop_id=shop_id, skip_bad_rows=skip_bad_rows)
    if as_json:
        _echo_json(result.to_dict())
        return
    click.echo(f"{result.file}: 读取 read {result.rows}，新增 inserted {result.inserted}，"
               f"已存在 duplicates {result.duplicates}，问题行 bad {len(result.problems)}")
    for p in result.problems:
        click.echo(f"  - {p}")
# ---- end surveys ----


# ---- backup and restore (issue 15 §4: backups that restore; rules in reviewops.core.backup) ----
@cli.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--verify", "verify_only", is_flag=True,
              help="只校验已有的备份文件（含试恢复），不做新备份 / check an existing backup file (with a trial restore) instead")
@click.option("--overwrite", is_flag=True, help="覆盖已存在的备份文件 / replace an existing backup file")
@db_option
@json_option
def backup_cmd(file: Path, verify_only: bool, overwrite: bool, db: str | None, as_json: bool) -> None:
    """备份数据库到一个文件（一致快照 + 清单），或用 --verify 校验备份 / back up the store to one file, or --verify one."""
    from .core.backup import backup, key_notice, verify
    from .core.store import Store

    if verify_only:
        result: Any = verify(file, db=db)
    else:
        with Store.open(db) as store:
            result = backup(store, file, overwrite=overwrite, actor=_actor())
    if as_json:
        _echo_json(result.to_dict() | {"vault_key_notice": key_notice(result.key)})
        return
    m = result.manifest
    rows = sum(t["rows"] for t in m["tables"].values())
    head = "备份文件校验通过 / backup verified" if verify_only else "已备份 / backed up"
    click.echo(f"{head}: {result.path}")
    click.echo(f"  来源 source: {m['source']['kind']} {m['source']['location']}；制作于 made {m['created_at_beijing']}；"
               f"数据库版本 revision {m['alembic_revision']}；{len(m['tables'])} 张表 tables，{rows} 行 rows")
    for c in getattr(result, "checks", []):
        click.echo(f"  ✓ {c}")
    click.echo(key_notice(result.key))


@cli.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="覆盖非空的目标数据库 / overwrite a store that is not empty")
@db_option
@json_option
def restore_cmd(file: Path, force: bool, db: str | None, as_json: bool) -> None:
    """从备份文件恢复到空数据库（先校验，再写入）/ restore a backup into an empty store (verified first)."""
    from .core.backup import key_notice, restore

    result = restore(file, db, force=force)
    if as_json:
        _echo_json(result.to_dict() | {"vault_key_notice": key_notice(result.key)})
        return
    m = result.manifest
    click.echo(f"已恢复 / restored: {result.path} → {result.target}（备份制作于 made {m['created_at_beijing']}）")
    if result.replaced:
        click.echo(f"  已覆盖原有数据 / replaced: {sum(result.replaced.values())} 行 rows (--force)")
    for c in result.checks:
        click.echo(f"  ✓ {c}")
    click.echo(f"  审计链 audit chain: {result.audit['cases']} 个案件 cases，{result.audit['events']} 条事件 events")
    for w in result.warnings:
        click.echo(f"  ! {w}")
    click.echo(key_notice(result.key))
# ---- end backup and restore ----


# ---- evidence (issue 17 §2) ----
@cli.group("evidence")
def evidence_group() -> None:
    """证据链：附加、列出、校验证据文件（按 SHA-256 存放，保管记录只追加）/ the evidence chain: add, list, verify."""


def _evidence_actor(store: Any) -> Any:
    """The signed-in user of $REVIEWOPS_TOKEN when set (their role decides what they see), else cli:<os user>."""
    token = os.environ.get("REVIEWOPS_TOKEN", "").strip()
    if token:
        from .core.users import actor_for_token

        return actor_for_token(store, token)
    return _actor()


@evidence_group.command("add")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--case", "case_id", required=True, type=int, help="案件编号 / case number")
@click.option("--kind", type=click.Choice(["chat_export", "screenshot", "photo", "video", "recording", "logistics",
                                           "qc_report", "other"]),
              help="证据类别（默认按文件类型推断）/ evidence kind (default: from the file type)")
@click.option("--note", default="", help="说明：这份证据证明什么 / what the file shows")
@db_option
@json_option
def evidence_add_cmd(file: Path, case_id: int, kind: str | None, note: str, db: str | None, as_json: bool) -> None:
    """把文件作为证据附加到案件（类型按内容识别，危险文件拒收）/ attach a file to a case as evidence."""
    from .core.store import Store
    from .handling.evidence import KIND_ZH, add_evidence_path, evidence_root

    with Store.open(db) as store:
        item = add_evidence_path(store, _evidence_actor(store), file, case_id=case_id, kind=kind, note=note)
        root = evidence_root(store)
    if as_json:
        _echo_json(item.to_dict() | {"root": str(root)})
        return
    how = {"new": "已保存 stored", "present": "内容已存在，未重复保存 deduplicated",
           "repaired": "已修复损坏的副本 repaired a damaged copy"}[item.stored]
    linked = "（已附加过，未重复附加 already attached）" if item.already_linked else ""
    click.echo(f"证据 evidence #{item.link_id} → 案件 case {case_id}{linked}: {KIND_ZH[item.kind]} {item.mime} "
               f"{item.size} B\n  SHA-256 {item.sha256}\n  {how}")


@evidence_group.command("list")
@click.option("--case", "case_id", required=True, type=int, help="案件编号 / case number")
@db_option
@json_option
def evidence_list_cmd(case_id: int, db: str | None, as_json: bool) -> None:
    """列出案件的证据：哈希、时间、类别、附加人 / list a case's evidence: hash, time, kind, who."""
    from .core.store import Store
    from .handling.evidence import list_evidence

    with Store.open(db) as store:
        rows = list_evidence(store, _evidence_actor(store), case_id=case_id)
    if as_json:
        _echo_json({"case_id": case_id, "evidence": rows})
        return
    if not rows:
        click.echo(f"案件 {case_id} 还没有证据 / case {case_id} has no evidence yet")
        return
    click.echo(f"案件 case {case_id}: {len(rows)} 份证据 evidence")
    for r in rows:
        at = r["added_at"].astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
        click.echo(f"  #{r['link_id']:<4} {at} {r['kind_zh']:<6} {r['mime']:<16} {r['size']:>10} B  {r['sha256']}  "
                   f"{r['original_name']}  ({r['added_by']})" + (f"  — {r['note']}" if r["note"] else ""))


@evidence_group.command("verify")
@db_option
@json_option
def evidence_verify_cmd(db: str | None, as_json: bool) -> None:
    """重新计算每份证据的哈希，列出缺失或被改动的文件（有问题时退出码 1）/ recompute every hash; exit 1 when a
    file is missing or altered."""
    from .core.store import Store
    from .handling.evidence import verify_evidence

    with Store.open(db) as store:
        report = verify_evidence(store, actor=_actor())
    if as_json:
        _echo_json(report.to_dict())
    else:
        click.echo(f"证据文件夹 evidence folder: {report.root}")
        click.echo(f"  已校验 checked {report.checked + len(report.missing)}，完好 intact "
                   f"{report.checked - len(report.altered)}")
        for sha in report.missing:
            click.echo(f"  ✗ 缺失 missing  {sha}")
        for sha in report.altered:
            click.echo(f"  ✗ 被改动 altered {sha}")
        for c in report.chat_changed:
            click.echo(f"  ✗ 聊天消息 chat message {c['message_id']} (evidence #{c['link_id']}): "
                       f"{'已删除 deleted' if c['state'] == 'deleted' else '入库后被改动 changed in the store'}")
        for f in report.unknown_files:
            click.echo(f"  ? 未登记的文件 unregistered file {f}")
        click.echo("  全部完好 all intact" if report.ok else "  有问题，见上 problems above")
    if not report.ok:
        sys.exit(1)


@evidence_group.command("link-chat")
@click.option("--case", "case_id", required=True, type=int, help="案件编号 / case number")
@db_option
def evidence_link_chat_cmd(case_id: int, db: str | None) -> None:
    """把该案件买家已导入的聊天消息逐条登记为证据（各有哈希）/ link the case buyer's imported chat messages."""
    from .core.store import Store
    from .handling.evidence import link_chat_messages

    with Store.open(db) as store:
        n = link_chat_messages(store, case_id, actor=_evidence_actor(store))
    click.echo(f"案件 case {case_id}: 新登记 {n} 条聊天消息 / {n} chat message(s) linked")
# ---- end evidence ----


# ---- appeal (issue 17 §3) ----
@cli.group("appeal")
def appeal_group() -> None:
    """平台申诉：制作申诉包、登记提交与平台结果、法务申诉队列 / platform appeals: build, submit, decide, queue."""


def _appeal_row_text(r: dict[str, Any]) -> str:
    from .core.outputs import fmt_time

    flag = "⚠逾期 OVERDUE " if r["overdue"] else "⚠24小时内 DUE SOON " if r["warning"] else ""
    left = "" if r["hours_left"] is None else f"（{r['hours_left']:+.1f} h）"
    aid = f"申诉 #{r['appeal_id']}" if r["appeal_id"] else "未制作"
    return (f"  {flag}案件 {r['case_id']:<5} {r['platform_zh']:<4} {r['state_zh']:<6} {aid:<10} "
            f"截止 {fmt_time(r['deadline_at'], empty='—')}{left}  {r['appeal_type']}")


@appeal_group.command("build")
@click.argument("case_id", type=int)
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              show_default=True, help="输出文件夹 / output folder")
@click.option("--ground", type=click.Choice(["extortion", "rival", "abuse"]),
              help="申诉理由（默认按案件信号判断）/ appeal ground (default: from the case's signals)")
@db_option
@json_option
def appeal_build_cmd(case_id: int, out_dir: Path, ground: str | None, db: str | None, as_json: bool) -> None:
    """制作案件的平台申诉包（ZIP、摘要 HTML 与 PDF；需法务/主管/管理员的 REVIEWOPS_TOKEN）/ build a case's appeal
    packet (ZIP, summary HTML and PDF; needs a legal/supervisor/admin REVIEWOPS_TOKEN)."""
    from .core.outputs import fmt_time
    from .core.store import Store
    from .handling.appeals import build_packet
    from .runner import write_pdf

    with Store.open(db) as store:
        packet = build_packet(store, _evidence_actor(store), case_id, out_dir=out_dir, ground=ground)
    pdf = packet.summary_path.with_suffix(".pdf")
    pdf_note = write_pdf(packet.summary_path, pdf)
    if as_json:
        _echo_json(packet.to_dict() | {"pdf_path": None if pdf_note else str(pdf), "pdf_note": pdf_note})
        return
    click.echo(f"申诉 appeal #{packet.appeal_id}（{packet.state}，版本 v{packet.version}）案件 case {case_id}: "
               f"{packet.appeal_type}")
    click.echo(f"  申诉包 packet  {packet.zip_path}  ({packet.size} B)\n  SHA-256 {packet.sha256}")
    click.echo(f"  摘要 summary  {packet.summary_path}" + (f"\n  {pdf_note}" if pdf_note else f"\n  PDF  {pdf}"))
    click.echo(f"  截止 deadline {fmt_time(packet.deadline_at, empty='—')}（北京时间）  证据 evidence {len(packet.evidence)}")
    for c in packet.checklist:
        click.echo(f"  {'✓' if c['状态'] == '已满足' else '✗'} {c['类别']} {c['要求']}：{c['状态']}（{c['依据']}）")
    for n in packet.notes:
        click.echo(f"  ! {n}")


@appeal_group.command("submit")
@click.argument("appeal_id", type=int)
@click.option("--ref", "ref", required=True, help="平台给出的申诉编号 / the platform's reference")
@click.option("--version", "version", type=int, help="你看到的版本（防止覆盖他人修改）/ the version you saw")
@db_option
@json_option
def appeal_submit_cmd(appeal_id: int, ref: str, version: int | None, db: str | None, as_json: bool) -> None:
    """登记申诉已向平台提交（谁、何时、平台编号）/ record that the appeal was filed with the platform."""
    from .core.store import Store
    from .handling.appeals import submit_appeal

    with Store.open(db) as store:
        row = submit_appeal(store, _evidence_actor(store), appeal_id, ref, expected_version=version)
    if as_json:
        _echo_json(row)
        return
    click.echo(f"申诉 appeal #{appeal_id} 已提交 submitted，平台编号 ref {row['platform_ref']}（v{row['version']}）")


@appeal_group.command("decide")
@click.argument("appeal_id", type=int)
@click.option("--accepted/--rejected", "accepted", required=True, help="平台结果 / the platform's decision")
@click.option("--reason", default="", help="平台给出的理由（驳回时必填）/ the platform's reason (required when rejected)")
@click.option("--version", "version", type=int, help="你看到的版本 / the version you saw")
@db_option
@json_option
def appeal_decide_cmd(appeal_id: int, accepted: bool, reason: str, version: int | None, db: str | None,
                      as_json: bool) -> None:
    """登记平台的申诉结果：成功，或驳回及理由 / record the platform's decision."""
    from .core.store import Store
    from .handling.appeals import APPEAL_STATE_ZH, decide_appeal

    with Store.open(db) as store:
        row = decide_appeal(store, _evidence_actor(store), appeal_id, accepted, reason, expected_version=version)
    if as_json:
        _echo_json(row)
        return
    click.echo(f"申诉 appeal #{appeal_id}: {APPEAL_STATE_ZH[row['state']]} {row['state']}（v{row['version']}）")


@appeal_group.command("queue")
@click.option("--all", "include_submitted", is_flag=True, help="也列出已提交待平台处理的 / include submitted appeals")
@db_option
@json_option
def appeal_queue_cmd(include_submitted: bool, db: str | None, as_json: bool) -> None:
    """法务申诉队列：按申诉截止排序，24 小时内与逾期的标出 / the legal queue, by appeal deadline."""
    from .core.store import Store
    from .handling.appeals import legal_queue

    with Store.open(db) as store:
        rows = legal_queue(store, _evidence_actor(store), include_submitted=include_submitted)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("没有待申诉的案件 / nothing to appeal")
        return
    click.echo(f"待申诉 {len(rows)} 件（截止为北京时间）/ {len(rows)} to appeal")
    for r in rows:
        click.echo(_appeal_row_text(r))
# ---- end appeal ----


# ---- signal (issue 17 §1: legal review of the malicious-review signals) ----
@cli.group("signal")
def signal_group() -> None:
    """恶意差评信号复核：列出、确认、驳回信号，查看本店调整后的阈值（需法务/主管/店长的 REVIEWOPS_TOKEN）/ legal
    review of malicious-review signals: list, confirm, reject, the shop's tuned threshold."""


def _signal_time(t: Any) -> str:
    from .core.outputs import fmt_time

    return fmt_time(t, empty="—")


def _cut(text: Any, width: int) -> str:
    """``text`` cut to ``width`` terminal columns (CJK characters take two), with … when cut."""
    import unicodedata

    out, cols = "", 0
    for ch in str(text):
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if cols + w > width - 1:
            return out + "…"
        out, cols = out + ch, cols + w
    return out


def _signal_rows_text(rows: list[dict[str, Any]], *, reasons: bool) -> list[str]:
    head = (f"{_pad('信号 id', 8)} {_pad('案件 case', 10)} {_pad('类型 kind', 24)} {_pad('分数', 5)} "
            f"{_pad('依据 rests on', 46)} {_pad('状态 status', 18)} 判定人 decided by")
    lines = [head]
    for r in rows:
        status = f"{r['status_zh']} {r['status']}"
        who = f"{r['decided_by']} {_signal_time(r['decided_at'])}" if r["decided_by"] else "—"
        lines.append(f"{_pad(r['signal_id'], 8)} {_pad(r['case_id'], 10)} {_pad(_cut(r['kind_zh'], 24), 24)} "
                     f"{r['score']:.2f}  {_pad(_cut(r['pointers_text'] or '—', 46), 46)} {_pad(status, 18)} {who}")
        if reasons:
            lines.append(f"         依据 reasons: {r['reasons']}")
            if r["pointers_text"]:
                lines.append(f"         指向 pointers: {r['pointers_text']}")
        if r["decision_note"]:
            lines.append(f"         说明 note: {r['decision_note']}")
    return lines


@signal_group.command("list")
@click.option("--case", "case_id", type=int, help="只列出这个案件的信号（含依据）/ one case's signals, with reasons")
@click.option("--pending", is_flag=True, help="只列出待复核的信号（法务队列）/ only signals awaiting a decision")
@click.option("--shop", "shop_id", type=int, help="只列出这个店铺（店铺编号）/ one shop (its id)")
@db_option
@json_option
def signal_list_cmd(case_id: int | None, pending: bool, shop_id: int | None, db: str | None, as_json: bool) -> None:
    """列出恶意差评信号：编号、案件、类型、分数、所依据的评价/订单/聊天消息、状态、判定人 / list the signals: id, case,
    kind, score, what it rests on, status, who decided."""
    from .core.store import Store
    from .handling.defence import list_signals

    if case_id is not None and pending:
        raise ConfigError("--case 与 --pending 只能二选一 / give either --case or --pending")
    with Store.open(db) as store:
        rows = list_signals(store, _evidence_actor(store), case_id=case_id, shop_id=shop_id, pending=pending)
    if as_json:
        _echo_json(rows)
        return
    what = f"案件 {case_id} 的" if case_id is not None else "待复核的" if pending else ""
    if not rows:
        click.echo(f"没有{what}恶意差评信号 / no signals" + (" awaiting a decision" if pending else ""))
        return
    open_n = sum(1 for r in rows if r["status"] == "open")
    tail = "" if pending else f"，待复核 {open_n} 条"
    click.echo(f"{what}信号 {len(rows)} 条{tail}（时间为北京时间）/ {len(rows)} signal(s), {open_n} open")
    for line in _signal_rows_text(rows, reasons=case_id is not None):
        click.echo(line)


def _echo_decision(out: dict[str, Any]) -> None:
    click.echo(f"信号 signal #{out['signal_id']}（{out['kind_zh']}）{out['status_zh']} {out['status']} — "
               f"案件 case {out['case_id']}，判定人 by {out['decided_by']}，{_signal_time(out['decided_at'])}（北京时间）")
    if out["decision_note"]:
        click.echo(f"  说明 note: {out['decision_note']}")
    state = ("已转法务（恶意差评）/ now routed to legal as malicious" if out["made_malicious"] else
             "案件已是恶意差评 / the case is malicious" if out["malicious"] else
             "案件不是恶意差评 / the case is not malicious")
    below = "，低于阈值 below the threshold" if out["below_threshold"] else ""
    click.echo(f"  案件综合分 combined score {out['combined_score']:.2f} / 本店阈值 threshold {out['threshold']:.2f}"
               f"{below}：{state}")
    if out["status"] == "rejected" and out["malicious"] and out["below_threshold"]:
        click.echo("  驳回不会撤销已转法务的案件；如不是恶意差评，请在案件处理中更正分类 / a rejection does not un-route the "
                   "case; recategorise it if it is not malicious")


@signal_group.command("confirm")
@click.argument("signal_id", type=int)
@click.option("--note", default="", help="说明（可选）/ a note (optional)")
@db_option
@json_option
def signal_confirm_cmd(signal_id: int, note: str, db: str | None, as_json: bool) -> None:
    """确认一个信号（记入本店阈值调整；达到阈值的未结案件转法务）/ confirm a signal."""
    from .core.store import Store
    from .handling.defence import decide_signal

    with Store.open(db) as store:
        out = decide_signal(store, _evidence_actor(store), signal_id, True, note, via="cli")
    if as_json:
        _echo_json(out)
    else:
        _echo_decision(out)


@signal_group.command("reject")
@click.argument("signal_id", type=int)
@click.option("--note", default="", help="驳回理由（必填）/ the reason (required)")
@db_option
@json_option
def signal_reject_cmd(signal_id: int, note: str, db: str | None, as_json: bool) -> None:
    """驳回一个信号，必须写明理由（记入本店阈值调整）/ reject a signal; a reason is required."""
    from .core.store import Store
    from .handling.defence import decide_signal

    with Store.open(db) as store:
        out = decide_signal(store, _evidence_actor(store), signal_id, False, note, via="cli")
    if as_json:
        _echo_json(out)
    else:
        _echo_decision(out)


@signal_group.command("threshold")
@click.option("--shop", "shop_id", type=int, help="店铺编号（默认：你能看到的每个店铺）/ shop id (default: every shop you see)")
@db_option
@json_option
def signal_threshold_cmd(shop_id: int | None, db: str | None, as_json: bool) -> None:
    """本店调整后的恶意差评阈值、默认值，以及所依据的确认/驳回数 / the shop's tuned threshold, the default and the
    decisions it rests on."""
    from .core.store import Store
    from .handling.defence import threshold_info

    with Store.open(db) as store:
        rows = threshold_info(store, _evidence_actor(store), shop_id)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("没有可查看的店铺 / no shops")
        return
    click.echo(f"{_pad('店铺 shop', 28)} {_pad('阈值 threshold', 15)} {_pad('默认 default', 13)} "
               f"{_pad('确认 confirmed', 15)} {_pad('驳回 rejected', 14)} 说明 note")
    for r in rows:
        if r["tuned"]:
            note = (f"按 {r['decisions']} 个判定调整（最佳切点 {r['best_cut']:.2f}，权重 {r['weight']:.0%}）/ tuned by "
                    f"{r['decisions']} decisions")
        else:
            note = (f"判定不足 {r['min_decisions']} 个，使用默认值 / fewer than {r['min_decisions']} decisions: "
                    "the default")
        shop = f"#{r['shop_id']} {r['platform_zh']} {r['shop_name']}"
        click.echo(f"{_pad(_cut(shop, 28), 28)} {_pad(format(r['threshold'], '.2f'), 15)} "
                   f"{_pad(format(r['default'], '.2f'), 13)} {_pad(r['confirmed'], 15)} {_pad(r['rejected'], 14)} {note}")
    lo, hi = rows[0]["bounds"]
    click.echo(f"阈值只在 {lo:.2f}–{hi:.2f} 之间调整 / the threshold stays within {lo:.2f}–{hi:.2f}")
# ---- end signal ----


# ---- quiz (issue 19 P1: knowledge quiz per agent) ----
@cli.group("quiz")
def quiz_group() -> None:
    """产品知识测验：从知识库为客服出题、作答、查成绩（及格线为策略的 quiz_pass_mark，默认 95 分）/ knowledge quiz:
    draw questions from the knowledge base for an agent, answer, see the results."""


def _quiz_agent(store: Any) -> str | None:
    """With $REVIEWOPS_TOKEN: its user (only their own quiz is accepted); without: None (the machine's own user)."""
    token = os.environ.get("REVIEWOPS_TOKEN", "").strip()
    if not token:
        return None
    from .core.users import actor_for_token

    return actor_for_token(store, token).name


def _echo_quiz(view: Any) -> None:
    from .prevention.quiz import LETTERS

    click.echo(f"知识测验 quiz #{view.quiz_id} — {view.agent}，{len(view.questions)} 题，及格线 pass mark "
               f"{view.pass_mark} 分")
    for q in view.questions:
        scope = f"{q.category_zh}" + (f" · {q.product.replace(';', '、')}" if q.product else "")
        click.echo(f"\n{q.number}. {q.question}（{scope}）")
        for letter, option in zip(LETTERS, q.options, strict=False):
            click.echo(f"   {letter}. {option}")


def _echo_result(r: Any) -> None:
    verdict = "及格 passed" if r.passed else "未及格 not passed"
    click.echo(f"测验 quiz #{r.quiz_id}（{r.agent}）：答对 {r.correct}/{r.total}，得分 {r.score:g} 分，及格线 "
               f"{r.pass_mark} 分 — {verdict}")
    for k in r.wrong:
        click.echo(f"  第{k}题：您的答案 {r.chosen[k - 1] or '未答'}，正确答案 {r.key[k - 1]} / question {k}: "
                   f"yours {r.chosen[k - 1] or '-'}, correct {r.key[k - 1]}")


@quiz_group.command("new")
@click.option("--agent", required=True, help="参加测验的客服（用户名）/ the agent (user name)")
@click.option("--n", "n", type=int, default=None, help="题数（默认策略的 quiz_questions，10）/ questions (default 10)")
@click.option("--seed", type=int, default=None, help="随机种子：同一策略版本下相同种子出相同的题 / same seed, same "
              "questions")
@db_option
@json_option
def quiz_new_cmd(agent: str, n: int | None, seed: int | None, db: str | None, as_json: bool) -> None:
    """为客服新建一次知识测验（优先覆盖其经手案件的商品和分类），打印题目（不含答案）/ draw a new quiz for an agent
    (their cases' products and categories first) and print it without answers."""
    from .core.store import Store
    from .prevention.quiz import new_quiz

    with Store.open(db) as store:
        view = new_quiz(store, agent, n=n, seed=seed, created_by=_actor())
    if as_json:
        from dataclasses import asdict

        _echo_json(asdict(view))
        return
    _echo_quiz(view)
    click.echo(f"\n作答：reviewops quiz take {view.quiz_id}（逐题作答）或 reviewops quiz answer {view.quiz_id} "
               f"--answers 答案.txt（每行一个 A–D）/ answer with quiz take or quiz answer")


@quiz_group.command("take")
@click.argument("quiz_id", type=int)
@db_option
def quiz_take_cmd(quiz_id: int, db: str | None) -> None:
    """在终端逐题作答并提交（每题输入 A、B、C 或 D）/ answer a quiz question by question in the terminal."""
    from .core.store import Store
    from .prevention.quiz import LETTERS, open_quiz, submit_quiz

    with Store.open(db) as store:
        agent = _quiz_agent(store)
        view = open_quiz(store, quiz_id, agent=agent)
        if view.submitted:
            raise ConfigError(f"测验 {quiz_id} 已提交，请新建测验 / quiz {quiz_id} was already submitted")
        click.echo(f"知识测验 quiz #{view.quiz_id} — {view.agent}，{len(view.questions)} 题，及格线 {view.pass_mark} 分")
        answers = []
        for q in view.questions:
            click.echo(f"\n{q.number}. {q.question}")
            for letter, option in zip(LETTERS, q.options, strict=False):
                click.echo(f"   {letter}. {option}")
            answers.append(click.prompt("您的答案 your answer", type=click.Choice(list(LETTERS), case_sensitive=False)))
        result = submit_quiz(store, quiz_id, answers, agent=agent)
    _echo_result(result)


@quiz_group.command("answer")
@click.argument("quiz_id", type=int)
@click.option("--answers", "answers_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="答案文件：每行一个 A–D（按题号顺序），或“题号 答案”，或一行 ABCD… / one A–D per line, or "
                   "'N X' lines, or one line ABCD…")
@db_option
@json_option
def quiz_answer_cmd(quiz_id: int, answers_file: Path, db: str | None, as_json: bool) -> None:
    """从文件提交测验答案并显示成绩 / submit a quiz's answers from a file and show the score."""
    from .core.store import Store
    from .prevention.quiz import submit_quiz

    text = answers_file.read_text(encoding="utf-8-sig")
    with Store.open(db) as store:
        result = submit_quiz(store, quiz_id, text, agent=_quiz_agent(store))
    if as_json:
        from dataclasses import asdict

        _echo_json(asdict(result))
        return
    _echo_result(result)


@quiz_group.command("results")
@click.option("--agent", default=None, help="只看这个客服 / one agent")
@click.option("--open", "include_open", is_flag=True, help="也列出未提交的测验 / also list quizzes not yet submitted")
@db_option
@json_option
def quiz_results_cmd(agent: str | None, include_open: bool, db: str | None, as_json: bool) -> None:
    """知识测验成绩（最新在前）：客服、时间、得分、及格线、是否及格 / knowledge quiz results, newest first."""
    from .core.outputs import fmt_time
    from .core.store import Store
    from .prevention.quiz import quiz_results

    with Store.open(db) as store:
        rows = quiz_results(store, agent, include_open=include_open)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("没有知识测验成绩 / no quiz results")
        return
    click.echo(f"{_pad('测验 id', 8)} {_pad('客服 agent', 12)} {_pad('提交时间（北京）', 18)} {_pad('答对', 7)} "
               f"{_pad('得分', 6)} {_pad('及格线', 6)} 结果")
    for r in rows:
        right = f"{r['correct']}/{r['questions']}" if r["questions"] else "—"
        score = "—" if r["score"] is None else f"{r['score']:g}"
        verdict = {True: "及格", False: "未及格"}.get(r["passed"], "—") if r["state"] != "open" else "未提交"
        click.echo(f"{_pad(r['quiz_id'], 8)} {_pad(r['agent'], 12)} "
                   f"{_pad(fmt_time(r['submitted_at'], empty='—'), 18)} {_pad(right, 7)} {_pad(score, 6)} "
                   f"{_pad(r['pass_mark'] if r['pass_mark'] is not None else '—', 6)} {verdict}")
# ---- end quiz ----


# ---- ambassadors (issue 20: V3 推荐大使, referrals never reviews; rules in reviewops.handling.ambassadors) ----
@cli.group("ambassadors")
def ambassadors_group() -> None:
    """推荐大使（好评大使）：候选人、邀请、同意/退出、推荐订单、奖励 / review ambassadors: candidates, invitations,
    consent and opt-out, referred orders, rewards (referrals only — never reviews)."""


def _token_actor(store: Any) -> Any:
    token = os.environ.get("REVIEWOPS_TOKEN", "").strip()
    if not token:
        raise ConfigError("此命令需要登录用户：请设置 REVIEWOPS_TOKEN（reviewops users token NAME）/ this command needs a "
                          "signed-in user: set REVIEWOPS_TOKEN")
    from .core.users import actor_for_token

    return actor_for_token(store, token)


def _frame_out(df: Any, cols: list[str], as_json: bool, empty: str) -> None:
    if as_json:
        _echo_json(json.loads(df.to_json(orient="records", force_ascii=False, date_format="iso")))
        return
    if df.empty:
        click.echo(empty)
        return
    click.echo(df[cols].to_string(index=False))


_CHANNEL = click.Choice(["chat", "phone", "sms", "platform_message", "wechat", "in_person", "other"])


@ambassadors_group.command("candidates")
@click.option("--shop", "shop_id", type=int, help="店铺编号 / shop id")
@click.option("--all", "show_all", is_flag=True, help="也列出暂不邀请的（冷静期、恶意信号）/ include held-back customers")
@db_option
@json_option
def ambassadors_candidates_cmd(shop_id: int | None, show_all: bool, db: str | None, as_json: bool) -> None:
    """可邀请的推荐大使候选人（已解决且确认满意、无恶意信号、过冷静期），含原因 / candidates with reasons."""
    from .core.store import Store
    from .handling.ambassadors import candidates

    with Store.open(db) as store:
        df = candidates(store, shop_id, include_ineligible=show_all)
    _frame_out(df, ["shop", "case_id", "customer", "status", "reasons"], as_json, "没有候选人 / no candidates")


@ambassadors_group.command("invite")
@click.argument("number", type=int)
@click.option("--approve", is_flag=True, help="NUMBER 是推荐大使编号：主管批准邀请 / approve ambassador NUMBER's invitation")
@click.option("--text", help="修改后的邀请话术（经合规检查）/ an edited invitation text (compliance-checked)")
@db_option
@json_option
def ambassadors_invite_cmd(number: int, approve: bool, text: str | None, db: str | None, as_json: bool) -> None:
    """提议邀请案件 NUMBER 的客户（任何角色），或 --approve 批准推荐大使 NUMBER 的邀请（主管及以上，非提议人）/
    propose inviting case NUMBER's customer, or --approve ambassador NUMBER's invitation."""
    from .core.store import Store
    from .handling.ambassadors import approve_invitation, propose_invitation

    with Store.open(db) as store:
        actor = _token_actor(store)
        if approve:
            out = {"ambassador_id": number, "message_id": approve_invitation(store, actor, number, text=text)}
        else:
            out = {"ambassador_id": propose_invitation(store, actor, number, text=text)}
    if as_json:
        _echo_json(out)
    elif approve:
        click.echo(f"已批准推荐大使 {number} 的邀请，邀请消息 {out['message_id']} 待发送 / invitation approved and queued")
    else:
        click.echo(f"已提议邀请，推荐大使编号 {out['ambassador_id']}，待主管批准 / proposed; awaits a supervisor")


@ambassadors_group.command("consent")
@click.argument("ambassador_id", type=int)
@click.option("--channel", required=True, type=_CHANNEL, help="客户表示同意的渠道 / where the customer consented")
@click.option("--at", "at", metavar="TIME", help="同意时间（北京时间，默认现在）/ when (Beijing time, default now)")
@click.option("--declined", is_flag=True, help="客户婉拒 / the customer declined")
@db_option
@json_option
def ambassadors_consent_cmd(ambassador_id: int, channel: str, at: str | None, declined: bool, db: str | None,
                            as_json: bool) -> None:
    """记录客户同意（日期、渠道；此后才可发送推荐码等消息）或婉拒 / record consent (date, channel) or a decline."""
    from .core.store import Store
    from .handling.ambassadors import record_consent

    when = None
    if at:
        from zoneinfo import ZoneInfo

        try:
            when = dt.datetime.fromisoformat(at)
        except ValueError:
            raise ConfigError(f"时间格式应为 2026-12-01 10:00，收到 {at!r} / bad time {at!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    with Store.open(db) as store:
        code = record_consent(store, _token_actor(store), ambassador_id, channel=channel, consent_at=when,
                              declined=declined)
    if as_json:
        _echo_json({"ambassador_id": ambassador_id, "referral_code": code, "declined": declined})
    elif declined:
        click.echo(f"已记录婉拒，推荐大使 {ambassador_id} 结束 / declined")
    else:
        click.echo(f"已记录同意；推荐码 {code}（推荐码消息待发送）/ consent recorded; referral code {code}")


@ambassadors_group.command("optout")
@click.argument("ambassador_id", type=int)
@click.option("--channel", required=True, type=_CHANNEL, help="客户要求退出的渠道 / where the customer opted out")
@db_option
@json_option
def ambassadors_optout_cmd(ambassador_id: int, channel: str, db: str | None, as_json: bool) -> None:
    """客户退出：一步停止一切（待发消息、未发放奖励取消，之后的订单不再计入）/ opt out: stops everything."""
    from .core.store import Store
    from .handling.ambassadors import opt_out

    with Store.open(db) as store:
        out = opt_out(store, _token_actor(store), ambassador_id, channel=channel)
    if as_json:
        _echo_json({"ambassador_id": ambassador_id, "cancelled": out})
    else:
        click.echo(f"推荐大使 {ambassador_id} 已退出；取消待发消息 {out['messages']} 条、未发放奖励 {out['rewards']} 笔 / "
                   "opted out")


@ambassadors_group.command("referrals")
@click.option("--shop", "shop_id", type=int, help="店铺编号 / shop id")
@click.option("--scan", is_flag=True, help="先在已导入订单中识别推荐订单并发放奖励（需 REVIEWOPS_TOKEN）/ recognise "
              "referred orders in the imported orders and issue rewards first")
@db_option
@json_option
def ambassadors_referrals_cmd(shop_id: int | None, scan: bool, db: str | None, as_json: bool) -> None:
    """推荐订单（买家留言/商家备注中的推荐码或优惠券码；每单只计一次，取消/全额退款不计）/ referred orders."""
    from .core.store import Store
    from .handling.ambassadors import recognise_referrals, referrals

    with Store.open(db) as store:
        if scan:
            r = recognise_referrals(store, _token_actor(store), shop_id)
            if not as_json:
                click.echo(f"新识别 {r.new} 单，状态变化 {r.changed} 单；计入 {r.counted}、不计 {r.excluded}；新发奖励 "
                           f"{r.rewards_issued}、待审批 {r.rewards_pending}、取消 {r.rewards_cancelled}")
        df = referrals(store, shop_id)
    _frame_out(df, ["ambassador_id", "order_id", "matched_by", "status", "excluded_reason", "revenue_fen"], as_json,
               "没有推荐订单 / no referred orders")


@ambassadors_group.command("rewards")
@click.option("--shop", "shop_id", type=int, help="店铺编号 / shop id")
@click.option("--approve", "approve_id", type=int, help="批准待审批奖励 / approve a pending reward")
@click.option("--reject", "reject_id", type=int, help="驳回待审批奖励（须 --reason）/ reject a pending reward")
@click.option("--reason", help="驳回原因 / reason")
@click.option("--deliver", "deliver_id", type=int, help="标记已发放并排队奖励通知 / mark delivered and queue the notice")
@click.option("--summary", is_flag=True, help="按店铺汇总：邀请、同意、推荐订单、收入、成本、ROI / per-shop results")
@db_option
@json_option
def ambassadors_rewards_cmd(shop_id: int | None, approve_id: int | None, reject_id: int | None, reason: str | None,
                            deliver_id: int | None, summary: bool, db: str | None, as_json: bool) -> None:
    """推荐奖励台账（分）：推荐优惠券与满额礼品，每项只发一次；审批与发放 / the rewards ledger."""
    from .core.store import Store
    from .handling.ambassadors import (
        approve_reward,
        deliver_reward,
        reject_reward,
        rewards,
        shop_results,
    )

    with Store.open(db) as store:
        if approve_id or reject_id or deliver_id:
            actor = _token_actor(store)
            if approve_id:
                approve_reward(store, actor, approve_id, reason=reason)
            if reject_id:
                reject_reward(store, actor, reject_id, reason=reason or "")
            if deliver_id:
                deliver_reward(store, actor, deliver_id)
        if summary:
            df = shop_results(store, shop_id)
            _frame_out(df, list(df.columns), as_json, "没有推荐大使 / no ambassadors")
            return
        df = rewards(store, shop_id)
    _frame_out(df, ["id", "ambassador_id", "kind", "reward_key", "amount_fen", "state", "needed_role"], as_json,
               "没有奖励 / no rewards")
# ---- end ambassadors ----


def _actor() -> str:
    from .core.users import os_actor

    return os_actor()


def _log_path() -> Path:
    import platformdirs

    d = Path(platformdirs.user_log_dir("reviewops", appauthor=False))
    d.mkdir(parents=True, exist_ok=True)
    return d / "reviewops-errors.log"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    install_log_redaction()  # no log line carries a password, token or key (issue 15 §2)
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
        click.echo(f"错误 error: {redact_secrets(e)}", err=True)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        click.echo("已中断，未完成的导入没有写入任何数据 / interrupted; an unfinished import wrote nothing", err=True)
        return 130
    except Exception as e:  # noqa: BLE001 - the last line of defence: no traceback to the user
        try:
            path = _log_path()
            with open(path, "a", encoding="utf-8") as fh:
                # the command line and traceback may hold a --db URL or an error quoting a secret: masked
                fh.write(redact_secrets(f"--- {dt.datetime.now().isoformat()} {' '.join(argv or sys.argv[1:])}\n"))
                fh.write(redact_secrets(traceback.format_exc()))
            where = f"详情见 details in {path}"
        except OSError:
            where = ""
        click.echo(f"内部错误 internal error ({type(e).__name__}); 未写入不完整的数据 nothing partial was written. {where}",
                   err=True)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
