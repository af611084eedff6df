"""How long a drawing takes to become ten probabilities: the app's path against the usual one.

Ours: `to_mnist` on the 280×280 RGBA canvas, then the network as NumPy
matrix products (`NumpyNetwork.probabilities`). Reference, measured in the same
run: what typical drawing apps do — shrink the whole canvas to 28×28 and
call Keras's `model.predict`, whose per-call overhead dominates.
"""

from __future__ import annotations

import time

import numpy as np
from PIL import Image

from model.reading.network import NumpyNetwork
from model.reading.preprocess import to_mnist
from testkit.canvas import SAMPLE_DRAWINGS, render_strokes

MODEL = "model/mnist_ann.keras"


def canvases() -> list[np.ndarray]:
    return [render_strokes(strokes, width=18) for strokes in SAMPLE_DRAWINGS.values()]


def ours(net: NumpyNetwork, canvas: np.ndarray) -> np.ndarray:
    return net.probabilities(to_mnist(canvas))


def naive(model, canvas: np.ndarray) -> np.ndarray:
    small = np.asarray(Image.fromarray(canvas[:, :, 3]).resize((28, 28)), dtype=np.float32) / 255.0
    return model.predict(small[None], verbose=0)[0]


def timed(fn, inputs, calls: int) -> np.ndarray:
    """Milliseconds of each call, cycling through `inputs` (after a few warm-up calls)."""
    for x in inputs:
        fn(x)
    times = np.empty(calls)
    for i in range(calls):
        x = inputs[i % len(inputs)]
        start = time.perf_counter()
        fn(x)
        times[i] = time.perf_counter() - start
    return times * 1000.0


def run(calls: int = 2000, reference_calls: int = 200) -> dict:
    from model.training.ann import load_model

    net, model = NumpyNetwork.load(MODEL), load_model(MODEL)
    inputs = canvases()
    mine = timed(lambda c: ours(net, c), inputs, calls)
    theirs = timed(lambda c: naive(model, c), inputs, reference_calls)
    return {
        "ours_median_ms": float(np.median(mine)),
        "ours_p99_ms": float(np.percentile(mine, 99)),
        "reference_median_ms": float(np.median(theirs)),
        "reference_p99_ms": float(np.percentile(theirs, 99)),
        "speedup": float(np.median(theirs) / np.median(mine)),
        "calls": calls,
        "reference_calls": reference_calls,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:>22}: {value:.3f}" if isinstance(value, float) else f"{key:>22}: {value}")
