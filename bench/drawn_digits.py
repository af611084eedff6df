"""A reproducible test set of canvas-like drawings, made from the strokes of MNIST's test digits.

MNIST's 98-99% is not what a visitor gets: digits drawn with a mouse are
smoother, thicker or thinner, slanted, off-centre, small or huge. This
generator makes such drawings without a single pixel of MNIST going back in:
each digit of the MNIST **test** split (never the training split) is thinned
to its 1-px skeleton, and the skeleton is redrawn with a round brush on a
280×280 transparent canvas, exactly as the app's canvas returns a drawing:

- size: the digit's longer side is 35-85% of the canvas;
- place: anywhere it fits (corners included);
- brush: 8-30 px wide, whatever the digit's size (a small digit drawn with a
  wide brush is thick, as it is in the app);
- hand: a slight slant (shear ±0.3) and rotation (±8°), and a smooth wobble
  of up to 3% of the digit's size.

Every drawing depends only on (seed, i), so any slice is reproducible on its
own. Only this generator is stored, never the images.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image
from scipy import ndimage

from bench.canvas import render_points

CANVAS = 280
SEED = 2024
COUNT = 3000


def thin(binary: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning: the 1-px wide skeleton of a binary image (bool → bool)."""
    img = np.pad(binary.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            core = img[1:-1, 1:-1]
            p2, p3, p4 = img[:-2, 1:-1], img[:-2, 2:], img[1:-1, 2:]
            p5, p6, p7 = img[2:, 2:], img[2:, 1:-1], img[2:, :-2]
            p8, p9 = img[1:-1, :-2], img[:-2, :-2]
            ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
            neighbours = sum(ring[:8])
            transitions = sum((ring[k] == 0) & (ring[k + 1] == 1) for k in range(8))
            if step == 0:
                side = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                side = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (core == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & side
            if remove.any():
                core[remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def holes(binary: np.ndarray) -> int:
    """How many enclosed holes a binary shape has (the background's 4-connected pieces, minus the outside)."""
    return ndimage.label(~np.pad(binary, 1))[1] - 1


def skeleton_points(digit: np.ndarray, upsample: int = 4) -> np.ndarray:
    """(N, 2) x, y of the digit's skeleton in 28-px units, traced at `upsample`× resolution.

    The digit is enlarged and its outline lightly smoothed (so the skeleton
    does not grow a spur at every pixel step), then cut into ink and paper.
    A bold digit's small loops close up at a middle grey level, and a
    skeleton of a filled loop is a line: an 8 would be redrawn as a 9. So
    the cut is raised until the shape has as many holes as the digit shows
    at 28×28, and only then thinned.
    """
    side = 28 * upsample
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.BICUBIC), dtype=np.float32)
    big = ndimage.gaussian_filter(big, sigma=upsample * 0.25)
    wanted = holes(digit >= 96)
    for level in (128, 160, 192, 224):
        shape = big >= level
        if holes(shape) >= wanted:
            break
    ys, xs = np.nonzero(thin(shape))
    return np.stack([(xs + 0.5) / upsample, (ys + 0.5) / upsample], axis=1)


def draw_digit(
    digit: np.ndarray, rng: np.random.Generator, canvas: int = CANVAS, brush: float | None = None
) -> np.ndarray:
    """One MNIST digit (28, 28) uint8 redrawn by "hand" on a (canvas, canvas, 4) RGBA canvas."""
    return draw_by_hand(skeleton_points(digit), rng, canvas, brush)


def draw_by_hand(
    points: np.ndarray, rng: np.random.Generator, canvas: int = CANVAS, brush: float | None = None
) -> np.ndarray:
    """Dense (N, 2) x, y points of a digit's strokes, drawn at a random size, place, brush, slant and wobble.

    `brush` fixes the brush's width in px (the drawing is otherwise the same
    as with a random one: the random width is still drawn, then replaced).
    """
    points = points - (points.min(axis=0) + points.max(axis=0)) / 2

    angle = np.deg2rad(rng.uniform(-8, 8))
    shear = rng.uniform(-0.3, 0.3)
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    slant = np.array([[1.0, shear], [0.0, 1.0]])  # x moves with y: italic
    points = points @ (rotate @ slant).T

    extent = (points.max(axis=0) - points.min(axis=0)).max()
    wobble = smooth_wobble(points, rng, amplitude=rng.uniform(0.0, 0.03) * extent)
    points = points + wobble

    width = rng.uniform(8, 30)
    if brush is not None:
        width = brush
    scale = rng.uniform(0.35, 0.85) * canvas / max(extent, 1e-6)
    points = points * scale
    low, high = points.min(axis=0), points.max(axis=0)
    margin = width / 2 + 1
    free = np.maximum(canvas - (high - low) - 2 * margin, 0)
    offset = margin - low + rng.uniform(0, 1, 2) * free
    return render_points(points + offset, width, (canvas, canvas))


def smooth_wobble(points: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """A smooth random displacement of each point: the unsteadiness of a hand."""
    span = np.ptp(points, axis=0).max() or 1.0
    wobble = np.zeros_like(points)
    for axis in (0, 1):
        frequency = rng.uniform(0.5, 2.0, 2) / span
        phase = rng.uniform(0, 2 * np.pi, 2)
        wobble[:, axis] = np.sin(2 * np.pi * points @ frequency + phase[0]) * amplitude
    return wobble


def indices(n_test: int, count: int = COUNT, seed: int = SEED) -> np.ndarray:
    """Which MNIST test digits are redrawn (a seeded choice without repeats)."""
    return np.random.default_rng(seed).permutation(n_test)[:count]


def drawn_digits(
    x_test: np.ndarray,
    y_test: np.ndarray,
    count: int = COUNT,
    seed: int = SEED,
    start: int = 0,
    brush: float | None = None,
) -> Iterator[tuple[np.ndarray, int]]:
    """Yield (RGBA canvas, label) for drawings start … count-1; drawing i depends on (seed, i) only.

    `brush` draws them all with that brush width (px) instead of a random one.
    """
    chosen = indices(len(x_test), count, seed)
    for i in range(start, count):
        rng = np.random.default_rng([seed, i])
        yield draw_digit(x_test[chosen[i]], rng, brush=brush), int(y_test[chosen[i]])
