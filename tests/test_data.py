"""load_mnist: where it reads from, what it accepts, and how it fails."""

import numpy as np
import pytest

from model.store.data import MnistUnavailable, file_sha256, load_mnist, mnist_source


def write_npz(path, n_train=20, n_test=10, **overrides):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


def test_reads_an_explicit_path(tmp_path):
    path = write_npz(tmp_path / "m.npz")
    (x_train, y_train), (x_test, y_test) = load_mnist(path)
    assert x_train.shape == (20, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (20,) and y_train.dtype == np.uint8
    assert x_test.shape == (10, 28, 28) and y_test.shape == (10,)
    assert np.array_equal(x_train, np.load(path)["x_train"])


def test_env_var_is_used_and_explicit_path_wins(tmp_path, monkeypatch):
    from_env = write_npz(tmp_path / "env.npz", n_train=30)
    explicit = write_npz(tmp_path / "arg.npz", n_train=40)
    monkeypatch.setenv("MNIST_PATH", str(from_env))
    assert mnist_source() == from_env
    assert len(load_mnist()[0][0]) == 30
    assert len(load_mnist(explicit)[0][0]) == 40


def test_labels_of_any_integer_type_become_uint8(tmp_path):
    path = write_npz(tmp_path / "m.npz", y_test=np.arange(10, dtype=np.int64))
    assert load_mnist(path)[1][1].dtype == np.uint8


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(MnistUnavailable, match="MNIST_PATH"):
        load_mnist(tmp_path / "nowhere.npz")


def test_corrupt_file_is_one_clear_error(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"PK\x03\x04 this is not really a zip file")
    with pytest.raises(MnistUnavailable, match="could not be read"):
        load_mnist(path)


def test_truncated_file_is_one_clear_error(tmp_path):
    good = write_npz(tmp_path / "good.npz")
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(MnistUnavailable):
        load_mnist(cut)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"y_test": None}, "lacks y_test"),
        ({"x_train": np.zeros((20, 28, 27), np.uint8)}, "expected \\(N, 28, 28\\)"),
        ({"x_train": np.zeros((0, 28, 28), np.uint8), "y_train": np.zeros(0, np.uint8)}, "N > 0"),
        ({"x_test": np.zeros((10, 28, 28), np.float32)}, "expected uint8"),
        ({"y_train": np.zeros(19, np.uint8)}, "to match x_train"),
        ({"y_test": np.full(10, 10, np.uint8)}, "labels 0-9"),
        ({"y_test": np.full(10, 1.0)}, "labels 0-9"),
    ],
)
def test_malformed_contents_are_refused(tmp_path, overrides, message):
    path = write_npz(tmp_path / "m.npz", **overrides)
    with pytest.raises(MnistUnavailable, match=message):
        load_mnist(path)


def test_failed_download_says_to_connect_or_set_the_path(monkeypatch):
    import keras

    def offline():
        raise Exception("URL fetch failure on https://example: [Errno -2] Name or service not known")

    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    from model.training.download import download_mnist

    with pytest.raises(MnistUnavailable) as caught:
        load_mnist(download=download_mnist)
    assert "connect to the internet" in str(caught.value) and "MNIST_PATH" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_without_a_file_or_a_download_it_says_which_setting_to_set(monkeypatch):
    monkeypatch.delenv("MNIST_PATH", raising=False)
    with pytest.raises(MnistUnavailable, match="set MNIST_PATH"):
        load_mnist()


def test_sha256_of_a_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
