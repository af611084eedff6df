"""The samples in the database, on SQLite and on PostgreSQL: every promise the store makes.

Round trip, validation, privacy between collections (ids and keys are bound
parameters, never SQL or paths), quotas checked in the save's own
transaction (also when many save at once), export and import all or
nothing, a save's cost independent of the collection's size, and a full
disk or a lost server as a sentence.
"""

import io
import threading

import numpy as np
import pytest
from sqlalchemy import event

from model.store.collection import local_store, visitor_store
from model.store.db import StoreUnavailable, engine
from model.store.samples import MAX_STROKES_BYTES, SampleError, SampleStore


def image(value=200, seed=0):
    rng = np.random.default_rng(seed)
    arr = np.zeros((28, 28), np.uint8)
    arr[4:24, 10:18] = rng.integers(1, 256, (20, 8))
    arr[0, 0] = value
    return arr


def test_round_trip(database_url):
    store = local_store(database_url)
    strokes = {"objects": [{"type": "path", "path": [["M", 1, 2], ["L", 3, 4]]}]}
    saved = store.add(image(), 7, strokes)
    loaded = store.load(saved.id)
    assert loaded.label == 7 and loaded.strokes == strokes and loaded.created == saved.created
    np.testing.assert_array_equal(loaded.image, image())
    assert store.counts() == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]
    assert [e["id"] for e in store.entries()] == [saved.id]
    assert store.used() == (1, 784 + len('{"objects":[{"type":"path","path":[["M",1,2],["L",3,4]]}]}'))


def test_newest_are_the_last_saved_newest_first_and_only_this_collections(database_url):
    mine, theirs = visitor_store("a" * 32, database_url), visitor_store("b" * 32, database_url)
    saved = [mine.add(image(seed=n), n % 10) for n in range(5)]
    theirs.add(image(seed=9), 9)
    assert [s.id for s in mine.newest(3)] == [s.id for s in saved[::-1][:3]]
    assert [s.id for s in mine.newest(3)] == [s.id for s in mine.all()[::-1][:3]]
    assert len(mine.newest(30)) == 5


def test_float_images_from_to_mnist_are_kept_as_uint8(database_url):
    store = local_store(database_url)
    saved = store.add(np.full((28, 28), 0.5, np.float32), 3)
    assert store.load(saved.id).image.dtype == np.uint8 and store.load(saved.id).image[0, 0] == 128


@pytest.mark.parametrize("label", [-1, 10, 3.0, "3", "../../etc", None, True])
def test_only_digits_are_labels(label, session_database):
    store = local_store(session_database)
    before = store.used()
    with pytest.raises(SampleError, match="digit 0-9"):
        store.add(image(), label)
    assert store.used() == before


@pytest.mark.parametrize("bad", [np.zeros((28, 27), np.uint8), np.full((28, 28), 2.0), np.zeros((28, 28), np.int64)])
def test_bad_images_are_refused(bad, session_database):
    with pytest.raises(SampleError):
        local_store(session_database).add(bad, 1)


def test_ids_and_keys_never_become_sql(database_url):
    store = local_store(database_url)
    kept = store.add(image(), 1)
    for evil in ["../index", "' OR '1'='1", "x'; DROP TABLE samples; --", "..", ".hidden"]:
        with pytest.raises(SampleError, match="Not a sample id"):
            store.load(evil)
        with pytest.raises(SampleError, match="Not a sample id"):
            store.delete(evil)
    odd = SampleStore("visitors/' OR 1=1 --", url=database_url)
    assert odd.entries() == [] and odd.counts() == [0] * 10, "a key is a value, not part of the query"
    assert [e["id"] for e in store.entries()] == [kept.id]


def test_collections_are_private_to_their_key(database_url):
    token_a, token_b = "a" * 32, "b" * 32
    a, b = visitor_store(token_a, database_url), visitor_store(token_b, database_url)
    mine = a.add(image(), 4)
    assert b.entries() == [] and b.counts() == [0] * 10
    with pytest.raises(SampleError, match="no sample"):
        b.load(mine.id)
    b.delete(mine.id)  # another collection's id deletes nothing
    assert [e["id"] for e in a.entries()] == [mine.id]


def test_saves_from_many_threads_lose_nothing(database_url):
    store = local_store(database_url)
    saved, failures = [], []

    def save(n):
        try:
            for k in range(10):
                saved.append(store.add(image(seed=n * 10 + k), (n + k) % 10).id)
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert sorted(e["id"] for e in store.entries()) == sorted(saved) and len(saved) == 80
    assert store.used()[0] == 80 and sum(store.counts()) == 80


def test_the_quota_holds_when_many_save_at_once(database_url):
    """The count is checked in the insert's own transaction: racing saves cannot overfill a collection."""
    store = SampleStore("local", max_samples=5, url=database_url)
    outcomes = []

    def save(n):
        try:
            store.add(image(seed=n), n % 10)
            outcomes.append("saved")
        except SampleError:
            outcomes.append("refused")

    threads = [threading.Thread(target=save, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("saved") == 5 and outcomes.count("refused") == 7
    assert store.used()[0] == 5 and len(store.entries()) == 5


def test_quota_on_count_and_bytes(database_url):
    store = SampleStore("local", max_samples=3, max_bytes=10_000, url=database_url)
    for n in range(3):
        store.add(image(seed=n), n)
    with pytest.raises(SampleError, match="at most 3 samples; this one has 3"):
        store.add(image(), 1)
    small = SampleStore("visitors/x", max_samples=100, max_bytes=2_000, url=database_url)
    small.add(image(), 1)
    small.add(image(), 2)
    with pytest.raises(SampleError, match="MB of samples"):
        small.add(image(), 3)
    assert small.used() == (2, 2 * 784)


def test_strokes_are_capped(session_database):
    huge = {"objects": [{"path": "x" * (MAX_STROKES_BYTES + 1)}]}
    with pytest.raises(SampleError, match="strokes are larger"):
        local_store(session_database).add(image(), 1, huge)


def test_delete_frees_its_place_in_the_quota(database_url):
    store = SampleStore("local", max_samples=1, url=database_url)
    first = store.add(image(), 1)
    store.delete(first.id)
    assert store.entries() == [] and store.used() == (0, 0)
    store.add(image(), 2)  # the quota counts what is there


def test_export_then_import_elsewhere_skips_what_is_there(database_url):
    here = local_store(database_url)
    for n in range(5):
        here.add(image(seed=n), n, {"objects": [n]})
    data = here.export()
    there = visitor_store("c" * 32, database_url)
    assert there.import_file(data) == 5
    assert there.import_file(data) == 0, "the same images and labels are not added twice"
    assert there.counts() == here.counts()
    assert sorted(s.strokes["objects"][0] for s in there.all()) == [0, 1, 2, 3, 4]


def test_an_import_beyond_the_quota_adds_nothing(database_url):
    source = SampleStore("visitors/source", max_samples=100, url=database_url)
    for n in range(6):
        source.add(image(seed=n), n)
    target = SampleStore("visitors/target", max_samples=8, url=database_url)
    for n in range(4):
        target.add(image(seed=100 + n), n)
    with pytest.raises(SampleError, match="at most 8 samples"):
        target.import_file(source.export())
    assert target.used()[0] == 4 and len(target.entries()) == 4, "all or nothing"


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x03\x04junk"])
def test_importing_a_wrong_file_is_refused(data, session_database):
    with pytest.raises(SampleError, match="not a file of samples"):
        local_store(session_database).import_file(data)


def test_importing_bad_labels_is_refused(session_database):
    buffer = io.BytesIO()
    np.savez(buffer, images=np.zeros((2, 28, 28), np.uint8), labels=np.array([1, 12]))
    with pytest.raises(SampleError, match="digit 0-9, got 12"):
        local_store(session_database).import_file(buffer.getvalue())


def test_an_import_bomb_is_refused_before_it_is_unpacked(session_database):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=np.zeros((40_000, 28, 28), np.uint8), labels=np.zeros(40_000, np.uint8))
    assert len(buffer.getvalue()) < 200_000, "it compresses to almost nothing"
    with pytest.raises(SampleError, match="unpacks to|at most"):
        local_store(session_database).import_file(buffer.getvalue())


def test_a_save_costs_the_same_however_full_the_collection(database_url):
    """No statement of a save reads the other samples: the same statements with 10 samples or with 300."""
    store = SampleStore("local", max_samples=10_000, url=database_url)

    def statements_of_one_save() -> list[str]:
        seen: list[str] = []

        def note(conn, cursor, statement, parameters, context, executemany):
            seen.append(" ".join(statement.split()))

        event.listen(engine(database_url), "before_cursor_execute", note)
        try:
            store.add(image(), 1)
        finally:
            event.remove(engine(database_url), "before_cursor_execute", note)
        return seen

    for n in range(10):
        store.add(image(seed=n), n % 10)
    small = statements_of_one_save()
    store.import_file(_random_samples(300))
    large = statements_of_one_save()
    assert small == large
    assert not any("count(" in s.lower() or "sum(" in s.lower() for s in large), large


def _random_samples(n: int) -> bytes:
    rng = np.random.default_rng(5)
    buffer = io.BytesIO()
    np.savez(buffer, images=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), labels=rng.integers(0, 10, n))
    return buffer.getvalue()


def test_a_full_disk_is_a_sentence_and_nothing_is_saved(tmp_path):
    url = f"sqlite:///{tmp_path / 'full.sqlite3'}"
    store = local_store(url)
    store.add(image(), 1)

    def tiny(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA max_page_count=1")  # the file may not grow: SQLite's "disk is full"

    engine(url).dispose()
    event.listen(engine(url), "connect", tiny)
    try:
        with pytest.raises(StoreUnavailable, match="the disk is full"):
            store.import_file(_random_samples(500))
    finally:
        event.remove(engine(url), "connect", tiny)
        engine(url).dispose()
    assert store.used()[0] == 1


def test_a_database_that_cannot_be_reached_is_a_sentence(tmp_path):
    url = f"postgresql+psycopg://app@/nothing?host={tmp_path}&port=9"
    with pytest.raises(StoreUnavailable, match="cannot be reached|could not open"):
        local_store(url).add(image(), 1)


def test_when_the_database_holds_its_limit_in_all_saving_stops_for_everyone_with_a_sentence(database_url):
    """A griefer's page loads each made a collection of 2,000 samples; now the database as a whole is bounded."""
    first = SampleStore("visitors/first", url=database_url, max_database_bytes=4 * (784 + 64))
    for n in range(4):
        first.add(image(n), n % 10)
    other = SampleStore("visitors/other", url=database_url, max_database_bytes=4 * (784 + 64))
    with pytest.raises(SampleError, match="store of samples is full"):
        other.add(image(9), 1)
    with pytest.raises(SampleError, match="store of samples is full"):
        other.import_file(first.export())
    assert other.used() == (0, 0) and first.used()[0] == 4, "nothing half-saved, nothing lost"


def test_a_new_sqlite_database_is_readable_by_this_account_alone(tmp_path):
    folder = tmp_path / "data"
    url = f"sqlite:///{folder / 'samples.sqlite3'}"
    SampleStore("local", url=url).add(image(1), 1)
    assert folder.stat().st_mode & 0o777 == 0o700
    for file in folder.iterdir():
        assert file.stat().st_mode & 0o777 == 0o600, file.name
