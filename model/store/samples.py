"""One collection of a visitor's handwriting: labelled samples in the app's database, within bounds.

Each sample is one row (`model.store.schema.samples`): the 28×28 image the
network was given, the label, the raw canvas strokes (the canvas's JSON)
and the time. The id is made here (time + random), never from anything a
visitor typed; whose collection it is, is decided in `model.store.collection`,
and a collection is found by its key with bound parameters only.

A save is one transaction: the collection's counters are raised only if the
quota still holds (one `UPDATE … WHERE samples + 1 <= max`, so two replicas
saving at once cannot both pass it), then the row is inserted; the page says
"saved" only after the commit. It costs the same with 10 or 10,000 samples in
the collection: no query reads the others. An import is checked member by
member before anything is decompressed, then written in one transaction:
all or nothing.

Bounds: a collection holds at most `MAX_SAMPLES` samples and `MAX_BYTES`
bytes, strokes at most `MAX_STROKES_BYTES`; an imported file at most
`MAX_IMPORT_BYTES` unpacked; every collection together at most
`MAX_DATABASE_BYTES` (from the collections' counters, read at most every
few seconds, so a save costs the same however many samples there are).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Connection, delete, func, insert, select, update

from model.settings import MAX_COLLECTION_MB, MAX_DATABASE_MB, MAX_SAMPLES, MAX_STROKES_KB, MAX_UNPACKED_MB
from model.store.db import reading, transaction
from model.store.schema import collections, samples

MAX_BYTES = MAX_COLLECTION_MB << 20  # per collection: images and strokes as stored
MAX_STROKES_BYTES = MAX_STROKES_KB << 10  # a drawn digit's JSON is 2-20 kB; a minute of scribbling, ~60 kB
MAX_IMPORT_BYTES = MAX_UNPACKED_MB << 20  # unpacked members of one imported file, all together
MAX_DATABASE_BYTES = MAX_DATABASE_MB << 20  # every collection's samples together
FULL = (
    "The server's store of samples is full, so nothing was saved. Drawing and training go on; the owner can make "
    "room or raise READMYDIGIT_MAX_DATABASE_MB."
)
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
    """The samples of the collection `key` in the database at `url` (default: `model.store.db.database_url()`)."""

    def __init__(
        self,
        key: str,
        max_samples: int = MAX_SAMPLES,
        max_bytes: int = MAX_BYTES,
        url: str | None = None,
        max_database_bytes: int = MAX_DATABASE_BYTES,
    ):
        self.key, self.url = key, url
        self.max_samples, self.max_bytes, self.max_database_bytes = max_samples, max_bytes, max_database_bytes

    # -- writing

    def add(self, image, label, strokes: dict | None = None) -> Sample:
        """Save one sample within the quota; it is saved when this returns (committed)."""
        sample = _new_sample(image, label, strokes)
        with transaction("save the sample", self.url) as db:
            self._insert(db, [sample])
        return sample

    def delete(self, sample_id: str) -> None:
        """Delete a sample of this collection (an id of another collection deletes nothing)."""
        _checked_id(sample_id)
        with transaction("delete the sample", self.url) as db:
            owner = self._id(db)
            if owner is None:
                return
            size = db.execute(
                delete(samples)
                .where(samples.c.id == sample_id, samples.c.collection_id == owner)
                .returning(samples.c.bytes)
            ).scalar()
            if size is not None:
                db.execute(
                    update(collections)
                    .where(collections.c.id == owner)
                    .values(samples=collections.c.samples - 1, bytes=collections.c.bytes - size)
                )

    # -- reading

    def entries(self) -> list[dict]:
        """[{id, label, created, bytes, digest}] of every sample, oldest first."""
        with reading("read the samples", self.url) as db:
            rows = db.execute(
                select(samples.c.id, samples.c.label, samples.c.created, samples.c.bytes, samples.c.digest)
                .join(collections, collections.c.id == samples.c.collection_id)
                .where(collections.c.key == self.key)
                .order_by(samples.c.id)
            )
            return [dict(row._mapping) for row in rows]

    def counts(self) -> list[int]:
        """How many samples of each digit 0-9."""
        counts = [0] * 10
        with reading("count the samples", self.url) as db:
            rows = db.execute(
                select(samples.c.label, func.count())
                .join(collections, collections.c.id == samples.c.collection_id)
                .where(collections.c.key == self.key)
                .group_by(samples.c.label)
            )
            for label, count in rows:
                counts[label] = count
        return counts

    def used(self) -> tuple[int, int]:
        """(samples, bytes) the collection holds: what its quota counts."""
        with reading("read the collection", self.url) as db:
            row = db.execute(
                select(collections.c.samples, collections.c.bytes).where(collections.c.key == self.key)
            ).first()
        return (row.samples, row.bytes) if row else (0, 0)

    def load(self, sample_id: str) -> Sample:
        _checked_id(sample_id)
        with reading("read the sample", self.url) as db:
            row = db.execute(self._rows().where(samples.c.id == sample_id)).first()
        if row is None:
            raise SampleError(f"There is no sample {sample_id} in this collection.")
        return _sample(row)

    def all(self) -> list[Sample]:
        """Every sample, oldest first (a collection holds at most `MAX_SAMPLES`)."""
        with reading("read the samples", self.url) as db:
            return [_sample(row) for row in db.execute(self._rows().order_by(samples.c.id))]

    def newest(self, count: int) -> list[Sample]:
        """The `count` newest samples, newest first: what a review shows, without reading the whole collection."""
        with reading("read the samples", self.url) as db:
            return [_sample(row) for row in db.execute(self._rows().order_by(samples.c.id.desc()).limit(count))]

    def arrays(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """All samples as images (N, 28, 28) uint8, labels (N,) uint8 and their ids."""
        every = self.all()
        if not every:
            return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8), []
        return (
            np.stack([s.image for s in every]),
            np.array([s.label for s in every], np.uint8),
            [s.id for s in every],
        )

    # -- one file for all

    def export(self) -> bytes:
        """Every sample in one .npz: images, labels, strokes (JSON text), created, ids."""
        every = self.all()
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            images=np.stack([s.image for s in every]) if every else np.zeros((0, 28, 28), np.uint8),
            labels=np.array([s.label for s in every], np.uint8),
            strokes=np.array([json.dumps(s.strokes) for s in every], dtype=str),
            created=np.array([s.created for s in every], dtype=str),
            ids=np.array([s.id for s in every], dtype=str),
        )
        return buffer.getvalue()

    def import_file(self, data: bytes) -> int:
        """Add the samples of an exported file; ones already here (same image and label) are skipped.

        The whole file is checked before anything is added, and added in one
        transaction: it is all or nothing.
        """
        images, labels, strokes = read_sample_file(data, self.max_samples)
        candidates = [
            _new_sample(image, label, _parsed_strokes(strokes[i]) if strokes is not None else None)
            for i, (image, label) in enumerate(zip(images, labels))
        ]
        with transaction("import the samples", self.url) as db:
            owner = self._id(db)
            present = set()
            if owner is not None:
                present = set(db.execute(select(samples.c.digest).where(samples.c.collection_id == owner)).scalars())
            new = []
            for sample in candidates:
                digest = _digest(sample.image, sample.label)
                if digest not in present:
                    present.add(digest)
                    new.append(sample)
            self._insert(db, new)
        return len(new)

    # -- inside

    def _rows(self):
        return (
            select(samples.c.id, samples.c.label, samples.c.image, samples.c.strokes, samples.c.created)
            .join(collections, collections.c.id == samples.c.collection_id)
            .where(collections.c.key == self.key)
        )

    def _id(self, db: Connection) -> int | None:
        return db.execute(select(collections.c.id).where(collections.c.key == self.key)).scalar()

    def _insert(self, db: Connection, new: list[Sample]) -> None:
        """Insert `new` in the transaction `db`, raising the collection's counters only within its quota."""
        if not new:
            return
        rows = [as_row(sample) for sample in new]
        size = sum(row["bytes"] for row in rows)
        if database_bytes(db, self.url) + size > self.max_database_bytes:  # the disk every visitor shares
            raise SampleError(FULL)
        owner = self._id(db)
        if owner is None:  # its first sample; another server may be making it at this very moment
            db.execute(collection_insert(db).values(key=self.key, created=_now()).on_conflict_do_nothing())
            owner = self._id(db)
        raised = db.execute(
            update(collections)
            .where(
                collections.c.id == owner,
                collections.c.samples + len(rows) <= self.max_samples,
                collections.c.bytes + size <= self.max_bytes,
            )
            .values(samples=collections.c.samples + len(rows), bytes=collections.c.bytes + size)
        ).rowcount
        if raised != 1:
            held = db.execute(select(collections.c.samples).where(collections.c.id == owner)).scalar() or 0
            if held + len(rows) > self.max_samples:
                raise SampleError(
                    f"A collection holds at most {self.max_samples:,} samples; this one has {held:,}. "
                    "Delete some first."
                )
            raise SampleError(
                f"A collection holds at most {self.max_bytes >> 20} MB of samples; this one is full. Delete some first."
            )
        db.execute(insert(samples), [{**row, "collection_id": owner} for row in rows])
        read_at, held = _held.get(str(self.url), (0.0, 0))
        _held[str(self.url)] = (read_at, held + size)  # what this save adds, until the next reading


# The samples' bytes in the whole database, as last read (per database URL): (when, bytes). Reading them is a
# sum over every collection, so a save reads it at most every `HELD_MAX_AGE_S` and adds its own meanwhile; the
# limit in all may be passed by what a few seconds of saves add, and no more.
HELD_MAX_AGE_S = 10.0
_held: dict[str, tuple[float, int]] = {}


def database_bytes(db: Connection, url: str | None) -> int:
    """The bytes of every collection's samples together, read at most every `HELD_MAX_AGE_S`."""
    import time

    read_at, held = _held.get(str(url), (0.0, 0))
    if time.monotonic() - read_at > HELD_MAX_AGE_S:
        held = db.execute(select(func.coalesce(func.sum(collections.c.bytes), 0))).scalar()
        _held[str(url)] = (time.monotonic(), held)
    return held


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
        _now(),
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


def collection_insert(db: Connection):
    """INSERT … ON CONFLICT DO NOTHING for `collections`, in the database's own dialect."""
    if db.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(collections)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def as_row(sample: Sample) -> dict:
    strokes = json.dumps(sample.strokes, separators=(",", ":")) if sample.strokes is not None else None
    image = sample.image.tobytes()
    return {
        "id": sample.id,
        "label": sample.label,
        "image": image,
        "strokes": strokes,
        "created": sample.created,
        "bytes": len(image) + len(strokes or ""),
        "digest": _digest(sample.image, sample.label),
    }


def _sample(row) -> Sample:
    image = np.frombuffer(row.image, np.uint8)
    if image.size != 28 * 28:
        raise SampleError(f"The sample {row.id} is damaged in the database.")
    strokes = json.loads(row.strokes) if row.strokes else None
    return Sample(
        row.id,
        int(row.label),
        image.reshape(28, 28).copy(),
        strokes if isinstance(strokes, dict) else None,
        row.created,
    )
