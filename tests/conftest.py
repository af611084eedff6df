"""Shared fixtures: tiny generated datasets, the real MNIST where a test needs it, and real databases."""

from __future__ import annotations

import os
import uuid

import numpy as np
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
def plain_judge(mnist):
    """A small CNN trained on undistorted MNIST: a judge of distortions that never saw them.

    A convolutional network, because reading a digit moved by a pixel is
    what convolutions do without being taught; a Dense network taught
    without distortions misreads shifted digits that are plainly the same
    digit. One epoch, about 30 s on two cores. Returns images → labels read.
    """
    import keras

    (x_train, y_train), _ = mnist
    keras.utils.set_random_seed(0)
    judge = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    judge.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    judge.fit(x_train[..., None] / 255.0, y_train, epochs=1, batch_size=128, verbose=0)

    def read(images):
        return judge.predict(np.asarray(images, np.float32)[..., None], batch_size=1000, verbose=0).argmax(axis=1)

    return read


def pytest_collection_modifyitems(items):
    """A browser test is a slow test too, so `-m "not slow"` is the quick loop."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def training_cluster(tiny_mnist_path):
    """One small local Dask cluster for the whole run, its worker reading the tiny MNIST.

    The app and `model.jobs.service` send their jobs to it (`model.jobs.cluster.use_client`),
    as they would to the cluster they start themselves.
    """
    from distributed import Client

    from model.jobs.cluster import close_client, local_cluster, use_client

    cluster = local_cluster(n_workers=1, env={"MNIST_PATH": str(tiny_mnist_path)})
    client = Client(cluster, set_as_default=False)
    use_client(client)
    yield client
    close_client()


@pytest.fixture(scope="session", autouse=True)
def session_database(tmp_path_factory):
    """Every test runs against a database of its own making, never the app's `data/samples.sqlite3`."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'samples.sqlite3'}"
    os.environ["SAMPLES_DATABASE_URL"] = url
    return url


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the run (testkit.postgres); a test that needs it fails, never skips, without it."""
    from testkit.postgres import PostgresUnavailable, temporary_postgres

    try:
        with temporary_postgres() as url:
            yield url
    except PostgresUnavailable as error:
        pytest.fail(f"These tests need PostgreSQL: {error}")


def fresh_postgres_database(server_url: str) -> str:
    """A new, empty database on the test server; its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"t{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty database of each kind the app runs on: SQLite (a file) and PostgreSQL (a real server)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'samples.sqlite3'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_server"))
