#!/usr/bin/python3
"""Item-kNN and EASE baselines for test/bench/ranking_bench.sh, as fmrec models.

Both rankers score user u and item j as  x_u . W[:, j]  where x_u is the
user's 0/1 row of positives in the training data and W an item x item
matrix:
  knn   W = cosine similarity of the item columns of X, diagonal 0, each
        column j keeping only its `neighbours` largest entries (the
        neighbours of j);
  ease  W = the closed form of Steck, "Embarrassingly Shallow Autoencoders
        for Sparse Data" (WWW 2019): P = (X'X + lambda I)^-1,
        W = -P / diag(P), diagonal 0.
So each is an FM with one user feature and one item feature: the user's
embedding is x_u, the item's is W[:, j], every bias 0.  This script writes
those rows in the COPY format of fm_feature, and the benchmark evaluates
them with fm_evaluate itself: exactly the protocol of the fmrec models.

Positives are the training rows with rating >= 4, the same threshold as
the protocol's relevance (the setting of the baselines in issue 13).
`tune` carves a validation split out of the training rows (each row with
probability 0.1, fixed seed, rows in the order given) and picks EASE's
lambda by NDCG@10 on it with the same protocol (relevant = validation
rating >= 4, candidates = items not in the rest of the training rows).
The test fold is never read.

Usage:
  ranking_baselines.py tune  METHOD TRAIN.tsv ITEMS.tsv
      prints "positives lambda validation-NDCG@10" of the best setting
  ranking_baselines.py write METHOD TRAIN.tsv ITEMS.tsv USERS.tsv MODEL POSITIVES LAMBDA OUT.tsv
TRAIN.tsv: user, item, rating (tab-separated); ITEMS.tsv, USERS.tsv: one id a line.
"""
import sys

import numpy as np

NEIGHBOURS = 200
LAMBDAS = [50, 100, 200, 300, 500, 800, 1200]
POSITIVES = ["4"]


def read_ids(path):
    return np.loadtxt(path, dtype=np.int64, ndmin=1)


def read_ratings(path):
    data = np.loadtxt(path, dtype=np.float64, ndmin=2)
    return data[:, 0].astype(np.int64), data[:, 1].astype(np.int64), data[:, 2]


def matrix(users, items, keep, user_index, item_index, n_users, n_items):
    """0/1 user x item matrix of the kept rows (rows of unknown ids dropped)."""
    x = np.zeros((n_users, n_items), dtype=np.float64)
    u = np.array([user_index.get(v, -1) for v in users[keep]], dtype=np.int64)
    i = np.array([item_index.get(v, -1) for v in items[keep]], dtype=np.int64)
    ok = (u >= 0) & (i >= 0)
    x[u[ok], i[ok]] = 1.0
    return x


def positives_mask(ratings, positives):
    return np.ones(len(ratings), dtype=bool) if positives == "all" else ratings >= float(positives)


def weights(method, x, lam):
    gram = x.T @ x
    if method == "ease":
        p = np.linalg.inv(gram + lam * np.eye(gram.shape[0]))
        w = -p / np.diag(p)[np.newaxis, :]
        np.fill_diagonal(w, 0.0)
        return w
    norms = np.sqrt(np.diag(gram))
    norms[norms == 0] = 1.0
    w = gram / norms[:, np.newaxis] / norms[np.newaxis, :]
    np.fill_diagonal(w, 0.0)
    if w.shape[0] > NEIGHBOURS:
        # keep the NEIGHBOURS largest entries of every column
        cut = np.partition(w, -NEIGHBOURS, axis=0)[-NEIGHBOURS, :]
        w[w < cut[np.newaxis, :]] = 0.0
    return w


def ndcg_at_10(scores, seen, relevant):
    """Mean NDCG@10 over users with a relevant item; ties to the smaller item index."""
    discounts = 1.0 / np.log2(np.arange(2, 12))
    total, users = 0.0, 0
    for u in range(scores.shape[0]):
        rel = relevant[u]
        if rel.sum() == 0:
            continue
        s = np.where(seen[u] > 0, -np.inf, scores[u])
        top = np.argsort(-s, kind="stable")[:10]
        top = top[np.isfinite(s[top])]
        dcg = (rel[top] * discounts[: len(top)]).sum()
        ideal = discounts[: int(min(10, rel.sum()))].sum()
        total += dcg / ideal
        users += 1
    return total / max(users, 1)


def tune(method, train_path, items_path):
    users, items, ratings = read_ratings(train_path)
    item_ids = read_ids(items_path)
    item_index = {v: j for j, v in enumerate(item_ids)}
    user_ids = np.unique(users)
    user_index = {v: j for j, v in enumerate(user_ids)}
    rng = np.random.default_rng(20190513)
    validation = rng.random(len(users)) < 0.1
    seen = matrix(users, items, ~validation, user_index, item_index, len(user_ids), len(item_ids))
    relevant = matrix(users, items, validation & (ratings >= 4), user_index, item_index,
                      len(user_ids), len(item_ids))
    best = None
    for positives in POSITIVES:
        x = matrix(users, items, ~validation & positives_mask(ratings, positives), user_index,
                   item_index, len(user_ids), len(item_ids))
        for lam in (LAMBDAS if method == "ease" else [0]):
            ndcg = ndcg_at_10(x @ weights(method, x, lam), seen, relevant)
            print(f"  {method} positives {positives} lambda {lam}: validation NDCG@10 {ndcg:.4f}",
                  file=sys.stderr)
            if best is None or ndcg > best[2]:
                best = (positives, lam, ndcg)
    print(f"{best[0]} {best[1]} {best[2]:.4f}")


def vector_text(row):
    return "[" + ",".join("%.7g" % v for v in row) + "]"


def write(method, train_path, items_path, users_path, model, positives, lam, out_path):
    users, items, ratings = read_ratings(train_path)
    item_ids = read_ids(items_path)
    user_ids = read_ids(users_path)
    item_index = {v: j for j, v in enumerate(item_ids)}
    user_index = {v: j for j, v in enumerate(user_ids)}
    x = matrix(users, items, positives_mask(ratings, positives), user_index, item_index,
               len(user_ids), len(item_ids))
    w = weights(method, x, float(lam)).astype(np.float32)
    with open(out_path, "w") as out:
        for u, uid in enumerate(user_ids):
            out.write(f"{model}\tuser_id\t{uid}\t0\t[" + ",".join("1" if v else "0" for v in x[u]) + "]\n")
        for j, iid in enumerate(item_ids):
            out.write(f"{model}\tmovie_id\t{iid}\t0\t{vector_text(w[:, j])}\n")


def main(argv):
    if len(argv) == 5 and argv[1] == "tune":
        tune(argv[2], argv[3], argv[4])
    elif len(argv) == 10 and argv[1] == "write":
        write(*argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
