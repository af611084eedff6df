"""The Keras ANN: build it, train it with a progress hook, save and load it safely.

The network is the seed tutorials' one, with any hidden sizes:
Flatten(28×28) → Dense(n, ReLU) [→ Dropout] … → Dense(10, softmax), trained
with Adam on sparse categorical cross-entropy. Evaluation is in
`model.metrics` and fast inference in `model.inference`, both NumPy only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the CLI

import keras
import numpy as np

from model.atomic import atomic_write, atomic_write_json, exclusive
from model.card import backup_path, card_path
from model.data import file_sha256
from model.inference import DenseNet


@dataclass(frozen=True)
class Progress:
    """One step of training, as the progress hook sees it.

    `batch` counts the batches done in `epoch` (1-based) out of `batches`.
    `logs` holds the running training loss and accuracy within the epoch and,
    when `epoch_done`, also `val_loss` and `val_accuracy`.
    """

    epoch: int
    epochs: int
    batch: int
    batches: int
    logs: dict[str, float] = field(default_factory=dict)
    epoch_done: bool = False

    @property
    def fraction(self) -> float:
        """How much of the whole run is done, 0 to 1."""
        return ((self.epoch - 1) + self.batch / self.batches) / self.epochs


ProgressHook = Callable[[Progress], None]


def build_ann(
    hidden: tuple[int, ...] = (128, 64), dropout: float = 0.0, learning_rate: float = 1e-3
) -> keras.Sequential:
    """A compiled Flatten → Dense(ReLU)… → Dense(10, softmax) network."""
    layers: list = [keras.Input(shape=(28, 28), name="image"), keras.layers.Flatten(name="flatten")]
    for i, units in enumerate(hidden, 1):
        layers.append(keras.layers.Dense(units, activation="relu", name=f"hidden_{i}"))
        if dropout > 0:
            layers.append(keras.layers.Dropout(dropout, name=f"dropout_{i}"))
    layers.append(keras.layers.Dense(10, activation="softmax", name="output"))
    model = keras.Sequential(layers, name="mnist_ann")
    compile_ann(model, learning_rate)
    return model


def compile_ann(model: keras.Model, learning_rate: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def split_validation(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A seeded random split into (train, validation), so every class is in both."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(len(x) * fraction)))
    val, fit = order[:n_val], order[n_val:]
    return (x[fit], y[fit]), (x[val], y[val])


def train(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    validation_split: float = 0.1,
    seed: int = 0,
    on_progress: ProgressHook | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, list[float]]:
    """Train on uint8 images `x` (N, 28, 28) and labels `y`; return the per-epoch history.

    A seeded `validation_split` of the data is held out and scored after each
    epoch. The learning rate the model was compiled with is where a cosine
    decay to zero starts: large steps first, and small ones at the end that
    settle the weights instead of bouncing around a minimum.

    `on_progress` is called after every batch and at every epoch's end (see
    `Progress`); `should_stop`, checked after every batch, ends training at
    the end of that batch when it returns True.
    """
    keras.utils.set_random_seed(seed)
    (x_fit, y_fit), (x_val, y_val) = split_validation(x, y, validation_split, seed)
    x_fit = x_fit.astype(np.float32) / 255.0
    x_val = x_val.astype(np.float32) / 255.0
    batches = -(-len(x_fit) // batch_size)
    callbacks = [
        _CosineDecay(float(model.optimizer.learning_rate), epochs * batches),
        _ProgressCallback(epochs, batches, on_progress, should_stop),
    ]
    history = model.fit(
        x_fit,
        y_fit,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=(x_val, y_val),
        shuffle=True,
        callbacks=callbacks,
        verbose=0,
    )
    return {key: [float(v) for v in values] for key, values in history.history.items()}


class _CosineDecay(keras.callbacks.Callback):
    def __init__(self, initial: float, total_steps: int):
        super().__init__()
        self.initial, self.total_steps, self.step = initial, max(1, total_steps), 0

    def on_train_batch_begin(self, batch, logs=None):
        rate = 0.5 * self.initial * (1.0 + np.cos(np.pi * self.step / self.total_steps))
        self.model.optimizer.learning_rate.assign(rate)
        self.step += 1


class _ProgressCallback(keras.callbacks.Callback):
    """Turns Keras's callback calls into `Progress` events for any front end."""

    def __init__(self, epochs, batches, on_progress, should_stop):
        super().__init__()
        self.epochs, self.batches = epochs, batches
        self.on_progress, self.should_stop = on_progress, should_stop
        self.epoch = 1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.on_progress:
            self.on_progress(Progress(self.epoch, self.epochs, batch + 1, self.batches, _floats(logs)))
        if self.should_stop and self.should_stop():
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.on_progress:
            self.on_progress(
                Progress(self.epoch, self.epochs, self.batches, self.batches, _floats(logs), epoch_done=True)
            )


def _floats(logs) -> dict[str, float]:
    return {key: float(value) for key, value in (logs or {}).items()}


def to_keras(net: DenseNet, dropout: float = 0.0, learning_rate: float = 1e-3) -> keras.Sequential:
    """A compiled Keras model holding `net`'s weights (to save it or train it further)."""
    model = build_ann(net.hidden, dropout=dropout, learning_rate=learning_rate)
    model.set_weights(net.weights())
    return model


def save_model(
    model: keras.Model, path: str | os.PathLike, card: dict | None = None, backup: bool = False
) -> None:
    """Save the model and its JSON card beside it, each atomically.

    Each file is written to a temporary file and moved into place, so a crash
    or kill mid-save leaves the previous file intact. A lock keeps two savers
    (threads or processes) from pairing one's model with the other's card.
    With `backup`, the current model and card are first copied to
    `<name>.backup.keras` / `.backup.json`. The optimizer's state is left out
    (an uncompiled copy is saved): it would triple the file's size, and a
    fine-tune starts a fresh optimizer anyway.
    """
    path = Path(path)
    copy = keras.Sequential.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    with exclusive(path):
        if backup and path.exists():
            atomic_write(backup_path(path), lambda tmp: shutil.copyfile(path, tmp))
            if card_path(path).exists():
                atomic_write(card_path(backup_path(path)), lambda tmp: shutil.copyfile(card_path(path), tmp))
        atomic_write(path, lambda tmp: copy.save(tmp))
        if card is not None:
            atomic_write_json(card_path(path), {**card, "model_sha256": file_sha256(path)})


def load_model(path: str | os.PathLike, learning_rate: float = 1e-3) -> keras.Model:
    """Load with Keras's safe mode on (no code from the file runs), compiled for training."""
    model = keras.models.load_model(path, compile=False, safe_mode=True)
    compile_ann(model, learning_rate)
    return model
