"""Teach a trained network one person's handwriting without making it forget MNIST.

The network keeps training from where it is, on MNIST mixed with the
person's own samples. The samples are few (tens, not thousands), so they are
repeated until they make up about a sixth of what the network sees; MNIST
stays in the mix so that the old skill is rehearsed while the new one is
learnt, and the learning rate is low so the network adjusts instead of
starting over. A fixed fifth of the samples is never trained on: the
accuracy on those, before and after, shows whether the network learnt the
person's style rather than the particular drawings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.reading.metrics import Evaluation, evaluate
from model.reading.network import NumpyNetwork
from model.store.holdout import split_samples

SAMPLES_SHARE = 1 / 6  # of the training mix, after repetition
MNIST_SUBSET = 30_000  # MNIST images rehearsed per fine-tune: enough not to forget, quick on two cores


def training_mix(mnist_x, mnist_y, own_x, own_y, seed: int = 0, mnist_subset: int = MNIST_SUBSET):
    """MNIST (a seeded subset) and the samples repeated to about `SAMPLES_SHARE` of the mix."""
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(mnist_x))[:mnist_subset]
    x, y = mnist_x[chosen], mnist_y[chosen]
    if len(own_x) == 0:
        return x, y
    repeats = max(1, int(round(len(x) * SAMPLES_SHARE / (1 - SAMPLES_SHARE) / len(own_x))))
    return (np.concatenate([x, np.repeat(own_x, repeats, axis=0)]), np.concatenate([y, np.repeat(own_y, repeats)]))


@dataclass
class FineTuneReport:
    held_out_before: float | None  # accuracy on the held-out samples; None if there are none
    held_out_after: float | None
    mnist_before: float
    mnist_after: float
    trained_on: int  # own samples trained on (before repetition)
    held_out: int
    test: Evaluation  # the fine-tuned network on the MNIST test set, in full (for its card)

    def summary(self) -> dict:
        return {
            "held_out_before": self.held_out_before,
            "held_out_after": self.held_out_after,
            "mnist_before": self.mnist_before,
            "mnist_after": self.mnist_after,
            "trained_on": self.trained_on,
            "held_out": self.held_out,
            "mnist_count": self.test.count,
        }


def fine_tune(
    net: NumpyNetwork,
    mnist: tuple,
    samples: tuple,
    *,
    epochs: int = 2,
    learning_rate: float = 3e-4,
    dropout: float = 0.0,
    seed: int = 0,
    augment: bool = True,
    on_progress=None,
    should_stop=None,
    mnist_subset: int = MNIST_SUBSET,
) -> tuple[NumpyNetwork, FineTuneReport]:
    """Continue training `net` on MNIST mixed with `samples` = (images uint8, labels, ids).

    Returns the fine-tuned network (a new one; `net` is unchanged) and the
    before/after accuracies on the held-out samples and the MNIST test set.
    """
    import keras

    from model.training.ann import to_keras, train

    (x_train, y_train), (x_test, y_test) = mnist
    (own_x, own_y), (held_x, held_y) = split_samples(*samples)
    if len(own_x) == 0:
        raise ValueError("Fine-tuning needs at least one sample that is not held out: save a few more.")

    def accuracies(candidate: NumpyNetwork):
        held = evaluate(candidate.probabilities(held_x / 255.0), held_y).accuracy if len(held_x) else None
        return held, evaluate(candidate.probabilities_batched(x_test / 255.0), y_test)

    held_before, mnist_before = accuracies(net)
    keras.utils.set_random_seed(seed)
    model = to_keras(net, dropout=dropout)
    x, y = training_mix(x_train, y_train, own_x, own_y, seed, mnist_subset)
    train(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=128,
        learning_rate=learning_rate,
        seed=seed,
        augment=augment,
        on_progress=on_progress,
        should_stop=should_stop,
    )
    tuned = NumpyNetwork.from_keras(model)
    held_after, mnist_after = accuracies(tuned)
    report = FineTuneReport(
        held_before, held_after, mnist_before.accuracy, mnist_after.accuracy, len(own_x), len(held_x), mnist_after
    )
    return tuned, report
