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


MAX_LAYER_TEXT = 64  # characters of "Hidden layers": room for 8 layers of 4096, nothing a visitor types is longer


def parse_layer_sizes(text: str) -> tuple[int, ...]:
    """ "128, 64" → (128, 64); anything else is a ValueError that says what was expected.

    Bounded before it is parsed: a text of megabytes is one sentence, not megabytes of work.
    """
    if not isinstance(text, str) or len(text) > MAX_LAYER_TEXT:
        raise ValueError(f"Hidden layers take at most {MAX_LAYER_TEXT} characters, e.g. 128, 64.")
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
    redraw: int = 0  # MNIST training digits redrawn with brushes and writing styles (model.training.extras.styles)

    def problems(self, limits: Limits) -> list[str]:
        """Every reason this run cannot start, as sentences; empty when it can."""
        found = []
        if not 1 <= len(self.hidden) <= limits.max_layers:
            found.append(f"Use 1 to {limits.max_layers} hidden layers (got {len(self.hidden)}).")
        else:  # at most `max_layers` sentences: a long list of bad layers is the sentence above
            for i, units in enumerate(self.hidden, 1):
                if not 1 <= units <= limits.max_units:
                    found.append(f"Hidden layer {i} must have 1 to {limits.max_units} units (got {units}).")
        for option in OPTIONS:
            value = getattr(self, option.field)
            if option.low is None or isinstance(value, (bool, tuple)):
                continue
            low, high = option.bounds(limits)
            if not (low < value if option.low_excluded else low <= value) or value > high:
                found.append(f"{option.label} must be {option.allowed(limits)} (got {number(value)}).")
        return found

    def as_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    def command(self, out: str = "model/mnist_ann.keras", data: str | None = None) -> str:
        """The `train.py` command line that repeats this run."""
        words = ["python", "train.py"]
        for option in OPTIONS:
            value = getattr(self, option.field)
            if isinstance(value, bool):
                words.append(option.flag if value else f"--no-{option.flag[2:]}")
            elif isinstance(value, tuple):
                words += [option.flag, *map(str, value)]
            else:
                words += [option.flag, repr(value)]  # repr: a float exactly as given, so the run repeats
        if data:
            words += ["--data", data]
        words += ["--out", out]
        return shlex.join(words)


def number(value: float) -> str:
    """1 → "1", 2048 → "2,048", 0.00001 → "0.00001": as a person writes it."""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.6f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Option:
    """One training option, declared once.

    `train.py`'s flag, the sidebar's widget (`ui.training`), the bounds that
    `TrainConfig.problems` checks and the reproduce command all come from
    this; the type comes from `TrainConfig`'s field.
    """

    field: str  # the TrainConfig field
    label: str  # the sidebar's label, and the option's name in messages
    help: str
    low: float | None = None  # the smallest value allowed (None: checked elsewhere)
    high: float | str | None = None  # the largest: a number, or the name of a `Limits` field
    low_excluded: bool = False  # the value must be above `low`
    on_page: bool = True  # offered in the sidebar (else train.py only)
    step: float | None = None  # the sidebar's step for a number

    @property
    def flag(self) -> str:
        return "--" + self.field.replace("_", "-")

    @property
    def default(self):
        return getattr(TrainConfig(), self.field)

    def bounds(self, limits: Limits) -> tuple[float, float]:
        high = getattr(limits, self.high) if isinstance(self.high, str) else self.high
        return self.low, high

    def allowed(self, limits: Limits) -> str:
        """ "1 to 50", "above 0 and at most 0.5": the values allowed, for messages and help."""
        low, high = self.bounds(limits)
        if self.low_excluded:
            return f"above {number(low)} and at most {number(high)}"
        return f"{number(low)} to {number(high)}"


OPTIONS = (
    Option("hidden", "Hidden layers", "units of each hidden layer, input side first"),
    Option("epochs", "Epochs", "passes over the training data", 1, "max_epochs"),
    Option("batch_size", "Batch size", "images per gradient step", 1, "max_batch_size"),
    Option(
        "learning_rate",
        "Learning rate",
        "Adam's learning rate at the start; it decays to zero along a cosine",
        0.00001,
        1.0,
        step=0.0005,
    ),
    Option("dropout", "Dropout", "share of each hidden layer's units dropped while training", 0.0, 0.8, step=0.05),
    Option(
        "seed",
        "Random seed",
        "for the weights, the shuffling and the validation split: same seed, same network",
        0,
        2**31 - 1,
    ),
    Option(
        "augment",
        "Augment",
        "distort every batch afresh (rotation, slant, size, shift, elastic wobble, stroke thickness): "
        "reads drawings better, takes longer per epoch",
    ),
    Option(
        "validation_split",
        "Validation split",
        "share of the training images held out to validate after each epoch",
        0.0,
        0.5,
        low_excluded=True,
        on_page=False,
    ),
    Option(
        "redraw",
        "Redrawn digits",
        "training digits redrawn as the canvas draws them, with random brush widths and the writing styles "
        "MNIST lacks: flagged 1s, crossed 7s, curled 9s, open 4s (model/training/extras/styles.py; about 1.5 ms "
        "each before training starts)",
        0,
        "max_redraw",
        on_page=False,
    ),
)


# What the app's sidebar offers before anyone changes it: small and quick
# (seconds on two cores), so a first retrain is a short wait.
SIDEBAR_DEFAULTS = TrainConfig(hidden=(128, 64), epochs=5, batch_size=128, dropout=0.2, learning_rate=0.001)
