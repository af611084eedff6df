"""A regression check on the per-drawing path, as a ratio measured in one process (not an absolute time).

The app answers each stroke with `to_mnist` and the network in NumPy; if that
ever became as slow as Keras's `model.predict`, the page would lag. Absolute
times on shared CI machines are noise; a ratio of two medians taken side by
side is not. The full benchmark is `python -m bench.prediction`.
"""

import numpy as np
import pytest

from bench.prediction import canvases, naive, ours, timed
from model.reading.network import NumpyNetwork
from model.training.ann import load_model

pytestmark = pytest.mark.slow  # it times the prediction path

MODEL = "model/mnist_ann.keras"


def test_prediction_path_is_at_least_10x_faster_than_model_predict():
    net, model = NumpyNetwork.load(MODEL), load_model(MODEL)
    inputs = canvases()
    mine = np.median(timed(lambda c: ours(net, c), inputs, 300))
    theirs = np.median(timed(lambda c: naive(model, c), inputs, 40))
    assert theirs / mine >= 10, f"ours {mine:.3f} ms, model.predict path {theirs:.3f} ms"


def test_both_paths_read_the_same_network():
    net, model = NumpyNetwork.load(MODEL), load_model(MODEL)
    from model.reading.preprocess import to_mnist

    canvas = canvases()[0]
    np.testing.assert_allclose(ours(net, canvas), model.predict(to_mnist(canvas)[None], verbose=0)[0], atol=1e-5)
