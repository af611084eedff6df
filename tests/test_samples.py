"""The sample store: round trip, concurrent appends, recovery, validation, export and import."""

import io
import json
import threading

import numpy as np
import pytest

import model.store.samples as samples_module
from model.store.samples import INDEX, SampleError, SampleStore


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
    lines = (tmp_path / INDEX).read_text().splitlines()
    assert len(lines) == 80 and all(json.loads(line)["id"] for line in lines)
    assert len(list(tmp_path.glob("*.npz"))) == 80
    assert not list(tmp_path.glob(".tmp-*")), "no temporary files left behind"


def test_a_save_reads_no_other_sample(tmp_path, monkeypatch):
    """Saving costs the same with 10 or 10,000 samples: it never decodes the others."""
    store = SampleStore(tmp_path)
    for i in range(30):
        store.add(image(seed=i), i % 10)
    decoded = []
    real = samples_module._decode
    monkeypatch.setattr(samples_module, "_decode", lambda *a: decoded.append(a[0]) or real(*a))
    read_files = []
    real_read_bytes = type(tmp_path).read_bytes
    monkeypatch.setattr(
        type(tmp_path), "read_bytes", lambda self: read_files.append(self.name) or real_read_bytes(self)
    )
    fresh = SampleStore(tmp_path)
    fresh.add(image(seed=99), 3)
    assert fresh.counts()[3] == 4 and len(fresh.entries()) == 31
    assert decoded == [] and read_files == []


def test_the_index_is_read_incrementally(tmp_path):
    store = SampleStore(tmp_path)
    store.add(image(seed=1), 1)
    log = samples_module._Log.of(tmp_path / INDEX)
    offset = log.offset
    store.add(image(seed=2), 2)
    assert samples_module._Log.of(tmp_path / INDEX) is log, "one parsed log per folder and process"
    assert log.offset > offset and len(log.entries) == 2
    other_process_line = {
        "id": "20990101T000000000000-0123456789",
        "label": 5,
        "created": "x",
        "bytes": 10,
        "digest": "d",
    }
    with open(tmp_path / INDEX, "a") as f:  # as another process would append
        f.write(json.dumps(other_process_line) + "\n")
    assert SampleStore(tmp_path).counts()[5] == 1


def test_a_sample_whose_line_was_never_written_is_recovered(tmp_path):
    store = SampleStore(tmp_path)
    store.add(image(seed=1), 1)
    kept = (tmp_path / INDEX).read_bytes()
    second = store.add(image(seed=2), 2)
    (tmp_path / INDEX).write_bytes(kept + b'{"id": "2026')  # killed between the file and the whole line
    assert second.id not in [e["id"] for e in SampleStore(tmp_path).entries()]
    report = SampleStore(tmp_path).repair()
    assert report["recovered"] == [second.id]
    third = SampleStore(tmp_path).add(image(seed=3), 3)  # the cut line does not swallow the next one
    assert [e["id"] for e in SampleStore(tmp_path).entries()][-2:] == [second.id, third.id]


def test_a_folder_from_before_the_log_is_read(tmp_path):
    store = SampleStore(tmp_path)
    ids = [store.add(image(seed=i), i).id for i in range(5)]
    (tmp_path / INDEX).unlink()
    (tmp_path / "index.json").write_text('{"samples": []}')
    assert [e["id"] for e in SampleStore(tmp_path).entries()] == ids
    assert not (tmp_path / "index.json").exists()


def test_a_damaged_file_is_set_aside_once(tmp_path, monkeypatch):
    store = SampleStore(tmp_path)
    good = store.add(image(), 4)
    complete = (tmp_path / f"{good.id}.npz").read_bytes()
    (tmp_path / "20990101T000000000000-0123456789.npz").write_bytes(complete[: len(complete) // 2])
    (tmp_path / ".tmp-20990101T000000000000-0123456789.npz.abcd1234.npz").write_bytes(b"a killed write")
    report = SampleStore(tmp_path).repair()
    assert report["set_aside"] == ["20990101T000000000000-0123456789.npz"]
    assert report["removed"] == [".tmp-20990101T000000000000-0123456789.npz.abcd1234.npz"]
    assert (tmp_path / "damaged" / "20990101T000000000000-0123456789.npz").exists(), "moved, never deleted"
    fresh = SampleStore(tmp_path)
    assert fresh.damaged() == ["20990101T000000000000-0123456789.npz"]
    assert [e["id"] for e in fresh.entries()] == [good.id]
    monkeypatch.setattr(samples_module, "_decode", lambda *a: pytest.fail("a stroke decoded a sample"))
    fresh.add(image(seed=9), 5)
    assert fresh.counts()[4:6] == [1, 1]


def test_quota_on_count_and_bytes(tmp_path):
    store = SampleStore(tmp_path, max_samples=3)
    for i in range(3):
        store.add(image(seed=i), i)
    with pytest.raises(SampleError, match="at most 3 samples"):
        store.add(image(seed=5), 5)
    small = SampleStore(tmp_path / "small", max_bytes=2_000)
    small.add(image(seed=1), 1)
    with pytest.raises(SampleError, match="MB of samples"):
        small.add(image(seed=2), 2)
    assert len(SampleStore(tmp_path).entries()) == 3 and len(small.entries()) == 1


def test_strokes_are_capped(tmp_path):
    huge = {"objects": [{"path": [["L", i, i] for i in range(20_000)]}]}
    with pytest.raises(SampleError, match="kB"):
        SampleStore(tmp_path).add(image(), 1, huge)
    assert SampleStore(tmp_path).entries() == []


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


def test_delete_survives_repair(tmp_path):
    store = SampleStore(tmp_path)
    keep, drop = store.add(image(seed=1), 1), store.add(image(seed=2), 2)
    data = (tmp_path / f"{drop.id}.npz").read_bytes()
    store.delete(drop.id)
    (tmp_path / f"{drop.id}.npz").write_bytes(data)  # as if killed between the log line and the unlink
    SampleStore(tmp_path).repair()
    assert [e["id"] for e in SampleStore(tmp_path).entries()] == [keep.id]
    assert not (tmp_path / f"{drop.id}.npz").exists()


def npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def test_an_import_bomb_is_refused_before_it_is_unpacked(tmp_path):
    """190 kB that unpacks to 190 MB: refused from the zip's directory, without the memory growing."""
    import tracemalloc

    bomb = npz_bytes(images=np.zeros((250_000, 28, 28), np.uint8), labels=np.zeros(250_000, np.uint8))
    assert len(bomb) < 400_000
    tracemalloc.start()
    with pytest.raises(SampleError, match="unpacks to"):
        SampleStore(tmp_path).import_file(bomb)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5 * len(bomb), f"importing the bomb took {peak >> 20} MB"
    assert SampleStore(tmp_path).entries() == []


def test_a_lying_npy_header_is_refused(tmp_path):
    data = bytearray(npz_bytes(images=np.zeros((2, 28, 28), np.uint8), labels=np.array([1, 2], np.uint8)))
    good = npz_bytes(images=np.zeros((2, 28, 28), np.uint8), labels=np.array([1, 2], np.uint8))
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            member = src.read(info)
            if info.filename == "images.npy":  # the header claims a million images
                member = member.replace(b"(2, 28, 28)", b"(1000000, 28, 28)")
            dst.writestr(info.filename, member)
    with pytest.raises(SampleError):
        SampleStore(tmp_path).import_file(out.getvalue())
    for bad in (
        npz_bytes(images=np.zeros((2, 28, 28), np.float64), labels=np.array([1, 2])),
        npz_bytes(images=np.zeros((2, 28, 28), np.uint8), labels=np.array(["a", "b"])),
        npz_bytes(images=np.zeros((2, 5, 5), np.uint8), labels=np.array([1, 2])),
        bytes(data[: len(data) // 2]),
    ):
        with pytest.raises(SampleError):
            SampleStore(tmp_path).import_file(bad)
    assert SampleStore(tmp_path).entries() == []


def test_an_import_beyond_the_quota_adds_nothing(tmp_path):
    data = npz_bytes(images=np.stack([image(seed=i) for i in range(5)]), labels=np.arange(5, dtype=np.uint8))
    store = SampleStore(tmp_path, max_samples=4)
    with pytest.raises(SampleError):
        store.import_file(data)
    assert store.entries() == [] and not list(tmp_path.glob("*.npz"))
