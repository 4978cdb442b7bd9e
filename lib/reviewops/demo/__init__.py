"""The demo shop: a deterministic, realistic shop written out as genuine-format platform exports, loaded
through the real importer, triaged and worked through the Workbench (``reviewops demo``).

The package's files say what they make (docs/demo.md):

========================  ===================================================================================
``timeline.py``           the as-of moment the history ends at, the export clock, the 15-minute import ticks
``catalogue.py``          products, SKUs, suppliers, listing ids and prices, and each product's own texts
``shop.py``               the shop's size (:class:`DemoSpec`), its four platform shops, geography and names,
                          the in-memory records and the state every step works on
``customers.py``          customers and orders (peaks, discounts, 达人 sales, sock-puppet bursts), which lines go wrong
``shipments.py``          logistics and after-sales: each order's life, refunds and returns, tracking events
``reviews.py``            reviews and their texts, 追评, shop replies, the live queue planted before as-of
``chats.py``              千牛 and 飞鸽 conversations, extortion chats among them
``writers.py``            the platform export writers (CSV in GBK/UTF-8 with BOM, XLSX)
``generate.py``           :func:`generate_demo` / :func:`build_demo`: run the steps, write, count, import
``history.py``            the demo users and the worked history: cases through the Workbench, ledger, follow-ups,
                          surveys, training, and the aftermath (改评, 追评, repurchases)
``run.py``                :func:`run_demo`, the whole ``reviewops demo``
========================  ===================================================================================

Determinism: every random draw of the shop comes from one ``random.Random(seed)`` (the writers and each
worked case have their own seeded streams), nothing reads the wall clock (the history ends at ``as_of``),
nothing iterates a ``set``, and the XLSX files carry a fixed creation time, so the same seed, scale and
as-of give byte-identical files and the same store.

The shop at ``scale=1.0`` (see :class:`DemoSpec`): 38 products in 7 categories with SKUs and suppliers,
34,000 customers over 4 platforms, 56,000 orders over 150 days ending at as-of (with a 双11 peak), about
12,600 reviews of which roughly 12 % are 中评/差评 in every category, complaints of every category code
(logistics, quality, size, missing_wrong, description, service, price, malicious), complaints hidden under
good ratings, default reviews, 追评, shop replies, refunds and after-sales tied to orders, chats around
complaints (some with extortion: "不给我退50块我就给差评"), tracking events with late dispatch and late
delivery, and two same-IP bursts of bad reviews on one product.
"""

from __future__ import annotations

from .catalogue import _PRODUCT_TEXTS, CATEGORIES, Product, catalogue
from .generate import DemoResult, build_demo, generate_demo, generate_exports
from .history import (
    AFTERMATH,
    AGENT_HABITS,
    AGENT_TRAINING,
    DEMO_PASSWORD_ENV,
    DEMO_USERS,
    FRESH_FRACTION,
    NEVER_CLOSE_DAYS,
    create_demo_users,
    date_demo_detection,
    demo_aftermath,
    work_demo_history,
)
from .reviews import _POSITIVE_GENERIC, QUEUE_BANDS
from .run import DemoRun, run_demo
from .shop import PLATFORMS, SHOPS, DemoSpec, ShopInfo
from .timeline import (
    DEFAULT_SEED,
    DEFAULT_TODAY,
    DETECT_EVERY_MINUTES,
    demo_as_of,
    demo_now,
    detection_time,
)
from .writers import ExportFile

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_TODAY",
    "demo_as_of",
    "SHOPS",
    "CATEGORIES",
    "DemoSpec",
    "ExportFile",
    "DemoResult",
    "DemoRun",
    "run_demo",
    "demo_aftermath",
    "Product",
    "catalogue",
    "generate_demo",
    "generate_exports",
    "build_demo",
]

# also importable from here (the tests and the CLI use them): the history's knobs and steps, the clock
# helpers, and two of the written texts (tests/test_demo_present.py reads them)
_ALSO = (AFTERMATH, AGENT_HABITS, AGENT_TRAINING, DEMO_PASSWORD_ENV, DEMO_USERS, FRESH_FRACTION, NEVER_CLOSE_DAYS,
         create_demo_users, date_demo_detection, work_demo_history, QUEUE_BANDS, PLATFORMS, ShopInfo,
         DETECT_EVERY_MINUTES, demo_now, detection_time, _PRODUCT_TEXTS, _POSITIVE_GENERIC)
