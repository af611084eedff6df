"""Retrain the default with the handwriting a class shared: the shipped network, taught a class's hands.

No collection that may be shipped covers every hand: a class in Munich
writes its 1s and 7s unlike MNIST's writers. Visitors who share their
samples (`model.store.sharing`) give the owner what the shipped network
lacks. The retrain starts from the shipped network (not from the current
default, so that retraining again does not compound) and keeps training it
with its own recipe's distortions and dropout, on MNIST mixed with the
shared samples repeated to about a sixth of the mix, at a low learning rate:
it learns the class's hands without forgetting MNIST's.

What keeps one hostile contributor from poisoning it is decided before
(`model.store.sharing.split_pool`): flagged samples out, each contributor
capped. What shows whether it worked is measured here, before and after:
MNIST's test set, the held-out contributors (overall and per digit), and
the real-writer judges where the server has them prepared.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from model.reading.metrics import evaluate
from model.reading.network import NumpyNetwork
from model.settings import REAL_WRITERS_PREPARED, ROOT
from model.store.card import Scores
from model.store.network import Network
from model.store.sharing import SharedSet

EPOCHS = 3
LEARNING_RATE = 1e-4
JUDGES = {"DigiLeTs judge": "digilets", "UNIPEN judge": "unipen"}  # the prepared judges' arrays, by name


def judge_arrays(folder: str | Path | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The real-writer judges as the network sees them ((N, 28, 28) uint8, labels), where prepared; {} if not."""
    path = Path(folder or REAL_WRITERS_PREPARED.value() or ROOT / "data" / "real_writers") / "judge.npz"
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {
                name: (npz[f"{part}_inputs"], npz[f"{part}_label"])
                for name, part in JUDGES.items()
                if f"{part}_inputs" in npz.files
            }
    except (OSError, ValueError):
        return {}


def scores(net: NumpyNetwork, mnist_test: tuple, shared: SharedSet, judges: dict) -> dict:
    """What the report compares: MNIST test, the held-out contributors (and per digit), each judge."""
    x_test, y_test = mnist_test
    result = {"mnist": evaluate(net.probabilities_batched(x_test / 255.0), y_test).accuracy}
    if len(shared.held_y):
        held = evaluate(net.probabilities(shared.held_x / 255.0), shared.held_y)
        result["held_out"] = held.accuracy
        counts = np.bincount(shared.held_y, minlength=10)
        result["held_out_per_digit"] = [
            round(float(a), 4) if n else None for a, n in zip(held.per_class_accuracy, counts)
        ]
    for name, (x, y) in judges.items():
        result[name] = evaluate(net.probabilities(x / 255.0), y).accuracy
    return result


def retrain_with_shared(
    base: Network,
    mnist: tuple,
    shared: SharedSet,
    judges: dict | None = None,
    *,
    epochs: int = EPOCHS,
    learning_rate: float = LEARNING_RATE,
    seed: int = 0,
    on_progress=None,
    should_stop=None,
) -> Network:
    """The shipped network `base` trained further on MNIST and `shared`; its card says how, and before/after."""
    import keras

    from model.training.ann import to_keras, train
    from model.training.finetune import training_mix

    if len(shared.train_y) == 0:
        raise ValueError("There is no shared sample to train on (beyond the held-out contributors' and the flagged).")
    started = time.perf_counter()
    judges = judge_arrays() if judges is None else judges
    (x_train, y_train), test = mnist
    before = scores(base.net, test, shared, judges)
    keras.utils.set_random_seed(seed)
    model = to_keras(base.net, dropout=base.card.dropout)
    x, y = training_mix(x_train, y_train, shared.train_x, shared.train_y, seed, mnist_subset=len(x_train))
    history = train(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=int(base.card.hyperparameters.get("batch_size", 128)),
        learning_rate=learning_rate,
        validation_split=float(base.card.hyperparameters.get("validation_split", 0.05)),
        seed=seed,
        augment=bool(base.card.hyperparameters.get("augment", True)),
        on_progress=on_progress,
        should_stop=should_stop,
    )
    net = NumpyNetwork.from_keras(model)
    after = scores(net, test, shared, judges)
    x_test, y_test = test
    report = {
        "contributors": int(len(np.unique(shared.train_contributors))),
        "trained_on": int(len(shared.train_y)),
        "held_out_contributors": int(len(np.unique(shared.held_contributors))),
        "held_out": int(len(shared.held_y)),
        "flagged_out": shared.flagged_out,
        "removed": shared.removed,
        "capped_out": shared.capped_out,
        "epochs": len(history.get("loss", [])),
        "learning_rate": learning_rate,
        "before": before,
        "after": after,
        "seconds": round(time.perf_counter() - started, 1),
    }
    test_scores = evaluate(net.probabilities_batched(x_test / 255.0), y_test)
    card = replace(
        base.card,
        test=Scores.from_evaluation(test_scores),
        command=None,  # the command made the base, not this network
        model_sha256=None,
        weights_sha256=None,
        history={key: [round(v, 5) for v in values] for key, values in history.items()},
        notes={
            "trained_on": (
                f"{base.card.notes.get('trained_on', 'the shipped network').rstrip('.')}; then trained further "
                f"on {report['trained_on']:,} samples shared by {report['contributors']} contributors of this "
                "server's class (CC0), mixed with MNIST."
            )
        },
        other={**base.card.other, "shared": report},
    )
    return Network(net, card)
