"""Small images for the page: the network's input, what a unit looks for, why it answered.

Each returns PNG bytes with every one of the 28×28 pixels drawn as a visible
square (nearest-neighbour enlargement), so a learner sees what the network
sees rather than a smoothed picture of it.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

RED = np.array([228, 87, 46], np.float32)
BLUE = np.array([45, 110, 210], np.float32)


def png(rgb_or_gray: np.ndarray, factor: int = 4) -> bytes:
    image = Image.fromarray(np.clip(np.rint(rgb_or_gray), 0, 255).astype(np.uint8))
    if factor != 1:
        image = image.resize((image.width * factor, image.height * factor), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def enlarge(image: np.ndarray, factor: int = 4) -> bytes:
    """The 28×28 input (floats in [0, 1] or uint8), white ink on black, as MNIST stores it."""
    image = np.asarray(image)
    return png(image * 255.0 if image.dtype != np.uint8 else image, factor)


def diverging(values: np.ndarray, factor: int = 3) -> bytes:
    """Positive values red, negative blue, zero white, scaled by the largest magnitude."""
    scale = np.abs(values).max() or 1.0
    v = (values / scale)[..., None]
    white = np.full(3, 255.0, np.float32)
    rgb = np.where(v > 0, white + v * (RED - white), white - v * (BLUE - white))
    return png(rgb, factor)


def overlay(image: np.ndarray, attribution: np.ndarray, factor: int = 4) -> bytes:
    """The input in grey with an attribution on top: red pushed towards the class, blue away from it."""
    base = np.repeat((30.0 + np.asarray(image, np.float32) * 90.0)[..., None], 3, axis=2)
    scale = np.abs(attribution).max() or 1.0
    strength = np.sqrt(np.clip(np.abs(attribution) / scale, 0, 1))[..., None]  # small ones visible too
    colour = np.where(attribution[..., None] > 0, RED, BLUE)
    return png(base * (1 - strength) + colour * strength, factor)
