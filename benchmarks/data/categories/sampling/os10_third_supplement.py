import hashlib, re
import pandas as pd
d = pd.read_csv('/tmp/os10/online_shopping_10_cats.csv').dropna(subset=['review'])
d['review'] = d['review'].astype(str).str.replace('\ufeff', '')
d['key'] = d['review'].map(lambda s: re.sub(r'\s+', '', s.strip()))
d = d[d['key'].str.len() >= 8]
d['sha1'] = d['key'].map(lambda k: hashlib.sha1(k.encode()).hexdigest())
amb = d.groupby('sha1')['label'].nunique(); amb = set(amb[amb > 1].index)
d = d[~d['sha1'].isin(amb)].drop_duplicates('sha1')
have = set(pd.read_csv('/work/main/benchmarks/data/categories/labels.tsv', sep='\t')['sha1'])
d = d[~d['sha1'].isin(have) & (d['key'].str.len() <= 200)]
d['split'] = d['sha1'].str[0].map(lambda c: 'test' if c in '01234' else 'dev' if c in '567' else 'train')
d = d[d.split != 'test']
# order inside a range by a second hash, so the sample is not the smallest sha1s
d['order'] = d['sha1'].map(lambda h: hashlib.sha1(('more2:' + h).encode()).hexdigest())
kind = {'衣服':'clothing','水果':'fresh_food','蒙牛':'dairy','洗发水':'cosmetics','平板':'electronics','手机':'electronics','热水器':'appliance','计算机':'electronics'}
neg_n = {'衣服': 600, '水果': 420, '洗发水': 420, '平板': 220, '手机': 150, '计算机': 100, '热水器': 20, '蒙牛': 40}
pos_n = {c: 30 for c in neg_n}
rows = []
for split, share in (('train', 0.8), ('dev', 0.2)):
    for cat, n in neg_n.items():
        rows.append(d[(d.cat == cat) & (d.label == 0) & (d.split == split)].sort_values('order').head(round(n * share)))
    for cat, n in pos_n.items():
        rows.append(d[(d.cat == cat) & (d.label == 1) & (d.split == split)].sort_values('order').head(round(n * share)))
a = pd.concat(rows)
a['product_kind'] = a['cat'].map(kind); a['dataset_label'] = a['label'].map({0: 'neg', 1: 'pos'})
a = a.sort_values('order').reset_index(drop=True)
cols = ['sha1', 'cat', 'product_kind', 'dataset_label', 'review']
for i in range(3):
    a.iloc[i::3][cols].to_csv(f'more2_{i+1}.tsv', sep='\t', index=False)
print(len(a), a.groupby(['split', 'cat']).size().to_dict())
