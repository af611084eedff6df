"""A network and its card: the one type the app passes around for "a network", wherever it came from.

The shipped file, a row of the database, a visitor's training run, a
fine-tune: each gives a `Network`, the weights the page reads in NumPy
(`model.reading.network.NumpyNetwork`) with the card that says what they
are and how good they are (`model.store.card.ModelCard`), and, in a
visitor's list, the name the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from model.reading.network import NumpyNetwork
from model.store.card import ModelCard, architecture


@dataclass(frozen=True, eq=False)
class Network:
    net: NumpyNetwork
    card: ModelCard
    name: str = ""

    @property
    def accuracy(self) -> float | None:
        return self.card.accuracy

    @property
    def label(self) -> str:
        """ "Trained #2: 784 → 32 → 10 · 91.20% · augmented": how a visitor's list names it."""
        accuracy = f" · {self.accuracy:.2%}" if self.accuracy is not None else ""
        augmented = " · augmented" if self.card.augmented else ""
        return f"{self.name}: {architecture(self.net.hidden)}{accuracy}{augmented}"

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.net.weights())

    def named(self, name: str) -> Network:
        return replace(self, name=name)
