"""A small convolutional network read in NumPy: the second opinion on shared samples, and the benchmarks' judge.

The page's networks are Dense; a convolutional network (`model.training.extras.cnn`)
reads images another way, so where both read a drawing confidently as the
same digit other than its label, the label is probably wrong
(`model.reading.flags`). This reads such a network's `.keras` file without
TensorFlow, as `NumpyNetwork` reads the Dense ones.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.reading.network import ModelFileError, softmax

MAX_FILE_BYTES = 8 << 20


@dataclass(frozen=True, eq=False)
class NumpyCNN:
    """A `model.training.extras.cnn` network as NumPy arrays: ("conv", kernel (3, 3, in, out), bias, padding) or
    ("pool",) or ("dense", kernel, bias) steps, input to output."""

    steps: tuple

    @classmethod
    def load(cls, path: str | os.PathLike) -> NumpyCNN:
        """Read a `.keras` file of the judge's kind (Reshape, Conv2D, MaxPooling2D, Flatten, Dropout, Dense)."""
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"No convolutional network at {path} (make one with `python -m bench.judge train`).")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ModelFileError(f"{path} is larger than any convolutional network this app reads.")
        try:
            with zipfile.ZipFile(path) as archive:
                config = json.loads(archive.read("config.json"))
                weights = archive.read("model.weights.h5")
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
            raise ModelFileError(f"{path} is not a readable .keras file ({error}).") from None
        return cls(tuple(_steps(config, weights, str(path))))

    def probabilities(self, images: np.ndarray, batch: int = 256) -> np.ndarray:
        """(N, 28, 28) float images in [0, 1] → (N, 10) probabilities, in slices of `batch`."""
        images = np.asarray(images, np.float32)
        return np.concatenate([self._forward(images[i : i + batch]) for i in range(0, len(images), batch)])

    def _forward(self, x: np.ndarray) -> np.ndarray:
        x = x[..., None]
        for step in self.steps:
            if step[0] == "conv":
                x = np.maximum(conv3x3(x, step[1], step[3]) + step[2], 0.0)
            elif step[0] == "pool":
                n, h, w, c = x.shape
                x = x[:, : h // 2 * 2, : w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
            else:
                return softmax(x.reshape(len(x), -1) @ step[1] + step[2])
        raise ModelFileError("The judge network has no output layer.")


def conv3x3(x: np.ndarray, kernel: np.ndarray, padding: str) -> np.ndarray:
    """A 3×3 convolution (Keras's cross-correlation) of (N, H, W, C) by (3, 3, C, F), 'same' or 'valid'."""
    if padding == "same":
        x = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # (N, H', W', C, 3, 3)
    n, h, w, c = windows.shape[:4]
    columns = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * h * w, 9 * c)
    return (columns @ kernel.reshape(9 * c, -1)).reshape(n, h, w, -1)


def _steps(config: dict, weights: bytes, where: str) -> list:
    import h5py

    try:
        layers = config["config"]["layers"]
    except (KeyError, TypeError):
        raise ModelFileError(f"{where}: config.json does not describe a Sequential model.") from None
    steps, counts = [], {"conv2d": 0, "dense": 0}
    with h5py.File(io.BytesIO(weights), "r") as h5:

        def arrays(kind: str) -> tuple[np.ndarray, np.ndarray]:
            group = kind if counts[kind] == 0 else f"{kind}_{counts[kind]}"
            counts[kind] += 1
            return tuple(np.array(h5[f"layers/{group}/vars/{i}"], np.float32) for i in (0, 1))

        for layer in layers:
            kind, cfg = layer["class_name"], layer.get("config", {})
            if kind in ("InputLayer", "Reshape", "Flatten", "Dropout"):
                continue
            if kind == "Conv2D":
                if cfg.get("activation") != "relu" or list(cfg.get("kernel_size", [])) != [3, 3]:
                    raise ModelFileError(f"{where}: a convolution that is not 3×3 with ReLU.")
                steps.append(("conv", *arrays("conv2d"), cfg.get("padding", "valid")))
            elif kind == "MaxPooling2D":
                steps.append(("pool",))
            elif kind == "Dense" and cfg.get("activation") == "softmax":
                steps.append(("dense", *arrays("dense")))
            else:
                raise ModelFileError(f"{where}: a {kind} layer is not part of the judge's kind of network.")
    return steps
