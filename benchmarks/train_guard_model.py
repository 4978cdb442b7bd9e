"""Train the shipped compliance-guard model (issue 17 §4): a logistic regression over hashed character n-grams
of seller messages, next to the guard's rules in :func:`reviewops.handling.replies.check_message`.

    python benchmarks/train_guard_model.py             # train on every seen set, write the model
    python benchmarks/train_guard_model.py --check     # retrain in memory, compare with the shipped files
    python benchmarks/train_guard_model.py --protocol  # the choice of C and the two cut-offs, re-run

**Data** — the seller messages that have been *seen*: ``benchmarks/data/malicious/seller_messages.tsv``,
``fresh/``, ``fresh2/`` and ``fresh3/`` (:data:`TRAIN_SETS`), and the sentences of
``tests/test_compliance_guard.py`` (``BLOCKED``, ``LAWFUL``, ``PROBE_BLOCKED``, ``PROBE_LAWFUL``). A set written
later (``fresh4/`` …) is never read here: it is the held-out test.

**How the guard uses it** — the shop's own 违规用语 rows and the built-in floor always block. The frame reading
(:func:`reviewops.grading.extortion.incentive_hits`) blocks unless the model's probability is at most
``PASS_AT`` (the policy setting ``compliance_model_pass``, 0.3: the model is sure the message is lawful, e.g. a
remedy that names a review without tying anything to it); and the model alone blocks at ``BLOCK_AT`` or above
(``compliance_model_block``, 0.7), on a message of at least ``MIN_CHARS`` characters (a two-character "好评" is
left to the rules). The model reads runs of one character as at most three (500 × 好 is not evidence). Setting
the first to 0 and the second to 1 gives the rules alone.

**Protocol** (``--protocol``) — the guard's rules were tuned on the first set, ``fresh/``, ``fresh2/`` and the
test sentences, never on ``fresh3/``. Settings were chosen on two development readings: ``fresh3/`` scored by a
model fitted on the first set + ``fresh/`` + ``fresh2/`` + the test sentences, and the test sentences by 5-fold
cross-fitting; by (block rate − false-block rate), pooled. The shipped model is then refitted on everything seen.
Features, storage and scoring are those of ``train_extortion_model.py`` (same helpers), without a kind head.

scikit-learn is used here only; the package scores with numpy.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import train_extortion_model as tx  # shared helpers: fit, _proba, _sha1, _merge_sha1s

MODEL_VERSION = "2026.12-g1"
C = 30.0
BLOCK_AT = 0.7  # the policy setting compliance_model_block's default
PASS_AT = 0.3  # the policy setting compliance_model_pass's default
MIN_CHARS = 8  # the model blocks alone only a message of at least this many characters (squeezed, runs collapsed)
SHRINK = 4.0  # a text of L characters counts L / (L + SHRINK) of its n-gram evidence
TRAIN_SETS = (".", "fresh", "fresh2", "fresh3")
LABEL = "blocked"


def load(folder: str) -> list[dict[str, str]]:
    with open(tx.MALICIOUS / folder / "seller_messages.tsv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def probes() -> list[dict[str, str]]:
    """The sentences of tests/test_compliance_guard.py as rows."""
    sys.path.insert(0, str(tx.ROOT / "tests"))
    import test_compliance_guard as tg

    def rows(items: list[Any], label: str) -> list[dict[str, str]]:
        return [{"text": i if isinstance(i, str) else i[0], LABEL: label} for i in items]

    return rows(tg.BLOCKED, "1") + rows(tg.LAWFUL, "0") + rows(tg.PROBE_BLOCKED, "1") + rows(tg.PROBE_LAWFUL, "0")


def _rows(sets: tuple[str, ...], with_probes: bool = True) -> list[dict[str, str]]:
    rows = [r for s in sets for r in load(s)] + (probes() if with_probes else [])
    return sorted(rows, key=lambda r: (tx._sha1(r["text"]), r[LABEL]))


def _fit(rows: list[dict[str, str]], c: float = C) -> dict[str, np.ndarray]:
    return tx.fit(rows, c=c, label=LABEL, kinds=(), collapse_runs=True)


def _proba(arrays: dict[str, np.ndarray], texts: list[str], shrink: float = SHRINK) -> np.ndarray:
    return tx._proba(arrays, texts, shrink=shrink, collapse_runs=True)


def _lengths(texts: list[str]) -> np.ndarray:
    from reviewops.grading.extortion import collapse_runs, squeeze_many

    return np.array([len(collapse_runs(s)) for s in squeeze_many(texts)])


def rule_readings(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per message: (blocked by the policy's rows or floor, blocked by the frame reading) — as check_message reads."""
    from reviewops.core.policy import default_policy
    from reviewops.grading.extortion import disclaimed, incentive_hits
    from reviewops.handling.replies import _squeezed

    pol = default_policy()
    floor = [any(not disclaimed(t, h[0], pol) for v in (unicodedata.normalize("NFC", t), _squeezed(t))
                 for h in pol.forbidden_hits(v)) for t in texts]
    frame = [bool(incentive_hits(t, pol)) for t in texts]
    return np.array(floor), np.array(frame)


def _rates(y: np.ndarray, blocked: np.ndarray) -> dict[str, Any]:
    return {"block_rate": round(float(blocked[y == 1].mean()), 4), "false_block_rate": round(float(blocked[y == 0].mean()), 4),
            "missed": int((~blocked[y == 1]).sum()), "false_blocks": int(blocked[y == 0].sum()),
            "n_block": int((y == 1).sum()), "n_lawful": int((y == 0).sum())}


def protocol() -> dict[str, Any]:
    base, dev, pr = _rows((".", "fresh", "fresh2"), with_probes=False), load("fresh3"), probes()
    y3 = np.array([int(r[LABEL]) for r in dev])
    yp = np.array([int(r[LABEL]) for r in pr])
    fl3, fr3 = rule_readings([r["text"] for r in dev])
    flp, frp = rule_readings([r["text"] for r in pr])
    fold = np.random.default_rng(0).integers(0, 5, len(pr))
    n3, n_p = _lengths([r["text"] for r in dev]), _lengths([r["text"] for r in pr])
    out: dict[str, Any] = {"fresh3": "fitted on the first set + fresh/ + fresh2/ + test sentences",
                           "probes": "5-fold cross-fitted", "n_fresh3": len(dev), "n_probes": len(pr),
                           "rules_alone": {"fresh3": _rates(y3, fl3 | fr3), "probes": _rates(yp, flp | frp)}, "grid": []}
    for c in (10.0, 30.0):
        f3, fk = _fit(base + pr, c), [_fit(base + [r for r, f in zip(pr, fold) if f != k], c) for k in range(5)]
        for shrink in (4.0, 8.0):
            p3 = _proba(f3, [r["text"] for r in dev], shrink)
            pp = np.zeros(len(pr))
            for k in range(5):
                idx = np.flatnonzero(fold == k)
                pp[idx] = _proba(fk[k], [pr[i]["text"] for i in idx], shrink)
            for hi in (0.6, 0.7, 0.8, 0.9, 1.01):
                for lo in (0.0, 0.1, 0.2, 0.3):
                    for mc in (0, 6, 8, 10):
                        b3 = fl3 | (fr3 & (p3 > lo)) | ((p3 >= hi) & (n3 >= mc))
                        bp = flp | (frp & (pp > lo)) | ((pp >= hi) & (n_p >= mc))
                        pos, neg = np.r_[b3[y3 == 1], bp[yp == 1]], np.r_[b3[y3 == 0], bp[yp == 0]]
                        out["grid"].append({"C": c, "length_shrink": shrink, "block_at": hi, "pass_at": lo,
                                            "min_chars": mc, "pooled_margin": round(float(pos.mean() - neg.mean()), 4),
                                            "fresh3": _rates(y3, b3), "probes": _rates(yp, bp)})
    out["chosen"] = next(g for g in out["grid"] if g["C"] == C and g["block_at"] == BLOCK_AT and g["pass_at"] == PASS_AT
                         and g["min_chars"] == MIN_CHARS and g["length_shrink"] == SHRINK)
    out["best_margin"] = max(out["grid"], key=lambda g: g["pooled_margin"])
    return out


def build() -> tuple[bytes, dict[str, Any], list[str]]:
    rows = _rows(TRAIN_SETS)
    arrays = _fit(rows)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    blob = buf.getvalue()
    files = {f"{s}/seller_messages.tsv".lstrip("./"): hashlib.sha256((tx.MALICIOUS / s / "seller_messages.tsv")
                                                                      .read_bytes()).hexdigest() for s in TRAIN_SETS}
    header = {
        "format": tx.MODEL_FORMAT, "version": MODEL_VERSION,
        "what": "conditional incentives and review pressure in seller messages: logistic regression over hashed char "
                "1-3-grams of reviewops.grading.extortion.squeeze(text); no kind head",
        "n_bits": tx.N_BITS, "C": C, "class_weight": "balanced", "length_shrink": SHRINK, "collapse_runs": True,
        "block_at": BLOCK_AT, "pass_at": PASS_AT, "min_chars": MIN_CHARS, "kinds": [],
        "rule_weight": 0.0, "model_weight": 1.0, "rule_floor": 1.0,
        "trained_on": {"folder": "benchmarks/data/malicious", "sets": list(TRAIN_SETS), "files_sha256": files,
                       "probes": "tests/test_compliance_guard.py BLOCKED + LAWFUL + PROBE_BLOCKED + PROBE_LAWFUL",
                       "probes_sha256": hashlib.sha256(json.dumps([[r["text"], r[LABEL]] for r in probes()],
                                                                  ensure_ascii=False).encode("utf-8")).hexdigest(),
                       "n_rows": len(rows), "n_positive": sum(r[LABEL] == "1" for r in rows)},
        "held_out": "any set written after these (benchmarks/data/malicious/fresh4/ …); never read by this script",
        "npz_sha256": hashlib.sha256(blob).hexdigest(),
    }
    return blob, header, sorted({tx._sha1(r["text"]) for r in rows})


def trained_sha1s() -> list[str]:
    """The sha1 of every seller message the shipped guard model was trained on (kept in trained_sha1.tsv)."""
    return sorted({tx._sha1(r["text"]) for r in _rows(TRAIN_SETS)})


def main(argv: list[str] | None = None) -> int:
    return tx.run_cli(argv, name="guard_model", doc=__doc__, build=build, protocol=protocol, summary_skip=("grid",))


if __name__ == "__main__":
    sys.exit(main())
