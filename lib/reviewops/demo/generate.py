"""Generate the demo shop and write its exports (:func:`generate_demo`), or also load them through the real
importer (:func:`build_demo`): the steps run in a fixed order on one random stream, then the writers write
the files and the statistics are counted."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalogue import CATEGORIES, Product
from .chats import make_chats
from .customers import assign_issues, make_customers, make_orders
from .reviews import make_reviews
from .shipments import make_refunds
from .shop import PLATFORMS, SHOPS, DemoSpec, Shop
from .timeline import DEFAULT_SEED, _ts, demo_as_of
from .writers import ExportFile, _Writer


@dataclass
class DemoResult:
    spec: DemoSpec
    seed: int
    today: dt.date
    files: list[ExportFile]
    catalogue_path: Path
    stats: dict[str, Any]
    products: list[Product] = field(default_factory=list)
    as_of: dt.datetime | None = None  # aware UTC: the moment the history ends
    _gen: Any = field(default=None, repr=False, compare=False)  # the in-memory shop, for the later exports

    @property
    def paths(self) -> list[Path]:
        return [f.path for f in self.files]


def build_shop(g: Shop) -> None:
    """Make the whole shop in memory, step by step, from its one random stream (the order is part of the
    output: every step draws from ``g.rng``)."""
    make_customers(g)
    make_orders(g)
    assign_issues(g)
    make_refunds(g)
    make_reviews(g)
    make_chats(g)


def _collect_stats(g: Shop, w: _Writer) -> dict[str, Any]:
    all_rv = [rv for p in PLATFORMS for rv in g.reviews[p]]
    by_cat: dict[str, dict[str, int]] = {c: {"reviews": 0, "neutral": 0, "negative": 0} for c in CATEGORIES}
    codes: dict[str, int] = {}
    for rv in all_rv:
        d = by_cat[rv.line.product.category]
        d["reviews"] += 1
        if rv.cls != "positive":
            d[rv.cls] += 1
        for c in rv.codes:
            codes[c] = codes.get(c, 0) + 1
    customers = {p: len({id(o.customer) for o in g.orders[p]}) for p in PLATFORMS}
    orders = {p: len(g.orders[p]) for p in PLATFORMS}
    first = min(o.created for p in PLATFORMS for o in g.orders[p])
    last = max(o.created for p in PLATFORMS for o in g.orders[p])
    extortion = sum(1 for p in ("taobao", "douyin") for conv in g.convs[p] if conv[2] == "extortion")
    bursts = [{"platform": b["platform"], "product_code": b["product"].code,
               "product_id": b["product"].platform_id[b["platform"]], "ip": b["ip"], "reviews": len(b["orders"]),
               "start": _ts(b["start"]), "minutes": round((b["end"] - b["start"]).total_seconds() / 60, 1)}
              for b in g.bursts]
    neg = sum(1 for rv in all_rv if rv.cls != "positive")
    return {
        "customers": sum(customers.values()), "customers_by_platform": customers,
        "orders": sum(orders.values()), "orders_by_platform": orders,
        "order_lines": sum(len(o.lines) for p in PLATFORMS for o in g.orders[p]),
        "first_order_at": _ts(first), "last_order_at": _ts(last), "days": (last.date() - first.date()).days + 1,
        "reviews": len(all_rv), "reviews_by_platform": {p: len(g.reviews[p]) for p in PLATFORMS},
        "neutral_negative": neg, "neutral_negative_share": round(neg / max(1, len(all_rv)), 4),
        "by_category": by_cat, "complaint_codes": codes,
        "hidden_complaints": sum(1 for rv in all_rv if rv.hidden),
        "default_reviews": sum(1 for rv in all_rv if rv.default),
        "follow_ups": sum(1 for rv in all_rv if rv.append),
        "seller_replies": sum(1 for rv in all_rv if rv.reply),
        "refunds": sum(len(o.refunds) for p in PLATFORMS for o in g.orders[p]),
        "conversations": sum(len(g.convs[p]) for p in g.convs),
        "messages": sum(len(c[3]) for p in g.convs for c in g.convs[p]),
        "extortion_conversations": extortion,
        "bursts": bursts,
        "shipments": g.stats.get("shipments", {}),
        "files": {f.name: f.rows for f in w.files},
    }


def generate_demo(out_dir: str | os.PathLike[str], *, seed: int = DEFAULT_SEED, scale: float = 1.0,
                  today: dt.date | None = None, spec: DemoSpec | None = None,
                  as_of: dt.datetime | str | None = None, policy: Any = None) -> DemoResult:
    """Build the demo shop and write its exports into ``out_dir``; returns files, catalogue and statistics.

    The shop's history ends at ``as_of`` (see :func:`demo_as_of`: default now, or ``today`` at 09:30).
    ``policy`` (default: the default policy) sets the SLA budgets and clock the live queue is placed
    against. Same seed, scale and as-of → identical bytes."""
    spec = spec or DemoSpec.for_scale(scale)
    at = demo_as_of(as_of, today=today, allow_future=True)  # files only; the store's history refuses the future
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    g = Shop(seed, spec, at, policy)
    build_shop(g)
    w = _Writer(g, out)
    cat_path = w.write_all()
    w.listings()  # the listing exports, last: their own random stream leaves the files above unchanged
    res = DemoResult(spec=spec, seed=seed, today=g.today, files=w.files, catalogue_path=cat_path,
                     stats=_collect_stats(g, w), products=g.products, as_of=at)
    res._gen = g
    return res


def generate_exports(out_dir: str | os.PathLike[str], *, seed: int = DEFAULT_SEED, scale: float = 1.0,
                     today: dt.date | None = None, as_of: dt.datetime | str | None = None) -> list[Path]:
    """Write the demo shop's platform exports into ``out_dir``; paths in import order
    (orders, then refunds, shipments, reviews, chats and listings). Same seed, scale and as-of → identical bytes."""
    return generate_demo(out_dir, seed=seed, scale=scale, today=today, as_of=as_of).paths


def build_demo(db: Any = None, *, seed: int = DEFAULT_SEED, scale: float = 1.0,
               out_dir: str | os.PathLike[str] | None = None, progress: bool = False,
               today: dt.date | None = None, as_of: dt.datetime | str | None = None) -> list[Any]:
    """Generate the demo exports (history ending at ``as_of``, default now) and load every file through
    the real importer (no triage, no worked history: :func:`run_demo` does the whole demo).

    ``db`` is what :meth:`reviewops.core.store.Store.open` takes (``None``: ``REVIEWOPS_DB`` or the default
    file). Without ``out_dir`` the files are written to a temporary folder that is removed afterwards.
    Returns the importer's :class:`~reviewops.intake.ingest.ImportResult` list, one per table. Running it
    again on the same database adds nothing. Product categories and suppliers (which no platform
    export carries) are filled into the store's ``products`` table from the catalogue.
    """
    from ..core.store import Store
    from ..intake.ingest import import_paths

    tmp: tempfile.TemporaryDirectory[str] | None = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="reviewops-demo-")
        out_dir = tmp.name
    try:
        demo = generate_demo(out_dir, seed=seed, scale=scale, today=today, as_of=as_of)
        results: list[Any] = []
        with Store.open(db) as store:
            for f in demo.files:
                results.extend(import_paths(store, [f.path], platform=f.platform, kind=f.kind, shop=f.shop,
                                            progress=progress))
            _fill_products(store, demo)
        return results
    finally:
        if tmp is not None:
            tmp.cleanup()


def _fill_products(store: Any, demo: DemoResult) -> None:
    """Catalogue facts (category, supplier, title) into ``products``: insert missing, fill empty fields."""
    import sqlalchemy as sa

    from ..core import store as st

    products = demo.products
    with store.write() as conn:
        for platform in PLATFORMS:
            shop_id = store.shop_id(conn, platform, SHOPS[platform].name)
            existing = {row.product_id: row for row in conn.execute(
                sa.select(st.products.c.product_id, st.products.c.title, st.products.c.category,
                          st.products.c.supplier).where(st.products.c.shop_id == shop_id))}
            for p in products:
                pid = p.platform_id[platform]
                row = existing.get(pid)
                if row is None:
                    conn.execute(st.products.insert().values(shop_id=shop_id, product_id=pid,
                                                             title=p.listing_title(platform), category=p.category,
                                                             supplier=p.supplier))
                elif row.category is None or row.supplier is None or row.title is None:
                    conn.execute(st.products.update().where(
                        st.products.c.shop_id == shop_id, st.products.c.product_id == pid).values(
                        title=row.title or p.listing_title(platform), category=row.category or p.category,
                        supplier=row.supplier or p.supplier))
