"""Which of a person's samples are never trained on, so that a fine-tune can be judged on them.

A fixed fifth, chosen by each sample's id: a sample stays on its side as
more samples are added, and the page can say how many will be trained on
without importing anything of training.
"""

from __future__ import annotations

import hashlib

import numpy as np

HOLDOUT_SHARE = 0.2


def is_held_out(sample_id: str) -> bool:
    """A fixed fifth of the samples, chosen by id: it stays held out as more samples are added."""
    return hashlib.sha256(sample_id.encode()).digest()[0] < 256 * HOLDOUT_SHARE


def split_samples(images: np.ndarray, labels: np.ndarray, ids: list[str]):
    """((train images, labels), (held-out images, labels))."""
    held = np.array([is_held_out(i) for i in ids], dtype=bool)
    return (images[~held], labels[~held]), (images[held], labels[held])
