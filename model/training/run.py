"""One whole training run, as `train.py` and the app's sidebar both do it.

build → train (with progress) → evaluate on the test set → model card. The
caller decides what to show while it runs and where to save the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import keras
import numpy as np

from model.config import TrainConfig
from model.reading.metrics import evaluate
from model.reading.network import NumpyNetwork
from model.store.card import ModelCard, make_card
from model.training.distill import Distillation, load_teacher
from model.training.keras_ann import ProgressHook, build_ann, train
from model.training.real import in_words


@dataclass
class TrainedNetwork:
    model: keras.Model
    net: NumpyNetwork
    card: ModelCard


def fit_network(
    config: TrainConfig,
    mnist: tuple,
    data_info: dict,
    command: str,
    on_progress: ProgressHook | None = None,
    should_stop: Callable[[], bool] | None = None,
    extra: RealExtra | None = None,
    teacher: Teacher | None = None,
) -> TrainedNetwork:
    """Train a network as `config` says on `mnist` ((x_train, y_train), (x_test, y_test)).

    `data_info` (source, sha256) and `command` (how to repeat the run) go
    into the card as they are. `extra` adds real writers' digits to the
    training part (`model.training.real`), `teacher` distils a stronger
    network into this one (`model.training.distill`); the card's data and
    notes say which.
    """
    (x_train, y_train), (x_test, y_test) = mnist
    keras.utils.set_random_seed(config.seed)  # the initial weights depend on it
    model = build_ann(config.hidden, dropout=config.dropout)
    started = time.perf_counter()
    history = train(
        model,
        x_train,
        y_train,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        validation_split=config.validation_split,
        seed=config.seed,
        augment=config.augment,
        redraw=config.redraw,
        extra=(extra.images, extra.labels) if extra else None,
        teacher=[load_teacher(path) for path in teacher.paths] if teacher else None,
        distillation=teacher.distillation if teacher else None,
        on_progress=on_progress,
        should_stop=should_stop,
    )
    seconds = time.perf_counter() - started
    net = NumpyNetwork.from_keras(model)
    test = evaluate(net.probabilities_batched(x_test.astype(np.float32) / 255.0), y_test)
    data = {**data_info, "train_images": int(len(x_train)), "test_images": int(len(x_test))}
    words = []
    if extra:
        data["extra_real"] = extra.info
        words.append(in_words(extra.info))
    if teacher:
        data["teacher"] = teacher.info()
        words.append(teacher.in_words(data["teacher"]))
    card = make_card(config, net.parameter_count, test, history, seconds, data, command)
    if words:
        trained_on = card.notes.get("trained_on", "").rstrip(".")
        card = replace(card, notes={**card.notes, "trained_on": f"{trained_on}; and " + "; and ".join(words) + "."})
    return TrainedNetwork(model, net, card)


@dataclass(frozen=True)
class RealExtra:
    """Real writers' digits to add to the training part (`model.training.real.real_training_digits`)."""

    images: np.ndarray
    labels: np.ndarray
    info: dict


@dataclass(frozen=True)
class Teacher:
    """Networks to distil from, their answers averaged: `.keras` files, and how (`model.training.distill`)."""

    paths: tuple[str, ...]
    distillation: Distillation

    def info(self) -> dict:
        from model.store.data import file_sha256

        return {
            "paths": list(self.paths),
            "sha256": [file_sha256(path) for path in self.paths],
            "temperature": self.distillation.temperature,
            "alpha": self.distillation.alpha,
        }

    def in_words(self, info: dict) -> str:
        """What was distilled, for the card's notes; `info` is `self.info()` (its files hashed once)."""
        named = ", ".join(f"{path} (sha256 {sha[:12]}…)" for path, sha in zip(info["paths"], info["sha256"]))
        kind = "the convolutional network" if len(self.paths) == 1 else "the average of the convolutional networks"
        return (
            f"distilled from {kind} {named} (temperature {self.distillation.temperature:g}, "
            f"{self.distillation.alpha:.0%} of the loss on its answers)"
        )
