"""How good a network is, from its predicted probabilities and the true labels.

Plain NumPy, so the same numbers come out of `train.py`, the app, the tests
and the benchmarks, whichever way the probabilities were computed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

CLASSES = 10


@dataclass(frozen=True)
class Evaluation:
    loss: float  # mean cross-entropy
    accuracy: float
    per_class_accuracy: list[float]  # recall of each digit 0-9 (NaN-free: 0 where absent)
    confusion: list[list[int]]  # confusion[true][predicted]
    count: int

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate(probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Loss, accuracy, per-class accuracy and confusion matrix."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    if probabilities.ndim != 2 or probabilities.shape != (len(labels), CLASSES):
        raise ValueError(f"Expected ({len(labels)}, {CLASSES}) probabilities, got {probabilities.shape}.")
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((CLASSES, CLASSES), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class_total = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), per_class_total, out=np.zeros(CLASSES), where=per_class_total > 0)
    true_prob = probabilities[np.arange(len(labels)), labels]
    loss = float(-np.log(np.clip(true_prob, 1e-7, 1.0)).mean())
    return Evaluation(
        loss=loss,
        accuracy=float((predicted == labels).mean()),
        per_class_accuracy=[float(v) for v in per_class],
        confusion=confusion.tolist(),
        count=int(len(labels)),
    )


def best_two(probabilities) -> tuple[int, int]:
    """The digit read and its runner-up, from one image's ten probabilities."""
    order = np.argsort(probabilities)[::-1]
    return int(order[0]), int(order[1])


def top_confusions(confusion: list[list[int]], n: int = 5) -> list[tuple[int, int, int]]:
    """The n most frequent mistakes as (true digit, predicted digit, count), most first."""
    pairs = [
        (true, pred, count)
        for true, row in enumerate(confusion)
        for pred, count in enumerate(row)
        if true != pred and count > 0
    ]
    return sorted(pairs, key=lambda p: -p[2])[:n]
