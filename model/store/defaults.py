"""A network saved as files, with its history, read as a consistent set: the shipped default and train.py's.

The default every visitor meets first is the network shipped with the app
(`model/mnist_ann.keras`, or `MODEL_PATH`) until the owner saves another
from the page; those live in the app's database (`model.store.published`),
and this module's command line (`list`, `rollback`) works on them.

A saved network is three files: the network for Keras (`mnist_ann.keras`, what
users load), its weights in this project's own format
(`mnist_ann.weights.npz`, what the page reads: see
`model.reading.network`), and its card (`mnist_ann.json`), which holds the
sha256 of the other two. They are written one after the other, each
atomically, the card last, so a kill between two writes leaves files the
card does not describe: `load_default` checks both hashes and, on a
mismatch or any damage, reads the newest good set kept in the history
instead, and says so. A default without a weights file — the one shipped
in the repository, which holds no `.npz` so that nothing that looks like
MNIST goes in, and any saved before the weights file existed — is read
from its `.keras` file; the first save on a server writes the set.

Every save (`train.py --out` over an existing network) first copies the
current set into `<name>.history/`, and the last `KEEP` are kept there
(`restore` brings one back). Writes and reads of the set take the folder's
lock, so a reader never sees half of a save.

No TensorFlow here: the network arrives as the bytes of a `.keras` file
(made by a training worker) with its `NumpyNetwork`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from model.reading.network import MAX_FILE_BYTES, ModelFileError, NumpyNetwork
from model.store.atomic import atomic_write_bytes, atomic_write_json, exclusive, sweep_temporary_files
from model.store.card import ModelCard, card_path

KEEP = 5  # earlier defaults kept for rollback
SHIPPED = Path(__file__).resolve().parents[1] / "mnist_ann.keras"


@dataclass(frozen=True)
class Default:
    net: NumpyNetwork
    card: ModelCard
    name: str  # "current", or the history entry it was read from
    problem: str | None = None  # why the current default was not used, if it was not


@dataclass(frozen=True)
class Entry:
    """A previous default in the history."""

    name: str  # "20261122T231500123456-1a2b3c4d": when it stopped being the default, and its hash
    path: Path

    @property
    def saved(self) -> str:
        try:
            stamp = datetime.strptime(self.name[:15], "%Y%m%dT%H%M%S")
        except ValueError:  # a file someone put in the history by hand
            return "at an unknown time"
        return stamp.strftime("%Y-%m-%d %H:%M UTC")


def default_path() -> Path:
    """The default network's file; MODEL_PATH moves it (the tests work on a copy)."""
    return Path(os.environ.get("MODEL_PATH") or SHIPPED)


def weights_path(path: str | os.PathLike) -> Path:
    """`model/mnist_ann.keras` → `model/mnist_ann.weights.npz`."""
    path = Path(path)
    return path.with_name(f"{path.stem}.weights.npz")


def copy_default(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Copy a default's files (network, weights, card; those that exist) to `target`'s names."""
    for of in (Path, weights_path, card_path):
        if of(source).exists():
            shutil.copyfile(of(source), of(target))


def history_folder(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(f"{path.stem}.history")


def history(path: str | os.PathLike) -> list[Entry]:
    """Previous defaults, newest first."""
    folder = history_folder(path)
    if not folder.is_dir():
        return []
    return [Entry(p.stem, p) for p in sorted(folder.glob("*.keras"), reverse=True) if not p.name.startswith(".")]


def save_default(path: str | os.PathLike, keras_bytes: bytes, card: ModelCard, net: NumpyNetwork | None = None) -> None:
    """Make `keras_bytes` (a `.keras` file) and `net` with `card` the default; the current one goes to the history.

    `net` is the same network as `keras_bytes` (its weights are written in
    the page's format); without it they are read from the `.keras` file.
    The network is checked before anything is written; an OSError (a full
    disk, say) leaves the current default in place.
    """
    path = Path(path)
    from_file = NumpyNetwork.from_keras_bytes(keras_bytes, "the new network")  # refuse what cannot be read back
    if net is not None and net.hidden != from_file.hidden:
        raise ModelFileError("The new network's .keras file and its weights are of different shapes.")
    with exclusive(path):
        _archive_current(path)
        _write_set(path, keras_bytes, (net or from_file).to_npz_bytes(), card)
        _prune(path)


def restore(path: str | os.PathLike, name: str) -> None:
    """Make the history entry `name` the default again; the current one goes to the history."""
    path = Path(path)
    with exclusive(path):
        entry = next((e for e in history(path) if e.name == name), None)
        if entry is None:
            raise ModelFileError(f"There is no earlier default called {name!r}.")
        data, weights, card = read_set(entry.path)
        net = check_set(data, weights, card, entry.name)
        _archive_current(path)
        _write_set(path, data, weights or net.to_npz_bytes(), card or ModelCard())
        _remove(entry.path)
        _prune(path)


def load_default(path: str | os.PathLike) -> Default:
    """The current default if its network and card agree, else the newest good earlier one.

    Raises `ModelFileError` only when neither the current default nor any
    entry in the history can be read.
    """
    path = Path(path)
    with exclusive(path):
        try:
            data, weights, card = read_set(path)
            return Default(check_set(data, weights, card, path.name), card or ModelCard(), "current")
        except ModelFileError as error:
            problem = str(error)
        for entry in history(path):
            try:
                data, weights, card = read_set(entry.path)
                net = check_set(data, weights, card, entry.name)
            except ModelFileError:
                continue
            return Default(
                net,
                card or ModelCard(),
                entry.name,
                f"{problem} Using the previous default, saved {entry.saved}, until the owner fixes it.",
            )
    raise ModelFileError(problem)


def sweep(path: str | os.PathLike) -> list[str]:
    """Remove temporary files that killed saves left beside the default and in its history."""
    return sweep_temporary_files(Path(path).parent) + sweep_temporary_files(history_folder(path))


def read_set(path: Path) -> tuple[bytes, bytes | None, ModelCard | None]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ModelFileError(f"{path.name} is {size >> 20} MB, larger than any network this app makes.")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"There is no default network ({path.name} is missing).") from None
    except OSError as error:
        raise ModelFileError(f"{path.name} could not be read ({error.strerror}).") from None
    try:
        weights = weights_path(path).read_bytes()
    except FileNotFoundError:
        weights = None  # saved before the weights file existed: read from the .keras file
    except OSError as error:
        raise ModelFileError(f"The weights of {path.name} could not be read ({error.strerror}).") from None
    try:
        text = card_path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return data, None, None  # a network without a card: usable, nothing to check it against
    except OSError as error:
        raise ModelFileError(f"The card of {path.name} could not be read ({error.strerror}).") from None
    try:
        card = ModelCard.from_dict(json.loads(text))
    except ValueError:
        card = None
    if card is None:
        raise ModelFileError(f"The card of {path.name} is damaged.")
    return data, weights, card


def check_set(data: bytes, weights: bytes | None, card: ModelCard | None, name: str) -> NumpyNetwork:
    """The network, if the files agree with the card's hashes (a card that names no hash checks nothing)."""
    mismatch = ModelFileError(
        f"The default network and its card do not match ({name} was changed or its save was cut short)."
    )
    if card and card.model_sha256 is not None and sha256_of(data) != card.model_sha256:
        raise mismatch
    if weights is None or not card or card.weights_sha256 is None:
        if card and card.weights_sha256 is not None:
            raise mismatch  # the card describes a weights file that is gone
        return NumpyNetwork.from_keras_bytes(data, name)
    if sha256_of(weights) != card.weights_sha256:
        raise mismatch
    return NumpyNetwork.from_npz_bytes(weights, f"the weights of {name}")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_set(path: Path, data: bytes, weights: bytes, card: ModelCard) -> None:
    atomic_write_bytes(path, data)
    atomic_write_bytes(weights_path(path), weights)
    card = replace(card, model_sha256=sha256_of(data), weights_sha256=sha256_of(weights))
    atomic_write_json(card_path(path), card.to_dict())


def _remove(path: Path) -> None:
    for each in (path, weights_path(path), card_path(path)):
        each.unlink(missing_ok=True)


def _archive_current(path: Path) -> None:
    """Copy the current set into the history (if it is there and whole)."""
    try:
        data, weights, card = read_set(path)
        net = check_set(data, weights, card, path.name)
    except ModelFileError:
        return  # nothing good to keep
    folder = history_folder(path)
    folder.mkdir(exist_ok=True)
    digest = sha256_of(data)
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{digest[:8]}"
    _write_set(folder / f"{name}.keras", data, weights or net.to_npz_bytes(), card or ModelCard())
    for entry in history(path):  # the same network kept before: only its newest copy stays
        if entry.name.endswith(digest[:8]) and entry.name != name:
            _remove(entry.path)


def _prune(path: Path) -> None:
    for entry in history(path)[KEEP:]:
        _remove(entry.path)


def main(argv: list[str] | None = None) -> int:
    """`python -m model.store.defaults list | rollback [NAME]`: the owner's command line for the default.

    The defaults the owner saved live in the app's database (`model.store.published`), so this works
    against the same one the servers use (`SAMPLES_DATABASE_URL`, or `--database`).
    """
    from model.store.db import StoreUnavailable, database_url, describe
    from model.store.published import current_default, earlier_defaults, roll_back

    parser = argparse.ArgumentParser(prog="python -m model.store.defaults", description=main.__doc__.split("\n")[0])
    parser.add_argument("action", choices=["list", "rollback"])
    parser.add_argument("name", nargs="?", help="the earlier default to restore (default: the newest)")
    parser.add_argument(
        "--model", default=None, help="the shipped default's file (default: MODEL_PATH or model/mnist_ann.keras)"
    )
    parser.add_argument("--database", default=None, help="the app's database (default: SAMPLES_DATABASE_URL)")
    args = parser.parse_args(argv)
    base = Path(args.model) if args.model else default_path()
    url = args.database or database_url()
    try:
        entries = earlier_defaults(url)
        if args.action == "list":
            try:
                current = current_default(base, url)
                where = "shipped with the app" if current.name == "current" and not entries else current.name
                print(f"current: {where}{'; ' + current.problem if current.problem else ''} ({describe(url)})")
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
