"""What the load's visitors send: strokes of real digits as the canvas sends them, and a file of samples.

Kept apart from `bench.visitors` (which imports Locust, and Locust patches
the standard library with gevent when it is imported) so that tests and
other benchmarks can use the same strokes.
"""

from __future__ import annotations

import base64
import functools
import io

import numpy as np
from PIL import Image

POOL = 120  # distinct drawings; each visitor starts at a random one


def fabric_path(alpha: np.ndarray, points: int = 80) -> dict:
    """The canvas's JSON for one freehand path through the ink, sized like a person's stroke."""
    ys, xs = np.nonzero(alpha > 128)
    step = max(1, len(xs) // points)
    xs, ys = xs[::step].astype(float), ys[::step].astype(float)
    path = [["M", xs[0], ys[0]]] + [["Q", x0, y0, x1, y1] for x0, y0, x1, y1 in zip(xs, ys, xs[1:], ys[1:])]
    return {
        "version": "7.4.0",
        "objects": [
            {
                "type": "Path",
                "version": "7.4.0",
                "originX": "center",
                "originY": "center",
                "left": float(xs.mean()),
                "top": float(ys.mean()),
                "stroke": "#000000",
                "strokeWidth": 18,
                "strokeLineCap": "round",
                "strokeLineJoin": "round",
                "fill": None,
                "path": path,
            }
        ],
    }


@functools.cache
def drawings() -> list[tuple[dict, int]]:
    """`POOL` strokes of MNIST test digits (MNIST from `MNIST_PATH`), made once per process."""
    from model.store.data import load_mnist

    _, (x_test, y_test) = load_mnist()
    return drawing_pool(x_test, y_test, POOL)


def drawing_pool(x_test: np.ndarray, y_test: np.ndarray, count: int) -> list[tuple[dict, int]]:
    """(the canvas's value after a stroke, the digit's label) for `count` MNIST test digits redrawn."""
    from bench.drawn_digits import drawn_digits

    pool = []
    for canvas, label in drawn_digits(x_test, y_test, count=count, seed=7):
        buffer = io.BytesIO()
        Image.fromarray(canvas).save(buffer, format="PNG")
        data = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        pool.append(({"drawing": {"raw": fabric_path(canvas[:, :, 3]), "data": data}}, label))
    return pool


@functools.cache
def samples_file(count: int = 2000) -> bytes:
    """A file of `count` samples in the app's export format (the most a collection holds)."""
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        images=rng.integers(0, 256, (count, 28, 28), dtype=np.uint8),
        labels=rng.integers(0, 10, count).astype(np.uint8),
    )
    return buffer.getvalue()


def string_array(widget_id: str, values: list[str]):
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    state = WidgetState(id=widget_id)
    state.string_array_value.data[:] = values
    return state


@functools.cache
def blank_canvas() -> dict:
    """The canvas's value after its "clear" button: no paths, a transparent PNG."""
    buffer = io.BytesIO()
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)).save(buffer, format="PNG")
    data = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"drawing": {"raw": {"version": "7.4.0", "objects": []}, "data": data}}
