"""The sample store: round trip, concurrent appends, recovery, validation, export and import."""

import json
import threading

import numpy as np
import pytest

from model.samples import INDEX, SampleError, SampleStore


def image(value=200, seed=0):
    rng = np.random.default_rng(seed)
    arr = np.zeros((28, 28), np.uint8)
    arr[4:24, 10:18] = rng.integers(1, 256, (20, 8))
    arr[0, 0] = value
    return arr


def test_round_trip(tmp_path):
    store = SampleStore(tmp_path / "digits")
    strokes = {"objects": [{"type": "path", "path": [["M", 1, 2], ["L", 3, 4]]}]}
    saved = store.add(image(), 7, strokes)
    loaded = store.load(saved.id)
    assert loaded.label == 7 and loaded.strokes == strokes and loaded.created == saved.created
    np.testing.assert_array_equal(loaded.image, image())
    assert store.counts() == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]
    assert [e["id"] for e in store.entries()] == [saved.id]


def test_float_images_from_to_mnist_are_kept_as_uint8(tmp_path):
    store = SampleStore(tmp_path)
    saved = store.add(np.full((28, 28), 0.5, np.float32), 3)
    assert store.load(saved.id).image.dtype == np.uint8 and store.load(saved.id).image[0, 0] == 128


@pytest.mark.parametrize("label", [-1, 10, 3.0, "3", "../../etc", None, True])
def test_only_digits_are_labels(tmp_path, label):
    with pytest.raises(SampleError, match="digit 0-9"):
        SampleStore(tmp_path).add(image(), label)
    assert not list(tmp_path.glob("*.npz"))


@pytest.mark.parametrize("bad", [np.zeros((28, 27), np.uint8), np.full((28, 28), 2.0), np.zeros((28, 28), np.int64)])
def test_bad_images_are_refused(tmp_path, bad):
    with pytest.raises(SampleError):
        SampleStore(tmp_path).add(bad, 1)


def test_ids_never_come_from_outside(tmp_path):
    store = SampleStore(tmp_path)
    for evil in ["../index", "/etc/passwd", "..", ".hidden"]:
        with pytest.raises(SampleError, match="Not a sample id"):
            store.load(evil)
        with pytest.raises(SampleError, match="Not a sample id"):
            store.delete(evil)


def test_concurrent_appends_from_threads_lose_nothing(tmp_path):
    store = SampleStore(tmp_path)
    barrier = threading.Barrier(8)
    errors = []

    def save(worker):
        try:
            barrier.wait()
            for i in range(10):
                SampleStore(tmp_path).add(image(seed=worker * 100 + i), (worker + i) % 10)
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=save, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(store.entries()) == 80 and sum(store.counts()) == 80
    assert len(json.loads((tmp_path / INDEX).read_text())["samples"]) == 80
    assert len(list(tmp_path.glob("*.npz"))) == 80, "no temporary files left behind"


def test_a_lost_or_damaged_index_is_rebuilt_from_the_files(tmp_path):
    store = SampleStore(tmp_path)
    ids = [store.add(image(seed=i), i).id for i in range(5)]
    (tmp_path / INDEX).unlink()
    assert [e["id"] for e in SampleStore(tmp_path).entries()] == ids
    (tmp_path / INDEX).write_text("{not json")
    assert SampleStore(tmp_path).counts() == [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]


def test_a_sample_written_but_missing_from_the_index_is_found(tmp_path):
    store = SampleStore(tmp_path)
    store.add(image(seed=1), 1)
    stale = (tmp_path / INDEX).read_text()
    second = store.add(image(seed=2), 2)
    (tmp_path / INDEX).write_text(stale)  # as if the process died between the two writes
    assert second.id in [e["id"] for e in SampleStore(tmp_path).entries()]


def test_a_half_written_file_is_skipped_not_fatal(tmp_path):
    store = SampleStore(tmp_path)
    good = store.add(image(), 4)
    complete = (tmp_path / f"{good.id}.npz").read_bytes()
    (tmp_path / "20990101T000000000000-0123456789.npz").write_bytes(complete[: len(complete) // 2])
    (tmp_path / ".digits.npz.tmp123.npz").write_bytes(b"a temporary file of a write under way")
    fresh = SampleStore(tmp_path)
    assert [e["id"] for e in fresh.entries()] == [good.id]
    assert fresh.damaged == ["20990101T000000000000-0123456789.npz"]
    assert (tmp_path / "20990101T000000000000-0123456789.npz").exists(), "never deleted"
    fresh.add(image(seed=9), 5)
    assert fresh.counts()[4:6] == [1, 1]


def test_delete(tmp_path):
    store = SampleStore(tmp_path)
    keep, drop = store.add(image(seed=1), 1), store.add(image(seed=2), 2)
    store.delete(drop.id)
    assert [e["id"] for e in store.entries()] == [keep.id]
    assert not (tmp_path / f"{drop.id}.npz").exists()


def test_export_then_import_elsewhere(tmp_path):
    source = SampleStore(tmp_path / "a")
    for i in range(6):
        source.add(image(seed=i), i % 10, {"objects": [i]})
    data = source.export()
    target = SampleStore(tmp_path / "b")
    assert target.import_file(data) == 6
    assert target.counts() == source.counts()
    assert target.import_file(data) == 0, "importing twice adds nothing"
    images, labels, _ = target.arrays()
    assert images.shape == (6, 28, 28) and sorted(labels) == sorted(source.arrays()[1])


@pytest.mark.parametrize("data", [b"not an npz", b"PK\x03\x04broken"])
def test_importing_a_wrong_file_is_refused(tmp_path, data):
    with pytest.raises(SampleError, match="not a file of samples"):
        SampleStore(tmp_path).import_file(data)


def test_importing_bad_labels_is_refused(tmp_path):
    import io
    buffer = io.BytesIO()
    np.savez(buffer, images=np.zeros((2, 28, 28), np.uint8), labels=np.array([3, 12]))
    with pytest.raises(SampleError, match="digit 0-9"):
        SampleStore(tmp_path).import_file(buffer.getvalue())
    assert SampleStore(tmp_path).counts() == [0] * 10, "nothing half-imported"
