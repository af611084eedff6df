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
from datetime import datetime, timezone
from pathlib import Path

from model.config import TrainConfig
from model.metrics import Evaluation


def card_path(model_path: str | os.PathLike) -> Path:
    """`model/mnist_ann.keras` → `model/mnist_ann.json`."""
    return Path(model_path).with_suffix(".json")


def backup_path(model_path: str | os.PathLike) -> Path:
    """`model/mnist_ann.keras` → `model/mnist_ann.backup.keras`."""
    path = Path(model_path)
    return path.with_name(f"{path.stem}.backup{path.suffix}")


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
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
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
    card.update({
        "test": test_section(test),
        "fine_tune": {**report, "seconds": round(seconds, 1)},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    return card


def library_versions() -> dict[str, str]:
    import keras
    import numpy
    import tensorflow

    return {
        "python": sys.version.split()[0],
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }


def training_summary(card: dict) -> str:
    """"Trained in 206 s · 40 epochs · 60,000 images", from whatever the card has."""
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
    """The card beside a model, or None if it is missing or unreadable."""
    try:
        card = json.loads(card_path(model_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) else None
