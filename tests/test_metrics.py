"""evaluate: the numbers in every card and table."""

import numpy as np
import pytest

from model.reading.metrics import evaluate, top_confusions


def one_hot(predicted, confidence=0.9):
    probs = np.full((len(predicted), 10), (1 - confidence) / 9)
    probs[np.arange(len(predicted)), predicted] = confidence
    return probs


def test_accuracy_per_class_and_confusion():
    labels = np.array([0, 0, 1, 1, 2, 2, 2, 3])
    predicted = np.array([0, 1, 1, 1, 2, 7, 7, 3])
    result = evaluate(one_hot(predicted), labels)
    assert result.accuracy == pytest.approx(5 / 8)
    assert result.per_class_accuracy[:4] == pytest.approx([0.5, 1.0, 1 / 3, 1.0])
    assert result.per_class_accuracy[4:] == [0.0] * 6  # absent classes count as 0, not NaN
    assert result.confusion[2][7] == 2 and result.confusion[0][1] == 1
    assert sum(map(sum, result.confusion)) == 8 and result.count == 8
    assert top_confusions(result.confusion)[0] == (2, 7, 2)


def test_loss_is_mean_cross_entropy():
    labels = np.array([3, 5])
    probs = one_hot(np.array([3, 4]), confidence=0.8)
    expected = -(np.log(0.8) + np.log(0.2 / 9)) / 2
    assert evaluate(probs, labels).loss == pytest.approx(expected)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="probabilities"):
        evaluate(np.zeros((3, 10)), np.zeros(4))
