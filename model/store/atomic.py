"""Write files so that a reader never sees half of one.

Every file a user would miss (the default model, its card, saved samples) is
written to a temporary file in the same folder and then moved over the old
one with `os.replace`, which is atomic on one file system: a crash, a kill or
an exception mid-write leaves the old file as it was. `exclusive` serialises
multi-file updates (a model and its card) between threads and processes.

A `kill -9` between the temporary file's creation and the rename leaves the
temporary file behind, hidden: every temporary name starts with
`TEMP_PREFIX`, and nothing reads such a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

TEMP_PREFIX = ".tmp-"  # every temporary file of a write under way starts with this
_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` to fill a temporary file beside `path`, then move it onto `path`.

    The temporary name keeps `path`'s suffix (Keras insists on `.keras`). If
    `write` raises, the temporary file is removed and `path` is untouched.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_json(path: str | os.PathLike, obj: object) -> None:
    text = json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


@contextlib.contextmanager
def exclusive(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on the folder of `path`, across threads and processes.

    The lock is flock on the folder itself, so no lock file is left behind;
    flock does not exclude threads of one process reliably, so a per-folder
    thread lock is taken first.
    """
    folder = Path(path).resolve().parent
    with _thread_locks_guard:
        thread_lock = _thread_locks.setdefault(str(folder), threading.Lock())
    with thread_lock:
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def check_writable(path: str | os.PathLike) -> str | None:
    """None if a file can be written at `path`, else a sentence saying why not.

    Tried for real (a temporary file in the target folder), so that a long
    training run does not end in a failed save.
    """
    folder = Path(path).parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    if Path(path).is_dir():
        return f"{path} is a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f"{TEMP_PREFIX}write-check-"):
            pass
    except OSError as error:
        return f"cannot write in {folder} ({error.strerror or error})"
    return None
