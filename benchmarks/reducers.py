"""Side-by-side benchmark of the reducers: attrclust's pca, tsne and umap against scikit-learn's
PCA, openTSNE and umap-learn, same data, same machine, one run. A benchmark, not a test: it
prints a table and asserts nothing.

Set-up (outside the repo):
    python3 -m venv /root/refenv
    /root/refenv/bin/pip install numpy scipy scikit-learn==1.9.1 openTSNE==1.0.4 umap-learn==0.5.12
    cargo build --release
Run:
    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 NUMBA_NUM_THREADS=2 \
        /root/refenv/bin/python benchmarks/reducers.py --n 20000 --features 50

Data: make_blobs(n, features, 12 centres, random_state=0), as the issue's table.
Times:
- "step": the algorithm alone (attrclust: the step's time from its run log; peers: the fit call).
- "process": the whole program from start to end, data loading and start-up included (attrclust:
  `attrclust run` with an empty cache; peers: a fresh Python process that imports the library,
  loads the same .npz, runs and saves the embedding). umap-learn's numba JIT compilation lands
  here, which its users pay on every run.
Quality: trustworthiness (k = 10, sklearn.manifold.trustworthiness on both embeddings) and, for
t-SNE, the KL divergence each implementation reports for its final embedding.
Threads: attrclust --threads T, openTSNE n_jobs = T, umap-learn parallel when unseeded (numba
threads = NUMBA_NUM_THREADS), seeded (random_state) runs single-threaded.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.manifold import trustworthiness

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "attrclust")

STEPS = {
    "pca": 'op = "pca"\nn_components = 10',
    "tsne": 'op = "tsne"',
    "umap": 'op = "umap"',
}

PEER = {
    "pca": """
from sklearn.decomposition import PCA
t = time.perf_counter()
Y = PCA(n_components=10).fit_transform(X)
extra = {{}}
""",
    "tsne": """
from openTSNE import TSNE
t = time.perf_counter()
emb = TSNE(n_jobs={threads}, random_state=42).fit(X)
Y = np.asarray(emb)
extra = {{"kl": float(emb.kl_divergence)}}
""",
    "umap": """
import umap
t = time.perf_counter()
Y = umap.UMAP({umap_args}).fit_transform(X)
extra = {{}}
""",
}


def run_ours(workdir, step, threads):
    """Runs one reducer step on data.npz in a fresh process; returns (process seconds, step
    seconds, embedding, info)."""
    manifest = os.path.join(workdir, f"{step}.toml")
    with open(manifest, "w") as f:
        f.write(f'[experiment]\nname = "bench_{step}"\nseed = 0\n\n[data]\npath = "data.npz"\n'
                f'attributions = "X"\nlabels = "y"\n\n[step.{step}]\ninput = "data"\n{STEPS[step]}\n\n'
                f'[report]\nembeddings = ["{step}"]\nmetrics = []\n')
    cache = tempfile.mkdtemp(dir=workdir)
    start = time.perf_counter()
    out = subprocess.run([BIN, "--threads", str(threads), "--cache-dir", cache, "--reports-dir",
                          os.path.join(workdir, "reports"), "run", manifest],
                         capture_output=True, text=True, check=True).stdout
    process = time.perf_counter() - start
    times = {m.group(1): float(m.group(2)) for m in re.finditer(r"computed\s+(\S+)\s+([\d.]+) s", out)}
    report = os.path.join(workdir, "reports", f"bench_{step}")
    with open(os.path.join(report, "results.json")) as f:
        info = json.load(f)["embeddings"][step]["info"]
    emb = np.loadtxt(os.path.join(report, "embeddings", f"{step}.csv"), delimiter=",", skiprows=1,
                     usecols=(2, 3))
    return process, times[step], emb, info


def run_peer(workdir, step, threads, seeded):
    """Runs the peer in a fresh Python process; returns (process seconds, fit seconds, embedding,
    extra)."""
    umap_args = "n_neighbors=15, min_dist=0.1" + (", random_state=42" if seeded else "")
    body = PEER[step].format(threads=threads, umap_args=umap_args)
    out_npy = os.path.join(workdir, f"peer_{step}.npy")
    script = (
        "import json, time\nimport numpy as np\n"
        f"d = np.load({os.path.join(workdir, 'data.npz')!r}); X = d['X']\n"
        f"{body}\n"
        "fit = time.perf_counter() - t\n"
        f"np.save({out_npy!r}, Y[:, :2])\n"
        "print(json.dumps({'fit': fit, **extra}))\n"
    )
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads))
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env=env).stdout
    process = time.perf_counter() - start
    result = json.loads(out.strip().splitlines()[-1])
    return process, result.pop("fit"), np.load(out_npy), result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=["pca", "tsne", "umap"])
    ap.add_argument("--no-quality", action="store_true", help="skip trustworthiness (O(n²) memory)")
    args = ap.parse_args()
    X, y = make_blobs(n_samples=args.n, n_features=args.features, centers=12, random_state=0)
    work = tempfile.mkdtemp(prefix="attrclust-bench-")
    np.savez(os.path.join(work, "data.npz"), X=X, y=y)
    rows = []
    med = statistics.median

    def quality(emb):
        if args.no_quality:
            return float("nan")
        return trustworthiness(X, emb, n_neighbors=10)

    for step in args.only:
        peers = {"pca": [("scikit-learn PCA", False)], "tsne": [("openTSNE", False)],
                 "umap": [("umap-learn (parallel)", False), ("umap-learn (seeded)", True)]}[step]
        ours = [run_ours(work, step, args.threads) for _ in range(args.repeat)]
        ours_q = quality(ours[-1][2])
        ours_kl = ours[-1][3].get("kl_divergence")
        for name, seeded in peers:
            theirs = [run_peer(work, step, args.threads, seeded) for _ in range(args.repeat)]
            their_q = quality(theirs[-1][2])
            rows.append({
                "step": step, "peer": name,
                "ours_step": med(o[1] for o in ours), "ours_process": med(o[0] for o in ours),
                "peer_step": med(t[1] for t in theirs), "peer_process": med(t[0] for t in theirs),
                "ours_trust": ours_q, "peer_trust": their_q,
                "ours_kl": ours_kl, "peer_kl": theirs[-1][3].get("kl"),
            })
            print(json.dumps(rows[-1]), flush=True)

    print(f"\n{args.n} × {args.features} blobs, {args.threads} threads, median of {args.repeat}\n")
    print("| reducer | peer | attrclust step / process | peer step / process | ratio step / process "
          "| trustworthiness ours / peer | KL ours / peer |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        kl = (f"{r['ours_kl']:.3f} / {r['peer_kl']:.3f}" if r["ours_kl"] is not None
              and r["peer_kl"] is not None else "–")
        print(f"| {r['step']} | {r['peer']} | {r['ours_step']:.2f} s / {r['ours_process']:.2f} s "
              f"| {r['peer_step']:.2f} s / {r['peer_process']:.2f} s "
              f"| {r['peer_step'] / r['ours_step']:.1f}× / {r['peer_process'] / r['ours_process']:.1f}× "
              f"| {r['ours_trust']:.4f} / {r['peer_trust']:.4f} | {kl} |")


if __name__ == "__main__":
    main()
