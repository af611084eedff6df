"""The model card: a JSON file beside each saved network that says what it is.

It records how the network was made (architecture, every hyperparameter, the
seed, the data's sha256, library versions, the date and the `train.py`
command that repeats it) and how good it is (test loss and accuracy,
per-class accuracy, confusion matrix, training time), so that a number in the
app or the README can always be traced back to a run.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from model.config import TrainConfig
from model.reading.metrics import Evaluation


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
) -> dict:
    """Everything a reader needs to trust, compare and repeat a trained network."""
    return {
        "architecture": {
            "layers": architecture(config.hidden),
            "kind": "Flatten → Dense(ReLU) … → Dense(softmax)",
            "hidden": list(config.hidden),
            "dropout": config.dropout,
        },
        "parameters": parameters,
        "hyperparameters": config.as_dict(),
        "seed": config.seed,
        "test": test_section(test),
        "history": {key: [round(v, 5) for v in values] for key, values in history.items()},
        "training_seconds": round(seconds, 1),
        "data": data,
        "versions": library_versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
    }


def test_section(test: Evaluation) -> dict:
    return {
        "loss": round(test.loss, 5),
        "accuracy": round(test.accuracy, 5),
        "count": test.count,
        "per_class_accuracy": [round(a, 5) for a in test.per_class_accuracy],
        "confusion": test.confusion,
    }


def fine_tuned_card(base: dict, test: Evaluation, report: dict, seconds: float) -> dict:
    """The card of a network fine-tuned from `base` on a person's samples."""
    card = {key: value for key, value in base.items() if key not in ("command", "model_sha256", "history")}
    card.update(
        {
            "test": test_section(test),
            "fine_tune": {**report, "seconds": round(seconds, 1)},
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    return card


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


def training_summary(card: dict) -> str:
    """ "Trained in 206 s · 40 epochs · 60,000 images", from whatever the card has."""
    parts = []
    if "training_seconds" in card:
        parts.append(f"Trained in {card['training_seconds']:.0f} s")
    epochs = len(card.get("history", {}).get("loss", []))
    if epochs:
        parts.append(f"{epochs} epoch{'s' if epochs > 1 else ''}")
    images = card.get("data", {}).get("train_images")
    if images:
        parts.append(f"{images:,} images")
    if "fine_tune" in card:
        parts.append(f"then fine-tuned on {card['fine_tune']['trained_on']} of your samples")
    return " · ".join(parts) or "No training record."


def read_card(model_path: str | os.PathLike) -> dict | None:
    """The card beside a model, checked (see `checked_card`), or None if it is missing or unreadable."""
    try:
        card = json.loads(card_path(model_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return checked_card(card)


def checked_card(card) -> dict | None:
    """A card as read from a file, with every field the app relies on of the right shape.

    A card is read from disk, where anything can stand in it; a field of the
    wrong shape is dropped (the page then shows "–" for it) instead of
    raising in the middle of a page. None if it is not a JSON object at all.
    """
    if not isinstance(card, dict):
        return None
    return {key: value for key, value in card.items() if _FIELD_CHECKS.get(key, _anything)(value)}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def _share(v) -> bool:
    return _number(v) and 0 <= v <= 1


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


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
    "fine_tune": _fine_tune_section,
}
