"""TrainingJob: training in a child process, followed from the server, whatever the child does."""

import os
import time

from model.config import TrainConfig
from model.job import ROOT, JobResult, TrainingJob, train_network
from model.progress import Progress


def finish(job: TrainingJob, timeout_s: float = 120) -> TrainingJob:
    deadline = time.time() + timeout_s
    while not job.finished:
        assert time.time() < deadline, f"job still {job.state}: {job.status}"
        time.sleep(0.05)
    return job


def until_stopped(*, on_progress, should_stop) -> JobResult:
    batch = 0
    while not should_stop():
        batch += 1
        on_progress(Progress(1, 1, min(batch, 99), 100))
        time.sleep(0.01)
    return JobResult(None, {"batches": batch})


def dies(*, on_progress, should_stop):
    os._exit(3)  # as a crash or the out-of-memory killer would end it


def raises(*, on_progress, should_stop):
    raise ValueError("no such layer")


def test_training_in_a_child_brings_back_the_network_and_its_curves(tiny_mnist):
    config = TrainConfig(hidden=(16,), epochs=2, batch_size=64)
    job = finish(TrainingJob(train_network, (config, tiny_mnist, {}, "cmd")).start())
    assert job.state == "done" and job.error is None and job.fraction == 1.0
    assert job.result.net.hidden == (16,)
    assert job.result.card["test"]["accuracy"] > 0.5
    validation = [point.epoch for point in job.curve if point.split == "validation"]
    assert validation == [1.0, 2.0]
    assert any(point.split == "training" for point in job.curve)


def test_stop_ends_the_child_and_adds_nothing():
    job = TrainingJob(until_stopped).start()
    deadline = time.time() + 60
    while not job.curve:  # the child is running and reporting
        assert time.time() < deadline and not job.finished, job.error
        time.sleep(0.05)
    job.stop()
    assert finish(job).state == "stopped"


def test_a_child_that_dies_is_reported_not_waited_for():
    job = finish(TrainingJob(dies).start())
    assert job.state == "failed" and "exit code 3" in job.error


def test_an_error_in_the_child_comes_back_as_one_line():
    job = finish(TrainingJob(raises).start())
    assert job.state == "failed" and job.error == "ValueError: no such layer"


def test_following_a_job_does_not_import_tensorflow_into_the_server(tmp_path):
    """The server gets Progress and JobResult from the child; reading them must not pull TensorFlow in."""
    import subprocess
    import sys

    script = (
        "import sys, time\n"
        "from model.job import TrainingJob\n"
        "from tests.test_job import until_stopped, finish\n"
        "job = TrainingJob(until_stopped).start()\n"
        "while not job.curve: time.sleep(0.05)\n"
        "job.stop(); finish(job)\n"
        "print(job.state, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["stopped", "False", "False"], out.stderr[-2000:]
