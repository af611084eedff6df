"""The default network the owner saved: one row of the database, shared by every replica, with its history.

Why the database and not files: replicas on several machines share the
database already (samples, limits), and a row holds the network (`.keras`),
the page's weights and the card together, written in one transaction, so
no replica can read half of a save; files would need storage every machine
mounts, and locks that hold across machines.

- `current_default`: the row marked current, if its files match the card's
  hashes (the check stays, as for files); else the newest good earlier row;
  with no row at all, the network shipped with the app (`MODEL_PATH`,
  read by `model.store.defaults.load_default`).
- `publish`: "Save as default". The first save also keeps the shipped
  network as a row, so a rollback can go back to it; the last `KEEP`
  earlier defaults are kept.
- `roll_back`: make an earlier row current again.
- `version`: changes whenever any replica saves or rolls back: the page
  reads the default again when it changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, insert, select, update

from model.reading.network import ModelFileError, NumpyNetwork
from model.store.card import ModelCard
from model.store.db import one_at_a_time, reading, transaction
from model.store.defaults import Default, check_set, load_default, read_set, sha256_of
from model.store.schema import default_networks

KEEP = 5  # earlier defaults kept for rollback


@dataclass(frozen=True)
class Earlier:
    """A previous default kept in the database."""

    name: str  # "20261122T231500123456-1a2b3c4d": when it was saved, and its network's hash
    accuracy: float | None = None

    @property
    def saved(self) -> str:
        try:
            return datetime.strptime(self.name[:15], "%Y%m%dT%H%M%S").strftime("%Y-%m-%d %H:%M UTC")
        except ValueError:
            return "at an unknown time"


def version(url: str | None = None) -> int:
    """The current row's id (0 while the shipped default is used): it changes with every save and rollback."""
    with reading("read the default network", url) as db:
        return db.execute(select(default_networks.c.id).where(default_networks.c.current)).scalar() or 0


def current_default(base: Path, url: str | None = None) -> Default:
    """The default every new visitor gets (see the module's docstring for the order it is looked for in).

    Raises `ModelFileError` only when nothing can be read, the shipped network included.
    """
    with reading("read the default network", url) as db:
        rows = db.execute(
            select(default_networks).order_by(default_networks.c.current.desc(), default_networks.c.id.desc())
        ).all()
    problem = None
    for row in rows:
        try:
            card = ModelCard.from_dict(json.loads(row.card))
            net = check_set(row.keras, row.weights, card, row.name)
        except (ModelFileError, ValueError) as error:
            problem = problem or (str(error) if row.current else None)
            continue
        note = None
        if problem:
            note = f"{problem} Using the previous default, saved {Earlier(row.name).saved}, until the owner fixes it."
        return Default(net, card, "current" if row.current else row.name, note)
    shipped = load_default(base)
    return replace(shipped, problem=problem or shipped.problem) if rows else shipped


def publish(keras_bytes: bytes, card: ModelCard, net: NumpyNetwork | None, base: Path, url: str | None = None) -> str:
    """Make the network (`keras_bytes`, and `net`, the same network) the default; return its name.

    The network is checked before anything is written; the row is written in
    one transaction, so a failure (a full disk, a lost connection) leaves the
    current default as it was.
    """
    from_file = NumpyNetwork.from_keras_bytes(keras_bytes, "the new network")  # refuse what cannot be read back
    if net is not None and net.hidden != from_file.hidden:
        raise ModelFileError("The new network's .keras file and its weights are of different shapes.")
    row = _row(keras_bytes, (net or from_file).to_npz_bytes(), card)
    shipped = _shipped_row(base)
    with transaction("save the default network", url) as db:
        one_at_a_time(db, "default network")  # two owners saving at once: one current default, not two
        if shipped and db.execute(select(default_networks.c.id).limit(1)).first() is None:
            db.execute(insert(default_networks).values(**shipped, current=False))
        db.execute(update(default_networks).values(current=False))
        db.execute(insert(default_networks).values(**row, current=True))
        _prune(db)
    return row["name"]


def earlier_defaults(url: str | None = None) -> list[Earlier]:
    """The defaults kept for rollback, newest first."""
    with reading("read the earlier defaults", url) as db:
        rows = db.execute(
            select(default_networks.c.name, default_networks.c.card)
            .where(~default_networks.c.current)
            .order_by(default_networks.c.id.desc())
        ).all()
    entries = []
    for name, card in rows:
        try:
            accuracy = ModelCard.from_dict(json.loads(card)).accuracy
        except ValueError:
            accuracy = None
        entries.append(Earlier(name, accuracy))
    return entries


def roll_back(name: str, url: str | None = None) -> None:
    """Make the earlier default `name` current again (checked first); the one it replaces is kept."""
    with transaction("roll the default back", url) as db:
        one_at_a_time(db, "default network")
        row = db.execute(select(default_networks).where(default_networks.c.name == name)).first()
        if row is None or row.current:
            raise ModelFileError(f"There is no earlier default called {name!r}.")
        check_set(row.keras, row.weights, ModelCard.from_dict(json.loads(row.card)), name)
        db.execute(update(default_networks).values(current=False))
        db.execute(update(default_networks).where(default_networks.c.id == row.id).values(current=True))


def _row(keras_bytes: bytes, weights: bytes, card: ModelCard) -> dict:
    digest = sha256_of(keras_bytes)
    card = replace(card, model_sha256=digest, weights_sha256=sha256_of(weights))
    return {
        "name": f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{digest[:8]}",
        "keras": keras_bytes,
        "weights": weights,
        "card": json.dumps(card.to_dict(), ensure_ascii=False),
    }


def _shipped_row(base: Path) -> dict | None:
    """The shipped default as a row, if it reads and checks (kept so a rollback can return to it)."""
    try:
        data, weights, card = read_set(Path(base))
        net = check_set(data, weights, card, Path(base).name)
    except ModelFileError:
        return None
    return _row(data, weights or net.to_npz_bytes(), card or ModelCard())


def _prune(db) -> None:
    old = db.execute(
        select(default_networks.c.id)
        .where(~default_networks.c.current)
        .order_by(default_networks.c.id.desc())
        .offset(KEEP)
    ).scalars()
    ids = list(old)
    if ids:
        db.execute(delete(default_networks).where(default_networks.c.id.in_(ids)))
