"""Tiny, generated stand-ins for MNIST, for tests.

No MNIST pixel is ever committed, so tests that need data make it: digits
typeset in Pillow's built-in font at random sizes, slants, stroke weights
and places, then put through `to_mnist` like any drawing. Easy for a network
to learn, so "beats chance by far" is a fair test on a few thousand of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from model.reading.preprocess import to_mnist
from testkit.canvas import render_strokes


def typeset_digit(digit: int, rng: np.random.Generator, side: int = 96) -> np.ndarray:
    """One digit as a (side, side) uint8 image, light ink on dark, randomly placed and styled."""
    font = ImageFont.load_default(size=int(side * rng.uniform(0.45, 0.7)))
    image = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(image)
    x, y = rng.uniform(0.1, 0.35) * side, rng.uniform(0.0, 0.2) * side
    draw.text((x, y), str(digit), fill=255, font=font, stroke_width=int(rng.integers(0, 3)), stroke_fill=255)
    image = image.rotate(rng.uniform(-12, 12), resample=Image.BILINEAR)
    return np.asarray(image)


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n MNIST-format images (n, 28, 28) uint8 with balanced labels (n,) uint8."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = np.stack([np.rint(to_mnist(typeset_digit(int(d), rng)) * 255) for d in labels])
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_tiny_mnist(path: Path, n_train: int = 2000, n_test: int = 500, seed: int = 0) -> Path:
    """An .npz in MNIST's layout, small enough to train on in seconds."""
    x_train, y_train = synthetic_digits(n_train, seed)
    x_test, y_test = synthetic_digits(n_test, seed + 1)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


# Digits as polylines in a unit box (x right, y down), for drawing "by hand".
STROKES = {
    "seven": [[(0.05, 0.05), (0.95, 0.05), (0.45, 1.0)]],
    "one": [[(0.5, 0.0), (0.5, 1.0)]],
    "zero": [[(0.5 + 0.45 * np.sin(t), 0.5 - 0.5 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 40)]],
    "ell": [[(0.0, 0.0), (0.0, 1.0), (0.5, 1.0)]],
}


def draw_on_canvas(
    strokes,
    canvas=(280, 280),
    box=(40, 40, 200),
    width=20,
    ink=(0, 0, 0, 255),
    background=(0, 0, 0, 0),
) -> np.ndarray:
    """Unit-box polylines drawn at `box` = (left, top, size) on a `canvas` = (width, height) RGBA image."""
    left, top, size = box
    placed = [[(left + x * size, top + y * size) for x, y in line] for line in strokes]
    return render_strokes(placed, width, canvas, ink=ink, background=background)
