"""One collection of a visitor's handwriting: labelled samples in one folder, safely and within bounds.

Each sample is one file, `<id>.npz`, holding the 28×28 image the network
was given, the label, the raw canvas strokes (the canvas's JSON) and the
time. The id is made here (time + random), never from anything a visitor
typed, so no visitor text becomes a path. Whose folder it is, is decided in
`model.store.collection`.

Saving costs the same with 10 or 10,000 samples: `index.jsonl` is an
append-only log (a line per sample added, a line per sample deleted), each
process keeps it parsed and reads only what was appended since, so a save
writes one file and one line and reads nothing else. Everything happens in
this order under the folder's lock: the sample's file (atomically), then its
line (flushed to disk); a sample is acknowledged only after both. A kill
between the two leaves a file the log does not list, and a kill mid-line a
line that does not parse; `repair` (run at start-up) adds the first, skips
the second, removes temporary files, and moves a file that cannot be read
into `damaged/`, once, instead of meeting it on every stroke.

Bounds: a collection holds at most `MAX_SAMPLES` samples and `MAX_BYTES`
bytes, strokes at most `MAX_STROKES_BYTES`; an imported file is checked
member by member (declared sizes, `.npy` headers) before anything is
decompressed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import threading
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from model.store.atomic import atomic_write_bytes, exclusive, sweep_temporary_files

ENV_VAR = "SAMPLES_PATH"
DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "data" / "my_digits"
INDEX = "index.jsonl"
OLD_INDEX = "index.json"  # the format before the log; replaced by `repair`
DAMAGED = "damaged"
MAX_SAMPLES = 2_000  # per collection: a person teaching the network needs tens to hundreds
MAX_BYTES = 16 << 20  # per collection, files on disk
MAX_STROKES_BYTES = 64 << 10  # a drawn digit's JSON is 2-20 kB; a minute of scribbling, ~60 kB
MAX_IMPORT_BYTES = 8 << 20  # unpacked members of one imported file, all together
ID_PATTERN = re.compile(r"[0-9]{8}T[0-9]{12}-[0-9a-f]{10}")


class SampleError(ValueError):
    """A sample or a file of samples that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class Sample:
    id: str
    label: int
    image: np.ndarray  # (28, 28) uint8, ink bright: exactly what the network was given
    strokes: dict | None
    created: str


def default_folder() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_FOLDER)


def validate_label(label) -> int:
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)) or not 0 <= label <= 9:
        raise SampleError(f"A label must be a digit 0-9, got {label!r}.")
    return int(label)


def validate_image(image) -> np.ndarray:
    """(28, 28) uint8, from uint8 or from floats in [0, 1] (what `to_mnist` returns)."""
    arr = np.asarray(image)
    if arr.shape != (28, 28):
        raise SampleError(f"A sample image must be 28×28, got {arr.shape}.")
    if arr.dtype == np.uint8:
        return arr.copy()
    if np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all() and 0 <= arr.min() and arr.max() <= 1:
        return np.rint(arr * 255).astype(np.uint8)
    raise SampleError("A sample image must be uint8 0-255 or float 0-1.")


class SampleStore:
    def __init__(
        self, folder: str | os.PathLike | None = None, max_samples: int = MAX_SAMPLES, max_bytes: int = MAX_BYTES
    ):
        self.folder = Path(folder) if folder is not None else default_folder()
        self.max_samples, self.max_bytes = max_samples, max_bytes

    # -- writing

    def add(self, image, label, strokes: dict | None = None) -> Sample:
        """Save one sample (atomically, within the quota) and return it."""
        sample = _new_sample(image, label, strokes)
        self._add_all([sample])
        return sample

    def delete(self, sample_id: str) -> None:
        path = self._path(_checked_id(sample_id))
        if not self.folder.is_dir():
            return
        with exclusive(path):
            if sample_id in self._log().entries:
                self._append([{"deleted": sample_id}])  # first: a kill after it leaves a file `repair` removes
            path.unlink(missing_ok=True)

    # -- reading

    def entries(self) -> list[dict]:
        """[{id, label, created, bytes, digest}] of every sample, oldest first."""
        if not self.folder.is_dir():
            return []
        log = self._log()
        if not log.exists and (self.folder / OLD_INDEX).exists():
            self.repair()  # a folder from before the log: built once from its files
        return list(self._log().entries.values())

    def counts(self) -> list[int]:
        return self._log().counts() if self.folder.is_dir() else [0] * 10

    def used_bytes(self) -> int:
        return sum(e["bytes"] for e in self.entries())

    def damaged(self) -> list[str]:
        """The files `repair` set aside because they could not be read."""
        folder = self.folder / DAMAGED
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def load(self, sample_id: str) -> Sample:
        return _decode(sample_id, self._path(_checked_id(sample_id)).read_bytes())

    def arrays(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """All samples as images (N, 28, 28) uint8, labels (N,) uint8 and their ids."""
        samples = [self.load(e["id"]) for e in self.entries()]
        if not samples:
            return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8), []
        return (
            np.stack([s.image for s in samples]),
            np.array([s.label for s in samples], np.uint8),
            [s.id for s in samples],
        )

    # -- one file for all

    def export(self) -> bytes:
        """Every sample in one .npz: images, labels, strokes (JSON text), created, ids."""
        samples = [self.load(e["id"]) for e in self.entries()]
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            images=np.stack([s.image for s in samples]) if samples else np.zeros((0, 28, 28), np.uint8),
            labels=np.array([s.label for s in samples], np.uint8),
            strokes=np.array([json.dumps(s.strokes) for s in samples], dtype=str),
            created=np.array([s.created for s in samples], dtype=str),
            ids=np.array([s.id for s in samples], dtype=str),
        )
        return buffer.getvalue()

    def import_file(self, data: bytes) -> int:
        """Add the samples of an exported file; ones already here (same image and label) are skipped.

        The whole file is checked before anything is added: it is all or nothing.
        """
        images, labels, strokes = read_sample_file(data, self.max_samples)
        present = {e["digest"] for e in self.entries()}
        new = []
        for i, (image, label) in enumerate(zip(images, labels)):
            sample = _new_sample(image, label, _parsed_strokes(strokes[i]) if strokes is not None else None)
            digest = _digest(sample.image, sample.label)
            if digest not in present:
                present.add(digest)
                new.append(sample)
        self._add_all(new)
        return len(new)

    # -- keeping the folder sound

    def repair(self) -> dict[str, list[str]]:
        """Bring the folder back to a sound state after a crash; say what was done.

        Removes temporary files, lists sample files the log lacks (a kill
        between the file and its line), removes files the log says were
        deleted, and sets unreadable files aside in `damaged/`.
        """
        report: dict[str, list[str]] = {"removed": [], "recovered": [], "set_aside": []}
        if not self.folder.is_dir():
            return report
        report["removed"] = sweep_temporary_files(self.folder)
        with exclusive(self._path(INDEX)):
            log = self._log()
            on_disk = {p.stem for p in self.folder.glob("*.npz") if ID_PATTERN.fullmatch(p.stem)}
            for sample_id in sorted(log.deleted & on_disk):
                self._path(sample_id).unlink(missing_ok=True)
            gone = [{"deleted": i} for i in log.entries if i not in on_disk]
            recovered = []
            for sample_id in sorted(on_disk - set(log.entries) - log.deleted):
                path = self._path(sample_id)
                try:
                    recovered.append(_entry(self.load(sample_id), path.stat().st_size))
                except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, SampleError):
                    (self.folder / DAMAGED).mkdir(exist_ok=True)
                    os.replace(path, self.folder / DAMAGED / path.name)
                    report["set_aside"].append(path.name)
            if gone or recovered:
                self._append(gone + recovered)
            report["recovered"] = [e["id"] for e in recovered]
            (self.folder / OLD_INDEX).unlink(missing_ok=True)
        return report

    # -- inside

    def _add_all(self, samples: list[Sample]) -> None:
        if not samples:
            return
        encoded = [_encode(sample) for sample in samples]
        self.folder.mkdir(parents=True, exist_ok=True)
        with exclusive(self._path(INDEX)):
            entries = self._log().entries
            if len(entries) + len(samples) > self.max_samples:
                raise SampleError(
                    f"A collection holds at most {self.max_samples:,} samples; this one has "
                    f"{len(entries):,}. Delete some first."
                )
            if sum(e["bytes"] for e in entries.values()) + sum(map(len, encoded)) > self.max_bytes:
                raise SampleError(
                    f"A collection holds at most {self.max_bytes >> 20} MB of samples; "
                    "this one is full. Delete some first."
                )
            written = []
            try:
                for sample, data in zip(samples, encoded):
                    atomic_write_bytes(self._path(sample.id), data)
                    written.append(sample)
                self._append([_entry(sample, len(data)) for sample, data in zip(samples, encoded)])
            except BaseException:  # a full disk, say: nothing of this call stays
                for sample in written:
                    self._path(sample.id).unlink(missing_ok=True)
                raise

    def _append(self, lines: list[dict]) -> None:
        """Append lines to the log and flush them to disk (call under the lock)."""
        path = self._path(INDEX)
        text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
        with open(path, "ab") as log:
            if log.tell() and _last_byte(path) != b"\n":  # a line cut by a kill: end it, it will not parse
                text = "\n" + text
            log.write(text.encode())
            log.flush()
            os.fsync(log.fileno())

    def _log(self) -> _Log:
        return _Log.of(self._path(INDEX))

    def _path(self, name: str) -> Path:
        return self.folder / (name if name == INDEX else f"{name}.npz")


class _Log:
    """`index.jsonl` as parsed so far, shared by every store of the process on that folder.

    Each read looks at the file's size and reads only the lines appended
    since the last one; a replaced file (another inode) is read afresh.
    """

    _open: dict[str, _Log] = {}
    _guard = threading.Lock()

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.key: tuple[int, int] | None = None
        self.offset = 0
        self.entries: dict[str, dict] = {}
        self.deleted: set[str] = set()
        self.exists = False

    @classmethod
    def of(cls, path: Path) -> _Log:
        with cls._guard:
            log = cls._open.get(str(path))
            if log is None:
                if len(cls._open) > 4096:  # bounded: the oldest logs are parsed again if needed
                    cls._open.pop(next(iter(cls._open)))
                log = cls._open[str(path)] = cls(path)
        log.refresh()
        return log

    def refresh(self) -> None:
        with self.lock:
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                self.key, self.offset, self.entries, self.deleted, self.exists = None, 0, {}, set(), False
                return
            self.exists = True
            key = (stat.st_dev, stat.st_ino)
            if key != self.key or stat.st_size < self.offset:
                self.key, self.offset, self.entries, self.deleted = key, 0, {}, set()
            if stat.st_size == self.offset:
                return
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                tail = f.read(stat.st_size - self.offset)
            complete = tail[: tail.rfind(b"\n") + 1]  # a line still being written waits for its end
            self.offset += len(complete)
            for line in complete.splitlines():
                self._apply(line)

    def _apply(self, line: bytes) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            return  # a line cut by a kill; its sample, if written, is found by `repair`
        if not isinstance(record, dict):
            return
        if isinstance(record.get("deleted"), str):
            self.entries.pop(record["deleted"], None)
            self.deleted.add(record["deleted"])
        elif (
            isinstance(record.get("id"), str)
            and ID_PATTERN.fullmatch(record["id"])
            and record.get("label") in range(10)
            and isinstance(record.get("bytes"), int)
            and isinstance(record.get("digest"), str)
        ):
            self.entries[record["id"]] = record
            self.deleted.discard(record["id"])

    def counts(self) -> list[int]:
        counts = [0] * 10
        for entry in self.entries.values():
            counts[entry["label"]] += 1
        return counts


def read_sample_file(data: bytes, max_samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Images, labels and strokes of an exported file, each member checked before it is unpacked.

    An `.npz` is a zip of `.npy` files. The zip says how large each member
    unpacks to and the `.npy` header what it holds (dtype, shape); both are
    read, and checked against what a file of at most `max_samples` samples
    can hold, before a member is decompressed, so a small file that unpacks
    to gigabytes costs nothing.
    """
    not_ours = SampleError("That is not a file of samples exported by this app (an .npz with images and labels).")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {info.filename: info for info in archive.infolist()}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise not_ours from None
    if "images.npy" not in members or "labels.npy" not in members:
        raise not_ours
    total = sum(info.file_size for name, info in members.items() if name in ("images.npy", "labels.npy", "strokes.npy"))
    if total > MAX_IMPORT_BYTES:
        raise SampleError(
            f"The file unpacks to {total >> 20} MB; a file of samples is at most {MAX_IMPORT_BYTES >> 20} MB unpacked."
        )

    def member(name: str, allowed: str, shape_ok, max_len: int | None = None) -> np.ndarray:
        info = members[name]
        try:
            with archive.open(info) as stream:
                version = np.lib.format.read_magic(stream)
                if version not in ((1, 0), (2, 0)):
                    raise not_ours
                read_header = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(stream)
            if max_len is not None and shape and shape[0] > max_len:
                raise SampleError(f"The file holds {shape[0]:,} samples; a collection holds at most {max_len:,}.")
            if dtype.kind not in allowed or dtype.hasobject or not shape_ok(shape):
                raise SampleError(
                    f"The file's {name[:-4]} have shape {shape} and type {dtype}, which a file of samples never has."
                )
            if int(np.prod(shape)) * dtype.itemsize > info.file_size:
                raise not_ours  # the header promises more than the member holds
            with archive.open(info) as stream:
                array = np.lib.format.read_array(stream, allow_pickle=False)
        except SampleError:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise not_ours from None
        return array

    images = member("images.npy", "u", lambda s: len(s) == 3 and s[1:] == (28, 28), max_len=max_samples)
    labels = member("labels.npy", "iu", lambda s: s == (len(images),))
    strokes = member("strokes.npy", "U", lambda s: s == (len(images),)) if "strokes.npy" in members else None
    if images.dtype != np.uint8:
        raise SampleError("The file's images are not 8-bit pixels (0-255).")
    for label in labels:
        validate_label(int(label))
    return images, labels.astype(np.uint8), strokes


def new_id() -> str:
    """Time to the microsecond (so ids sort in the order samples were made), then 40 random bits."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:10]


def _new_sample(image, label, strokes) -> Sample:
    return Sample(
        new_id(),
        validate_label(label),
        validate_image(image),
        _checked_strokes(strokes),
        datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _checked_id(sample_id: str) -> str:
    if not isinstance(sample_id, str) or not ID_PATTERN.fullmatch(sample_id):
        raise SampleError(f"Not a sample id: {sample_id!r}.")
    return sample_id


def _checked_strokes(strokes) -> dict | None:
    if strokes is None:
        return None
    if not isinstance(strokes, dict):
        raise SampleError("Strokes must be the canvas's JSON object.")
    if strokes_size(strokes) > MAX_STROKES_BYTES:
        raise SampleError(
            f"The drawing's strokes are larger than {MAX_STROKES_BYTES >> 10} kB; a digit needs far less."
        )
    return strokes


def strokes_size(strokes: dict) -> int:
    return len(json.dumps(strokes, separators=(",", ":")))


def _parsed_strokes(text) -> dict | None:
    try:
        parsed = json.loads(str(text))
    except ValueError:
        return None
    if not isinstance(parsed, dict) or strokes_size(parsed) > MAX_STROKES_BYTES:
        return None  # the sample is kept, without strokes it cannot hold
    return parsed


def _digest(image: np.ndarray, label: int) -> str:
    return hashlib.sha256(bytes([label]) + image.tobytes()).hexdigest()[:32]


def _entry(sample: Sample, size: int) -> dict:
    return {
        "id": sample.id,
        "label": sample.label,
        "created": sample.created,
        "bytes": size,
        "digest": _digest(sample.image, sample.label),
    }


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


def _encode(sample: Sample) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        image=sample.image,
        label=np.uint8(sample.label),
        strokes=np.array(json.dumps(sample.strokes)),
        created=np.array(sample.created),
    )
    return buffer.getvalue()


def _decode(sample_id: str, data: bytes) -> Sample:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        image = validate_image(npz["image"])
        label = validate_label(int(npz["label"]))
        strokes = json.loads(str(npz["strokes"]))
        created = str(npz["created"])
    return Sample(sample_id, label, image, strokes if isinstance(strokes, dict) else None, created)
