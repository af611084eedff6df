"""MNIST from Keras's download, for those who have not got a copy: the training side only.

Keras (and TensorFlow behind it) is imported only when the download is
asked for, so a command that finds MNIST on disk, or fails for another
reason, answers without waiting for TensorFlow.
"""

from __future__ import annotations

import numpy as np

from model.store.data import ENV_VAR, MnistUnavailable


def download_mnist() -> dict[str, np.ndarray]:
    """MNIST from `keras.datasets.mnist` (cached in ~/.keras/datasets), for `load_mnist(download=...)`."""
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:  # the download raises bare Exception on network errors
        raise MnistUnavailable(
            f"MNIST could not be downloaded ({str(error).splitlines()[0][:160]}): connect to "
            f"the internet, or set {ENV_VAR} to the path of a local mnist.npz."
        ) from None
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
