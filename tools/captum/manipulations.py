"""Source images and the 12 image manipulations of the attrclust demo data set.

Everything here is plain numpy / scipy / scikit-image.  Every random choice is
drawn from a ``numpy.random.Generator`` that the caller passes in, so a sample
is a pure function of its seed.

Images are float32 arrays in [0, 1] with shape [H, W, 3].  A *tile* is a square
context window cut from a source image; a sample is a ``CROP`` x ``CROP`` crop
inside a tile.  Filters are applied to the whole tile before cropping so that
the crop borders look like the rest of the crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage import color, data, restoration, transform, util

CROP = 32  # side of one sample, pixels
TILE = 64  # side of the context window a crop is cut from

# SPEC §1: id order is normative.
CLASS_NAMES = [
    "color_rotation",
    "color_temperature",
    "frequency_global",
    "frequency_local",
    "geometry",
    "noise_global",
    "noise_local",
    "patch_endo_clone_adapted",
    "patch_endo_clone_naive",
    "patch_endo_clone_stamp",
    "patch_endo_inpainting",
    "patch_exo",
]
FAMILIES = {
    "color": ["color_rotation", "color_temperature"],
    "frequency": ["frequency_global", "frequency_local"],
    "geometry": ["geometry"],
    "noise": ["noise_global", "noise_local"],
    "patch": [
        "patch_endo_clone_adapted",
        "patch_endo_clone_naive",
        "patch_endo_clone_stamp",
        "patch_endo_inpainting",
        "patch_exo",
    ],
}
COLOR_CLASSES = {0, 1}  # drawn from colour images only (hue/white balance do nothing to grey)

# Sample images that ship inside the scikit-image wheel (no download needed).
# `cat` is the same photo as `chelsea`, `colorwheel`/`logo`/`checkerboard` are
# synthetic, so they are left out.
COLOR_IMAGES = [
    "astronaut",
    "chelsea",
    "coffee",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "rocket",
]
GREY_IMAGES = [
    "brick",
    "camera",
    "cell",
    "clock",
    "coins",
    "grass",
    "gravel",
    "moon",
    "page",
    "text",
]


# --------------------------------------------------------------------------
# source images and tiles
# --------------------------------------------------------------------------


@dataclass
class Source:
    name: str
    image: np.ndarray  # float32 [H, W, 3] in [0, 1]
    is_color: bool


def load_sources() -> list[Source]:
    """Load every sample image that works offline, as float32 RGB."""
    out = []
    for name in COLOR_IMAGES + GREY_IMAGES:
        im = getattr(data, name)()
        im = util.img_as_float32(im)
        if im.ndim == 2:
            im = np.repeat(im[:, :, None], 3, axis=2)
        im = np.ascontiguousarray(im[:, :, :3], dtype=np.float32)
        out.append(Source(name, im, name in COLOR_IMAGES))
    return out


def luminance(img: np.ndarray) -> np.ndarray:
    return img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114


def split_tiles(sources: list[Source], seed: int, test_fraction: float = 0.2):
    """Cut every image into non-overlapping TILE x TILE tiles and give each tile
    to 'train' or 'test' (seeded).  Train and test never share a pixel.

    Returns {split: {image index: [(y, x), ...]}}; flat tiles (luminance std
    below 0.03) are dropped because no manipulation is visible on them.
    """
    rng = np.random.default_rng([seed, 7])
    splits: dict[str, dict[int, list[tuple[int, int]]]] = {"train": {}, "test": {}}
    for i, src in enumerate(sources):
        h, w = src.image.shape[:2]
        tiles = []
        for y in range(0, h - TILE + 1, TILE):
            for x in range(0, w - TILE + 1, TILE):
                if luminance(src.image[y : y + TILE, x : x + TILE]).std() >= 0.03:
                    tiles.append((y, x))
        order = rng.permutation(len(tiles))
        n_test = max(1, int(round(test_fraction * len(tiles))))
        splits["test"][i] = [tiles[j] for j in sorted(order[:n_test])]
        splits["train"][i] = [tiles[j] for j in sorted(order[n_test:])]
    return splits


def random_dihedral(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    k = int(rng.integers(4))
    img = np.rot90(img, k, axes=(0, 1))
    if rng.random() < 0.5:
        img = img[:, ::-1]
    return np.ascontiguousarray(img)


def pick_tile(rng, sources, tiles_by_image, allowed):
    """A random tile (augmented by a random flip/rotation) from a random allowed image.

    Images are weighted by the square root of their tile count: big images give more
    samples, small ones are not drowned out (nor repeated to death)."""
    w = np.sqrt(np.array([len(tiles_by_image[i]) for i in allowed], np.float64))
    i = int(allowed[int(rng.choice(len(allowed), p=w / w.sum()))])
    tiles = tiles_by_image[i]
    y, x = tiles[int(rng.integers(len(tiles)))]
    return i, random_dihedral(rng, sources[i].image[y : y + TILE, x : x + TILE])


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _clip(img):
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def _blur(img, sigma):
    return ndimage.gaussian_filter(img, sigma=(sigma, sigma, 0), mode="reflect")


def region_mask(rng, size=CROP, lo=8, hi=18, feather=(0.0, 0.0), shape=None):
    """A random rectangle or ellipse mask in a size x size crop, optionally feathered.

    Returns (float mask in [0, 1], (y0, x0, h, w) bounding box)."""
    h = int(rng.integers(lo, hi + 1))
    w = int(rng.integers(lo, hi + 1))
    y0 = int(rng.integers(0, size - h + 1))
    x0 = int(rng.integers(0, size - w + 1))
    shape = shape or ("rect" if rng.random() < 0.5 else "ellipse")
    m = np.zeros((size, size), np.float32)
    if shape == "rect":
        m[y0 : y0 + h, x0 : x0 + w] = 1.0
    else:
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        cy, cx = y0 + (h - 1) / 2, x0 + (w - 1) / 2
        m[((yy - cy) / (h / 2)) ** 2 + ((xx - cx) / (w / 2)) ** 2 <= 1.0] = 1.0
    s = float(rng.uniform(*feather))
    if s > 0:
        m = ndimage.gaussian_filter(m, s, mode="constant")
        m /= max(m.max(), 1e-6)
    return m, (y0, x0, h, w)


def _blend(base, other, mask):
    return base * (1.0 - mask[..., None]) + other * mask[..., None]


def _crop(tile, oy, ox):
    return tile[oy : oy + CROP, ox : ox + CROP].copy()


# --------------------------------------------------------------------------
# the 12 manipulations: f(rng, tile, oy, ox, ctx) -> crop
# --------------------------------------------------------------------------


def color_rotation(rng, tile, oy, ox, ctx):
    """Hue rotation in HSV by 30..330 degrees."""
    hsv = color.rgb2hsv(_crop(tile, oy, ox))
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(30, 330) / 360.0) % 1.0
    return _clip(color.hsv2rgb(hsv))


def color_temperature(rng, tile, oy, ox, ctx):
    """White-balance shift: warm (R up, B down) or cool, plus a small green/magenta tint,
    gains normalised so that grey keeps its luminance."""
    t = rng.uniform(0.12, 0.4) * rng.choice([-1.0, 1.0])
    tint = rng.uniform(-0.06, 0.06)
    gains = np.array([1.0 + t, 1.0 + tint, 1.0 - t], np.float32)
    gains /= gains @ np.array([0.299, 0.587, 0.114], np.float32)
    return _clip(_crop(tile, oy, ox) * gains)


def _frequency_filter(rng, tile):
    if rng.random() < 0.5:  # low-pass: Gaussian blur
        return _blur(tile, rng.uniform(0.7, 1.8))
    # high-frequency boost: unsharp mask
    amount = rng.uniform(0.8, 2.5)
    return tile + amount * (tile - _blur(tile, rng.uniform(0.7, 1.6)))


def frequency_global(rng, tile, oy, ox, ctx):
    """Low-pass (Gaussian blur) or high-boost (unsharp mask) of the whole crop."""
    return _clip(_crop(_frequency_filter(rng, tile), oy, ox))


def frequency_local(rng, tile, oy, ox, ctx):
    """The same filters, inside a random feathered region."""
    filtered = _crop(_frequency_filter(rng, tile), oy, ox)
    m, _ = region_mask(rng, lo=12, hi=22, feather=(0.0, 1.5))
    return _clip(_blend(_crop(tile, oy, ox), filtered, m))


def geometry(rng, tile, oy, ox, ctx):
    """Rotation + scale + shear about the crop centre, bilinear or bicubic resampling."""
    angle = np.deg2rad(rng.uniform(5, 40) * rng.choice([-1.0, 1.0]))
    scale = rng.uniform(0.75, 1.35)
    if abs(scale - 1.0) < 0.06:
        scale = 1.0 + 0.06 * np.sign(scale - 1.0 or 1.0)
    shear = rng.uniform(-0.25, 0.25)
    cy = oy + (CROP - 1) / 2.0
    cx = ox + (CROP - 1) / 2.0
    centre = transform.AffineTransform(translation=(-cx, -cy))
    tform = transform.AffineTransform(scale=(scale, scale), rotation=angle, shear=shear)
    back = transform.AffineTransform(translation=(cx, cy))
    full = centre + tform + back  # output -> input mapping given to warp via inverse
    order = int(rng.choice([1, 3]))
    warped = transform.warp(tile, full.inverse, order=order, mode="reflect", preserve_range=True)
    return _clip(_crop(warped.astype(np.float32), oy, ox))


def _noise(rng, img):
    sigma = rng.uniform(0.015, 0.06)
    kind = rng.choice(["rgb", "mono", "shot"])
    if kind == "rgb":
        n = rng.normal(0.0, sigma, img.shape)
    elif kind == "mono":
        n = np.repeat(rng.normal(0.0, sigma, img.shape[:2])[..., None], 3, axis=2)
    else:  # signal-dependent (shot-like) noise
        n = rng.normal(0.0, 1.0, img.shape) * sigma * 1.6 * np.sqrt(np.clip(img, 0.02, 1.0))
    return img + n.astype(np.float32)


def noise_global(rng, tile, oy, ox, ctx):
    """Additive Gaussian noise (per channel, luminance-only, or signal-dependent)."""
    return _clip(_noise(rng, _crop(tile, oy, ox)))


def noise_local(rng, tile, oy, ox, ctx):
    """The same noise inside a random (hard or feathered) region."""
    crop = _crop(tile, oy, ox)
    m, _ = region_mask(rng, lo=10, hi=22, feather=(0.0, 1.2))
    return _clip(_blend(crop, _noise(rng, crop), m))


def _two_boxes(rng, lo=8, hi=14):
    """Source and destination boxes of one size inside the crop, not overlapping too much."""
    h = int(rng.integers(lo, hi + 1))
    w = int(rng.integers(lo, hi + 1))
    for _ in range(100):
        sy, sx = rng.integers(0, CROP - h + 1), rng.integers(0, CROP - w + 1)
        dy, dx = rng.integers(0, CROP - h + 1), rng.integers(0, CROP - w + 1)
        if abs(int(sy) - int(dy)) >= h * 0.6 or abs(int(sx) - int(dx)) >= w * 0.6:
            return h, w, int(sy), int(sx), int(dy), int(dx)
    return h, w, 0, 0, CROP - h, CROP - w


def patch_endo_clone_naive(rng, tile, oy, ox, ctx):
    """Hard copy-move of a rectangle to another place in the same crop."""
    crop = _crop(tile, oy, ox)
    h, w, sy, sx, dy, dx = _two_boxes(rng)
    crop[dy : dy + h, dx : dx + w] = crop[sy : sy + h, sx : sx + w].copy()
    return _clip(crop)


def patch_endo_clone_adapted(rng, tile, oy, ox, ctx):
    """Copy-move whose colour statistics are matched to the destination (per-channel mean
    and std) and blended in with a feathered mask."""
    crop = _crop(tile, oy, ox)
    h, w, sy, sx, dy, dx = _two_boxes(rng, 9, 15)
    src = crop[sy : sy + h, sx : sx + w]
    dst = crop[dy : dy + h, dx : dx + w]
    s_mu, s_sd = src.mean((0, 1)), src.std((0, 1)) + 1e-3
    d_mu, d_sd = dst.mean((0, 1)), dst.std((0, 1)) + 1e-3
    ratio = np.clip(d_sd / s_sd, 0.5, 2.0)
    adapted = (src - s_mu) * ratio + d_mu
    m = np.zeros((h, w), np.float32)
    inset = 1
    m[inset : h - inset, inset : w - inset] = 1.0
    m = ndimage.gaussian_filter(m, rng.uniform(1.0, 2.2), mode="constant")
    m /= max(m.max(), 1e-6)
    crop[dy : dy + h, dx : dx + w] = _blend(dst, adapted, m)
    return _clip(crop)


def patch_endo_clone_stamp(rng, tile, oy, ox, ctx):
    """Clone-stamp tool: several overlapping soft round dabs along a stroke, each copying
    from the image shifted by one fixed source offset."""
    crop = _crop(tile, oy, ox)
    r = rng.uniform(7, 13)
    a = rng.uniform(0, 2 * np.pi)
    off_y, off_x = int(round(r * np.sin(a))), int(round(r * np.cos(a)))
    # source = tile shifted by the offset; keep it inside the tile
    sy = int(np.clip(oy + off_y, 0, TILE - CROP))
    sx = int(np.clip(ox + off_x, 0, TILE - CROP))
    source = _crop(tile, sy, sx)
    n_dabs = int(rng.integers(4, 10))
    radius = rng.uniform(2.5, 4.5)
    hardness = rng.uniform(0.2, 0.7)  # fraction of the radius at full opacity
    opacity = rng.uniform(0.7, 1.0)
    py, px = rng.uniform(8, CROP - 8, size=2)
    step = radius * rng.uniform(0.6, 1.2)
    heading = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:CROP, 0:CROP].astype(np.float32)
    for _ in range(n_dabs):
        d = np.sqrt((yy - py) ** 2 + (xx - px) ** 2)
        alpha = np.clip((radius - d) / (radius * (1.0 - hardness) + 1e-6), 0.0, 1.0)
        alpha = (alpha * alpha * (3 - 2 * alpha)) * opacity  # smoothstep fall-off
        crop = _blend(crop, source, alpha.astype(np.float32))
        heading += rng.normal(0.0, 0.6)
        py = float(np.clip(py + step * np.sin(heading), 4, CROP - 5))
        px = float(np.clip(px + step * np.cos(heading), 4, CROP - 5))
    return _clip(crop)


def patch_endo_inpainting(rng, tile, oy, ox, ctx):
    """A region (box, ellipse or thick stroke) removed and filled by biharmonic inpainting."""
    crop = _crop(tile, oy, ox)
    kind = rng.random()
    if kind < 0.7:
        m, _ = region_mask(rng, lo=6, hi=13)
        mask = m > 0.5
    else:  # a thick random stroke, like removing a wire or a scratch
        mask = np.zeros((CROP, CROP), bool)
        y, x = rng.uniform(6, CROP - 6, size=2)
        heading = rng.uniform(0, 2 * np.pi)
        width = rng.uniform(1.5, 3.0)
        yy, xx = np.mgrid[0:CROP, 0:CROP]
        for _ in range(int(rng.integers(8, 16))):
            mask |= (yy - y) ** 2 + (xx - x) ** 2 <= width**2
            heading += rng.normal(0, 0.35)
            y = float(np.clip(y + 1.5 * np.sin(heading), 2, CROP - 3))
            x = float(np.clip(x + 1.5 * np.cos(heading), 2, CROP - 3))
    out = restoration.inpaint_biharmonic(crop, mask, channel_axis=-1)
    return _clip(out)


def patch_exo(rng, tile, oy, ox, ctx):
    """A patch taken from ANOTHER source image, pasted hard or lightly feathered."""
    crop = _crop(tile, oy, ox)
    h = int(rng.integers(8, 17))
    w = int(rng.integers(8, 17))
    donor = ctx["donor"](rng)  # a TILE x TILE tile of another image
    for _ in range(20):
        y, x = int(rng.integers(0, TILE - h + 1)), int(rng.integers(0, TILE - w + 1))
        patch = donor[y : y + h, x : x + w]
        if luminance(patch).std() > 0.02:
            break
    dy, dx = int(rng.integers(0, CROP - h + 1)), int(rng.integers(0, CROP - w + 1))
    if rng.random() < 0.6:
        crop[dy : dy + h, dx : dx + w] = patch
    else:
        m = np.zeros((h, w), np.float32)
        m[1 : h - 1, 1 : w - 1] = 1.0
        m = ndimage.gaussian_filter(m, rng.uniform(0.5, 1.2), mode="constant")
        m /= max(m.max(), 1e-6)
        crop[dy : dy + h, dx : dx + w] = _blend(crop[dy : dy + h, dx : dx + w], patch, m)
    return _clip(crop)


MANIPULATIONS = [
    color_rotation,
    color_temperature,
    frequency_global,
    frequency_local,
    geometry,
    noise_global,
    noise_local,
    patch_endo_clone_adapted,
    patch_endo_clone_naive,
    patch_endo_clone_stamp,
    patch_endo_inpainting,
    patch_exo,
]
assert [f.__name__ for f in MANIPULATIONS] == CLASS_NAMES


# --------------------------------------------------------------------------
# one sample
# --------------------------------------------------------------------------


def quantize(img: np.ndarray) -> np.ndarray:
    """Round to 8-bit levels, as a saved image would be (so no class is given away by
    whether its pixel values lie on the 1/255 grid)."""
    return (np.round(np.clip(img, 0, 1) * 255.0) / 255.0).astype(np.float32)


def make_sample(seed_seq, label: int, sources, tiles_by_image) -> np.ndarray:
    """One manipulated CROP x CROP x 3 crop of class `label`, fully determined by seed_seq."""
    rng = np.random.default_rng(seed_seq)
    color_idx = [i for i, s in enumerate(sources) if s.is_color and tiles_by_image.get(i)]
    all_idx = [i for i, s in enumerate(sources) if tiles_by_image.get(i)]
    allowed = color_idx if label in COLOR_CLASSES else all_idx
    for _attempt in range(50):
        img_i, tile = pick_tile(rng, sources, tiles_by_image, allowed)
        if label == 4:  # geometry: crop at the tile centre so the warp has context all round
            oy = ox = (TILE - CROP) // 2
        else:
            oy, ox = (int(v) for v in rng.integers(0, TILE - CROP + 1, size=2))
        crop = tile[oy : oy + CROP, ox : ox + CROP]
        if luminance(crop).std() < 0.025:
            continue
        if label in COLOR_CLASSES and color.rgb2hsv(crop)[..., 1].mean() < 0.08:
            continue
        break
    others = [i for i in all_idx if i != img_i]

    def donor(r):
        _, t = pick_tile(r, sources, tiles_by_image, others)
        return t

    out = MANIPULATIONS[label](rng, tile, oy, ox, {"donor": donor})
    assert out.shape == (CROP, CROP, 3), (label, out.shape)
    return quantize(out)
