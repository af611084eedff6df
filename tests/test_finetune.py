"""Fine-tuning on a person's own samples: their style is learnt, MNIST is not forgotten."""

import numpy as np
import pytest

from bench.digit_styles import styled_digits
from model.config import TrainConfig
from model.reading.preprocess import to_mnist
from model.store.holdout import is_held_out, split_samples
from model.store.samples import new_id
from model.training.ann import fit_network
from model.training.finetune import fine_tune, training_mix


def test_held_out_share_is_about_a_fifth_and_stable():
    ids = [new_id() for _ in range(2000)]
    held = [is_held_out(i) for i in ids]
    assert 0.15 < np.mean(held) < 0.25
    assert held == [is_held_out(i) for i in ids], "the same sample is always on the same side"


def test_training_mix_repeats_the_samples_to_about_a_sixth():
    mnist_x, mnist_y = np.zeros((6000, 28, 28), np.uint8), np.zeros(6000, np.uint8)
    own_x, own_y = np.ones((20, 28, 28), np.uint8), np.full(20, 3, np.uint8)
    x, y = training_mix(mnist_x, mnist_y, own_x, own_y, mnist_subset=5000)
    share = (y == 3).mean()
    assert len(x) == len(y) and 0.14 < share < 0.19


@pytest.fixture(scope="module")
def own_samples():
    """A "person" whose digits are in styles the tiny training set never shows."""
    canvases = list(styled_digits(per_style=8, seed=99))
    images = np.stack([np.rint(to_mnist(c) * 255).astype(np.uint8) for c, _ in canvases])
    labels = np.array([label for _, label in canvases], np.uint8)
    # Fixed ids, so the held-out fifth (chosen by a hash of the id) is the same every run.
    return images, labels, [f"20260101T000000{i:06d}-{i:010x}" for i in range(len(labels))]


def test_fine_tuning_learns_the_persons_style(tiny_mnist, own_samples):
    base = fit_network(TrainConfig(hidden=(64,), epochs=2, batch_size=64), tiny_mnist, {}, "cmd")[1].net
    tuned, report = fine_tune(
        base, tiny_mnist, own_samples, epochs=3, learning_rate=1e-3, augment=False, mnist_subset=2000
    )
    (_, _), (held_x, held_y) = split_samples(*own_samples)
    assert report.held_out == len(held_x) > 10
    # Measured 72.5% → 85% (+12.5 points); asked: +5 points, a margin of 7.5 for other machines' rounding.
    assert report.held_out_after >= report.held_out_before + 0.05, report
    assert report.mnist_after > report.mnist_before - 0.05, "the old skill is kept"
    assert tuned is not base and not np.array_equal(tuned.kernels[0], base.kernels[0])


def test_fine_tuning_needs_a_sample_to_train_on(tiny_mnist, own_samples):
    images, labels, ids = own_samples
    held = [i for i, sample_id in enumerate(ids) if is_held_out(sample_id)][:2]
    base = fit_network(TrainConfig(hidden=(8,), epochs=1), tiny_mnist, {}, "cmd")[1].net
    with pytest.raises(ValueError, match="at least one sample"):
        fine_tune(base, tiny_mnist, (images[held], labels[held], [ids[i] for i in held]))
