"""Train the shipped extortion model (issue 17): a logistic regression over hashed character n-grams of
buyer texts, combined with the rule reader's score in :func:`reviewops.extortion_scores`.

    python benchmarks/train_extortion_model.py             # train on every seen set, write the model
    python benchmarks/train_extortion_model.py --check     # retrain in memory, compare with the shipped files
    python benchmarks/train_extortion_model.py --protocol  # the choice of C and the weights (below), re-run

**Data** — the buyer texts that have been *seen* (scored and read): the labelled sets
``benchmarks/data/malicious/buyer_texts.tsv``, ``fresh/`` and ``fresh2/`` (:data:`TRAIN_SETS`), and the
probe sentences the rules were written against (``PROBE_EXTORTION`` / ``PROBE_LAWFUL`` in
``tests/test_extortion.py``, channel chat). A set written later (``fresh3/`` …) is never read here: it
is the held-out test of this model.

**Protocol** (``--protocol``) — the rules were tuned on the first set, ``fresh/`` and the probes, never on
``fresh2/``. Settings were chosen on two development readings, pooled: ``fresh2/`` scored by a model fitted
on the first set + ``fresh/`` + the probes (out of sample for the rules *and* the model: it measures
recall on a new writer), and the probes scored by 5-fold cross-fitting (they measure the false flags on
hard lawful texts near the rules' boundaries, where a model alone went wrong: fitted without them it
flagged 25 of 212 lawful probes). The shipped model is then refitted on everything seen. Combined score:
``min(1, RULE_WEIGHT · rule score + MODEL_WEIGHT · model probability)``, flagged at the policy's
``extortion_threshold`` (0.5): the model alone flags at p ≥ 0.71, a rule reading of 0.5 needs p ≥ 0.45;
a rule reading of at least ``RULE_FLOOR`` (0.7) keeps its own score (the model never vetoes a strong frame:
"不给我退50块我就给差评"). A short text's n-gram evidence is shrunk, ``L / (L + LENGTH_SHRINK)`` for L
characters (the demo's "那你们快点" read 0.78 unshrunk). The order of the choices: weights on the grid (no floor,
no shrink), then the floor, then the shrink, each by pooled F1. A shop sets ``MODEL_WEIGHT`` in its policy
(``extortion_model_weight``; 0 = rules alone).

**Files** — ``lib/reviewops/grading/data/extortion_model.npz`` (arrays, no pickles) + ``.json`` (version,
settings, the sha256 of each training file and of the .npz, the protocol's figures). The texts' sha1s are
added to ``trained_sha1.tsv`` (the list of every text a shipped model was trained or tuned on; the category
trainer keeps them when it rewrites the file). Deterministic: sorted inputs, liblinear, no clock.

scikit-learn is used here only; the package scores with numpy.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MALICIOUS = HERE / "data" / "malicious"
DATA = ROOT / "lib" / "reviewops" / "grading" / "data"

MODEL_VERSION = "2026.12-e1"
MODEL_FORMAT = 1
N_BITS = 16
C = 30.0
RULE_WEIGHT = 0.375
MODEL_WEIGHT = 0.7  # the policy setting extortion_model_weight's default
RULE_FLOOR = 0.7  # a rule reading this strong is never vetoed by the model
LENGTH_SHRINK = 4.0  # the n-gram part of a text of L characters counts L / (L + 4) when scored
WEIGHT_GRID = ((0.375, 0.5, 0.625, 0.75, 1.0), (0.5, 0.55, 0.625, 0.7, 0.75, 0.875))  # (rule, model)
#: the seen sets the shipped model learns from (folder relative to benchmarks/data/malicious)
TRAIN_SETS = (".", "fresh", "fresh2")
KINDS = ("money_for_review", "threat_bad_review", "abuse", "competitor")


def _sha1(text: str) -> str:
    return hashlib.sha1(re.sub(r"\s+", "", text).encode("utf-8")).hexdigest()


def load(folder: str) -> list[dict[str, str]]:
    with open(MALICIOUS / folder / "buyer_texts.tsv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def probes() -> list[dict[str, str]]:
    """The probe sentences of tests/test_extortion.py as rows (channel chat)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import test_extortion as te

    return ([{"text": t, "is_extortion": "1", "kind": k, "channel": "chat"} for t, k, _r in te.PROBE_EXTORTION]
            + [{"text": t, "is_extortion": "0", "kind": "", "channel": "chat"} for t, _r in te.PROBE_LAWFUL])


def _rows(sets: tuple[str, ...], with_probes: bool = True) -> list[dict[str, str]]:
    rows = [r for s in sets for r in load(s)] + (probes() if with_probes else [])
    return sorted(rows, key=lambda r: (r.get("sha1") or _sha1(r["text"]), r["is_extortion"]))


def fit(rows: list[dict[str, str]], *, c: float = C, n_bits: int = N_BITS, label: str = "is_extortion",
        kinds: tuple[str, ...] = KINDS, collapse_runs: bool = False) -> dict[str, np.ndarray]:
    """The binary head (``label`` 1 or 0) and the kind head (which of ``kinds``, on the positive rows; none when
    ``kinds`` is empty — the guard's model, ``train_guard_model.py``, which also collapses character runs)."""
    from reviewops.grading.extortion import collapse_runs as collapse
    from reviewops.grading.extortion import squeeze_many
    from reviewops.grading.textmodel import _design
    from sklearn.linear_model import LogisticRegression

    squeezed = squeeze_many([r["text"] for r in rows])
    X = _design([collapse(s) for s in squeezed] if collapse_runs else squeezed, n_bits)
    y = np.array([int(r[label]) for r in rows])
    head = LogisticRegression(C=c, solver="liblinear", class_weight="balanced", max_iter=5000,
                              random_state=0).fit(X, y)
    out = {"weights": head.coef_.astype(np.float32), "bias": head.intercept_.astype(np.float64),
           "kind_weights": np.zeros((0, 1 << n_bits), np.float32), "kind_bias": np.zeros(0)}
    if kinds:
        pos = np.flatnonzero(y == 1)
        ky = np.array([kinds.index(rows[i]["kind"]) for i in pos])
        kind = LogisticRegression(C=c, solver="lbfgs", max_iter=5000).fit(X[pos], ky)
        out["kind_weights"], out["kind_bias"] = kind.coef_.astype(np.float32), kind.intercept_.astype(np.float64)
    return out


def _proba(arrays: dict[str, np.ndarray], texts: list[str], n_bits: int = N_BITS,
           shrink: float = LENGTH_SHRINK, collapse_runs: bool = False) -> np.ndarray:
    from reviewops.grading.extortion import collapse_runs as collapse
    from reviewops.grading.extortion import squeeze_many
    from reviewops.grading.textmodel import _linear_scores

    squeezed = squeeze_many(texts)
    if collapse_runs:
        squeezed = [collapse(s) for s in squeezed]
    z = _linear_scores(squeezed, n_bits, arrays["weights"], arrays["bias"])[:, 0]
    if shrink:
        n = np.array([len(s) for s in squeezed], dtype=float)
        z = arrays["bias"][0] + (z - arrays["bias"][0]) * n / (n + shrink)
    return 1.0 / (1.0 + np.exp(-z))


def _metrics(y: np.ndarray, flag: np.ndarray) -> dict[str, Any]:
    tp = int(((y == 1) & flag).sum())
    fp = int(((y == 0) & flag).sum())
    fn = int(((y == 1) & ~flag).sum())
    p = tp / max(tp + fp, 1)
    r = tp / max(tp + fn, 1)
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(2 * p * r / max(p + r, 1e-9), 3),
            "tp": tp, "fp": fp, "fn": fn}


def protocol() -> dict[str, Any]:
    """The development readings behind the settings: fresh2/ (fitted on the first set + fresh/ + probes) and
    the probes by 5-fold cross-fitting; rules alone, the model alone and the weight grid, pooled."""
    from reviewops.grading.extortion import read_text

    base, dev, pr = _rows((".", "fresh"), with_probes=False), load("fresh2"), probes()
    y2 = np.array([int(r["is_extortion"]) for r in dev])
    yp = np.array([int(r["is_extortion"]) for r in pr])
    r2 = np.array([read_text(r["text"], r["channel"]).score for r in dev])
    rp = np.array([read_text(r["text"], "chat").score for r in pr])
    fitted = fit(base + pr)
    fold = np.random.default_rng(0).integers(0, 5, len(pr))
    folds = [fit(base + [r for r, f in zip(pr, fold) if f != k]) for k in range(5)]

    def scored(shrink: float) -> tuple[np.ndarray, np.ndarray]:
        pp = np.zeros(len(pr))
        for k in range(5):
            idx = np.flatnonzero(fold == k)
            pp[idx] = _proba(folds[k], [pr[i]["text"] for i in idx], shrink=shrink)
        return _proba(fitted, [r["text"] for r in dev], shrink=shrink), pp

    p2, pp = scored(0.0)

    def pooled(f2: np.ndarray, fp: np.ndarray) -> dict[str, Any]:
        a, b = _metrics(y2, f2), _metrics(yp, fp)
        tp, fp_, fn = a["tp"] + b["tp"], a["fp"] + b["fp"], a["fn"] + b["fn"]
        return {"pooled": _metrics(np.r_[y2, yp], np.r_[f2, fp]), "fresh2": a,
                "probes": {"false_flags": b["fp"], "of_lawful": int((yp == 0).sum()), "missed": b["fn"],
                           "of_extortion": int((yp == 1).sum())}} if tp + fp_ + fn else {}

    out: dict[str, Any] = {"fresh2": "fitted on the first set + fresh/ + probes", "probes": "5-fold cross-fitted",
                           "n_fresh2": len(dev), "n_probes": len(pr), "C": C, "n_bits": N_BITS,
                           "rules_alone": pooled(r2 >= 0.5, rp >= 0.5), "model_alone": pooled(p2 >= 0.5, pp >= 0.5),
                           "grid": []}
    for a in WEIGHT_GRID[0]:
        for b in WEIGHT_GRID[1]:
            out["grid"].append({"rule_weight": a, "model_weight": b,
                                **pooled(np.minimum(1, a * r2 + b * p2) >= 0.5, np.minimum(1, a * rp + b * pp) >= 0.5)})
    out["floors"] = []
    for floor in (0.6, 0.7, 0.8, 0.9):
        def flag(r: np.ndarray, p: np.ndarray, floor: float = floor) -> np.ndarray:
            return (np.minimum(1, RULE_WEIGHT * r + MODEL_WEIGHT * p) >= 0.5) | (r >= floor)
        out["floors"].append({"rule_floor": floor, **pooled(flag(r2, p2), flag(rp, pp))})
    out["shrinks"] = []
    for shrink in (0.0, 4.0, 8.0, 12.0, 20.0):
        s2, sp = scored(shrink)
        def flag2(r: np.ndarray, p: np.ndarray) -> np.ndarray:
            return (np.minimum(1, RULE_WEIGHT * r + MODEL_WEIGHT * p) >= 0.5) | (r >= RULE_FLOOR)
        out["shrinks"].append({"length_shrink": shrink, **pooled(flag2(r2, s2), flag2(rp, sp))})
    out["chosen"] = {"rule_weight": RULE_WEIGHT, "model_weight": MODEL_WEIGHT, "rule_floor": RULE_FLOOR,
                     **next(g for g in out["shrinks"] if g["length_shrink"] == LENGTH_SHRINK)}
    return out


def build() -> tuple[bytes, dict[str, Any], list[str]]:
    rows = _rows(TRAIN_SETS)
    arrays = fit(rows)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    blob = buf.getvalue()
    files = {f"{s}/buyer_texts.tsv".lstrip("./"): hashlib.sha256((MALICIOUS / s / "buyer_texts.tsv").read_bytes())
             .hexdigest() for s in TRAIN_SETS}
    header = {
        "format": MODEL_FORMAT, "version": MODEL_VERSION,
        "what": "extortion/abuse in buyer texts: logistic regression over hashed char 1-3-grams of "
                "reviewops.grading.extortion.squeeze(text), plus a 4-kind head on the positive rows",
        "n_bits": N_BITS, "C": C, "class_weight": "balanced",
        "rule_weight": RULE_WEIGHT, "model_weight": MODEL_WEIGHT, "rule_floor": RULE_FLOOR,
        "length_shrink": LENGTH_SHRINK, "kinds": list(KINDS),
        "trained_on": {"folder": "benchmarks/data/malicious", "sets": list(TRAIN_SETS), "files_sha256": files,
                       "probes": "tests/test_extortion.py PROBE_EXTORTION + PROBE_LAWFUL",
                       "probes_sha256": hashlib.sha256(json.dumps([[r["text"], r["is_extortion"], r["kind"]]
                                                                   for r in probes()], ensure_ascii=False)
                                                       .encode("utf-8")).hexdigest(),
                       "n_rows": len(rows), "n_positive": sum(r["is_extortion"] == "1" for r in rows)},
        "held_out": "any set written after these (benchmarks/data/malicious/fresh3/ …); never read by this script",
        "npz_sha256": hashlib.sha256(blob).hexdigest(),
    }
    return blob, header, sorted({_sha1(r["text"]) for r in rows})


def trained_sha1s() -> list[str]:
    """The sha1 of every buyer text the shipped extortion model was trained on (the category trainer adds
    these to ``trained_sha1.tsv`` as well)."""
    return sorted({_sha1(r["text"]) for r in _rows(TRAIN_SETS)})


def _merge_sha1s(new: list[str]) -> int:
    path = DATA / "trained_sha1.tsv"
    have = path.read_text(encoding="utf-8").split("\n")[1:] if path.exists() else []
    merged = sorted({h for h in have if h} | set(new))
    path.write_text("sha1\n" + "".join(h + "\n" for h in merged), encoding="utf-8", newline="\n")
    return len(merged) - len({h for h in have if h})


def _compare(name: str, blob: bytes, header: dict[str, Any], sha1s: list[str]) -> tuple[bool, int]:
    """(the shipped ``name`` files equal this build, how many trained texts trained_sha1.tsv lacks)."""
    npz, js = DATA / f"{name}.npz", DATA / f"{name}.json"
    shipped = json.loads(js.read_text(encoding="utf-8"))
    same = npz.read_bytes() == blob and {k: v for k, v in shipped.items() if k != "protocol"} == header
    listed = set(filter(None, (DATA / "trained_sha1.tsv").read_text(encoding="utf-8").split("\n")[1:]))
    return same, sum(h not in listed for h in sha1s)


def run_cli(argv: list[str] | None, *, name: str, doc: str, build: Any, protocol: Any,
            summary_skip: tuple[str, ...]) -> int:
    """The command line of a model trainer (this one and ``train_guard_model.py``): write the model ``name``
    (default), ``--check``, ``--protocol [--json F]`` or ``--quick``."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="retrain in memory and compare with the shipped files")
    ap.add_argument("--protocol", action="store_true", help="re-run the choice of settings on development data")
    ap.add_argument("--json", type=Path, help="with --protocol: write the figures there")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run (the test suite's): retrain in memory, compare with the shipped files, write "
                         "nothing but the result (JSON, last line); exit 0 either way")
    args = ap.parse_args(argv)
    if args.protocol:
        res = protocol()
        print(json.dumps({k: v for k, v in res.items() if k not in summary_skip}, ensure_ascii=False, indent=1))
        if args.json:
            args.json.write_text(json.dumps(res, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return 0
    blob, header, sha1s = build()
    if args.quick:
        sys.path.insert(0, str(HERE))
        from _quick import print_result, quick_dir

        same, missing = _compare(name, blob, header, sha1s)
        result = {"version": header["version"], "n_rows": header["trained_on"]["n_rows"], "matches_shipped": same,
                  "missing_sha1": missing}
        with quick_dir(name) as tmp:
            (tmp / f"{name}.json").write_text(json.dumps(result, ensure_ascii=False) + "\n", encoding="utf-8")
        print_result(result)
        return 0
    if args.check:
        same, missing = _compare(name, blob, header, sha1s)
        print(f"model files {'match' if same else 'DIFFER from'} a retrain; "
              f"{missing} trained texts missing from trained_sha1.tsv")
        return 0 if same and not missing else 1
    npz, js = DATA / f"{name}.npz", DATA / f"{name}.json"
    old = json.loads(js.read_text(encoding="utf-8")) if js.exists() else {}
    if "protocol" in old:
        header["protocol"] = old["protocol"]
    npz.write_bytes(blob)
    js.write_text(json.dumps(header, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    added = _merge_sha1s(sha1s)
    print(f"wrote {npz.name} ({len(blob):,} bytes), {js.name}; trained_sha1.tsv +{added}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(argv, name="extortion_model", doc=__doc__, build=build, protocol=protocol,
                   summary_skip=("grid", "floors", "shrinks"))


if __name__ == "__main__":
    sys.exit(main())
