"""A network as a file: the `.keras` file Keras loads, and its card beside it (`mnist_ann.json`).

The network shipped with the app (`model/mnist_ann.keras`, or `MODEL_PATH`)
is one: the seed every server starts from until the owner saves a default
(those live in the database: `model.store.defaults`). `train.py` writes
another wherever it is asked to.

The card holds the network file's sha256, so a reader can tell a network
from a card that belongs to another (a copy gone wrong, a save cut short
between the two files): such a pair is refused with a sentence. Each file
is written atomically (a temporary file, then a rename), the card last,
under the folder's lock, which a reader takes too: two writers at once
leave one whole pair, and a reader never sees half of one.

No TensorFlow here: the network arrives as the bytes of a `.keras` file and
is read back in NumPy before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

from model.reading.network import MAX_FILE_BYTES, ModelFileError, NumpyNetwork
from model.settings import MODEL_PATH, ROOT
from model.store.atomic import atomic_write_bytes, atomic_write_json, exclusive
from model.store.card import ModelCard, card_path
from model.store.network import Network

SHIPPED = ROOT / "model" / "mnist_ann.keras"
# A convolutional network shipped beside it, read by `model.reading.cnn`: the second opinion on shared samples.
SECOND_OPINION = ROOT / "model" / "second_opinion.keras"


def shipped_path() -> Path:
    """The shipped network's file; `MODEL_PATH` moves it (the tests work on a copy)."""
    return Path(MODEL_PATH.value() or SHIPPED)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_network_file(path: str | os.PathLike, name: str = "") -> Network:
    """The network in `path` with its card (an empty one if it has none); `ModelFileError` with a sentence if
    it cannot be read or does not match its card."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ModelFileError(f"{path.name} is {size >> 20} MB, larger than any network this app makes.")
        with exclusive(path):
            data = path.read_bytes()
            card = read_card_file(path)
    except FileNotFoundError:
        raise ModelFileError(f"There is no network file ({path.name} is missing).") from None
    except OSError as error:
        raise ModelFileError(f"{path.name} could not be read ({error.strerror}).") from None
    if card.model_sha256 is not None and sha256_of(data) != card.model_sha256:
        raise ModelFileError(
            f"The network {path.name} and its card do not match ({path.name} was changed or its save was cut short)."
        )
    return Network(NumpyNetwork.from_keras_bytes(data, path.name), card, name)


def read_card_file(path: Path) -> ModelCard:
    """The card beside `path`; an empty card if there is none, `ModelFileError` if it is damaged."""
    try:
        text = card_path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return ModelCard()  # a network without a card: usable, nothing to check it against
    except OSError as error:
        raise ModelFileError(f"The card of {path.name} could not be read ({error.strerror}).") from None
    try:
        card = ModelCard.from_dict(json.loads(text))
    except ValueError:
        card = None
    if card is None:
        raise ModelFileError(f"The card of {path.name} is damaged.")
    return card


def write_network_file(path: str | os.PathLike, keras_bytes: bytes, card: ModelCard) -> Network:
    """Write the network (a `.keras` file's bytes) and its card, each atomically, the card last.

    The bytes are read back as a network first: what cannot be read is
    refused before anything is written. Returns the network as written.
    """
    path = Path(path)
    net = NumpyNetwork.from_keras_bytes(keras_bytes, "the new network")
    card = replace(card, model_sha256=sha256_of(keras_bytes), weights_sha256=None)
    with exclusive(path):
        atomic_write_bytes(path, keras_bytes)
        atomic_write_json(card_path(path), card.to_dict())
    return Network(net, card)


def copy_network_file(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Copy a network and its card (if it has one) to `target`'s names."""
    shutil.copyfile(source, target)
    if card_path(source).exists():
        shutil.copyfile(card_path(source), card_path(target))
