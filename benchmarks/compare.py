"""Side-by-side benchmark: attrclust against scikit-learn and the hdbscan package, same data,
same machine, one run. A benchmark, not a test: it prints a table, it asserts nothing.

Set-up (outside the repo):
    python3 -m venv /root/refenv
    /root/refenv/bin/pip install numpy scipy scikit-learn==1.9.1 hdbscan==0.8.44
    cargo build --release
Run:
    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /root/refenv/bin/python benchmarks/compare.py --n 20000

Data: make_blobs(n, --features (64), 12 centres, random_state=0), as the issue tables. attrclust's
time is the step's own time from its per-step log (data loading excluded, like the peers');
each is the median of --repeat runs with an empty cache. Quality is compared at the same time:
k-means inertia, and the ARI between our labels and the peer's.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time

import numpy as np
from sklearn.cluster import DBSCAN, HDBSCAN, AgglomerativeClustering, KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, silhouette_score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "attrclust")

STEPS = {
    "kmeans": 'op = "kmeans"\nn_clusters = 12\nn_init = 10',
    "hdbscan": 'op = "hdbscan"\nmin_cluster_size = 15',
    "dbscan": 'op = "dbscan"\neps = 10.0\nmin_samples = 5',
    "ward": 'op = "agglomerative"\nlinkage = "ward"\nn_clusters = 12',
}


def run_ours(workdir, step, metric=None):
    """Runs one step (and optionally one metric) on blobs.npz; returns step seconds, metric
    seconds, labels and results."""
    manifest = os.path.join(workdir, f"{step}.toml")
    metrics = f'metrics = ["{metric}"]' if metric else "metrics = []"
    with open(manifest, "w") as f:
        f.write(f'[experiment]\nname = "bench_{step}"\nseed = 0\n\n[data]\npath = "blobs.npz"\n'
                f'attributions = "X"\nlabels = "y"\n\n[step.{step}]\ninput = "data"\n{STEPS[step]}\n\n'
                f'[report]\n{metrics}\n')
    cache = tempfile.mkdtemp(dir=workdir)
    out = subprocess.run([BIN, "--threads", "2", "--cache-dir", cache, "--reports-dir",
                          os.path.join(workdir, "reports"), "run", manifest],
                         capture_output=True, text=True, check=True).stdout
    times = {m.group(1): float(m.group(2)) for m in re.finditer(r"computed\s+(\S+)\s+([\d.]+) s", out)}
    report = os.path.join(workdir, "reports", f"bench_{step}")
    with open(os.path.join(report, "results.json")) as f:
        results = json.load(f)["results"][step]
    labels = np.loadtxt(os.path.join(report, "clusters", f"{step}.csv"), delimiter=",", skiprows=1,
                        usecols=2, dtype=int)
    metric_time = times.get(f"{metric}@{step}") if metric else None
    return times[step], metric_time, labels, results


def timed(fn):
    t = time.perf_counter()
    value = fn()
    return time.perf_counter() - t, value


def median(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--features", type=int, default=64, help="2 = the 'HDBSCAN on a UMAP map' case")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=["kmeans", "silhouette", "hdbscan", "dbscan", "ward"])
    args = ap.parse_args()
    X, y = make_blobs(n_samples=args.n, n_features=args.features, centers=12, random_state=0)
    work = tempfile.mkdtemp(prefix="attrclust-bench-")
    np.savez(os.path.join(work, "blobs.npz"), X=X, y=y)
    rows = []

    def add(name, peer_name, ours, theirs, quality):
        rows.append((name, peer_name, median(ours), median(theirs), quality))
        print(f"{name}: ours {median(ours):.3f} s, {peer_name} {median(theirs):.3f} s, {quality}", flush=True)

    if "kmeans" in args.only or "silhouette" in args.only:
        ours, ours_sil, theirs, theirs_sil = [], [], [], []
        for r in range(args.repeat):
            t, ts, labels, res = run_ours(work, "kmeans", "silhouette" if "silhouette" in args.only else None)
            ours.append(t)
            if ts is not None:
                ours_sil.append(ts)
            tk, km = timed(lambda: KMeans(12, n_init=10, random_state=r).fit(X))
            theirs.append(tk)
            if "silhouette" in args.only:
                theirs_sil.append(timed(lambda: silhouette_score(X, km.labels_))[0])
        quality = f"inertia ours/sklearn = {res['info']['inertia'] / km.inertia_:.6f}, ARI {adjusted_rand_score(labels, km.labels_):.4f}"
        add("k-means (n_init=10)", "scikit-learn", ours, theirs, quality)
        if ours_sil:
            add("silhouette (exact)", "scikit-learn", ours_sil, theirs_sil, "same value to 1e-9 (fixture tests)")
    if "hdbscan" in args.only:
        import hdbscan
        ours, theirs, theirs2 = [], [], []
        for _ in range(args.repeat):
            t, _, labels, _ = run_ours(work, "hdbscan")
            ours.append(t)
            tp, pkg = timed(lambda: hdbscan.HDBSCAN(min_cluster_size=15).fit(X))
            theirs.append(tp)
            ts, sk = timed(lambda: HDBSCAN(min_cluster_size=15).fit(X))
            theirs2.append(ts)
        add("HDBSCAN (min_cluster_size=15)", "hdbscan package", ours, theirs,
            f"ARI vs hdbscan {adjusted_rand_score(labels, pkg.labels_):.4f}")
        add("HDBSCAN (min_cluster_size=15)", "scikit-learn", ours, theirs2,
            f"ARI vs scikit-learn {adjusted_rand_score(labels, sk.labels_):.4f}")
    if "dbscan" in args.only:
        ours, theirs = [], []
        for _ in range(args.repeat):
            t, _, labels, _ = run_ours(work, "dbscan")
            ours.append(t)
            td, db = timed(lambda: DBSCAN(eps=10.0, min_samples=5).fit(X))
            theirs.append(td)
        add("DBSCAN (eps=10, min_samples=5)", "scikit-learn", ours, theirs,
            f"labels identical: {bool((labels == db.labels_).all())}")
    if "ward" in args.only:
        ours, theirs = [], []
        for _ in range(max(1, args.repeat // 3)):
            t, _, labels, _ = run_ours(work, "ward")
            ours.append(t)
            tw, ag = timed(lambda: AgglomerativeClustering(12, linkage="ward").fit(X))
            theirs.append(tw)
        add("ward (12 clusters)", "scikit-learn", ours, theirs, f"ARI {adjusted_rand_score(labels, ag.labels_):.4f}")

    print(f"\n| {args.n} × {args.features} blobs | peer | attrclust | peer time | ratio (peer / ours) | quality |")
    print("|---|---|---|---|---|---|")
    for name, peer, ours, theirs, quality in rows:
        print(f"| {name} | {peer} | {ours:.2f} s | {theirs:.2f} s | {theirs / ours:.1f}× | {quality} |")


if __name__ == "__main__":
    main()
