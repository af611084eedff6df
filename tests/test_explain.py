"""Looking inside the network: activations, what units look for, saliency, where it fails."""

import numpy as np
import pytest

from model.reading.explain import (
    activations,
    logits_and_gradients,
    misclassified,
    saliency,
    strongest_units,
    unit_weights,
)
from model.reading.network import NumpyNetwork
from model.reading.preprocess import to_mnist
from tests.synthetic import STROKES, draw_on_canvas


@pytest.fixture(scope="module")
def net():
    rng = np.random.default_rng(0)
    sizes = [784, 32, 16, 10]
    return NumpyNetwork(
        tuple(rng.normal(0, 0.1, (a, b)).astype(np.float32) for a, b in zip(sizes, sizes[1:])),
        tuple(rng.normal(0, 0.1, b).astype(np.float32) for b in sizes[1:]),
    )


@pytest.fixture(scope="module")
def seven():
    return to_mnist(draw_on_canvas(STROKES["seven"]))


def test_activations_have_one_vector_per_hidden_layer(net, seven):
    layers = activations(net, seven)
    assert [a.shape for a in layers] == [(32,), (16,)]
    assert all((a >= 0).all() for a in layers), "ReLU outputs"
    # They are the same numbers the forward pass uses.
    last = layers[-1] @ net.kernels[-1] + net.biases[-1]
    np.testing.assert_allclose(np.exp(last) / np.exp(last).sum(), net.probabilities(seven), rtol=1e-5)


def test_strongest_units_are_the_largest_and_active():
    layer = np.array([0.0, 3.0, 1.0, 0.0, 2.0])
    assert list(strongest_units(layer, 3)) == [1, 4, 2]
    assert list(strongest_units(layer, 10)) == [1, 4, 2], "inactive units are not 'strong'"


def test_unit_weights_are_the_incoming_weights_as_images(net):
    images = unit_weights(net, [3, 7])
    assert images.shape == (2, 28, 28)
    np.testing.assert_array_equal(images[1].reshape(-1), net.kernels[0][:, 7])


def test_gradient_matches_finite_differences(net, seven):
    score, grad = logits_and_gradients(net, seven[None], target=3)
    for row, col in [(5, 14), (14, 14), (20, 9)]:
        bumped = seven.copy()
        bumped[row, col] += 1e-2
        higher, _ = logits_and_gradients(net, bumped[None], target=3)
        assert (higher[0] - score[0]) / 1e-2 == pytest.approx(grad[0, row, col], rel=0.05, abs=1e-3)


def test_saliency_of_a_blank_input_is_zero(net):
    assert not saliency(net, np.zeros((28, 28), np.float32), target=5).any()


def test_saliency_lies_on_the_ink_and_adds_up_to_the_score(net, seven):
    result = saliency(net, seven, target=7, steps=128)
    assert result.shape == (28, 28)
    assert not result[seven == 0].any(), "no attribution where there is no ink"
    assert np.abs(result[seven > 0.5]).sum() > 0.8 * np.abs(result).sum(), "it concentrates on the strokes"
    score, _ = logits_and_gradients(net, seven[None], 7)
    blank, _ = logits_and_gradients(net, np.zeros((1, 28, 28)), 7)
    assert result.sum() == pytest.approx(score[0] - blank[0], rel=0.1, abs=0.05)  # completeness


def test_misclassified_lists_the_mistakes_most_confident_first(net, tiny_mnist):
    (_, _), (x_test, y_test) = tiny_mnist
    wrong = misclassified(net, x_test, y_test)
    predicted = net.probabilities(x_test / 255.0).argmax(axis=1)
    assert set(wrong["index"]) == set(np.flatnonzero(predicted != y_test))
    assert (wrong["predicted"] != wrong["true"]).all()
    assert (np.diff(wrong["confidence"]) <= 1e-9).all()
