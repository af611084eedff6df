"""The trained network as plain NumPy arrays: fast answers without TensorFlow.

A Flatten → Dense(ReLU) … → Dense(softmax) network is a few matrix products.
Doing them in NumPy answers a drawing in microseconds, where `model.predict`
spends ~40 ms of framework overhead per call, and it lets the app show its
first prediction without waiting seconds for TensorFlow to import. Dropout is
the identity at inference, so it has no part here.

Its own file format is an `.npz` of the arrays (`to_npz_bytes`,
`from_npz_bytes`), written beside every saved `.keras` and tied to it by the
card's hashes (`model.store.defaults`): the page reads that, a format this
project controls. `NumpyNetwork.load` can also read a `.keras` file directly (a zip holding `config.json`
and `model.weights.h5`). It checks the architecture in the config and reads
arrays only, so it can run no code from the file; anything that is not this
project's kind of network is refused with a message.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass

import numpy as np

INPUT_SHAPE = (28, 28)
CLASSES = 10
MAX_FILE_BYTES = 64 << 20  # far above any network the app can train (≤ 4 × 1024 units)


class ModelFileError(Exception):
    """A model file is missing, damaged, or not a network of this project's kind."""


@dataclass(frozen=True)
class Forward:
    """What one pass through the network computes, for a batch of N images."""

    hidden: list[np.ndarray]  # each hidden layer's ReLU output, (N, units), input side first
    logits: np.ndarray  # (N, 10), the scores before softmax

    @property
    def probabilities(self) -> np.ndarray:
        return softmax(self.logits)


@dataclass(frozen=True, eq=False)
class NumpyNetwork:
    """Kernels (n_in, n_out) and biases (n_out,) of each Dense layer, input to output."""

    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        if not self.kernels or len(self.kernels) != len(self.biases):
            raise ModelFileError("A network needs one bias per kernel and at least one layer.")
        n_in = INPUT_SHAPE[0] * INPUT_SHAPE[1]
        for kernel, bias in zip(self.kernels, self.biases):
            if kernel.ndim != 2 or kernel.shape[0] != n_in or bias.shape != (kernel.shape[1],):
                raise ModelFileError(
                    f"Layer shapes do not chain: kernel {kernel.shape}, bias {bias.shape} after {n_in} inputs."
                )
            if not (np.isfinite(kernel).all() and np.isfinite(bias).all()):
                raise ModelFileError("The network's weights contain NaN or infinity.")
            n_in = kernel.shape[1]
        if n_in != CLASSES:
            raise ModelFileError(f"The last layer has {n_in} outputs, expected {CLASSES}.")

    @classmethod
    def from_arrays(cls, weights: list[np.ndarray]) -> NumpyNetwork:
        """From Keras's `model.get_weights()` order: kernel, bias, kernel, bias, …"""
        arrays = [np.ascontiguousarray(w, dtype=np.float32) for w in weights]
        return cls(tuple(arrays[0::2]), tuple(arrays[1::2]))

    @classmethod
    def from_keras(cls, model) -> NumpyNetwork:
        return cls.from_arrays(model.get_weights())

    @classmethod
    def load(cls, path: str | os.PathLike) -> NumpyNetwork:
        """Read a `.keras` file saved by `model.training.ann.save_network`, without TensorFlow."""
        try:
            size = os.path.getsize(path)
        except OSError:
            raise ModelFileError(f"No model file at {path}.") from None
        if size > MAX_FILE_BYTES:
            raise ModelFileError(f"{path} is {size >> 20} MB, larger than any network this app makes.")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as error:
            raise ModelFileError(f"{path} could not be read ({error.strerror}).") from None
        return cls.from_keras_bytes(data, str(path))

    @classmethod
    def from_keras_bytes(cls, data: bytes, where: str = "the model") -> NumpyNetwork:
        """The network in the bytes of a `.keras` file; `where` names it in messages."""
        if len(data) > MAX_FILE_BYTES:
            raise ModelFileError(f"{where} is {len(data) >> 20} MB, larger than any network this app makes.")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if sum(info.file_size for info in archive.infolist()) > MAX_FILE_BYTES:
                    raise ModelFileError(f"{where} unpacks to more than {MAX_FILE_BYTES >> 20} MB.")
                config = json.loads(archive.read("config.json"))
                weights = archive.read("model.weights.h5")
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
            raise ModelFileError(f"{where} is not a readable .keras file ({error}).") from None
        try:
            units = dense_units(config, where)
            return cls.from_arrays(_read_h5_weights(weights, len(units), where))
        except ModelFileError:
            raise
        except (KeyError, TypeError, AttributeError, ValueError, IndexError, OSError) as error:
            # valid JSON and HDF5 of the wrong shape: still a file this app cannot use
            raise ModelFileError(f"{where} is not a network this app can read ({type(error).__name__}).") from None

    def to_npz_bytes(self) -> bytes:
        """The weights as an uncompressed `.npz`: kernel_0, bias_0, kernel_1, … (read by `from_npz_bytes`)."""
        buffer = io.BytesIO()
        arrays = {
            f"{kind}_{i}": a
            for i, pair in enumerate(zip(self.kernels, self.biases))
            for kind, a in zip(("kernel", "bias"), pair)
        }
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_npz_bytes(cls, data: bytes, where: str = "the weights") -> NumpyNetwork:
        """The network from `to_npz_bytes`'s output; anything else is a `ModelFileError` that says so."""
        if len(data) > MAX_FILE_BYTES:
            raise ModelFileError(f"{where} is {len(data) >> 20} MB, larger than any network this app makes.")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                layers = len(npz.files) // 2
                names = [f"{kind}_{i}" for i in range(layers) for kind in ("kernel", "bias")]
                if layers == 0 or sorted(npz.files) != sorted(names):
                    raise ModelFileError(f"{where} does not hold a network's kernels and biases.")
                arrays = [npz[name] for name in names]
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
            raise ModelFileError(f"{where} could not be read ({type(error).__name__}).") from None
        if any(a.dtype != np.float32 for a in arrays):
            raise ModelFileError(f"{where} holds arrays that are not float32.")
        return cls.from_arrays(arrays)

    @property
    def hidden(self) -> tuple[int, ...]:
        return tuple(k.shape[1] for k in self.kernels[:-1])

    @property
    def parameter_count(self) -> int:
        return sum(k.size + b.size for k, b in zip(self.kernels, self.biases))

    def weights(self) -> list[np.ndarray]:
        """In Keras's `set_weights` order."""
        return [a for pair in zip(self.kernels, self.biases) for a in pair]

    def forward(self, images: np.ndarray) -> Forward:
        """The one forward pass, over (N, 28, 28) float images in [0, 1]: every layer's output.

        Prediction needs only the logits; the "look closer" panels read the
        hidden layers (activations) and which units are on (the gradient).
        """
        x = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
        hidden = []
        for n, (kernel, bias) in enumerate(zip(self.kernels[:-1], self.biases[:-1])):
            if n == 0 and len(x) == 1:
                # One drawing (a stroke): about a sixth of its pixels have ink, and only their rows of the
                # first kernel (the largest array, 2.5 MB for the shipped network) need reading from memory;
                # the products of the blank pixels are zeros, left out of the same sums.
                ink = np.flatnonzero(x[0])
                x = np.maximum(x[:, ink] @ kernel[ink] + bias, 0.0)
            else:
                x = np.maximum(x @ kernel + bias, 0.0)
            hidden.append(x)
        return Forward(hidden, x @ self.kernels[-1] + self.biases[-1])

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(28, 28) → (10,), or (N, 28, 28) → (N, 10); images float in [0, 1]."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 2:
            return self.forward(images[None]).probabilities[0]
        return self.forward(images).probabilities

    def probabilities_batched(self, images: np.ndarray, batch: int = 2048) -> np.ndarray:
        """`probabilities` over many images in slices, to bound memory on the test set."""
        return np.concatenate([self.probabilities(images[i : i + batch]) for i in range(0, len(images), batch)])


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def dense_units(config: dict, where: str) -> list[int]:
    """Check that a Keras config describes our kind of network; return each Dense layer's units."""
    try:
        layers = config["config"]["layers"]
        kinds = [layer["class_name"] for layer in layers]
    except (KeyError, TypeError):
        raise ModelFileError(f"{where}: config.json does not describe a Sequential model.") from None

    def refuse(reason: str) -> ModelFileError:
        return ModelFileError(
            f"{where} is not a Flatten → Dense(ReLU) … → Dense(softmax) network on 28×28 input: {reason}."
        )

    if config.get("class_name") != "Sequential":
        raise refuse(f"it is a {config.get('class_name')}, not a Sequential model")
    if kinds[:2] != ["InputLayer", "Flatten"]:
        raise refuse(f"it starts with {kinds[:2]}")
    if list(layers[0]["config"].get("batch_shape", []))[1:] != list(INPUT_SHAPE):
        raise refuse(f"its input shape is {layers[0]['config'].get('batch_shape')}")
    units = []
    body = layers[2:]
    for index, layer in enumerate(body):
        kind, cfg = layer["class_name"], layer.get("config", {})
        if kind == "Dropout":
            continue
        if kind != "Dense":
            raise refuse(f"it has a {kind} layer")
        last = index == len(body) - 1
        if cfg.get("activation") != ("softmax" if last else "relu") or not cfg.get("use_bias", False):
            raise refuse(f"layer {cfg.get('name')} has activation {cfg.get('activation')}")
        units.append(int(cfg["units"]))
    if not units or units[-1] != CLASSES:
        raise refuse(f"it ends in {units[-1:] or 'no'} outputs")
    return units


def _read_h5_weights(data: bytes, n_dense: int, where: str) -> list[np.ndarray]:
    """Kernels and biases from a Keras 3 `model.weights.h5`.

    Keras names each layer's group after its class, in order: dense, dense_1,
    dense_2, … (the layer's own name is not used), each holding vars/0 (kernel)
    and vars/1 (bias).
    """
    import h5py  # a Keras dependency; imported here so the app starts without it

    groups = ["dense"] + [f"dense_{i}" for i in range(1, n_dense)]
    try:
        with h5py.File(io.BytesIO(data), "r") as h5:
            return [
                np.array(h5[f"layers/{group}/vars/{index}"], dtype=np.float32) for group in groups for index in (0, 1)
            ]
    except (KeyError, OSError) as error:
        raise ModelFileError(f"{where}: the weights file lacks a Dense layer's arrays ({error}).") from None
