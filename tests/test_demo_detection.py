"""Issue 17 §1 on the demo shop: "the demo shop's planted extortion chats and same-IP bursts are all found, with the
false positives counted". A small demo (scale 0.05, fixed as-of) is built once; detection runs over the whole store
(:func:`reviewops.handling.defence.detect_malicious` — idempotent, so it also holds when ``run_demo`` already
detected during triage). What was planted comes from the generator's read-only views
(:func:`reviewops.demo.chats.planted_extortion`, :func:`reviewops.demo.reviews.planted_bursts`,
:func:`reviewops.demo.reviews.planted_malicious`), never from the detector.

Full-size figures: docs/accuracy.md, "Malicious detection on the demo shop".
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from reviewops.core.store import Store, case_signals, cases, reviews, shops
from reviewops.demo import run_demo
from reviewops.demo.chats import planted_extortion
from reviewops.demo.reviews import planted_bursts, planted_malicious
from reviewops.handling.defence import detect_malicious, tuned_threshold

SCALE = 0.05
AS_OF = "2026-11-20T18:00:00+08:00"
#: Measured at this scale and as-of (2026-12-07): 0 cases over the threshold whose review was not planted (scale
#: 0.1: 4 of 25; full size: 23 of 70 — lawful 追评 and complaints the extortion detector read as threats). The
#: bound leaves room for the lexicon's tuning without letting a flood of false alarms through.
MAX_FALSE_POSITIVES = 3


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("demo_detection")
    db = str(base / "d.db")
    run = run_demo(db, scale=SCALE, as_of=AS_OF, out_dir=base / "out", password="demo-pass-123")
    store = Store.open(db)
    try:
        result = detect_malicious(store)
        with store.read() as conn:
            rows = conn.execute(
                sa.select(cases.c.id, cases.c.shop_id, cases.c.primary_category, shops.c.platform, reviews.c.review_id,
                          reviews.c.order_id, reviews.c.product_id)
                .select_from(cases.join(reviews, reviews.c.id == cases.c.review_pk)
                             .join(shops, shops.c.id == cases.c.shop_id))).all()
            kinds: dict[int, set[str]] = {}
            for cid, kind in conn.execute(sa.select(case_signals.c.case_id, case_signals.c.kind)):
                kinds.setdefault(int(cid), set()).add(str(kind))
        thresholds = {int(s): tuned_threshold(store, int(s)) for s in {r.shop_id for r in rows}}
    finally:
        store.close()
    by_id = {(r.platform, r.review_id): int(r.id) for r in rows if r.review_id}
    by_line = {(r.platform, r.order_id, r.product_id): int(r.id) for r in rows}

    def case_of(ref: dict[str, Any]) -> int | None:
        """The case of a planted review: by the platform's review id, else by order and product (PDD's export
        carries no review id)."""
        return by_id.get((ref["platform"], ref["review_id"])) or by_line.get(
            (ref["platform"], ref["order_id"], ref["product_id"]))

    return {"run": run, "result": result, "rows": rows, "kinds": kinds, "case_of": case_of,
            "thresholds": thresholds}


def test_every_planted_extortion_chat_is_found_on_its_case(detected):
    convs = planted_extortion(detected["run"].demo)
    assert convs, "the demo plants extortion chats"
    assert all(any("差评" in m or "删评" in m for m in c["buyer_messages"]) for c in convs)
    checked = 0
    for conv in convs:
        for ref in conv["reviews"]:
            case_id = detected["case_of"](ref)
            if ref["rating_class"] != "positive":
                assert case_id is not None, ref  # a bad review always has its case
            if case_id is None:
                continue  # the buyer posted a good review after all: no case to flag
            assert "extortion_chat" in detected["kinds"].get(case_id, set()), (ref, detected["kinds"].get(case_id))
            checked += 1
    assert checked >= 1  # at this scale and as-of one extortion chat has a bad review, hence a case


def test_every_burst_review_gets_the_same_ip_signal(detected):
    bursts = planted_bursts(detected["run"].demo)
    assert [(b["platform"], len(b["reviews"])) for b in bursts] == [("taobao", 10), ("douyin", 8)]
    for b in bursts:
        for ref in b["reviews"]:
            case_id = detected["case_of"](ref)
            assert case_id is not None, ref
            assert "burst_ip" in detected["kinds"].get(case_id, set()), (ref, detected["kinds"].get(case_id))
            assert detected["result"].scores[case_id] >= detected["thresholds"][
                next(r.shop_id for r in detected["rows"] if r.id == case_id)]


def test_false_positives_are_counted_and_bounded(detected):
    planted = {detected["case_of"](ref) for ref in planted_malicious(detected["run"].demo)} - {None}
    shop_of = {int(r.id): int(r.shop_id) for r in detected["rows"]}
    flagged = {c for c, s in detected["result"].scores.items() if s >= detected["thresholds"][shop_of[c]]}
    malicious_now = {int(r.id) for r in detected["rows"] if r.primary_category == "malicious"}
    false_pos = flagged - planted
    why = Counter(k for c in false_pos for k in detected["kinds"].get(c, ()))
    # every case over the threshold whose review the demo did not write as malicious is a false positive
    assert len(false_pos) <= MAX_FALSE_POSITIVES, (sorted(false_pos), why)
    # cases routed to 法务 (malicious now) that were not planted are among them or came from triage's lexicon
    assert len(malicious_now - planted - flagged) <= MAX_FALSE_POSITIVES
    assert planted and flagged >= {c for c in planted if "burst_ip" in detected["kinds"].get(c, set())}
