"""Training digits in the styles people write and MNIST lacks, grown from MNIST's own strokes.

MNIST's writers were American: its 1 is a bare stick, its 7 has no bar,
its 9 a straight stem. Many visitors write a 1 with a flag and a base, cross
their 7s and curl a 9's tail, and a network that never saw those reads them
as 7, 8 or 3. Canvas drawings differ from MNIST's pen scans too: strokes of
even width, from a thin brush to a very thick one.

So, for training only, MNIST **training** digits are redrawn as the canvas
would draw them:

1. the digit's skeleton, its strokes 1 px wide (scikit-image);
2. for some digits, style strokes added with random parameters: a flag and
   maybe a base on a 1, a bar across a 7, a curled tail on a 9; and some
   open-topped 4s are built from random stroke parameters;
3. a round brush of random width (3-32% of the digit's size) draws it, and
   `to_mnist` reads it, exactly as it reads a drawing on the page.

The results are ordinary uint8 28×28 images with their labels, added to the
training set; the distortions of `model.training.augment` then apply to them as to
every other image.

Kept apart from the benchmark: bench/digit_styles.py draws its styles from
fixed templates with a hand model of its own, and nothing here reads them.
Here style strokes grow out of real MNIST digits with random lengths, angles
and places (ranges in `STYLE_RANGES`), so the benchmark's shapes are never
shown to the network, only styles of the same kind.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from skimage.morphology import skeletonize

from model.reading.preprocess import to_mnist

# How often a digit of each class gets a style, and the ranges its random
# parameters are drawn from (lengths in units of the digit's height).
STYLE_SHARE = {1: 0.7, 4: 0.4, 7: 0.5, 9: 0.5}
STYLE_RANGES = {
    "flag length": (0.15, 0.4),
    "flag angle": (25.0, 65.0),  # degrees below the horizontal, pointing left
    # The German 1: an up-stroke from well down the stem's left to its top, often as long as the stem.
    "long flag share": 0.5,  # of flagged 1s
    "long flag length": (0.45, 0.95),
    "long flag angle": (40.0, 72.0),
    "base share": 0.5,  # of flagged 1s with a short flag
    "base half width": (0.12, 0.4),
    "bar height": (0.4, 0.65),  # from the top
    "bar half width": (0.12, 0.32),
    "curl radius": (0.12, 0.3),
    "curl turn": (80.0, 200.0),  # degrees the tail turns
    "brush": (0.03, 0.32),  # of the digit's longer side, log-uniform
}
MAX_COUNT = 200_000  # a bound on what one call may make (about 10 MB of images)

CANVAS = 140  # px: the digit's longer side becomes 100 px on it
DIGIT_SIDE = 100
SUPERSAMPLE = 2


def skeleton_points(digit: np.ndarray, upsample: int = 4) -> np.ndarray:
    """(N, 2) x, y of the strokes of a (28, 28) uint8 digit, in 28-px units; empty when there is no ink."""
    side = 28 * upsample
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.BICUBIC), dtype=np.float32)
    big = ndimage.gaussian_filter(big, sigma=upsample * 0.25)  # no spur at every pixel step
    ys, xs = np.nonzero(skeletonize(big >= 128))
    return np.stack([(xs + 0.5) / upsample, (ys + 0.5) / upsample], axis=1)


def line(a, b, step: float = 0.25) -> np.ndarray:
    """Points from a to b no further apart than `step`."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    n = max(2, int(np.ceil(np.linalg.norm(b - a) / step)) + 1)
    return a + (b - a) * np.linspace(0, 1, n)[:, None]


def flag_and_base(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 1's stick with a flag from its top down to the left: half the time a long steep one (the German 1),
    else a short one, with a base across the foot half the time."""
    top, bottom = points[points[:, 1].argmin()], points[points[:, 1].argmax()]
    height = max(bottom[1] - top[1], 1.0)
    long = rng.random() < STYLE_RANGES["long flag share"]
    kind = "long flag" if long else "flag"
    length = rng.uniform(*STYLE_RANGES[f"{kind} length"]) * height
    angle = np.radians(rng.uniform(*STYLE_RANGES[f"{kind} angle"]))
    parts = [points, line(top, top + length * np.array([-np.cos(angle), np.sin(angle)]))]
    if not long and rng.random() < STYLE_RANGES["base share"]:
        left, right = rng.uniform(*STYLE_RANGES["base half width"], 2) * height
        tilt = rng.uniform(-0.05, 0.05) * height
        parts.append(line(bottom + (-left, -tilt), bottom + (right, tilt)))
    return np.concatenate(parts)


def crossed(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 7 with a bar across its stem, somewhere around the middle."""
    top_y, bottom_y = points[:, 1].min(), points[:, 1].max()
    height = max(bottom_y - top_y, 1.0)
    y = top_y + rng.uniform(*STYLE_RANGES["bar height"]) * height
    near = points[np.abs(points[:, 1] - y) < 0.75]
    if len(near) == 0:
        return points
    x = near[:, 0].min()  # the stem, not the top bar's far end
    left, right = rng.uniform(*STYLE_RANGES["bar half width"], 2) * height
    tilt = rng.uniform(-0.06, 0.06) * height
    return np.concatenate([points, line((x - left, y + tilt), (x + right, y - tilt))])


def curled_tail(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 9 whose stem curls at the foot: a turn down and to the left from its lowest point."""
    bottom = points[points[:, 1].argmax()]
    height = max(bottom[1] - points[:, 1].min(), 1.0)
    radius = rng.uniform(*STYLE_RANGES["curl radius"]) * height
    turn = np.radians(rng.uniform(*STYLE_RANGES["curl turn"]))
    t = np.linspace(0, turn, 40)
    # A circle left of the foot: starts at the foot heading down, bends left, then up.
    arc = np.stack([bottom[0] - radius + radius * np.cos(t), bottom[1] + radius * np.sin(t)], axis=1)
    return np.concatenate([points, arc])


def open_four(rng: np.random.Generator) -> np.ndarray:
    """A 4 open at the top, from random stroke parameters, in 28-px units."""
    left_x = rng.uniform(0.1, 0.35)
    arm_y = rng.uniform(0.5, 0.72)
    right_x = rng.uniform(0.78, 1.0)
    stem_x = rng.uniform(0.55, 0.8)
    stem_top = rng.uniform(-0.05, 0.25)
    lean = rng.uniform(-0.1, 0.1)
    strokes = [
        line((left_x, 0.0), (left_x - rng.uniform(-0.05, 0.1), arm_y), 0.01),
        line((left_x - 0.02, arm_y), (right_x, arm_y + rng.uniform(-0.06, 0.04)), 0.01),
        line((stem_x, stem_top), (stem_x + lean, 1.0), 0.01),
    ]
    return np.concatenate(strokes) * 20.0


def styled(digit: np.ndarray, label: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """The digit's stroke points, maybe with a style added, and the style's name ("" for none)."""
    if label == 4 and rng.random() < STYLE_SHARE[4]:
        return open_four(rng), "open top"
    points = skeleton_points(digit)
    if len(points) < 4 or label not in (1, 7, 9) or rng.random() >= STYLE_SHARE[label]:
        return points, ""
    add = {1: flag_and_base, 7: crossed, 9: curled_tail}[label]
    return add(points, rng), {1: "flag", 7: "bar", 9: "curl"}[label]


def render(points: np.ndarray, brush: float) -> np.ndarray | None:
    """Points drawn with a round brush `brush` × the digit's longer side wide, read by `to_mnist`: (28, 28) uint8."""
    low, high = points.min(axis=0), points.max(axis=0)
    scale = DIGIT_SIDE / max((high - low).max(), 1e-6)
    xy = (points - (low + high) / 2) * scale + CANVAS / 2
    s = SUPERSAMPLE
    mask = Image.new("L", (CANVAS * s, CANVAS * s), 0)
    draw = ImageDraw.Draw(mask)
    r = brush * DIGIT_SIDE * s / 2
    for x, y in xy * s:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    small = to_mnist(np.asarray(mask.resize((CANVAS, CANVAS), Image.BOX)))
    return None if small is None else np.rint(small * 255).astype(np.uint8)


def redrawn_digits(x: np.ndarray, y: np.ndarray, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` MNIST digits chosen from (x, y) with a seed, redrawn with brushes and styles.

    Returns (images (n, 28, 28) uint8, labels (n,) uint8), n ≤ count (a
    digit whose skeleton is empty is skipped). Digit i depends on (seed, i)
    only, so the same seed gives the same images.
    """
    if not 0 <= count <= MAX_COUNT:
        raise ValueError(f"Redraw 0 to {MAX_COUNT:,} digits (asked for {count:,}).")
    chosen = np.random.default_rng(seed).integers(0, len(x), count) if len(x) else []
    low, high = np.log(STYLE_RANGES["brush"])
    images, labels = [], []
    for i, index in enumerate(chosen):
        rng = np.random.default_rng([seed, i])
        points, _ = styled(x[index], int(y[index]), rng)
        if len(points) < 2:
            continue
        image = render(points, float(np.exp(rng.uniform(low, high))))
        if image is not None:
            images.append(image)
            labels.append(y[index])
    return np.array(images, np.uint8).reshape(-1, 28, 28), np.array(labels, np.uint8)
