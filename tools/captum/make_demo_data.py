#!/usr/bin/env python3
"""Build attrclust's demo data set from scratch.

1. cut the sample images that ship with scikit-image into 32x32 crops (train and held-out
   crops come from disjoint 64x64 tiles) and apply one of 12 seeded manipulations to each;
2. train a small CNN on CPU to tell the manipulation from the crop;
3. on the held-out set, compute Captum layer attributions of its last conv layer (`conv5`,
   64 channels) for the true class -- LayerIntegratedGradients, LayerGradCam and
   LayerGradientXActivation -- via `attrclust_export.export_attributions`, summed over
   the spatial axes;
4. write experiments/data/{manipulations.npz, manipulations_ig.csv,
   manipulations.safetensors, ig_spatial.npy, ig_spatial_labels.npy, classes.toml}
   and check them.

    nice -n 10 /root/captumenv/bin/python tools/captum/make_demo_data.py

Fully seeded (--seed); one CPU thread, deterministic algorithms, so a rerun on the same
machine reproduces the files byte for byte.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import manipulations as M  # noqa: E402
from attrclust_export import export_attributions, save_attributions  # noqa: E402

REPO = HERE.parent.parent
DEFAULT_OUT = REPO / "experiments" / "data"
SPLIT_CODE = {"train": 1, "test": 2}


# --------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


class ManipNet(nn.Module):
    """Five 3x3 conv layers, 32x32 -> 8x8, then [global mean, global max] -> linear.

    `conv5` (64 channels, 8x8 output) is the last conv layer; its output (before the ReLU)
    is what the demo attributions explain."""

    def __init__(self, n_classes: int = 12):
        super().__init__()
        self.features = nn.Sequential(
            _block(6, 32, 1),  # 32x32
            _block(32, 32, 2),  # 16x16
            _block(32, 64, 1),  # 16x16
            _block(64, 64, 2),  # 8x8
        )
        self.conv5 = nn.Conv2d(64, 64, 3, padding=1)  # 8x8, the attributed layer
        self.relu5 = nn.ReLU()
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(128, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # forensic prior: the high-frequency residual (image minus its 3x3 local mean)
        # goes in beside the image, so noise / blur / resampling traces are easy to see
        residual = x - F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        h = torch.cat([(x - 0.5) / 0.25, residual * 8.0], dim=1)
        h = self.relu5(self.conv5(self.features(h)))
        z = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.fc(self.dropout(z))


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------


def build_split(split: str, n_per_class: int, sources, tiles, seed: int):
    """uint8 images [N, 3, 32, 32] and int64 labels, in class order."""
    xs = np.empty((12 * n_per_class, 3, M.CROP, M.CROP), np.uint8)
    ys = np.repeat(np.arange(12, dtype=np.int64), n_per_class)
    for label in range(12):
        for i in range(n_per_class):
            ss = np.random.SeedSequence([seed, SPLIT_CODE[split], label, i])
            img = M.make_sample(ss, label, sources, tiles)
            xs[label * n_per_class + i] = np.round(img * 255).astype(np.uint8).transpose(2, 0, 1)
    return xs, ys


def to_float(x_uint8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x_uint8).float() / 255.0


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    x = torch.rot90(x, k % 4, dims=(2, 3))
    return torch.flip(x, dims=(3,)) if k >= 4 else x


# --------------------------------------------------------------------------
# training / evaluation
# --------------------------------------------------------------------------


def train(model, x_train, y_train, epochs: int, seed: int, batch: int = 128, log=print):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)
    steps = epochs * ((len(x_train) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=max(steps, 10), pct_start=0.2)
    y_t = torch.from_numpy(y_train)
    for ep in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(x_train), generator=g)
        tot, correct, loss_sum = 0, 0, 0.0
        for s in range(0, len(perm), batch):
            idx = perm[s : s + batch]
            xb = to_float(x_train[idx.numpy()])
            # every manipulation is invariant to flips / 90-degree turns: augment with them
            xb = dihedral(xb, int(torch.randint(8, (1,), generator=g)))
            yb = y_t[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += len(idx)
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
        log(f"  epoch {ep + 1}/{epochs}: loss {loss_sum / tot:.3f}, train acc {correct / tot:.3f} ({time.time() - t0:.0f}s)")


@torch.no_grad()
def predict(model, x_uint8: np.ndarray, batch: int = 500) -> np.ndarray:
    model.eval()
    out = [model(to_float(x_uint8[s : s + batch])).argmax(1).numpy() for s in range(0, len(x_uint8), batch)]
    return np.concatenate(out)


def confusion(y: np.ndarray, pred: np.ndarray, k: int = 12) -> np.ndarray:
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (y, pred), 1)
    return cm


# --------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------


def write_classes_toml(path: Path) -> None:
    lines = [
        "# Class ids of the attrclust demo data set (SPEC §1), written by tools/captum/make_demo_data.py",
        "[classes]",
    ]
    lines += [f'"{i}" = "{name}"' for i, name in enumerate(M.CLASS_NAMES)]
    path.write_text("\n".join(lines) + "\n")


def validate(out: Path, expect_n: int | None = None, log=print) -> None:
    """Load every file back and check shapes, dtypes, finiteness and consistency."""
    from safetensors.numpy import load_file

    z = np.load(out / "manipulations.npz", allow_pickle=False)
    names = sorted(z.files)
    assert names == sorted(["ig", "gradcam", "gxa", "y", "pred", "confidence", "sample_id", "class_names"]), names
    ig = z["ig"]
    n, c = ig.shape
    if expect_n is not None:
        assert n == expect_n, (n, expect_n)
    for k in ("ig", "gradcam", "gxa"):
        a = z[k]
        assert a.dtype == np.float32 and a.shape == (n, c), (k, a.dtype, a.shape)
        assert np.isfinite(a).all(), f"{k} has NaN/Inf"
        assert np.abs(a).max() > 0, f"{k} is all zero"
    for k in ("y", "pred", "sample_id"):
        assert z[k].dtype == np.int64 and z[k].shape == (n,), (k, z[k].dtype, z[k].shape)
    assert z["confidence"].dtype == np.float32 and z["confidence"].shape == (n,)
    assert ((z["confidence"] > 0) & (z["confidence"] <= 1)).all()
    assert z["y"].min() >= 0 and z["y"].max() <= 11 and z["pred"].min() >= 0 and z["pred"].max() <= 11
    assert (z["sample_id"] == np.arange(n)).all()
    cn = z["class_names"]
    assert cn.dtype.kind == "U" and list(cn) == M.CLASS_NAMES, cn
    y = z["y"]

    # CSV: same numbers, exactly
    import csv

    with open(out / "manipulations_ig.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["sample_id", "label"] + [f"ch_{i}" for i in range(c)], rows[0][:4]
    body = np.array(rows[1:], dtype=np.float64)
    assert body.shape == (n, c + 2)
    assert (body[:, 0] == z["sample_id"]).all() and (body[:, 1] == y).all()
    assert (body[:, 2:].astype(np.float32) == ig).all(), "CSV does not round-trip the ig values"

    st = load_file(str(out / "manipulations.safetensors"))
    for k in ("ig", "gradcam", "gxa"):
        assert st[k].dtype == np.float32 and (st[k] == z[k]).all(), k
    assert st["y"].dtype == np.int64 and (st["y"] == y).all()

    sp = np.load(out / "ig_spatial.npy")
    spl = np.load(out / "ig_spatial_labels.npy")
    m = sp.shape[0]
    assert sp.dtype == np.float32 and sp.ndim == 4 and sp.shape[1] == c, (sp.dtype, sp.shape)
    assert np.isfinite(sp).all()
    assert spl.dtype == np.int64 and spl.shape == (m,) and (spl == y[:m]).all()
    summed = sp.astype(np.float64).sum(axis=(2, 3))
    err = np.abs(summed - ig[:m]).max()
    scale = np.abs(ig[:m]).max()
    assert np.allclose(summed, ig[:m], rtol=1e-4, atol=1e-5 * scale), f"ig_spatial sum differs from ig by {err}"

    import tomllib

    classes = tomllib.loads((out / "classes.toml").read_text())["classes"]
    assert classes == {str(i): nme for i, nme in enumerate(M.CLASS_NAMES)}

    counts = np.bincount(y, minlength=12)
    log(f"validated: N={n}, C={c}, ig_spatial {sp.shape} (max |sum - ig| = {err:.2e}, max |ig| = {scale:.3g})")
    for i, nme in enumerate(M.CLASS_NAMES):
        log(f"  {i:2d} {nme:26s} {counts[i]:4d}")
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    for k, v in sizes.items():
        log(f"  {k:28s} {v / 1e6:6.2f} MB")
    log(f"  total                        {sum(sizes.values()) / 1e6:6.2f} MB")


def markdown_confusion(cm: np.ndarray) -> str:
    head = "| true \\ pred | " + " | ".join(str(i) for i in range(12)) + " | recall |"
    sep = "|---" * 14 + "|"
    lines = [head, sep]
    for i in range(12):
        rec = cm[i, i] / max(cm[i].sum(), 1)
        lines.append(
            f"| {i} {M.CLASS_NAMES[i]} | " + " | ".join(str(v) for v in cm[i]) + f" | {rec:.2f} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: experiments/data)")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--train-per-class", type=int, default=1500)
    ap.add_argument("--test-per-class", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--ig-steps", type=int, default=32)
    ap.add_argument("--spatial-samples", type=int, default=160, help="rows kept unreduced in ig_spatial.npy")
    ap.add_argument("--report", type=Path, default=HERE / "demo_run.json", help="run summary (accuracy, confusion, timings)")
    ap.add_argument("--save-model", type=Path, default=None, help="also save the trained state_dict here")
    ap.add_argument("--validate-only", action="store_true", help="only check the files in --out")
    args = ap.parse_args(argv)

    if args.validate_only:
        validate(args.out)
        return 0

    t_start = time.time()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed % 2**32)
    timings = {}

    print("loading images ...")
    sources = M.load_sources()
    tiles = M.split_tiles(sources, args.seed)
    print(f"  {len(sources)} images, {sum(map(len, tiles['train'].values()))} train tiles, "
          f"{sum(map(len, tiles['test'].values()))} held-out tiles")

    t = time.time()
    x_train, y_train = build_split("train", args.train_per_class, sources, tiles["train"], args.seed)
    x_test, y_test = build_split("test", args.test_per_class, sources, tiles["test"], args.seed)
    timings["generate_s"] = round(time.time() - t, 1)
    print(f"generated {len(x_train)} train + {len(x_test)} held-out crops in {timings['generate_s']}s")

    # fixed seeded shuffle of the held-out set: rows are not sorted by class
    perm = np.random.default_rng([args.seed, 99]).permutation(len(x_test))
    x_test, y_test = x_test[perm], y_test[perm]

    t = time.time()
    torch.manual_seed(args.seed)
    model = ManipNet(12)
    print(f"training ManipNet ({sum(p.numel() for p in model.parameters())} parameters) for {args.epochs} epochs ...")
    train(model, x_train, y_train, args.epochs, args.seed)
    model.eval()
    timings["train_s"] = round(time.time() - t, 1)
    if args.save_model:
        torch.save(model.state_dict(), args.save_model)

    pred = predict(model, x_test)
    acc = float((pred == y_test).mean())
    cm = confusion(y_test, pred)
    print(f"held-out accuracy: {acc:.4f}")
    print(markdown_confusion(cm))

    t = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    x_t = to_float(x_test)
    ids = torch.arange(len(x_test), dtype=torch.int64)
    y_tt = torch.from_numpy(y_test)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x_t, y_tt, ids), batch_size=100, shuffle=False
    )
    res = export_attributions(
        model,
        model.conv5,
        loader,
        method=["ig", "gradcam", "gxa"],
        reduction="sum",
        path=args.out / "manipulations.npz",
        target="true",
        class_names=M.CLASS_NAMES,
        n_steps=args.ig_steps,
        internal_batch_size=800,
    )
    save_attributions(res, args.out / "manipulations.safetensors")
    save_attributions(res, args.out / "manipulations_ig.csv", methods=["ig"])
    timings["attributions_s"] = round(time.time() - t, 1)
    assert (res["pred"] == pred).all()

    # the unreduced [M, C, 8, 8] IG of the first rows, for the loaders' `reduce = "sum"` path
    m = args.spatial_samples
    sub = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x_t[:m], y_tt[:m], ids[:m]), batch_size=100, shuffle=False
    )
    export_attributions(
        model, model.conv5, sub, method="ig", reduction="none", path=args.out / "ig_spatial.npy",
        target="true", n_steps=args.ig_steps, internal_batch_size=800,
    )
    write_classes_toml(args.out / "classes.toml")

    # IG completeness: sum over channels ~ logit(x) - logit(black image), for the true class
    with torch.no_grad():
        logit_x = model(x_t).gather(1, y_tt[:, None])[:, 0].numpy()
        logit_0 = model(torch.zeros_like(x_t[:1])).numpy()[0][y_test]
    delta = res["ig"].astype(np.float64).sum(1) - (logit_x - logit_0)
    rel = float(np.median(np.abs(delta) / np.maximum(np.abs(logit_x - logit_0), 1e-6)))
    print(f"IG completeness: median |sum(ig) - (F(x) - F(0))| / |F(x) - F(0)| = {rel:.2e}")

    validate(args.out, expect_n=len(x_test))
    timings["total_s"] = round(time.time() - t_start, 1)

    summary = {
        "seed": args.seed,
        "crop": M.CROP,
        "train_per_class": args.train_per_class,
        "test_per_class": args.test_per_class,
        "epochs": args.epochs,
        "ig_steps": args.ig_steps,
        "ig_baseline": "all-zero (black) input image",
        "layer": "conv5 (Conv2d 64->64, 3x3, output 64x8x8, before ReLU)",
        "target": "true class",
        "reduction": "sum over H, W",
        "heldout_accuracy": round(acc, 4),
        "per_class_recall": {M.CLASS_NAMES[i]: round(float(cm[i, i] / cm[i].sum()), 3) for i in range(12)},
        "confusion": cm.tolist(),
        "ig_completeness_median_rel_error": rel,
        "timings_s": timings,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
    }
    import captum
    import skimage

    summary["versions"].update(captum=captum.__version__, skimage=skimage.__version__)
    args.report.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"timings: {timings}")
    print(f"wrote {args.out} and {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
