"""Progress events: the share of a run done, as the sidebar's bar shows it."""

import pytest

from model.progress import Progress


@pytest.mark.parametrize(
    ("epoch", "batch", "expected"),
    [(1, 0, 0.0), (1, 50, 0.125), (2, 100, 0.5), (4, 100, 1.0)],
)
def test_fraction_counts_whole_epochs_and_the_batches_of_this_one(epoch, batch, expected):
    assert Progress(epoch, 4, batch, 100).fraction == pytest.approx(expected)


def test_the_charted_curve_moves_at_most_every_few_seconds(monkeypatch):
    """The page redraws the curves' charts from `charted`: a redraw per refresh cost the training they show."""
    from model.jobs import service
    from model.jobs.service import Job, Kind

    now = [1000.0]
    monkeypatch.setattr(service.time, "monotonic", lambda: now[0])
    job = Job("visitor", Kind.TRAIN, None)
    job.on_progress(Progress(1, 2, 10, 100, {"loss": 2.0, "accuracy": 0.2}))
    assert len(job.charted) == 1, "the first point is drawn at once"
    for batch in (30, 50, 70):  # three more points within a second: the chart waits
        now[0] += 0.3
        job.on_progress(Progress(1, 2, batch, 100, {"loss": 1.0, "accuracy": 0.5}))
    assert len(job.curve) == 4 and len(job.charted) == 1
    now[0] += service.CHART_EVERY_S
    job.on_progress(Progress(1, 2, 90, 100, {"loss": 0.9, "accuracy": 0.6}))
    assert len(job.charted) == len(job.curve) == 5, "redrawn once the interval has passed"
    now[0] += 0.1
    job.on_progress(Progress(1, 2, 100, 100, {"val_loss": 0.8, "val_accuracy": 0.7}, epoch_done=True))
    assert len(job.charted) == 5, "an epoch's end waits for the interval too"
    now[0] += service.CHART_EVERY_S
    job.on_progress(Progress(2, 2, 10, 100, {"loss": 0.7, "accuracy": 0.8}))
    assert job.charted[-2].split == "validation" and len(job.charted) == 7
    assert job.charted is not job.curve, "the page draws a copy, not a list the worker's thread still grows"


def test_seconds_left_follows_the_pace_so_far(monkeypatch):
    """The page's refresh before a run's end waits for its network by this estimate."""
    from model.jobs import service
    from model.jobs.service import Job, Kind

    now = [50.0]
    monkeypatch.setattr(service.time, "monotonic", lambda: now[0])
    job = Job("visitor", Kind.TRAIN, None)
    assert job.seconds_left() is None, "no pace before the first progress"
    job.on_progress(Progress(1, 4, 1, 100))
    now[0] += 2.0
    job.on_progress(Progress(1, 4, 100, 100, epoch_done=True))  # a quarter in 2 s: 6 s to go
    assert job.seconds_left() == pytest.approx(6.0, rel=0.05)
    job.on_progress(Progress(4, 4, 100, 100, epoch_done=True))
    assert job.seconds_left() == 0.0


def test_the_warm_up_stops_once_a_visitors_run_waits_and_asks_at_most_twice_a_second(monkeypatch):
    from model.jobs import tasks

    now, asked, answers = [10.0], [], iter([False, True])
    monkeypatch.setattr(tasks.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(tasks, "visitor_waiting", lambda: asked.append(now[0]) or next(answers))
    should_stop = tasks._VisitorWaiting()
    assert should_stop() is False, "nobody waits yet"
    now[0] += 0.1
    assert should_stop() is False and len(asked) == 1, "not asked again within VISITOR_CHECK_SECONDS"
    now[0] += tasks.VISITOR_CHECK_SECONDS
    assert should_stop() is True, "a visitor's run waits: the warm-up steps aside"
    now[0] += tasks.VISITOR_CHECK_SECONDS
    assert should_stop() is True and len(asked) == 2, "and stays stopped without asking again"
