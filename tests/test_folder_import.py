"""The folder store of before the database moves in once, all or nothing, into the same collections."""

import io
import json

import numpy as np
import pytest
from sqlalchemy import inspect, select

import model.store.folder_import as folder_import
from model.store.collection import account_store, local_store, visitor_store
from model.store.db import StoreUnavailable, engine
from model.store.folder_import import import_folders
from model.store.schema import settings


def old_sample(folder, sample_id, label, strokes=None):
    """A sample file exactly as the folder store wrote it."""
    buffer = io.BytesIO()
    image = np.full((28, 28), label * 20, np.uint8)
    np.savez_compressed(
        buffer,
        image=image,
        label=np.uint8(label),
        strokes=np.array(json.dumps(strokes)),
        created=np.array("2026-11-01T10:00:00+00:00"),
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{sample_id}.npz").write_bytes(buffer.getvalue())
    with open(folder / "index.jsonl", "a") as log:
        log.write(json.dumps({"id": sample_id, "label": label, "bytes": 1, "digest": "x"}) + "\n")


def sample_id(n):
    return f"20261101T100000{n:06d}-{n:010x}"


@pytest.fixture
def old_store(tmp_path):
    root = tmp_path / "my_digits"
    token = "d" * 32
    visitor = root / "visitors" / visitor_store(token).key.split("/")[1]
    account = root / "accounts" / account_store("someone@example.org").key.split("/")[1]
    for n in range(3):
        old_sample(root, sample_id(n), n, {"objects": [n]})
    for n in range(3, 7):
        old_sample(visitor, sample_id(n), n)
    with open(visitor / "index.jsonl", "a") as log:
        log.write(json.dumps({"deleted": sample_id(6)}) + "\n")  # deleted, its file left behind
    old_sample(account, sample_id(7), 7)
    (visitor / f"{sample_id(8)}.npz").write_bytes(b"PK\x03\x04 half a file")  # a damaged one
    return root, token


def test_every_collection_moves_in_and_each_visitor_finds_theirs(database_url, old_store):
    root, token = old_store
    report = import_folders(root, database_url)
    assert report["collections"] == 3 and report["samples"] == 3 + 3 + 1
    assert report["unreadable"] == [f"{visitor_store(token).key.split('/')[1]}/{sample_id(8)}.npz"]
    assert local_store(database_url).counts()[:3] == [1, 1, 1]
    assert local_store(database_url).load(sample_id(1)).strokes == {"objects": [1]}
    assert sorted(e["id"] for e in visitor_store(token, database_url).entries()) == [sample_id(n) for n in (3, 4, 5)]
    assert account_store("someone@example.org", database_url).counts()[7] == 1
    assert (root / f"{sample_id(0)}.npz").exists(), "the folders stay until the owner removes them"


def test_it_happens_once_whichever_server_starts_first(database_url, old_store):
    root, _ = old_store
    assert import_folders(root, database_url)["samples"] == 7
    assert import_folders(root, database_url) is None
    assert local_store(database_url).used()[0] == 3


def test_an_import_that_fails_midway_leaves_nothing_and_is_tried_again(database_url, old_store, monkeypatch):
    root, token = old_store
    real = folder_import.read_folder
    calls = []

    def failing(folder):
        calls.append(folder)
        if len(calls) == 2:
            raise StoreUnavailable("The database could not import the samples' folders (the disk is full).")
        return real(folder)

    monkeypatch.setattr(folder_import, "read_folder", failing)
    with pytest.raises(StoreUnavailable):
        import_folders(root, database_url)
    assert local_store(database_url).used() == (0, 0), "all or nothing"
    with engine(database_url).connect() as db:
        assert db.execute(select(settings)).first() is None
    monkeypatch.setattr(folder_import, "read_folder", real)
    assert import_folders(root, database_url)["samples"] == 7
    assert visitor_store(token, database_url).used()[0] == 3


def test_no_folder_at_all_is_nothing_to_move(database_url, tmp_path):
    assert import_folders(tmp_path / "absent", database_url) == {
        "collections": 0,
        "samples": 0,
        "unreadable": [],
        "from": str(tmp_path / "absent"),
    }


def test_the_schema_is_alembics_newest(database_url):
    tables = set(inspect(engine(database_url)).get_table_names())
    assert {"collections", "samples", "rate_events", "default_networks", "settings", "alembic_version"} <= tables
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from model.store.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine(database_url).connect() as db:
        assert db.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head
