"""The default network every new visitor gets: rows of the app's database, seeded by the shipped file.

    python -m model.store.defaults list
    python -m model.store.defaults rollback [NAME]

Until the owner saves a default, every server reads the network shipped
with the app (`model.store.network_file.shipped_path`). "Save as default"
(the page's, or `train.py --publish`) writes a row: the page's weights and
the card, in one transaction, so no server ever reads half of a save and
replicas on several machines share it with nothing else to set up. The
first save also keeps the shipped network as a row, so that a rollback can
go back to it; the last `KEPT_DEFAULTS` earlier defaults are kept.

- `current_default`: the row marked current, if its weights match the
  card's sha256; else the newest good earlier row (and why, for the
  owner); with no row at all, the shipped network.
- `publish`, `roll_back`, `earlier_defaults`.
- `version`: changes with every save and rollback, on any server: the page
  reads the default again when it changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, insert, select, update

from model.reading.network import ModelFileError, NumpyNetwork
from model.settings import KEPT_DEFAULTS
from model.store.card import ModelCard
from model.store.db import StoreUnavailable, database_url, describe, one_at_a_time, reading, transaction
from model.store.network import Network
from model.store.network_file import read_network_file, sha256_of, shipped_path
from model.store.schema import default_networks


@dataclass(frozen=True)
class Earlier:
    """A previous default kept in the database."""

    name: str  # "20261122T231500123456-1a2b3c4d": when it was saved, and its weights' hash
    accuracy: float | None = None

    @property
    def saved(self) -> str:
        try:
            return datetime.strptime(self.name[:15], "%Y%m%dT%H%M%S").strftime("%Y-%m-%d %H:%M UTC")
        except ValueError:
            return "at an unknown time"


def version(url: str | None = None) -> int:
    """The current row's id (0 while the shipped network is the default): it changes with every save and rollback."""
    with reading("read the default network", url) as db:
        return db.execute(select(default_networks.c.id).where(default_networks.c.current)).scalar() or 0


def current_default(url: str | None = None, shipped: Path | None = None) -> tuple[Network, str | None]:
    """The default every new visitor gets, named "Default", and why the current row was not used (if it was not).

    Raises `ModelFileError` only when nothing can be read, the shipped network included.
    """
    with reading("read the default network", url) as db:
        rows = db.execute(
            select(default_networks).order_by(default_networks.c.current.desc(), default_networks.c.id.desc())
        ).all()
    problem = None
    for row in rows:
        try:
            network = from_row(row)
        except ModelFileError as error:
            problem = problem or (str(error) if row.current else None)
            continue
        if problem:
            problem += f" Using the previous default, saved {Earlier(row.name).saved}, until the owner fixes it."
        return network, problem
    return read_network_file(shipped or shipped_path(), "Default"), problem


def publish(network: Network, url: str | None = None, shipped: Path | None = None) -> str:
    """Make `network` the default for every new visitor; return its row's name.

    One transaction: a failure (a full disk, a lost connection) leaves the
    current default as it was.
    """
    row = as_row(network)
    first = _shipped_row(shipped or shipped_path())
    with transaction("save the default network", url) as db:
        one_at_a_time(db, "default network")  # two owners saving at once: one current default, not two
        if first and db.execute(select(default_networks.c.id).limit(1)).first() is None:
            db.execute(insert(default_networks).values(**first, current=False))
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
        except (ValueError, AttributeError):
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
        from_row(row)
        db.execute(update(default_networks).values(current=False))
        db.execute(update(default_networks).where(default_networks.c.id == row.id).values(current=True))


def from_row(row) -> Network:
    """A row's network, if its weights match its card's sha256."""
    try:
        card = ModelCard.from_dict(json.loads(row.card))
    except ValueError:
        card = None
    if card is None or card.weights_sha256 != sha256_of(row.weights):
        raise ModelFileError(
            f"The default network {row.name} and its card do not match (it was changed or its save was cut short)."
        )
    return Network(NumpyNetwork.from_npz_bytes(row.weights, f"the default {row.name}"), card, "Default")


def as_row(network: Network) -> dict:
    weights = network.net.to_npz_bytes()
    digest = sha256_of(weights)
    card = replace(network.card, weights_sha256=digest)
    return {
        "name": f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{digest[:8]}",
        "weights": weights,
        "card": json.dumps(card.to_dict(), ensure_ascii=False),
    }


def _shipped_row(path: Path) -> dict | None:
    """The shipped network as a row, if it reads (kept so that a rollback can return to it)."""
    try:
        return as_row(read_network_file(path))
    except ModelFileError:
        return None


def _prune(db) -> None:
    old = db.execute(
        select(default_networks.c.id)
        .where(~default_networks.c.current)
        .order_by(default_networks.c.id.desc())
        .offset(KEPT_DEFAULTS)
    ).scalars()
    ids = list(old)
    if ids:
        db.execute(delete(default_networks).where(default_networks.c.id.in_(ids)))


def main(argv: list[str] | None = None) -> int:
    """`python -m model.store.defaults list | rollback [NAME]`: the owner's command line for the default."""
    parser = argparse.ArgumentParser(prog="python -m model.store.defaults", description=main.__doc__.split("\n")[0])
    parser.add_argument("action", choices=["list", "rollback"])
    parser.add_argument("name", nargs="?", help="the earlier default to restore (default: the newest)")
    parser.add_argument("--database", default=None, help="the app's database (default: SAMPLES_DATABASE_URL)")
    args = parser.parse_args(argv)
    url = args.database or database_url()
    try:
        entries = earlier_defaults(url)
        if args.action == "list":
            try:
                _, problem = current_default(url)
                where = "a saved default" if version(url) else "the network shipped with the app"
                print(f"current: {where}{'; ' + problem if problem else ''} ({describe(url)})")
            except ModelFileError as error:
                print(f"current: unreadable ({error})")
            for entry in entries:
                accuracy = f"{entry.accuracy:.2%}" if entry.accuracy is not None else "–"
                print(f"{entry.name}  saved {entry.saved}  test accuracy {accuracy}")
            return 0
        name = args.name or (entries[0].name if entries else None)
        if name is None:
            print("There is no earlier default to roll back to.", file=sys.stderr)
            return 1
        roll_back(name, url)
    except (ModelFileError, StoreUnavailable) as error:
        print(f"Could not {args.action.replace('rollback', 'roll back')}: {error}", file=sys.stderr)
        return 1
    print(f"The default is now {name}; the one it replaced is kept among the earlier defaults.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
