"""Which shared samples should not be trained on until the owner looks: flags, computed in NumPy.

A class's shared handwriting is mostly honest, but a mislabelled drawing, a
scribble or the same drawing saved fifty times teaches a network the wrong
thing. Three flags, each with its reason in words:

- **read as another digit**: the current default and a second opinion (a
  network of another kind, `model/second_opinion.keras`) both read the
  drawing, confidently, as the same other digit than its label;
- **near-blank**: fewer ink pixels than nearly any MNIST digit has (a dot,
  a short stroke);
- **near-duplicate**: all but the first of drawings that are the same image
  within a few grey levels (the same drawing saved again, or copied).

Flagged samples stay out of training unless the owner keeps them.
"""

from __future__ import annotations

import numpy as np

CONFIDENT = 0.9  # both readers this sure of another digit: a label to look at
MIN_INK_PIXELS = 20  # at half intensity and more; MNIST's training digits: 15 at the least, 22 at 1 in 10,000
DUPLICATE_MEAN_DIFFERENCE = 1.0  # grey levels (0-255), on average over the 784 pixels; two writers' plain 1s: 2 or more


def flag_reasons(
    images: np.ndarray, labels: np.ndarray, read_by_default: np.ndarray, read_by_second: np.ndarray
) -> list[str | None]:
    """For each sample (images (N, 28, 28) uint8, labels (N,), both readers' probabilities (N, 10)), why it is
    flagged, in words, or None."""
    reasons: list[str | None] = [None] * len(labels)
    first, second = read_by_default.argmax(axis=1), read_by_second.argmax(axis=1)
    sure = (read_by_default.max(axis=1) >= CONFIDENT) & (read_by_second.max(axis=1) >= CONFIDENT)
    for i in np.flatnonzero(sure & (first == second) & (first != labels)):
        reasons[i] = f"labelled {labels[i]}, read as {first[i]} by both networks"
    ink = (images >= 128).sum(axis=(1, 2))
    for i in np.flatnonzero(ink < MIN_INK_PIXELS):
        reasons[i] = reasons[i] or "near-blank: hardly any ink"
    for i, original in near_duplicates(images).items():
        reasons[i] = reasons[i] or f"a near-duplicate of sample {original + 1} of the pool"
    return reasons


def near_duplicates(images: np.ndarray) -> dict[int, int]:
    """Index → the index of the earlier image it nearly repeats (mean difference within
    `DUPLICATE_MEAN_DIFFERENCE` grey levels).

    Two such images hold nearly the same amount of ink, so each image is
    compared only with those whose total ink is within the limit of its own
    (in order of ink): exact, and cheap for a pool of thousands.
    """
    if len(images) == 0:
        return {}
    flat = images.reshape(len(images), -1).astype(np.int32)
    limit = DUPLICATE_MEAN_DIFFERENCE * flat.shape[1]
    ink = flat.sum(axis=1)
    order = np.argsort(ink, kind="stable")
    found: dict[int, int] = {}
    for n, i in enumerate(order):
        end = np.searchsorted(ink[order], ink[i] + limit, side="right")
        others = order[n + 1 : end]
        if not len(others):
            continue
        close = others[np.abs(flat[others] - flat[i]).sum(axis=1) <= limit]
        for j in close:  # the later of each pair repeats the earlier
            first, later = min(i, j), max(i, j)
            if later not in found or found[later] > first:
                found[later] = first
    return {later: first for later, first in found.items() if first not in found}
