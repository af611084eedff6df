"""Move the samples of the folder store (the format before the database) into the database, once.

Before the database, a collection was a folder of `<id>.npz` files with an
append-only `index.jsonl` (under `SAMPLES_PATH`, default `data/my_digits/`):
the local collection in the folder itself, a visitor's in
`visitors/<hash>/`, an account's in `accounts/<hash>/`. The folder names are
the collections' keys in the database (`model.store.collection`), so each
visitor finds their samples where their link always led.

At a server's start-up, `import_folders` reads every such folder and writes
every sample it holds (those the log marks deleted excepted) in one
transaction: all or nothing. A file that cannot be read is left out and
named in the report. The database then records that the import was done,
so it happens once, whichever replica starts first; the folders stay where
they are until the owner removes them.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select, update

from model.settings import ROOT, SAMPLES_PATH
from model.store.db import one_at_a_time, transaction
from model.store.samples import ID_PATTERN, Sample, as_row, collection_insert, validate_image, validate_label
from model.store.schema import collections, samples, settings

DEFAULT_FOLDER = ROOT / "data" / "my_digits"
DONE = "folder_import"


def samples_folder() -> Path:
    return Path(SAMPLES_PATH.value() or DEFAULT_FOLDER)


def collection_folders(root: Path) -> dict[str, Path]:
    """Key → folder of every collection of the folder store under `root`."""
    found = {"local": root} if root.is_dir() else {}
    for kind in ("visitors", "accounts"):
        if (root / kind).is_dir():
            found.update({f"{kind}/{child.name}": child for child in sorted((root / kind).iterdir()) if child.is_dir()})
    return found


def read_folder(folder: Path) -> tuple[list[Sample], list[str]]:
    """The samples a folder holds (deleted ones excepted), and the names of the files that could not be read."""
    deleted = set()
    index = folder / "index.jsonl"
    if index.is_file():
        for line in index.read_bytes().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut by a kill
            if isinstance(record, dict) and isinstance(record.get("deleted"), str):
                deleted.add(record["deleted"])
    found, unreadable = [], []
    for path in sorted(folder.glob("*.npz")):
        if not ID_PATTERN.fullmatch(path.stem) or path.stem in deleted:
            continue
        try:
            with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as npz:
                strokes = json.loads(str(npz["strokes"]))
                found.append(
                    Sample(
                        path.stem,
                        validate_label(int(npz["label"])),
                        validate_image(npz["image"]),
                        strokes if isinstance(strokes, dict) else None,
                        str(npz["created"]),
                    )
                )
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            unreadable.append(str(path.relative_to(folder.parent)))
    return found, unreadable


def import_folders(root: Path | None = None, url: str | None = None) -> dict | None:
    """Import the folder store under `root` once; return what was done, or None if it was done before."""
    root = root or samples_folder()
    with transaction("import the samples' folders", url) as db:
        one_at_a_time(db, "folder import")  # replicas starting together: one imports, the others find it done
        if db.execute(select(settings.c.value).where(settings.c.key == DONE)).scalar() is not None:
            return None
        report = {"collections": 0, "samples": 0, "unreadable": [], "from": str(root)}
        for key, folder in collection_folders(root).items():
            found, unreadable = read_folder(folder)
            report["unreadable"] += unreadable
            if not found:
                continue
            db.execute(collection_insert(db).values(key=key, created=_now()).on_conflict_do_nothing())
            owner = db.execute(select(collections.c.id).where(collections.c.key == key)).scalar()
            present = set(db.execute(select(samples.c.id).where(samples.c.collection_id == owner)).scalars())
            rows = [{**as_row(s), "collection_id": owner} for s in found if s.id not in present]
            if rows:
                db.execute(insert(samples), rows)
                db.execute(
                    update(collections)
                    .where(collections.c.id == owner)
                    .values(
                        samples=collections.c.samples + len(rows),
                        bytes=collections.c.bytes + sum(r["bytes"] for r in rows),
                    )
                )
            report["collections"] += 1
            report["samples"] += len(rows)
        db.execute(insert(settings).values(key=DONE, value=json.dumps({**report, "at": _now()})))
    return report


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
