"""Look inside a trained network: what each layer does with a drawing, and why it answers as it does.

All of it is NumPy on the network's one forward pass (`NumpyNetwork.forward`):
a Dense ReLU network's activations are its hidden layers' outputs, and its
gradients follow from the same products in reverse, so nothing here needs TensorFlow and
none of it runs unless a visitor opens the panel.

- `activations`: every hidden layer's output for one image.
- `strongest_units`: the most active units of a layer.
- `unit_weights`: what a first-layer unit looks for, its 784 incoming
  weights as a 28×28 image.
- `saliency`: integrated gradients (Sundararajan et al., 2017) of a class's
  score with respect to the input pixels: how much each pixel pushed the
  answer towards that class, compared with a blank image. They add up to the
  score's difference from the blank image, and are zero where there is no
  ink, so a blank input has no saliency at all.
"""

from __future__ import annotations

import numpy as np

from model.reading.network import NumpyNetwork


def activations(net: NumpyNetwork, image: np.ndarray) -> list[np.ndarray]:
    """Each hidden layer's ReLU output for one (28, 28) image, input side first."""
    return [layer[0] for layer in net.forward(np.asarray(image, np.float32)[None]).hidden]


def strongest_units(layer: np.ndarray, count: int = 8) -> np.ndarray:
    """Indices of the `count` most active units, strongest first (only those above zero)."""
    order = np.argsort(layer)[::-1][:count]
    return order[layer[order] > 0]


def unit_weights(net: NumpyNetwork, units) -> np.ndarray:
    """(len(units), 28, 28): the incoming weights of first-layer units, as images."""
    return net.kernels[0][:, np.asarray(units, dtype=int)].T.reshape(-1, 28, 28)


def logits_and_gradients(net: NumpyNetwork, images: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Score (pre-softmax) of class `target` for each of (N, 28, 28) images, and its gradient by pixel."""
    passed = net.forward(images)
    grad = np.broadcast_to(net.kernels[-1][:, target], passed.hidden[-1].shape)  # d score / d last hidden layer
    # Back through each hidden layer: a ReLU passes the gradient where its output is above zero.
    for kernel, out in zip(net.kernels[-2::-1], passed.hidden[::-1]):
        grad = (grad * (out > 0)) @ kernel.T
    return passed.logits[:, target], grad.reshape(-1, 28, 28)


def saliency(net: NumpyNetwork, image: np.ndarray, target: int, steps: int = 32) -> np.ndarray:
    """Integrated gradients of class `target`'s score over a (28, 28) image, from a blank baseline."""
    image = np.asarray(image, np.float32)
    alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps  # midpoint rule along the path
    _, grads = logits_and_gradients(net, alphas[:, None, None] * image[None], target)
    return image * grads.mean(axis=0)


def misclassified(net: NumpyNetwork, images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Where a network fails on a labelled set: indices, true and predicted digits, confidence."""
    probabilities = net.probabilities_batched(np.asarray(images, np.float32) / 255.0)
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(-probabilities[wrong, predicted[wrong]])]  # the most confident mistakes first
    return {
        "index": order,
        "true": np.asarray(labels)[order].astype(int),
        "predicted": predicted[order],
        "confidence": probabilities[order, predicted[order]],
    }
