"""One whole training run, as `train.py` and the app's sidebar both do it.

build → train (with progress) → evaluate on the test set → model card. The
caller decides what to show while it runs and where to save the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from model.config import TrainConfig
from model.reading.metrics import evaluate
from model.reading.network import NumpyNetwork
from model.store.card import ModelCard, make_card
from model.training.keras_ann import ProgressHook, build_ann, train


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
) -> TrainedNetwork:
    """Train a network as `config` says on `mnist` ((x_train, y_train), (x_test, y_test)).

    `data_info` (source, sha256) and `command` (how to repeat the run) go
    into the card as they are.
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
        on_progress=on_progress,
        should_stop=should_stop,
    )
    seconds = time.perf_counter() - started
    net = NumpyNetwork.from_keras(model)
    test = evaluate(net.probabilities_batched(x_test.astype(np.float32) / 255.0), y_test)
    data = {**data_info, "train_images": int(len(x_train)), "test_images": int(len(x_test))}
    card = make_card(config, net.parameter_count, test, history, seconds, data, command)
    return TrainedNetwork(model, net, card)
