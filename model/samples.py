"""A visitor's own handwriting: labelled samples kept in one local folder, safely.

Each sample is one file, `<id>.npz`, holding the 28×28 image the network
was given, the label, the raw canvas strokes (the canvas's JSON) and the
time. The id is made here (time + random), never from anything a visitor
typed, so no visitor text becomes a path. Files are written atomically
(temporary file, then rename) and never changed afterwards: the folder is
append-only, and deleting is the only other change.

`index.json` lists the samples (id, label, time) so that counting them does
not open every file. The files are the truth and the index only a cache: it
is rewritten under a lock after every change, and rebuilt from the files
whenever it is missing, damaged or does not match them (after a crash
between writing a sample and the index, say). A file that cannot be read is
left alone, skipped and reported, never deleted.
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from model.atomic import atomic_write_bytes, atomic_write_json, exclusive

ENV_VAR = "SAMPLES_PATH"
DEFAULT_FOLDER = Path(__file__).resolve().parent.parent / "data" / "my_digits"
INDEX = "index.json"
MAX_STROKES_BYTES = 2 << 20  # a canvas's JSON is a few kB to a few hundred; refuse anything absurd
MAX_IMPORT_SAMPLES = 100_000
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
    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder is not None else default_folder()
        self.damaged: list[str] = []  # files skipped by the last index rebuild

    # -- writing

    def add(self, image, label, strokes: dict | None = None) -> Sample:
        """Save one sample (atomically) and return it."""
        sample = Sample(new_id(), validate_label(label), validate_image(image),
                        _checked_strokes(strokes), datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self._path(sample.id), _encode(sample))
        with exclusive(self._path(INDEX)):
            entries = self._entries_locked()  # a rebuild would already have found the new file
            if sample.id not in {e["id"] for e in entries}:
                entries.append(_entry(sample))
            atomic_write_json(self._path(INDEX), {"samples": entries})
        return sample

    def delete(self, sample_id: str) -> None:
        path = self._path(_checked_id(sample_id))
        if not self.folder.is_dir():
            return
        with exclusive(self._path(INDEX)):
            path.unlink(missing_ok=True)
            entries = [e for e in self._entries_locked() if e["id"] != sample_id]
            atomic_write_json(self._path(INDEX), {"samples": entries})

    # -- reading

    def entries(self) -> list[dict]:
        """[{id, label, created}] of every readable sample, oldest first."""
        if not self.folder.is_dir():
            return []
        index = self._read_index()
        if index is not None and {e["id"] for e in index} == self._ids_on_disk():
            return index
        self.folder.mkdir(parents=True, exist_ok=True)
        with exclusive(self._path(INDEX)):
            return self._entries_locked()

    def counts(self) -> list[int]:
        counts = [0] * 10
        for entry in self.entries():
            counts[entry["label"]] += 1
        return counts

    def load(self, sample_id: str) -> Sample:
        return _decode(sample_id, self._path(_checked_id(sample_id)).read_bytes())

    def arrays(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """All samples as images (N, 28, 28) uint8, labels (N,) uint8 and their ids."""
        samples = [self.load(e["id"]) for e in self.entries()]
        if not samples:
            return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8), []
        return (np.stack([s.image for s in samples]), np.array([s.label for s in samples], np.uint8),
                [s.id for s in samples])

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
        """Add the samples of an exported file; ones already here (same image and label) are skipped."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                images, labels = npz["images"], npz["labels"]
                strokes = npz["strokes"] if "strokes" in npz.files else None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            raise SampleError("That is not a file of samples exported by this app (an .npz with images "
                              "and labels).") from None
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (len(images),):
            raise SampleError(f"The file holds images of shape {images.shape} and labels of shape "
                              f"{labels.shape}; expected (N, 28, 28) and (N,).")
        if len(images) > MAX_IMPORT_SAMPLES:
            raise SampleError(f"The file holds {len(images):,} samples; at most {MAX_IMPORT_SAMPLES:,} at once.")
        if not np.issubdtype(labels.dtype, np.integer):
            raise SampleError("The file's labels are not whole numbers.")
        images = [validate_image(image) for image in images]
        labels = [validate_label(int(label)) for label in labels]
        present = {(e_image.tobytes(), e_label) for e_image, e_label in zip(*self.arrays()[:2])}
        added = 0
        for i, (image, label) in enumerate(zip(images, labels)):
            if (image.tobytes(), label) in present:
                continue
            parsed = None
            if strokes is not None and i < len(strokes):
                try:
                    parsed = json.loads(str(strokes[i]))
                except ValueError:
                    parsed = None
            self.add(image, label, parsed if isinstance(parsed, dict) else None)
            present.add((image.tobytes(), label))
            added += 1
        return added

    # -- inside

    def _path(self, name: str) -> Path:
        return self.folder / (name if name == INDEX else f"{name}.npz")

    def _ids_on_disk(self) -> set[str]:
        """Sample files only: not the temporary files of writes under way, nor anything else."""
        return {p.stem for p in self.folder.glob("*.npz") if ID_PATTERN.fullmatch(p.stem)}

    def _read_index(self) -> list[dict] | None:
        try:
            entries = json.loads(self._path(INDEX).read_text(encoding="utf-8"))["samples"]
            if all(isinstance(e.get("id"), str) and e.get("label") in range(10) for e in entries):
                return entries
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        return None

    def _entries_locked(self) -> list[dict]:
        """The index, rebuilt from the files if it does not match them (call under the lock)."""
        index = self._read_index()
        on_disk = self._ids_on_disk()
        if index is not None and {e["id"] for e in index} == on_disk:
            return index
        entries, self.damaged = [], []
        for sample_id in sorted(on_disk):
            try:
                entries.append(_entry(self.load(sample_id)))
            except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, SampleError):
                self.damaged.append(f"{sample_id}.npz")
        entries.sort(key=lambda e: e["id"])  # ids start with the time to the microsecond
        atomic_write_json(self._path(INDEX), {"samples": entries})
        return entries


def new_id() -> str:
    """Time to the microsecond (so ids sort in the order samples were made), then 40 random bits."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:10]


def _checked_id(sample_id: str) -> str:
    if not isinstance(sample_id, str) or not ID_PATTERN.fullmatch(sample_id):
        raise SampleError(f"Not a sample id: {sample_id!r}.")
    return sample_id


def _checked_strokes(strokes) -> dict | None:
    if strokes is None:
        return None
    if not isinstance(strokes, dict):
        raise SampleError("Strokes must be the canvas's JSON object.")
    if len(json.dumps(strokes)) > MAX_STROKES_BYTES:
        raise SampleError("The drawing's strokes are too large to keep.")
    return strokes


def _entry(sample: Sample) -> dict:
    return {"id": sample.id, "label": sample.label, "created": sample.created}


def _encode(sample: Sample) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, image=sample.image, label=np.uint8(sample.label),
                        strokes=np.array(json.dumps(sample.strokes)), created=np.array(sample.created))
    return buffer.getvalue()


def _decode(sample_id: str, data: bytes) -> Sample:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        image = validate_image(npz["image"])
        label = validate_label(int(npz["label"]))
        strokes = json.loads(str(npz["strokes"]))
        created = str(npz["created"])
    return Sample(sample_id, label, image, strokes if isinstance(strokes, dict) else None, created)
