"""How fast the sidebar's network trains: samples per second, seconds per epoch, the whole retrain.

Ours is `model.training.ann.train` (a seeded tf.data pipeline, the progress
hook, the cosine schedule) on the sidebar's default network. The reference,
in the same run, is the seed tutorials' way: `model.fit` on the float32
arrays with `validation_split`. Then the whole default retrain as the
sidebar runs it (`fit_network`: train + evaluate + card), with and without
augmentation.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from model.config import SIDEBAR_DEFAULTS
from model.store.data import load_mnist

EPOCHS = 4  # the first epoch includes tracing; the median of the others is reported


def epoch_seconds(fit) -> list[float]:
    """Run `fit(callback)` and return each epoch's wall time."""
    import keras

    marks = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            marks.append([time.perf_counter()])

        def on_epoch_end(self, epoch, logs=None):
            marks[-1].append(time.perf_counter())

    fit(Clock())
    return [end - start for start, end in marks]


def run() -> dict:
    import keras

    from model.training.ann import build_ann, fit_network, train

    (x_train, y_train), (x_test, y_test) = load_mnist()
    d = SIDEBAR_DEFAULTS
    n_fit = len(x_train) - int(round(len(x_train) * d.validation_split))

    keras.utils.set_random_seed(0)
    model = build_ann(d.hidden, d.dropout)
    ends = [time.perf_counter()]
    train(
        model,
        x_train,
        y_train,
        epochs=EPOCHS,
        batch_size=d.batch_size,
        learning_rate=d.learning_rate,
        on_progress=lambda p: ends.append(time.perf_counter()) if p.epoch_done else None,
    )
    ours = list(np.diff(ends))

    keras.utils.set_random_seed(0)
    reference_model = build_ann(d.hidden, d.dropout)
    reference_model.compile(  # the seed tutorials' way: a fixed learning rate, one batch per call
        optimizer=keras.optimizers.Adam(d.learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    x_float = x_train.astype(np.float32) / 255.0
    reference = epoch_seconds(
        lambda clock: reference_model.fit(
            x_float,
            y_train,
            epochs=EPOCHS,
            batch_size=d.batch_size,
            validation_split=d.validation_split,
            callbacks=[clock],
            verbose=0,
        )
    )

    data = ((x_train, y_train), (x_test, y_test))
    started = time.perf_counter()
    _, plain = fit_network(d, data, {}, "bench")
    retrain = time.perf_counter() - started
    started = time.perf_counter()
    _, augmented = fit_network(replace(d, augment=True), data, {}, "bench")
    retrain_augmented = time.perf_counter() - started

    ours_epoch, reference_epoch = float(np.median(ours[1:])), float(np.median(reference[1:]))
    return {
        "ours_seconds_per_epoch": ours_epoch,
        "ours_samples_per_second": n_fit / ours_epoch,
        "reference_seconds_per_epoch": reference_epoch,
        "reference_samples_per_second": n_fit / reference_epoch,
        "speedup": reference_epoch / ours_epoch,
        "retrain_seconds": retrain,
        "retrain_test_accuracy": plain.card.accuracy,
        "retrain_augmented_seconds": retrain_augmented,
        "retrain_augmented_test_accuracy": augmented.card.accuracy,
        "augmented_ratio": retrain_augmented / retrain,
        "epochs": d.epochs,
        "batch_size": d.batch_size,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:>32}: {value:.3f}" if isinstance(value, float) else f"{key:>32}: {value}")
