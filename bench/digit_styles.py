"""A second, independent source of drawings: digits in the styles people write, not MNIST's.

bench/drawn_digits.py redraws MNIST's own test digits, so it measures how
well a network copes with canvas drawing (size, brush, slant, wobble) but
not with writers whose digits are shaped differently: a 1 with a flag and a
base, a 7 with a bar, a 4 open at the top, a 2 with a loop, a flat-topped 3.
Here each such style is a template of pen strokes (drawn by the author, in
a unit box), and each drawing passes it through the same hand model as the
MNIST-derived set: random size, place, brush, slant, rotation and wobble.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bench.drawn_digits import CANVAS, draw_by_hand

SEED = 7
PER_STYLE = 40


def arc(cx, cy, rx, ry, start, end, n=40):
    """Points on an ellipse from angle `start` to `end` (degrees; 0 = right, 90 = down)."""
    t = np.radians(np.linspace(start, end, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


def figure_eight(n=120):
    t = np.linspace(0, 2 * np.pi, n)
    return list(zip(0.5 + 0.3 * np.sin(2 * t), 0.5 - 0.5 * np.cos(t)))


# digit → {style: strokes}; each stroke a list of (x, y) in a unit box, y down.
STYLES = {
    0: {
        "oval": [arc(0.5, 0.5, 0.3, 0.48, 270, -90)],
        "overlapping": [arc(0.5, 0.5, 0.34, 0.46, 250, -120)],
        "egg": [arc(0.5, 0.42, 0.24, 0.42, 270, 90) + arc(0.5, 0.6, 0.32, 0.4, 90, -90)],
    },
    1: {
        "stick": [[(0.5, 0.0), (0.5, 1.0)]],
        "flag": [[(0.25, 0.25), (0.55, 0.0), (0.55, 1.0)]],
        "flag and base": [[(0.25, 0.25), (0.55, 0.0), (0.55, 1.0)], [(0.25, 1.0), (0.85, 1.0)]],
    },
    2: {
        "curve and base": [arc(0.5, 0.3, 0.33, 0.28, 200, 380) + [(0.12, 1.0), (0.9, 1.0)]],
        "loop": [
            arc(0.5, 0.3, 0.33, 0.28, 200, 380) + [(0.2, 0.9)] + arc(0.3, 0.88, 0.12, 0.1, 160, -160) + [(0.9, 0.98)]
        ],
        "swan": [arc(0.45, 0.32, 0.35, 0.3, 190, 400) + [(0.3, 0.85), (0.1, 1.0), (0.5, 0.92), (0.9, 1.0)]],
    },
    3: {
        "round": [arc(0.48, 0.27, 0.3, 0.25, 200, 450) + arc(0.48, 0.74, 0.34, 0.26, 270, 500)],
        "flat top": [[(0.15, 0.0), (0.85, 0.0), (0.45, 0.4)] + arc(0.48, 0.7, 0.34, 0.3, 270, 500)],
    },
    4: {
        "closed": [[(0.6, 0.0), (0.1, 0.68), (0.9, 0.68)], [(0.66, 0.3), (0.66, 1.0)]],
        "open top": [[(0.2, 0.0), (0.15, 0.6), (0.88, 0.6)], [(0.7, 0.0), (0.7, 1.0)]],
        "one stroke": [[(0.25, 0.0), (0.15, 0.6), (0.85, 0.6), (0.72, 0.45), (0.7, 1.0)]],
    },
    5: {
        "bar last": [[(0.3, 0.0), (0.22, 0.45)] + arc(0.48, 0.7, 0.33, 0.3, 225, 500), [(0.3, 0.0), (0.85, 0.0)]],
        "one stroke": [[(0.85, 0.0), (0.3, 0.0), (0.22, 0.45)] + arc(0.48, 0.7, 0.33, 0.3, 225, 500)],
    },
    6: {
        "curved": [[(0.75, 0.0), (0.45, 0.18), (0.26, 0.5)] + arc(0.5, 0.73, 0.26, 0.26, 180, 540)],
        "straight stem": [[(0.5, 0.0), (0.24, 0.72)] + arc(0.5, 0.75, 0.26, 0.24, 180, 540)],
    },
    7: {
        "plain": [[(0.1, 0.0), (0.9, 0.0), (0.4, 1.0)]],
        "crossed": [[(0.1, 0.0), (0.9, 0.0), (0.4, 1.0)], [(0.35, 0.5), (0.85, 0.5)]],
        "hooked": [[(0.1, 0.15), (0.15, 0.0), (0.9, 0.0), (0.45, 1.0)]],
    },
    8: {
        "two loops": [arc(0.5, 0.26, 0.25, 0.24, 90, 450), arc(0.5, 0.74, 0.3, 0.26, 270, 630)],
        "one stroke": [figure_eight()],
    },
    9: {
        "straight stem": [arc(0.5, 0.28, 0.3, 0.27, 0, -360) + [(0.78, 1.0)]],
        "curved stem": [arc(0.5, 0.28, 0.3, 0.27, 0, -360) + [(0.78, 0.8), (0.6, 1.0), (0.35, 0.95)]],
    },
}


def densify(strokes, step: float = 0.01) -> np.ndarray:
    """All strokes as (N, 2) points no further apart than `step`, so that a brush stamped on each draws a line."""
    points = []
    for stroke in strokes:
        stroke = np.asarray(stroke, dtype=np.float64)
        for a, b in zip(stroke[:-1], stroke[1:]):
            n = max(2, int(np.ceil(np.linalg.norm(b - a) / step)) + 1)
            points.append(a + (b - a) * np.linspace(0, 1, n)[:, None])
    return np.concatenate(points)


def catalogue() -> list[tuple[int, str]]:
    return [(digit, style) for digit, styles in STYLES.items() for style in styles]


def styled_digits(per_style: int = PER_STYLE, seed: int = SEED) -> Iterator[tuple[np.ndarray, int]]:
    """Yield (RGBA canvas, label): every style `per_style` times; drawing i depends on (seed, i) only."""
    i = 0
    for digit, style in catalogue():
        points = densify(STYLES[digit][style]) * 28  # the hand model works in 28-px units
        for _ in range(per_style):
            yield draw_by_hand(points, np.random.default_rng([seed, i]), CANVAS), digit
            i += 1
