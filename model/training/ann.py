"""The Keras ANN, from start to finish: build it, train it, score it, write its card.

    fit_network(config, mnist, data_info, command) → Network

The network is the seed tutorials' one, with any hidden sizes:
Flatten(28×28) → Dense(n, ReLU) [→ Dropout] … → Dense(10, softmax), trained
with Adam on sparse categorical cross-entropy. `train.py` and the page's
training worker both call `fit_network`; the result is a `Network` (the
weights as the page reads them, in NumPy, and the card). How training is
made fast on two cores is `model.training.speed`'s business; what real
writers and a teacher add is `model.training.extras`'.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the CLI

import keras
import numpy as np

from model.config import TrainConfig
from model.progress import ProgressHook
from model.reading.metrics import evaluate
from model.reading.network import NumpyNetwork
from model.store.card import ModelCard, make_card
from model.store.network import Network
from model.store.network_file import write_network_file
from model.training.speed import VALIDATION_BATCH_SIZE, ProgressCallback, compiled_twin, training_batches

if TYPE_CHECKING:
    from model.training.extras.distill import Distillation, Teacher
    from model.training.extras.real import RealExtra


def build_ann(hidden: tuple[int, ...] = (128, 64), dropout: float = 0.0) -> keras.Sequential:
    """A Flatten → Dense(ReLU)… → Dense(10, softmax) network, not compiled (`train` trains a compiled twin)."""
    layers: list = [keras.Input(shape=(28, 28), name="image"), keras.layers.Flatten(name="flatten")]
    for i, units in enumerate(hidden, 1):
        layers.append(keras.layers.Dense(units, activation="relu", name=f"hidden_{i}"))
        if dropout > 0:
            layers.append(keras.layers.Dropout(dropout, name=f"dropout_{i}"))
    layers.append(keras.layers.Dense(10, activation="softmax", name="output"))
    return keras.Sequential(layers, name="mnist_ann")


def fit_network(
    config: TrainConfig,
    mnist: tuple,
    data_info: dict,
    command: str,
    on_progress: ProgressHook | None = None,
    should_stop: Callable[[], bool] | None = None,
    extra: RealExtra | None = None,
    teacher: Teacher | None = None,
    start: Network | None = None,
) -> tuple[keras.Model, Network]:
    """Build and train a network as `config` says on `mnist` ((x_train, y_train), (x_test, y_test)), score it
    on the test set and write its card; return the Keras model (to save it) and the `Network`.

    `data_info` (source, sha256) and `command` (how to repeat the run) go
    into the card as they are. `extra` adds real writers' digits to the
    training part, `teacher` distils a stronger network into this one,
    `start` trains from that network's weights instead of new ones (a run
    that continues another); the card's data and notes say which.
    """
    (x_train, y_train), (x_test, y_test) = mnist
    keras.utils.set_random_seed(config.seed)  # the initial weights depend on it
    if start is not None and start.net.hidden != tuple(config.hidden):
        raise ValueError(f"The network to start from has hidden layers {start.net.hidden}, not {config.hidden}.")
    model = build_ann(config.hidden, dropout=config.dropout) if start is None else to_keras(start.net, config.dropout)
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
        teacher=teacher.models() if teacher else None,
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
        words.append(extra.in_words())
    if teacher:
        data["teacher"] = teacher.info()
        words.append(teacher.in_words(data["teacher"]))
    if start is not None:
        data["start"] = {"sha256": start.card.model_sha256, "command": start.card.command}
        words.append(f"trained on from the network made by `{start.card.command}` (sha256 {start.card.model_sha256})")
    card = make_card(config, net.parameter_count, test, history, seconds, data, command)
    if words:
        trained_on = card.notes.get("trained_on", "").rstrip(".")
        card = replace(card, notes={**card.notes, "trained_on": f"{trained_on}; and " + "; and ".join(words) + "."})
    return model, Network(net, card)


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
    learning_rate: float = 1e-3,
    validation_split: float = 0.1,
    seed: int = 0,
    augment: bool = False,
    redraw: int = 0,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    teacher: keras.Model | list[keras.Model] | None = None,
    distillation: Distillation | None = None,
    on_progress: ProgressHook | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, list[float]]:
    """Train on uint8 images `x` (N, 28, 28) and labels `y`; return the per-epoch history.

    A seeded `validation_split` of the data is held out and scored after each
    epoch, never distorted. With `augment`, every batch is distorted afresh
    (see `model.training.augment`). With `redraw`, that many digits of the training
    part are redrawn with canvas brushes and writing styles and added to it
    (see `model.training.extras.styles`; the validation part never has a redrawn twin).
    `extra` (images, labels) are added to the training part only, after the
    split and the redrawing (real writers, `model.training.extras.real`). With a
    `teacher` (or a list of them, averaged), the network also learns the teacher's softened answers
    (`model.training.extras.distill`; `distillation` sets the temperature and share).
    Training uses Adam and a
    learning rate that starts at `learning_rate` and decays to zero along a
    cosine: large steps first, and small ones at the end that settle the
    weights instead of bouncing around a minimum. Each call starts a fresh
    optimizer; `model` itself is left uncompiled (see `compiled_twin`).

    `on_progress` is called every few batches (`STEPS_PER_EXECUTION`) and
    at every epoch's end (see `Progress`); `should_stop`, checked at the same
    times, ends training there when it returns True.
    """
    keras.utils.set_random_seed(seed)
    (x_fit, y_fit), (x_val, y_val) = split_validation(x, y, validation_split, seed)
    if redraw:
        from model.training.extras.styles import redrawn_digits

        x_new, y_new = redrawn_digits(x_fit, y_fit, redraw, seed)
        x_fit, y_fit = np.concatenate([x_fit, x_new]), np.concatenate([y_fit, y_new.astype(y_fit.dtype)])
    if extra is not None and len(extra[0]):
        x_fit, y_fit = np.concatenate([x_fit, extra[0]]), np.concatenate([y_fit, extra[1].astype(y_fit.dtype)])
    if teacher is not None:
        from model.training.extras.distill import with_teacher

        distillation = distillation or Distillation()
        y_fit = with_teacher(teacher, x_fit, y_fit, distillation.temperature)
        y_val = with_teacher(teacher, x_val, y_val, distillation.temperature)
    else:
        distillation = None
    batches = -(-len(x_fit) // batch_size)
    with compiled_twin(model, learning_rate, epochs * batches, distillation) as twin:
        callbacks = [ProgressCallback(epochs, batches, on_progress, should_stop)]
        history = twin.fit(
            training_batches(x_fit, y_fit, batch_size, seed, augment),
            epochs=epochs,
            validation_data=(x_val.astype(np.float32) / 255.0, y_val),
            validation_batch_size=VALIDATION_BATCH_SIZE,
            shuffle=False,  # the pipeline shuffles, seeded
            callbacks=callbacks,
            verbose=0,
        )
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def to_keras(net: NumpyNetwork, dropout: float = 0.0) -> keras.Sequential:
    """A Keras model holding `net`'s weights (to save it, or to train it further with `train`)."""
    model = build_ann(net.hidden, dropout=dropout)
    model.set_weights(net.weights())
    return model


def keras_bytes(model: keras.Model) -> bytes:
    """The model as the bytes of a `.keras` file, without its optimizer's state.

    The optimizer's state would triple the size, and a fine-tune starts a
    fresh optimizer anyway. Bytes, not a file: a training worker may run on
    another machine, and the caller writes them (`save_network`).
    """
    copy = keras.Sequential.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        copy.save(path)
        return path.read_bytes()


def save_network(model: keras.Model, path: str | os.PathLike, card: ModelCard | None = None) -> Network:
    """Write the model and its card beside it, each atomically (`model.store.network_file`)."""
    return write_network_file(path, keras_bytes(model), card or ModelCard())


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load with Keras's safe mode on (no code from the file runs); `train` compiles it to train further."""
    return keras.models.load_model(path, compile=False, safe_mode=True)
