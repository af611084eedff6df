"""How training is made fast on two CPU cores: what `model.training.ann.train` runs on.

None of this changes what a network learns, only how soon:

- each network is trained through a compiled twin (`compiled_twin`), kept
  per architecture, so that the next run of the same layer sizes skips
  compiling; its steps are compiled with XLA, and its dropout drawn in a
  way XLA compiles well (`TrainingDropout`);
- the learning rate's schedule (`CosineToZero`) lives in variables, so a
  kept twin takes a new run's numbers without compiling again;
- batches are gathered from one uint8 tensor (`training_batches`), and
  several run per call into TensorFlow (`STEPS_PER_EXECUTION`);
- Keras's callbacks become `Progress` events (`ProgressCallback`).
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from contextlib import contextmanager

import keras
import numpy as np

from model.progress import Progress
from model.training.extras.distill import Distillation

# Batches run per call into TensorFlow. One call per batch spends more time
# in Python than in the matrix products of a small network: 8 nearly doubled
# the samples per second, 32 takes Python's share further down. Progress and
# `should_stop` then come every 32 batches (about 0.1 s on two cores).
STEPS_PER_EXECUTION = 32
# The validation pass after each epoch needs no small batches: it only scores.
VALIDATION_BATCH_SIZE = 2048


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
# TensorFlow graphs) takes longer than one epoch of the sidebar's default
# network. A training worker keeps the last `MAX_COMPILED` networks it
# compiled and trains the next network of the same architecture on one of
# them.
MAX_COMPILED = 4
_compiled: OrderedDict[str, list[tuple[keras.Model, CosineToZero]]] = OrderedDict()
_compiled_lock = threading.Lock()


@contextmanager
def compiled_twin(model: keras.Model, learning_rate: float, steps: int, distillation: Distillation | None = None):
    """A compiled network of `model`'s architecture holding its weights, with a fresh optimizer for `steps`.

    What training does to the twin is copied back into `model` at the end;
    the twin goes back to this process's store for the next run. Each twin
    is used by one run at a time. With `distillation`, the twin's loss is
    `model.training.extras.distill`'s (its labels are (N, 11) rows).
    """
    key = _architecture(model) + (repr(distillation) if distillation else "")
    with _compiled_lock:
        kept = _compiled[key].pop() if _compiled.get(key) else None
    twin, schedule = kept or (_twin_of(model), CosineToZero())
    if kept is None:
        if distillation:
            from model.training.extras.distill import distillation_loss, label_accuracy

            loss, metrics = distillation_loss(distillation), [label_accuracy()]
        else:
            loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
        twin.compile(
            optimizer=keras.optimizers.Adam(learning_rate=schedule),
            loss=loss,
            metrics=metrics,
            steps_per_execution=STEPS_PER_EXECUTION,
            # XLA fuses each step's many small operations, which is where a small network's time goes on a
            # CPU; it costs a little more compiling at an architecture's first run (BENCHMARKS.md, "Training").
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

    Keras's own (`tf.nn.experimental.stateless_dropout`) compiles under XLA
    into something slower than no XLA at all; a uniform draw and a `where`
    compile well. Only the twin has it: every network saved or
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


class ProgressCallback(keras.callbacks.Callback):
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
