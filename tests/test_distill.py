"""Distillation (model/training/extras/distill.py) and the CNN it distils from (model/training/extras/cnn.py)."""

import numpy as np
import pytest

from model.reading.cnn import NumpyCNN
from model.training.extras.distill import Distillation, distillation_loss, soften, with_teacher


def test_softening_keeps_the_order_and_flattens():
    p = np.array([[0.9, 0.09, 0.01] + [0.0] * 7], np.float32)
    soft = soften(p, 4.0)
    assert soft.sum() == pytest.approx(1.0) and soft.argmax() == 0
    assert soft[0, 0] < 0.9 and soft[0, 1] > 0.09 and soft[0, 1] > soft[0, 2]
    np.testing.assert_allclose(soften(p, 1.0)[0, :3], p[0, :3], atol=1e-6)


def test_the_loss_is_cross_entropy_when_the_teacher_agrees_at_temperature_one():
    import keras

    probabilities = np.array([[0.7, 0.2, 0.1] + [0.0] * 7, [0.1, 0.8, 0.1] + [0.0] * 7], np.float32)
    probabilities = (probabilities + 1e-6) / (probabilities + 1e-6).sum(axis=1, keepdims=True)
    labels = np.array([0.0, 1.0], np.float32)
    one_hot = np.eye(10, dtype=np.float32)[[0, 1]]
    targets = np.concatenate([labels[:, None], one_hot], axis=1)
    cross_entropy = keras.losses.sparse_categorical_crossentropy(labels.astype(int), probabilities).numpy()
    for alpha in (0.0, 0.5, 1.0):
        loss = distillation_loss(Distillation(1.0, alpha if alpha else 1e-9))(targets, probabilities).numpy()
        np.testing.assert_allclose(loss, cross_entropy, rtol=1e-3)


def test_bad_settings_are_sentences():
    assert Distillation().problems() == []
    assert "temperature" in Distillation(0.5, 0.5).problems()[0]
    assert "share" in Distillation(4.0, 0.0).problems()[0]


def test_the_cnn_reads_the_same_in_numpy_and_keras_and_teaches_soft_targets(tmp_path):
    import keras

    from model.training.ann import keras_bytes
    from model.training.extras.cnn import build_cnn

    keras.utils.set_random_seed(1)
    cnn = build_cnn()
    path = tmp_path / "cnn.keras"
    path.write_bytes(keras_bytes(cnn))
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28)).astype(np.uint8)
    expected = cnn(images.astype(np.float32) / 255.0, training=False).numpy()
    np.testing.assert_allclose(NumpyCNN.load(path).probabilities(images / 255.0), expected, atol=1e-5)
    assert path.stat().st_size < 1 << 20, "small enough to keep beside the tests"
    targets = with_teacher(cnn, images, np.arange(7), 4.0)
    assert targets.shape == (7, 11) and (targets[:, 0] == np.arange(7)).all()
    np.testing.assert_allclose(targets[:, 1:].sum(axis=1), 1.0, rtol=1e-5)
