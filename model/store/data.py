"""Load MNIST as `(x_train, y_train), (x_test, y_test)` uint8 arrays.

Where the data comes from, first match wins:

1. an explicit path (`train.py --data PATH`, or the `path` argument);
2. the environment variable `MNIST_PATH`;
3. `download`, when the caller passes one: the training side passes
   `model.training.download.download_mnist` (Keras's download, cached in
   `~/.keras/datasets`, for users with an internet connection). The web
   server passes none: it never downloads.

A file must be an `.npz` with the keys `x_train, y_train, x_test, y_test`, laid
out as Keras returns them. Whatever the source, the arrays are checked before
anyone trains on them, and every failure becomes one `MnistUnavailable` whose
message is a sentence a person can act on.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from model.settings import MNIST_PATH

KEYS = ("x_train", "y_train", "x_test", "y_test")
ENV_VAR = MNIST_PATH.name

Split = tuple[np.ndarray, np.ndarray]


class MnistUnavailable(Exception):
    """MNIST could not be loaded; the message says what to do about it."""


def load_mnist(
    path: str | os.PathLike | None = None, download: Callable[[], dict[str, np.ndarray]] | None = None
) -> tuple[Split, Split]:
    """Return `(x_train, y_train), (x_test, y_test)`: images (N, 28, 28) uint8, labels (N,) uint8."""
    source = mnist_source(path)
    if source is not None:
        arrays = _read_npz(source)
    elif download is not None:
        arrays = download()
    else:
        raise MnistUnavailable(f"No MNIST file given: set {ENV_VAR} (or --data) to the path of an mnist.npz.")
    return validate_mnist(arrays, where=str(source or "the Keras download"))


def provenance(source: str | os.PathLike | None) -> dict:
    """Where MNIST came from, for a model card: the file and its sha256 (or Keras's download), its licence."""
    where = (
        {"source": "keras.datasets.mnist", "sha256": None}
        if source is None
        else {"source": str(source), "sha256": file_sha256(source)}
    )
    return where | MNIST_LICENCE


# What a card says of MNIST wherever it came from: a network learnt from it may be passed on with this credit.
MNIST_LICENCE = {
    "licence": "CC BY-SA 3.0",
    "attribution": "Y. LeCun, C. Cortes and C. J. C. Burges, The MNIST database of handwritten digits "
    "(from NIST Special Databases 1 and 3)",
}


def mnist_source(path: str | os.PathLike | None = None) -> Path | None:
    """The file MNIST will be read from, or None when it will be downloaded."""
    if path is not None and str(path) != "":
        return Path(path)
    from_env = MNIST_PATH.value()
    return Path(from_env) if from_env else None


def keras_cache_file() -> Path | None:
    """The MNIST that `keras.datasets.mnist.load_data()` downloaded earlier, if it is there."""
    path = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "mnist.npz"
    return path if path.is_file() else None


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks (it goes into the model card)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def validate_mnist(arrays: dict[str, np.ndarray], where: str) -> tuple[Split, Split]:
    """Check keys, shapes, dtypes and labels; return the two splits as uint8."""
    missing = [key for key in KEYS if key not in arrays]
    if missing:
        raise MnistUnavailable(
            f"{where} is not an MNIST file: it lacks {', '.join(missing)} (expected the keys {', '.join(KEYS)})."
        )
    splits = []
    for part in ("train", "test"):
        x, y = np.asarray(arrays[f"x_{part}"]), np.asarray(arrays[f"y_{part}"])
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.shape[0] == 0:
            raise MnistUnavailable(f"{where}: x_{part} has shape {x.shape}, expected (N, 28, 28) with N > 0.")
        if x.dtype != np.uint8:
            raise MnistUnavailable(f"{where}: x_{part} is {x.dtype}, expected uint8 pixels 0-255.")
        if y.shape != (x.shape[0],):
            raise MnistUnavailable(
                f"{where}: y_{part} has shape {y.shape}, expected ({x.shape[0]},) to match x_{part}."
            )
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 9:
            raise MnistUnavailable(f"{where}: y_{part} must hold integer labels 0-9.")
        splits.append((x, y.astype(np.uint8)))
    return splits[0], splits[1]


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise MnistUnavailable(f"No MNIST file at {path}: set {ENV_VAR} (or --data) to the path of an mnist.npz.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files if key in KEYS}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise MnistUnavailable(
            f"{path} could not be read as an .npz ({error}): point {ENV_VAR} at an intact mnist.npz."
        ) from None
