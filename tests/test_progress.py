"""Progress events: the share of a run done, as the sidebar's bar shows it."""

import pytest

from model.progress import Progress


@pytest.mark.parametrize(
    ("epoch", "batch", "expected"),
    [(1, 0, 0.0), (1, 50, 0.125), (2, 100, 0.5), (4, 100, 1.0)],
)
def test_fraction_counts_whole_epochs_and_the_batches_of_this_one(epoch, batch, expected):
    assert Progress(epoch, 4, batch, 100).fraction == pytest.approx(expected)


def test_the_charted_curve_moves_at_each_epochs_end_and_at_most_every_few_seconds(monkeypatch):
    """The page redraws the curves' charts from `charted`: a redraw per refresh cost the training they show."""
    from model.jobs import queue
    from model.jobs.queue import TrainingJob

    now = [1000.0]
    monkeypatch.setattr(queue.time, "monotonic", lambda: now[0])
    job = TrainingJob("visitor", "training", print, ())
    job.on_progress(Progress(1, 2, 10, 100, {"loss": 2.0, "accuracy": 0.2}))
    assert len(job.charted) == 1, "the first point is drawn at once"
    for batch in (30, 50, 70):  # three more points within a second: the chart waits
        now[0] += 0.3
        job.on_progress(Progress(1, 2, batch, 100, {"loss": 1.0, "accuracy": 0.5}))
    assert len(job.curve) == 4 and len(job.charted) == 1
    now[0] += queue.CHART_EVERY_S
    job.on_progress(Progress(1, 2, 90, 100, {"loss": 0.9, "accuracy": 0.6}))
    assert len(job.charted) == len(job.curve) == 5, "redrawn once the interval has passed"
    now[0] += 0.1
    job.on_progress(Progress(1, 2, 100, 100, {"val_loss": 0.8, "val_accuracy": 0.7}, epoch_done=True))
    assert job.charted[-1].split == "validation", "an epoch's end is drawn at once"
    assert job.charted is not job.curve, "the page draws a copy, not a list the worker's thread still grows"
