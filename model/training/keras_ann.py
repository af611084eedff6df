"""The Keras ANN: build it, train it with a progress hook, save and load it safely.

The network is the seed tutorials' one, with any hidden sizes:
Flatten(28×28) → Dense(n, ReLU) [→ Dropout] … → Dense(10, softmax), trained
with Adam on sparse categorical cross-entropy. Evaluation is in
`model.reading.metrics` and fast inference in `model.reading.network`, both NumPy only.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the CLI

import keras
import numpy as np

from model.progress import Progress, ProgressHook
from model.reading.network import NumpyNetwork
from model.store.card import ModelCard
from model.store.defaults import save_default
from model.training.distill import Distillation


def build_ann(hidden: tuple[int, ...] = (128, 64), dropout: float = 0.0) -> keras.Sequential:
    """A Flatten → Dense(ReLU)… → Dense(10, softmax) network, not compiled (`train` trains a compiled twin)."""
    layers: list = [keras.Input(shape=(28, 28), name="image"), keras.layers.Flatten(name="flatten")]
    for i, units in enumerate(hidden, 1):
        layers.append(keras.layers.Dense(units, activation="relu", name=f"hidden_{i}"))
        if dropout > 0:
            layers.append(keras.layers.Dropout(dropout, name=f"dropout_{i}"))
    layers.append(keras.layers.Dense(10, activation="softmax", name="output"))
    return keras.Sequential(layers, name="mnist_ann")


# Batches run per call into TensorFlow. One call per batch spends more time
# in Python than in the matrix products of a small network: 8 nearly doubled
# the samples per second, 32 takes Python's share further down. Progress and
# `should_stop` then come every 32 batches (about 0.1 s on two cores).
STEPS_PER_EXECUTION = 32
# The validation pass after each epoch needs no small batches: it only scores.
VALIDATION_BATCH_SIZE = 2048


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
    (see `model.training.styles`; the validation part never has a redrawn twin).
    `extra` (images, labels) are added to the training part only, after the
    split and the redrawing (real writers, `model.training.real`). With a
    `teacher` (or a list of them, averaged), the network also learns the teacher's softened answers
    (`model.training.distill`; `distillation` sets the temperature and share).
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
        from model.training.styles import redrawn_digits

        x_new, y_new = redrawn_digits(x_fit, y_fit, redraw, seed)
        x_fit, y_fit = np.concatenate([x_fit, x_new]), np.concatenate([y_fit, y_new.astype(y_fit.dtype)])
    if extra is not None and len(extra[0]):
        x_fit, y_fit = np.concatenate([x_fit, extra[0]]), np.concatenate([y_fit, extra[1].astype(y_fit.dtype)])
    if teacher is not None:
        from model.training.distill import with_teacher

        distillation = distillation or Distillation()
        y_fit = with_teacher(teacher, x_fit, y_fit, distillation.temperature)
        y_val = with_teacher(teacher, x_val, y_val, distillation.temperature)
    else:
        distillation = None
    batches = -(-len(x_fit) // batch_size)
    with compiled_twin(model, learning_rate, epochs * batches, distillation) as twin:
        callbacks = [_ProgressCallback(epochs, batches, on_progress, should_stop)]
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


class CosineToZero(keras.optimizers.schedules.LearningRateSchedule):
    """Keras's `CosineDecay` down to zero, with its start and its length held in variables.

    Keras compiles a schedule's numbers into the training step; held in
    variables, they change from one run to the next without compiling again.
    """

    def __init__(self):
        self.start = keras.Variable(0.0, trainable=False, name="learning_rate_start")
        self.steps = keras.Variable(1.0, trainable=False, name="learning_rate_steps")

    def restart(self, start: float, steps: int) -> None:
        self.start.assign(start)
        self.steps.assign(max(1, steps))

    def __call__(self, step):
        done = keras.ops.minimum(keras.ops.cast(step, "float32") / self.steps, 1.0)
        return self.start * 0.5 * (1.0 + keras.ops.cos(math.pi * done))

    def get_config(self):
        return {}


# Compiling a network's training and validation steps (tracing them into
# TensorFlow graphs) took about 1.5 s of each sidebar default run, longer
# than one of its epochs. A training worker keeps the last `MAX_COMPILED`
# networks it compiled and trains the next network of the same architecture
# on one of them.
MAX_COMPILED = 4
_compiled: OrderedDict[str, list[tuple[keras.Model, CosineToZero]]] = OrderedDict()
_compiled_lock = threading.Lock()


@contextmanager
def compiled_twin(model: keras.Model, learning_rate: float, steps: int, distillation: Distillation | None = None):
    """A compiled network of `model`'s architecture holding its weights, with a fresh optimizer for `steps`.

    What training does to the twin is copied back into `model` at the end;
    the twin goes back to this process's store for the next run. Each twin
    is used by one run at a time. With `distillation`, the twin's loss is
    `model.training.distill`'s (its labels are (N, 11) rows).
    """
    key = _architecture(model) + (repr(distillation) if distillation else "")
    with _compiled_lock:
        kept = _compiled[key].pop() if _compiled.get(key) else None
    twin, schedule = kept or (_twin_of(model), CosineToZero())
    if kept is None:
        if distillation:
            from model.training.distill import distillation_loss, label_accuracy

            loss, metrics = distillation_loss(distillation), [label_accuracy()]
        else:
            loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
        twin.compile(
            optimizer=keras.optimizers.Adam(learning_rate=schedule),
            loss=loss,
            metrics=metrics,
            steps_per_execution=STEPS_PER_EXECUTION,
            # XLA fuses each step's small operations: on 2 cores a kept default network's 5 epochs took
            # 3.5-4.9 s instead of 4.7-5.6 s (784-512-256-128: 4.3 against 5.3 s; 1024-1024: the same),
            # for 0.5-1 s more compiling on the first run of an architecture. (`TrainingDropout` below.)
            jit_compile=True,
        )
    for variable in twin.optimizer.variables:  # a fresh optimizer: no steps taken, no moments
        variable.assign(keras.ops.zeros_like(variable))
    schedule.restart(learning_rate, steps)
    # `variables`, not `weights`: the dropout layers' random state too, so a seed means the same run.
    _copy(model.variables, twin.variables)
    yield twin
    _copy(twin.variables, model.variables)
    with _compiled_lock:
        _compiled.setdefault(key, []).append((twin, schedule))
        _compiled.move_to_end(key)
        while sum(len(twins) for twins in _compiled.values()) > MAX_COMPILED:
            oldest = next(iter(_compiled))
            _compiled[oldest].pop(0)
            if not _compiled[oldest]:
                del _compiled[oldest]


class TrainingDropout(keras.layers.Dropout):
    """Keras's `Dropout` as the compiled twin trains with it: the same odds, drawn with ops XLA compiles well.

    Keras's own (`tf.nn.experimental.stateless_dropout`) made an XLA-compiled
    epoch of the sidebar's default network 3× slower on the CPU (3.1 s
    against 1.0 s without XLA); a uniform draw and a `where` make it 1.2-1.5×
    faster than without XLA. Only the twin has it: every network saved or
    shown has Keras's own layer, which holds the same variables.
    """

    def call(self, inputs, training=False):
        if not training or self.rate == 0 or self.noise_shape is not None:
            return super().call(inputs, training=training)
        import tensorflow as tf

        # `keras.random.uniform` leaves TensorFlow to choose the generator ("auto_select"), which XLA
        # compiled as slowly as Keras's dropout; naming it, as here, is what is fast.
        seed = tf.cast(tf.math.floormod(self.seed_generator.next(), tf.int32.max - 1), tf.int32)
        keep = tf.random.stateless_uniform(tf.shape(inputs), seed=seed, alg="philox") >= self.rate
        return tf.where(keep, inputs / (1 - self.rate), tf.zeros_like(inputs))


def _twin_of(model: keras.Model) -> keras.Sequential:
    """A new network of `model`'s architecture, its dropout layers `TrainingDropout`."""
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "Dropout":
            layer.update(class_name="TrainingDropout", registered_name="TrainingDropout", module=None)
    with keras.saving.CustomObjectScope({"TrainingDropout": TrainingDropout}):
        return keras.Sequential.from_config(config)


def has_compiled_twin(model: keras.Model) -> bool:
    """Whether this process keeps a compiled network of `model`'s architecture for its next run."""
    with _compiled_lock:
        return bool(_compiled.get(_architecture(model)))


def _architecture(model: keras.Model) -> str:
    return json.dumps(model.get_config(), sort_keys=True, default=str)


def _copy(sources, targets) -> None:
    for source, target in zip(sources, targets, strict=True):
        target.assign(source.value)


def training_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, augment: bool):
    """A `tf.data` pipeline: shuffled each epoch (seeded), batched, scaled to [0, 1], maybe distorted.

    The images stay uint8 in one tensor (a quarter of float32's size); what
    is shuffled is their indices, and each batch is gathered and converted
    in one step, instead of passing 54,000 single images through the
    pipeline every epoch. Distortion runs in parallel with training.
    """
    import tensorflow as tf

    from model.training.augment import augment as distort

    images, labels = tf.constant(x), tf.constant(y)

    def gather(indices):
        return tf.cast(tf.gather(images, indices), tf.float32) / 255.0, tf.gather(labels, indices)

    batches = (
        tf.data.Dataset.range(len(x))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(gather)
    )
    if augment:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        batches = tf.data.Dataset.zip((batches, seeds)).map(
            lambda batch, s: (distort(batch[0], s), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return batches.prefetch(tf.data.AUTOTUNE)


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
            done = min(batch + 1, self.batches)  # `batch` is the last of the steps just run
            self.on_progress(Progress(self.epoch, self.epochs, done, self.batches, _floats(logs)))
        if self.should_stop and self.should_stop():
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.on_progress:
            self.on_progress(
                Progress(self.epoch, self.epochs, self.batches, self.batches, _floats(logs), epoch_done=True)
            )


def _floats(logs) -> dict[str, float]:
    return {key: float(value) for key, value in (logs or {}).items()}


def to_keras(net: NumpyNetwork, dropout: float = 0.0) -> keras.Sequential:
    """A Keras model holding `net`'s weights (to save it, or to train it further with `train`)."""
    model = build_ann(net.hidden, dropout=dropout)
    model.set_weights(net.weights())
    return model


def keras_bytes(model: keras.Model) -> bytes:
    """The model as the bytes of a `.keras` file, without its optimizer's state.

    The optimizer's state would triple the size, and a fine-tune starts a
    fresh optimizer anyway. Bytes, not a file: a training worker may run on
    another machine, and the server writes them (`model.store.defaults`).
    """
    copy = keras.Sequential.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        copy.save(path)
        return path.read_bytes()


def save_model(model: keras.Model, path: str | os.PathLike, card: ModelCard | None = None) -> None:
    """Save the model and its card beside it, atomically, keeping the previous pair in the history.

    See `model.store.defaults.save_default`: the card gets the network's sha256, so
    a reader can tell a matching pair from one a kill cut short.
    """
    save_default(path, keras_bytes(model), card or ModelCard(), NumpyNetwork.from_keras(model))


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load with Keras's safe mode on (no code from the file runs); `train` compiles it to train further."""
    return keras.models.load_model(path, compile=False, safe_mode=True)
