"""The model card: a JSON file beside each saved network that says what it is.

It records how the network was made (architecture, every hyperparameter, the
seed, the data's sha256, library versions, the date and the `train.py`
command that repeats it) and how good it is (test loss and accuracy,
per-class accuracy, confusion matrix, training time), so that a number in the
app or the README can always be traced back to a run.

In the program a card is a `ModelCard`: the fields the app reads are typed
and checked when a card is read (`ModelCard.from_dict`: a field of the wrong
shape is dropped, so an old or damaged card still loads), and everything
else on the card is kept as it was read. On disk it stays plain JSON.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path

from model.config import TrainConfig
from model.reading.metrics import Evaluation

KIND = "Flatten → Dense(ReLU) … → Dense(softmax)"


@dataclass(frozen=True)
class Scores:
    """How a network did on the MNIST test set."""

    accuracy: float
    loss: float | None = None
    count: int | None = None
    per_class_accuracy: tuple[float, ...] = ()
    confusion: tuple[tuple[int, ...], ...] = ()

    @classmethod
    def from_evaluation(cls, test: Evaluation) -> Scores:
        return cls(
            round(test.accuracy, 5),
            round(test.loss, 5),
            test.count,
            tuple(round(a, 5) for a in test.per_class_accuracy),
            tuple(tuple(row) for row in test.confusion),
        )

    @classmethod
    def from_dict(cls, test: dict) -> Scores:
        """From a card's checked "test" section."""
        return cls(
            test["accuracy"],
            test.get("loss"),
            test.get("count"),
            tuple(test.get("per_class_accuracy", ())),
            tuple(tuple(row) for row in test.get("confusion", ())),
        )

    def to_dict(self) -> dict:
        d = {"loss": self.loss, "accuracy": self.accuracy, "count": self.count}
        d = {key: value for key, value in d.items() if value is not None}
        if self.per_class_accuracy:
            d["per_class_accuracy"] = list(self.per_class_accuracy)
        if self.confusion:
            d["confusion"] = [list(row) for row in self.confusion]
        return d


@dataclass(frozen=True)
class ModelCard:
    """What a network is, how it was made and how good it is; every field may be missing on an old card."""

    hidden: tuple[int, ...] | None = None
    parameters: int | None = None
    hyperparameters: dict = field(default_factory=dict)  # `TrainConfig.as_dict()` of the run
    test: Scores | None = None
    history: dict[str, list[float]] = field(default_factory=dict)
    training_seconds: float | None = None
    data: dict = field(default_factory=dict)  # where MNIST came from (`model.store.data.provenance`)
    command: str | None = None  # the train.py command that repeats the run
    model_sha256: str | None = None  # of the .keras file it describes (set when it is saved)
    weights_sha256: str | None = None  # of the .weights.npz beside it, which the page reads
    fine_tune: dict | None = None  # what a fine-tune on a person's samples did
    extra_samples: dict | None = None  # train.py --extra: how the held-out samples were read
    notes: dict = field(default_factory=dict)  # in words: "trained_on", and "still_misreads" once measured
    other: dict = field(default_factory=dict)  # the rest of the card, kept as read (versions, date, …)

    @property
    def layers(self) -> str | None:
        """ "784 → 128 → 64 → 10"."""
        return architecture(self.hidden) if self.hidden is not None else None

    @property
    def augmented(self) -> bool:
        return self.hyperparameters.get("augment") is True

    @property
    def dropout(self) -> float:
        return float(self.hyperparameters.get("dropout", 0.0))

    @property
    def accuracy(self) -> float | None:
        return self.test.accuracy if self.test else None

    @classmethod
    def from_dict(cls, raw) -> ModelCard | None:
        """A card as read from a file; a field of the wrong shape is dropped. None if it is not a JSON object."""
        if not isinstance(raw, dict):
            return None
        good = {key: value for key, value in raw.items() if _FIELD_CHECKS.get(key, _anything)(value)}
        hidden = good.get("architecture", {}).get("hidden")
        test = good.get("test")
        return cls(
            hidden=tuple(hidden) if _hidden(hidden) else None,
            test=None if test is None else Scores.from_dict(test),
            other={key: value for key, value in good.items() if key not in (*_AS_STORED, "test")},
            **{name: good[name] for name in _AS_STORED if name in good},
        )

    def to_dict(self) -> dict:
        """The card as JSON stores it (the layout of every card this project has written)."""
        d = dict(self.other)
        if self.hidden is not None:
            d["architecture"] = {
                **d.get("architecture", {}),
                "layers": self.layers,
                "kind": KIND,
                "hidden": list(self.hidden),
            }
        if self.test:
            d["test"] = self.test.to_dict()
        for name in _AS_STORED:
            if (value := getattr(self, name)) not in (None, {}):
                d[name] = value
        return d


def card_path(model_path: str | os.PathLike) -> Path:
    """`model/mnist_ann.keras` → `model/mnist_ann.json`."""
    return Path(model_path).with_suffix(".json")


def architecture(hidden: tuple[int, ...] | list[int]) -> str:
    """`(128, 64)` → `784 → 128 → 64 → 10`."""
    return " → ".join(str(n) for n in (784, *hidden, 10))


def make_card(
    config: TrainConfig,
    parameters: int,
    test: Evaluation,
    history: dict[str, list[float]],
    seconds: float,
    data: dict,
    command: str,
) -> ModelCard:
    """Everything a reader needs to trust, compare and repeat a trained network."""
    return ModelCard(
        hidden=tuple(config.hidden),
        parameters=parameters,
        hyperparameters=config.as_dict(),
        test=Scores.from_evaluation(test),
        history={key: [round(v, 5) for v in values] for key, values in history.items()},
        training_seconds=round(seconds, 1),
        data=data,
        command=command,
        notes={"trained_on": trained_on(config, data)},
        other={
            "architecture": {"dropout": config.dropout},
            "seed": config.seed,
            "versions": library_versions(),
            "created": _now(),
        },
    )


def trained_on(config: TrainConfig, data: dict) -> str:
    """What a network was trained on, in words, for its card and the README."""
    images = data.get("train_images")
    words = f"{images:,} MNIST training images" if images else "MNIST's training images"
    words += f" less a {config.validation_split:.0%} validation share"
    if config.augment:
        words += ", distorted afresh in every batch (rotation, slant, size, shift, elastic wobble, thickness)"
    if config.redraw:
        words += (
            f", and {config.redraw:,} of them redrawn as a canvas draws them: random brush widths, and flags "
            "and bases on 1s, bars across 7s, curled tails on 9s and open-topped 4s (model/training/extras/styles.py)"
        )
    return words + "."


def fine_tuned_card(base: ModelCard, test: Evaluation, report: dict, seconds: float) -> ModelCard:
    """The card of a network fine-tuned from `base` on a person's samples."""
    return replace(
        base,
        test=Scores.from_evaluation(test),
        fine_tune={**report, "seconds": round(seconds, 1)},
        command=None,  # the command made the base, not this network
        model_sha256=None,
        weights_sha256=None,
        history={},
        notes={},  # the base's notes describe the base, not what a visitor's samples made of it
        extra_samples=None,
        other={**base.other, "created": _now()},
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def library_versions() -> dict[str, str]:
    """The installed versions that made a network (read from the packages' metadata, nothing imported)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return {
        "python": sys.version.split()[0],
        **{name: installed(name) for name in ("tensorflow", "keras", "numpy")},
        "platform": platform.platform(),
    }


def training_summary(card: ModelCard) -> str:
    """ "Trained in 206 s · 40 epochs · 60,000 images", from whatever the card has."""
    parts = []
    if card.training_seconds is not None:
        parts.append(f"Trained in {card.training_seconds:.0f} s")
    epochs = len(card.history.get("loss", []))
    if epochs:
        parts.append(f"{epochs} epoch{'s' if epochs > 1 else ''}")
    images = card.data.get("train_images")
    if images:
        parts.append(f"{images:,} images")
    if card.fine_tune:
        parts.append(f"then fine-tuned on {card.fine_tune['trained_on']} of your samples")
    return " · ".join(parts) or "No training record."


def read_card(model_path: str | os.PathLike) -> ModelCard | None:
    """The card beside a model, checked (see `ModelCard.from_dict`), or None if it is missing or unreadable.

    A card is read from disk, where anything can stand in it; a field of the
    wrong shape is dropped (the page then shows "–" for it) instead of
    raising in the middle of a page.
    """
    try:
        card = json.loads(card_path(model_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return ModelCard.from_dict(card)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def _share(v) -> bool:
    return _number(v) and 0 <= v <= 1


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _hidden(v) -> bool:
    return isinstance(v, list) and all(_count(n) and n > 0 for n in v)


def _anything(v) -> bool:
    return True


def _test_section(v) -> bool:
    return (
        isinstance(v, dict)
        and _share(v.get("accuracy"))
        and _number(v.get("loss", 0))
        and _count(v.get("count", 0))
        and (
            "per_class_accuracy" not in v
            or (
                isinstance(v["per_class_accuracy"], list)
                and len(v["per_class_accuracy"]) == 10
                and all(map(_share, v["per_class_accuracy"]))
            )
        )
        and (
            "confusion" not in v
            or (
                isinstance(v["confusion"], list)
                and len(v["confusion"]) == 10
                and all(isinstance(row, list) and len(row) == 10 and all(map(_count, row)) for row in v["confusion"])
            )
        )
    )


def _fine_tune_section(v) -> bool:
    return (
        isinstance(v, dict)
        and _count(v.get("trained_on"))
        and _count(v.get("held_out", 0))
        and _share(v.get("mnist_before"))
        and _share(v.get("mnist_after"))
        and _count(v.get("mnist_count", 0))
        and _number(v.get("seconds", 0))
        and all(v.get(k) is None or _share(v.get(k)) for k in ("held_out_before", "held_out_after"))
    )


_FIELD_CHECKS = {
    "architecture": lambda v: isinstance(v, dict) and isinstance(v.get("layers", ""), str),
    "extra_samples": lambda v: isinstance(v, dict),
    "notes": lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(t, str) for k, t in v.items()),
    "parameters": _count,
    "hyperparameters": lambda v: (
        isinstance(v, dict) and isinstance(v.get("augment", False), bool) and _share(v.get("dropout", 0))
    ),
    "test": _test_section,
    "history": lambda v: (
        isinstance(v, dict)
        and all(isinstance(k, str) and isinstance(vals, list) and all(map(_number, vals)) for k, vals in v.items())
    ),
    "training_seconds": lambda v: _number(v) and v >= 0,
    "data": lambda v: isinstance(v, dict) and (v.get("train_images") is None or _count(v["train_images"])),
    "created": lambda v: isinstance(v, str),
    "command": lambda v: isinstance(v, str),
    "model_sha256": lambda v: isinstance(v, str),
    "weights_sha256": lambda v: isinstance(v, str),
    "fine_tune": _fine_tune_section,
}
# The card's fields that a file holds just as the program does (the others:
# `hidden` sits in "architecture", `test` is `Scores`, `other` is the rest).
_AS_STORED = tuple(f.name for f in fields(ModelCard) if f.name not in ("hidden", "test", "other"))
