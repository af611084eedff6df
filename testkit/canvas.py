"""Render strokes the way the app's canvas does: a round brush, anti-aliased, on transparency.

`streamlit-drawable-canvas` (fabric.js) returns RGBA where the ink has the
brush's colour and the brush's coverage as alpha, over a background that is
fully transparent by default. Drawing at 4× and reducing gives the same soft
edge; other backgrounds are composited with Porter-Duff "over".
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

# A few digits as a person draws them with a mouse, in 280×280 canvas pixels.
SAMPLE_DRAWINGS = {
    1: [[(150, 45), (146, 120), (140, 235)]],
    0: [[(140, 40), (90, 60), (70, 140), (90, 220), (140, 240), (190, 220), (210, 140), (190, 60), (140, 40)]],
    7: [[(70, 55), (210, 55), (175, 120), (130, 240)]],
    4: [[(160, 40), (70, 170), (220, 170)], [(180, 90), (180, 245)]],
}

SUPERSAMPLE = 4
TRANSPARENT = (0, 0, 0, 0)
BLACK = (0, 0, 0, 255)


def render_strokes(
    strokes, width: float, size: tuple[int, int] = (280, 280), ink: tuple = BLACK, background: tuple = TRANSPARENT
) -> np.ndarray:
    """Polylines in canvas pixels (x right, y down) drawn with a round brush of `width` px.

    `size` is (width, height); returns (height, width, 4) uint8 RGBA.
    """
    s = SUPERSAMPLE
    w, h = size
    mask = Image.new("L", (w * s, h * s), 0)
    draw = ImageDraw.Draw(mask)
    r = width * s / 2
    for stroke in strokes:
        points = [(x * s, y * s) for x, y in stroke]
        if len(points) > 1:
            draw.line(points, fill=255, width=max(1, round(width * s)))
        for px, py in points:  # round caps and joins, as fabric.js draws them
            draw.ellipse((px - r, py - r, px + r, py + r), fill=255)
    coverage = np.asarray(mask.resize((w, h), Image.BOX), dtype=np.float32)[..., None] / 255.0
    return over(coverage, np.array(ink, np.float32), np.array(background, np.float32))


def render_points(
    points: np.ndarray,
    width: float,
    size: tuple[int, int] = (280, 280),
    ink: tuple = BLACK,
    background: tuple = TRANSPARENT,
) -> np.ndarray:
    """A round brush of `width` px stamped at each (x, y) of `points`: a stroke when they are dense."""
    s = SUPERSAMPLE
    w, h = size
    mask = Image.new("L", (w * s, h * s), 0)
    draw = ImageDraw.Draw(mask)
    r = width * s / 2
    for x, y in np.asarray(points, dtype=np.float64) * s:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    coverage = np.asarray(mask.resize((w, h), Image.BOX), dtype=np.float32)[..., None] / 255.0
    return over(coverage, np.array(ink, np.float32), np.array(background, np.float32))


def over(coverage: np.ndarray, ink: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Ink with `coverage` (H, W, 1) over a plain background, both RGBA 0-255, not premultiplied."""
    a_ink = coverage * ink[3] / 255.0
    a_bg = background[3] / 255.0 * (1.0 - a_ink)
    alpha = a_ink + a_bg
    rgb = (ink[:3] * a_ink + background[:3] * a_bg) / np.maximum(alpha, 1e-6)
    rgb = np.where(alpha > 0, rgb, 0.0)
    return np.rint(np.concatenate([rgb, alpha * 255.0], axis=-1)).astype(np.uint8)
