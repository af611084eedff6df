"""Progress events: the share of a run done, as the sidebar's bar shows it."""

import pytest

from model.progress import Progress


@pytest.mark.parametrize(
    ("epoch", "batch", "expected"),
    [(1, 0, 0.0), (1, 50, 0.125), (2, 100, 0.5), (4, 100, 1.0)],
)
def test_fraction_counts_whole_epochs_and_the_batches_of_this_one(epoch, batch, expected):
    assert Progress(epoch, 4, batch, 100).fraction == pytest.approx(expected)
