import csv, hashlib, re, sys, random
import pandas as pd
d = pd.read_csv('/tmp/os10/online_shopping_10_cats.csv').dropna(subset=['review'])
d['review'] = d['review'].astype(str).str.replace('\ufeff','')
d['key'] = d['review'].map(lambda s: re.sub(r'\s+', '', s.strip()))
d = d[d['key'].str.len() >= 8]
d['sha1'] = d['key'].map(lambda k: hashlib.sha1(k.encode()).hexdigest())
amb = d.groupby('sha1')['label'].nunique(); amb = set(amb[amb > 1].index)
d = d[~d['sha1'].isin(amb)].drop_duplicates('sha1')
have = set(pd.read_csv('/work/main/benchmarks/data/categories/labels.tsv', sep='\t')['sha1'])
d = d[~d['sha1'].isin(have)]
# long texts are hard to label and rare in shop exports: keep <= 200 chars
d = d[d['key'].str.len() <= 200]
neg_n = {'衣服': 500, '水果': 350, '蒙牛': 150, '洗发水': 350, '平板': 200, '手机': 150, '热水器': 60, '计算机': 100}
pos_n = {'衣服': 50, '水果': 40, '蒙牛': 30, '洗发水': 40, '平板': 40, '手机': 30, '热水器': 30, '计算机': 40}
kind = {'衣服':'clothing','水果':'fresh_food','蒙牛':'dairy','洗发水':'cosmetics','平板':'electronics','手机':'electronics','热水器':'appliance','计算机':'electronics'}
rows = []
for cat, n in neg_n.items():
    s = d[(d.cat == cat) & (d.label == 0)].sort_values('sha1').head(n); rows.append(s)
for cat, n in pos_n.items():
    s = d[(d.cat == cat) & (d.label == 1)].sort_values('sha1').head(n); rows.append(s)
allr = pd.concat(rows)
allr['product_kind'] = allr['cat'].map(kind)
allr['dataset_label'] = allr['label'].map({0: 'neg', 1: 'pos'})
A = allr[allr.cat.isin(['衣服','水果','蒙牛'])]
B = allr[~allr.cat.isin(['衣服','水果','蒙牛'])]
cols = ['sha1','cat','product_kind','dataset_label','review']
A.sort_values('sha1')[cols].to_csv('batch_A.tsv', sep='\t', index=False)
B.sort_values('sha1')[cols].to_csv('batch_B.tsv', sep='\t', index=False)
neg = allr[allr.label == 0].sort_values('sha1')
second = neg.iloc[::max(1, len(neg)//300)].head(300)
second[['sha1','cat','product_kind','review']].to_csv('second.tsv', sep='\t', index=False)
print(len(A), len(B), len(second), allr.groupby(['cat','label']).size().to_dict())
