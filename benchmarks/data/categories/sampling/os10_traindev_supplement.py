"""Candidate os10 rows in the TRAIN (8-f) and DEV (5-7) hash ranges, same rule as ../sample.py
(key = review without U+FEFF, stripped, all whitespace removed; 8..200 chars; ambiguous and
duplicate sha1 dropped; rows already in labels.tsv dropped; smallest sha1 first per cat/label)."""
import csv, sys
sys.path.insert(0, '/work/main/benchmarks/data/categories')
import make_corpus as m
texts = m.os10_texts('/tmp/os10/a.zip')
labels = {}
import io, zipfile
raw = zipfile.ZipFile('/tmp/os10/a.zip').read('online_shopping_10_cats.csv').decode('utf-8')
for cat, lab, rev in list(csv.reader(io.StringIO(raw, newline='')))[1:]:
    t = rev.replace('\ufeff', '').strip()
    if len(m.key_of(t)) >= 8:
        labels.setdefault(m.sha1_of(t), lab)
have = {r['sha1'] for r in m.read_labels()}
plan = {  # (range, dataset label) -> {cat: n}
    ('train', '0'): {'衣服': 100, '水果': 70, '洗发水': 70, '蒙牛': 30, '平板': 40, '手机': 20, '计算机': 20},
    ('train', '1'): {'衣服': 15, '水果': 10, '洗发水': 10, '蒙牛': 10, '平板': 10},
    ('dev', '0'): {'衣服': 30, '水果': 20, '洗发水': 20, '蒙牛': 10, '平板': 10},
    ('dev', '1'): {'衣服': 5, '水果': 5, '洗发水': 5},
}
out = []
for (split, lab), cats in plan.items():
    for cat, n in cats.items():
        pool = sorted(h for h, (c, t) in texts.items() if c == cat and labels[h] == lab and h not in have
                      and m.split_of(h) == split and len(m.key_of(t)) <= 200)
        out += [(h, cat, m.OS10_KINDS[cat], 'neg' if lab == '0' else 'pos', texts[h][1]) for h in pool[:n]]
out.sort()
with open('candidates.tsv', 'w', encoding='utf-8', newline='') as fh:
    w = csv.writer(fh, delimiter='\t', lineterminator='\n')
    w.writerow(['sha1', 'cat', 'product_kind', 'dataset_label', 'review'])
    w.writerows(out)
print(len(out))
