"""Atomic writes: a reader sees the old file or the new one, and a failed or killed write leaves nothing."""

import json
import threading

import pytest

from model.store.atomic import (
    TEMP_PREFIX,
    atomic_write,
    atomic_write_bytes,
    atomic_write_json,
    check_writable,
    exclusive,
)


def test_a_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "model.bin"
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    atomic_write_json(tmp_path / "card.json", {"a": "é"})
    assert json.loads((tmp_path / "card.json").read_text(encoding="utf-8")) == {"a": "é"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)] == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "model.keras"
    atomic_write_bytes(path, b"old")

    def half_then_fail(tmp):
        assert tmp.suffix == ".keras" and tmp.name.startswith(TEMP_PREFIX)
        tmp.write_bytes(b"ha")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def test_exclusive_keeps_a_second_thread_out_until_the_first_is_done(tmp_path):
    order = []
    inside = threading.Event()

    def second():
        inside.wait()
        with exclusive(tmp_path / "x"):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with exclusive(tmp_path / "x"):
        inside.set()
        thread.join(0.3)  # it cannot get in while this holds the lock
        order.append("first")
    thread.join(5)
    assert order == ["first", "second"]


def test_check_writable_says_why_not(tmp_path):
    assert check_writable(tmp_path / "model.keras") is None
    assert "does not exist" in check_writable(tmp_path / "nowhere" / "model.keras")
    assert "is a folder" in check_writable(tmp_path)
