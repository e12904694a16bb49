"""Export Captum layer attributions of your own model in a format attrclust reads.

    from attrclust_export import export_attributions

    export_attributions(model, model.layer4, loader, method="ig", reduction="sum",
                        path="experiments/data/my_model.npz", target="true",
                        class_names=["cat", "dog", ...])

then point a manifest at it: ``[data] path = "data/my_model.npz", attributions = "ig", labels = "y"``.

Only numpy, torch and captum are needed (plus ``safetensors`` for ``.safetensors`` output).
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "export_attributions",
    "save_attributions",
    "reduce_spatial",
    "save_npz_deterministic",
    "METHODS",
    "REDUCTIONS",
]

METHODS = ("ig", "gradcam", "gxa")
_ALIASES = {
    "ig": "ig",
    "integrated_gradients": "ig",
    "layer_integrated_gradients": "ig",
    "gradcam": "gradcam",
    "grad_cam": "gradcam",
    "layer_gradcam": "gradcam",
    "gxa": "gxa",
    "gradient_x_activation": "gxa",
    "layer_gradient_x_activation": "gxa",
}
REDUCTIONS = ("sum", "mean", "abs_sum", "l2", "none")


def reduce_spatial(attr: np.ndarray | torch.Tensor, reduction: str = "sum") -> np.ndarray:
    """Reduce [N, C, *spatial] to [N, C] over every axis after the channel axis.

    ``sum``: plain sum; ``mean``: mean; ``abs_sum``: sum of absolute values;
    ``l2``: sqrt of the sum of squares; ``none``: returned unchanged.
    [N, C] input is returned unchanged whatever the reduction.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if isinstance(attr, torch.Tensor):
        attr = attr.detach().cpu().numpy()
    attr = np.asarray(attr)
    if attr.ndim < 2:
        raise ValueError(f"attributions need at least 2 axes [N, C, ...], got shape {attr.shape}")
    if reduction == "none" or attr.ndim == 2:
        return attr.astype(np.float32, copy=False)
    axes = tuple(range(2, attr.ndim))
    a64 = attr.astype(np.float64)
    if reduction == "sum":
        out = a64.sum(axis=axes)
    elif reduction == "mean":
        out = a64.mean(axis=axes)
    elif reduction == "abs_sum":
        out = np.abs(a64).sum(axis=axes)
    else:  # l2
        out = np.sqrt((a64 * a64).sum(axis=axes))
    return out.astype(np.float32)


def _make_attributor(name: str, model: torch.nn.Module, layer: torch.nn.Module):
    from captum.attr import LayerGradCam, LayerGradientXActivation, LayerIntegratedGradients

    if name == "ig":
        return LayerIntegratedGradients(model, layer)
    if name == "gradcam":
        return LayerGradCam(model, layer)
    return LayerGradientXActivation(model, layer)


def _split_batch(batch):
    """(inputs, labels[, ids]) from a tuple/list/dict batch, or a bare input tensor."""
    if isinstance(batch, torch.Tensor):
        return batch, None, None
    if isinstance(batch, dict):
        x = next((batch[k] for k in ("x", "input", "inputs", "image", "images") if k in batch), None)
        y = next((batch[k] for k in ("y", "label", "labels", "target") if k in batch), None)
        ids = next((batch[k] for k in ("sample_id", "id", "ids", "index") if k in batch), None)
        if x is None:
            raise ValueError("dict batch needs an input under 'x', 'input', 'inputs', 'image' or 'images'")
        return x, y, ids
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return batch[0], None, None
        if len(batch) == 2:
            return batch[0], batch[1], None
        return batch[0], batch[1], batch[2]
    raise TypeError(f"unsupported batch type {type(batch).__name__}")


def export_attributions(
    model: torch.nn.Module,
    layer: torch.nn.Module,
    data_loader: Iterable,
    method: str | Sequence[str] = "ig",
    reduction: str = "sum",
    path: str | os.PathLike | None = "out.npz",
    target: str = "true",
    class_names: Sequence[str] | None = None,
    *,
    baselines: float | torch.Tensor | None = None,
    n_steps: int = 32,
    internal_batch_size: int | None = None,
    device: str | torch.device | None = None,
    attribute_to_layer_input: bool = False,
) -> dict[str, np.ndarray]:
    """Compute Captum layer attributions for every sample of ``data_loader`` and save them.

    model, layer
        The classifier (returns logits [B, n_classes]) and the module whose output
        (or input, with ``attribute_to_layer_input=True``) is attributed; typically a conv
        layer, giving [B, C, H, W] attributions, one channel per attrclust feature.
    data_loader
        Any iterable of batches: ``(x, y)``, ``(x, y, sample_id)``, a dict with
        ``x``/``y``/``sample_id`` keys, or bare ``x`` (only with ``target="pred"``).
    method
        ``"ig"`` (LayerIntegratedGradients; ``baselines``, default all-zero input, and
        ``n_steps``), ``"gradcam"`` (LayerGradCam with ``attr_dim_summation=False`` so that
        per-channel values are kept, ``relu_attributions=False``) or ``"gxa"``
        (LayerGradientXActivation), or a list of these to compute several in one pass.
    reduction
        How [B, C, *spatial] becomes [B, C]: ``sum`` | ``mean`` | ``abs_sum`` | ``l2`` over
        the spatial axes, or ``none`` to keep [B, C, H, W] (attrclust then reduces it, see
        the manifest's ``reduce`` key).
    path
        Output file, format by extension: ``.npz`` (compressed, every array), ``.safetensors``
        (every numeric array; class names in the metadata), ``.csv``/``.tsv`` (one method,
        header ``sample_id,label,ch_0,...``; ``label`` is the true label, or the predicted one
        when the loader has no labels; needs a reduced [N, C] array) or ``.npy`` (one
        method's array, labels beside it in ``<stem>_labels.npy``). ``None`` writes nothing.
    target
        ``"true"``: attribute the true class (labels required); ``"pred"``: the predicted one.
    class_names
        Names in class-id order, stored as ``class_names`` (numpy unicode array).

    Returns a dict of numpy arrays: one per method (float32 [N, C] or [N, C, H, W]),
    ``y`` (int64, true labels, when the loader gives them), ``pred`` (int64),
    ``confidence`` (float32 softmax probability of ``pred``), ``sample_id`` (int64; running
    index unless the loader gives ids) and ``class_names`` (if given).
    """
    methods = [method] if isinstance(method, str) else list(method)
    if not methods:
        raise ValueError("method: give at least one of " + ", ".join(METHODS))
    try:
        methods = [_ALIASES[m.lower()] for m in methods]
    except KeyError as e:
        raise ValueError(f"unknown method {e.args[0]!r}; choose from {METHODS}") from None
    if len(set(methods)) != len(methods):
        raise ValueError(f"method listed twice: {methods}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if target not in ("true", "pred"):
        raise ValueError(f"target must be 'true' or 'pred', got {target!r}")

    if path is not None:  # catch a wrong format before the (slow) attribution pass
        ext = Path(path).suffix.lower()
        if ext not in (".npz", ".safetensors", ".csv", ".tsv", ".npy"):
            raise ValueError(f"unknown output format {ext!r}; use .npz, .safetensors, .csv, .tsv or .npy")
        if ext in (".csv", ".tsv", ".npy") and len(methods) != 1:
            raise ValueError(f"{ext} holds one method, got {methods}; write .npz/.safetensors or call once per method")
        if ext in (".csv", ".tsv") and reduction == "none":
            raise ValueError(f"{ext} needs [N, C] attributions; use a reduction other than 'none'")

    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    device = torch.device(device)
    was_training = model.training
    model.eval()
    attributors = {m: _make_attributor(m, model, layer) for m in methods}

    chunks: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    ys, preds, confs, ids = [], [], [], []
    have_labels = None
    have_ids = None
    n_seen = 0
    try:
        for batch in data_loader:
            x, y, sid = _split_batch(batch)
            x = x.to(device)
            if have_labels is None:
                have_labels, have_ids = y is not None, sid is not None
            if (y is not None) != have_labels or (sid is not None) != have_ids:
                raise ValueError("every batch must have the same fields (labels / ids)")
            with torch.no_grad():
                prob = torch.softmax(model(x), dim=1)
            conf, pred = prob.max(dim=1)
            if target == "true":
                if y is None:
                    raise ValueError("target='true' needs labels from the data loader")
                tgt = torch.as_tensor(y).long().to(device)
            else:
                tgt = pred
            for m, attributor in attributors.items():
                if m == "ig":
                    base = baselines if baselines is not None else torch.zeros_like(x)
                    a = attributor.attribute(
                        x,
                        baselines=base,
                        target=tgt,
                        n_steps=n_steps,
                        internal_batch_size=internal_batch_size,
                        attribute_to_layer_input=attribute_to_layer_input,
                    )
                elif m == "gradcam":
                    a = attributor.attribute(
                        x,
                        target=tgt,
                        attribute_to_layer_input=attribute_to_layer_input,
                        relu_attributions=False,
                        attr_dim_summation=False,
                    )
                else:
                    a = attributor.attribute(
                        x, target=tgt, attribute_to_layer_input=attribute_to_layer_input
                    )
                if isinstance(a, (tuple, list)):
                    if len(a) != 1:
                        raise ValueError("layer has several inputs/outputs; attribute a single-tensor layer")
                    a = a[0]
                chunks[m].append(reduce_spatial(a, reduction))
            n = x.shape[0]
            preds.append(pred.cpu().numpy())
            confs.append(conf.cpu().numpy())
            if have_labels:
                ys.append(torch.as_tensor(y).cpu().numpy())
            ids.append(
                torch.as_tensor(sid).cpu().numpy() if have_ids else np.arange(n_seen, n_seen + n)
            )
            n_seen += n
    finally:
        model.train(was_training)

    if n_seen == 0:
        raise ValueError("the data loader gave no samples")
    result: dict[str, np.ndarray] = {m: np.concatenate(chunks[m]).astype(np.float32) for m in methods}
    if have_labels:
        result["y"] = np.concatenate(ys).astype(np.int64)
    result["pred"] = np.concatenate(preds).astype(np.int64)
    result["confidence"] = np.concatenate(confs).astype(np.float32)
    result["sample_id"] = np.concatenate(ids).astype(np.int64)
    if class_names is not None:
        result["class_names"] = np.array([str(c) for c in class_names], dtype=str)
    if path is not None:
        save_attributions(result, path, methods=methods)
    return result


def save_npz_deterministic(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed`` but byte-for-byte reproducible (fixed zip timestamps,
    fixed member order), so that a rebuilt data file only differs when its data does."""
    tmp = Path(str(path) + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    os.replace(tmp, path)


def _canonical_safetensors(blob: bytes) -> bytes:
    """Rewrite a safetensors header with its metadata keys sorted: the library writes the
    metadata map in hash order, which would make reruns differ byte-wise."""
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + n])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keep the data section 8-byte aligned
    return len(text).to_bytes(8, "little") + text + blob[8 + n :]


def save_attributions(
    result: dict[str, np.ndarray],
    path: str | os.PathLike,
    methods: Sequence[str] | None = None,
) -> None:
    """Write the dict returned by ``export_attributions`` to ``path`` (format by extension,
    see ``export_attributions``). ``methods`` picks the attribution arrays to write."""
    path = Path(path)
    if methods is None:
        methods = [m for m in METHODS if m in result]
    ext = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    extras = [k for k in ("y", "pred", "confidence", "sample_id", "class_names") if k in result]

    if ext == ".npz":
        save_npz_deterministic(path, {k: result[k] for k in list(methods) + extras})
    elif ext == ".safetensors":
        from safetensors.numpy import save

        tensors = {k: np.ascontiguousarray(result[k]) for k in list(methods) + extras if k != "class_names"}
        meta = {"format": "attrclust", "methods": ",".join(methods)}
        if "class_names" in result:
            meta["class_names"] = json.dumps([str(c) for c in result["class_names"]])
        blob = _canonical_safetensors(save(tensors, metadata=meta))
        tmp = Path(str(path) + ".tmp")
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    elif ext in (".csv", ".tsv"):
        if len(methods) != 1:
            raise ValueError(f"{ext} holds one method; pass methods=[...] with one of {list(methods)}")
        a = result[methods[0]]
        if a.ndim != 2:
            raise ValueError(f"{ext} needs reduced [N, C] attributions, got shape {a.shape}; use a reduction")
        labels = result.get("y", result["pred"])
        sep = "\t" if ext == ".tsv" else ","
        with open(path, "w", newline="") as f:
            w = csv.writer(f, delimiter=sep, lineterminator="\n")
            w.writerow(["sample_id", "label"] + [f"ch_{c}" for c in range(a.shape[1])])
            for sid, lab, row in zip(result["sample_id"], labels, a):
                # '%.9g' round-trips every float32 exactly
                w.writerow([int(sid), int(lab)] + [format(float(v), ".9g") for v in row])
    elif ext == ".npy":
        if len(methods) != 1:
            raise ValueError(f".npy holds one array; pass methods=[...] with one of {list(methods)}")
        np.save(path, result[methods[0]])
        labels = result.get("y", result["pred"])
        np.save(path.with_name(path.stem + "_labels.npy"), labels.astype(np.int64))
    else:
        raise ValueError(f"unknown output format {ext!r}; use .npz, .safetensors, .csv, .tsv or .npy")
