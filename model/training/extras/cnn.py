"""A small convolutional network: the benchmarks' judge of legibility and a teacher for the Dense ANN.

The page ships a Dense network (`model.training.ann`), which a convolutional network
outreads on images: it sees strokes wherever they are. Such a network has
two uses here, neither of them on the page:

- **a judge** (`bench/judge.py`): trained on MNIST's training split only, it
  says whether drawings made from MNIST test digits are still legible. If it
  misreads many of them, the drawings are at fault, not the network;
- **a teacher** (`model.training.extras.distill`): its probabilities, softer than
  one-hot labels, carry what it knows about which digits look alike into
  the Dense network trained to imitate them.

Architecture, all 3×3 convolutions with ReLU: 32 at 28×28 → max-pool → 64
at 14×14 → max-pool → 96 at 7×7 → 128 without padding (5×5) → flatten →
dropout → Dense(10, softmax). About 216,000 weights (under 1 MB as a
`.keras` file), chosen for two shared CPU cores: a second 32-filter
convolution at 28×28 tripled the time of an epoch, and batch normalisation
added half. It trains with `model.training.ann.train`: the same optimiser, schedule,
validation split, distortions and redrawn digits as the Dense network.
"""

from __future__ import annotations

import keras

WIDTHS = (32, 64, 96, 128)  # filters of each convolution, input side first
POOL_AFTER = (0, 1)  # a 2×2 max-pool after these convolutions (0-based)


def build_cnn(dropout: float = 0.3, widths: tuple[int, ...] = WIDTHS) -> keras.Sequential:
    """The judge's and teacher's architecture (see the module's docstring), not compiled."""
    if len(widths) != len(WIDTHS) or min(widths) < 1:
        raise ValueError(f"A CNN needs {len(WIDTHS)} convolution widths of at least 1 (got {widths}).")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"Dropout must be 0 to below 1 (got {dropout}).")
    layers: list = [keras.Input(shape=(28, 28), name="image"), keras.layers.Reshape((28, 28, 1), name="channel")]
    for i, filters in enumerate(widths):
        last = i == len(widths) - 1
        padding = "valid" if last else "same"
        layers.append(keras.layers.Conv2D(filters, 3, padding=padding, activation="relu", name=f"conv_{i}"))
        if i in POOL_AFTER:
            layers.append(keras.layers.MaxPooling2D(2, name=f"pool_{i}"))
    layers += [
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dropout(dropout, name="dropout"),
        keras.layers.Dense(10, activation="softmax", name="output"),
    ]
    return keras.Sequential(layers, name="mnist_cnn")
