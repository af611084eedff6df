"""Shared fixtures: tiny generated datasets, and the real MNIST where a test needs it."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from model.data import MnistUnavailable, load_mnist  # noqa: E402
from tests.synthetic import write_tiny_mnist  # noqa: E402


@pytest.fixture(scope="session")
def tiny_mnist_path(tmp_path_factory):
    """A generated .npz in MNIST's layout: 2,000 training and 500 test digits."""
    return write_tiny_mnist(tmp_path_factory.mktemp("data") / "tiny_mnist.npz")


@pytest.fixture(scope="session")
def tiny_mnist(tiny_mnist_path):
    return load_mnist(tiny_mnist_path)


@pytest.fixture(scope="session")
def mnist():
    """The full MNIST from $MNIST_PATH (or Keras's download). A test that needs it fails, never skips, without it."""
    try:
        return load_mnist()
    except MnistUnavailable as error:
        pytest.fail(f"These tests need the real MNIST: {error}")
