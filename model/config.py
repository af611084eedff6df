"""What a training run is asked to do, and which requests are refused before it starts.

`train.py` and the app's sidebar both build a `TrainConfig` and ask it for its
`problems` under their own `Limits` (the command line allows bigger networks
than a shared web page). Nothing trains while a problem remains, and each
problem is a sentence a person can fix.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Limits:
    max_layers: int
    max_units: int
    max_epochs: int
    max_batch_size: int
    max_redraw: int = 0


CLI_LIMITS = Limits(max_layers=8, max_units=4096, max_epochs=200, max_batch_size=8192, max_redraw=120_000)
APP_LIMITS = Limits(max_layers=4, max_units=1024, max_epochs=50, max_batch_size=2048)


def parse_layer_sizes(text: str) -> tuple[int, ...]:
    """ "128, 64" → (128, 64); anything else is a ValueError that says what was expected."""
    words = text.replace(",", " ").split()
    if not words:
        raise ValueError("Give at least one hidden layer size, e.g. 128, 64.")
    try:
        return tuple(int(word) for word in words)
    except ValueError:
        raise ValueError(
            f"Hidden layers must be whole numbers separated by commas, e.g. 128, 64 (got {text!r})."
        ) from None


@dataclass(frozen=True)
class TrainConfig:
    hidden: tuple[int, ...] = (128, 64)
    epochs: int = 10
    batch_size: int = 128
    dropout: float = 0.2
    learning_rate: float = 0.001
    seed: int = 0
    augment: bool = False
    validation_split: float = 0.1
    redraw: int = 0  # MNIST training digits redrawn with brushes and writing styles (model.training.styles)

    def problems(self, limits: Limits) -> list[str]:
        """Every reason this run cannot start, as sentences; empty when it can."""
        found = []
        if not 1 <= len(self.hidden) <= limits.max_layers:
            found.append(f"Use 1 to {limits.max_layers} hidden layers (got {len(self.hidden)}).")
        for i, units in enumerate(self.hidden, 1):
            if not 1 <= units <= limits.max_units:
                found.append(f"Hidden layer {i} must have 1 to {limits.max_units} units (got {units}).")
        if not 1 <= self.epochs <= limits.max_epochs:
            found.append(f"Epochs must be 1 to {limits.max_epochs} (got {self.epochs}).")
        if not 1 <= self.batch_size <= limits.max_batch_size:
            found.append(f"Batch size must be 1 to {limits.max_batch_size} (got {self.batch_size}).")
        if not 0.0 <= self.dropout <= 0.8:
            found.append(f"Dropout must be between 0 and 0.8 (got {self.dropout:g}).")
        if not 1e-5 <= self.learning_rate <= 1.0:
            found.append(f"Learning rate must be between 0.00001 and 1 (got {self.learning_rate:g}).")
        if not 0 <= self.seed < 2**31:
            found.append(f"Seed must be 0 to {2**31 - 1} (got {self.seed}).")
        if not 0 <= self.redraw <= limits.max_redraw:
            found.append(f"Redrawn digits must be 0 to {limits.max_redraw:,} (got {self.redraw:,}).")
        if not 0.0 < self.validation_split <= 0.5:
            found.append(f"Validation split must be above 0 and at most 0.5 (got {self.validation_split:g}).")
        return found

    def as_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    def command(self, out: str = "model/mnist_ann.keras", data: str | None = None) -> str:
        """The `train.py` command line that repeats this run."""
        words = ["python", "train.py", "--hidden", *map(str, self.hidden)]
        words += ["--epochs", str(self.epochs), "--batch-size", str(self.batch_size)]
        words += ["--dropout", f"{self.dropout:g}", "--learning-rate", f"{self.learning_rate:g}"]
        words += ["--seed", str(self.seed), "--validation-split", f"{self.validation_split:g}"]
        words += ["--augment" if self.augment else "--no-augment"]
        if self.redraw:
            words += ["--redraw", str(self.redraw)]
        if data:
            words += ["--data", data]
        words += ["--out", out]
        return shlex.join(words)


# What the app's sidebar offers before anyone changes it: small and quick
# (seconds on two cores), so a first retrain is a short wait.
SIDEBAR_DEFAULTS = TrainConfig(hidden=(128, 64), epochs=5, batch_size=128, dropout=0.2, learning_rate=0.001)
