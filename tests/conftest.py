"""Shared fixtures: tiny generated datasets, and the real MNIST where a test needs it."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from model.store.data import MnistUnavailable, load_mnist  # noqa: E402
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


@pytest.fixture(scope="session")
def plain_network(mnist):
    """A network trained on MNIST without any distortion or redrawing: an independent judge of them.

    784 → 256 → 10 for 3 epochs (about 15 s on two cores, 97.9% on the test set).
    """
    from model.config import TrainConfig
    from model.training.run import fit_network

    config = TrainConfig(hidden=(256,), epochs=3, batch_size=128, dropout=0.0, augment=False)
    return fit_network(config, mnist, {}, "plain judge").net


def pytest_collection_modifyitems(items):
    """A browser test is a slow test too, so `-m "not slow"` is the quick loop."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def training_cluster(tiny_mnist_path):
    """One small local Dask cluster for the whole run, its worker reading the tiny MNIST.

    The app and `model.jobs.queue` send their jobs to it (`model.jobs.cluster.use_client`),
    as they would to the cluster they start themselves.
    """
    from distributed import Client

    from model.jobs.cluster import close_client, local_cluster, use_client

    cluster = local_cluster(n_workers=1, env={"MNIST_PATH": str(tiny_mnist_path)})
    client = Client(cluster, set_as_default=False)
    use_client(client)
    yield client
    close_client()
