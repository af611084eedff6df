"""What runs on a Dask worker: a training run or a fine-tune, each giving a `Network`.

`model.jobs.service.TASKS` names the function of each kind of job. They are sent
to a worker by name, with small arguments (the job's spec: a `TrainConfig`,
or a network's weights and a person's few samples) and the names of the
job's `distributed.Queue` (progress out) and `distributed.Event` (stop
in). Never MNIST: each worker loads it once from its own `MNIST_PATH`
(`worker_mnist`) and keeps it, and TensorFlow is imported once per worker
process, so every run after the first starts at once. A run stops itself
at its spec's `limit_s` of training, whatever was asked, so that one
visitor cannot hold the workers for long; its card then says so.
"""

from __future__ import annotations

import functools
import time
from dataclasses import replace

from model.jobs.cluster import PRIORITY_VAR
from model.progress import Progress
from model.store.network import Network

STOP_CHECK_SECONDS = 0.5  # how often a run asks the scheduler whether it was told to stop
# Each progress message is a round trip to the scheduler that the training waits for; the page looks once
# a second (`ui.training.REFRESH_S`), so sending more often than this shows nothing more.
PROGRESS_EVERY_SECONDS = 0.25
VISITOR_CHECK_SECONDS = 0.5  # how often the warm-up asks the scheduler whether a visitor's run waits for it


@functools.cache
def lower_priority() -> None:
    """Once per worker, in the thread that runs its tasks: train on CPU time nobody else wants.

    A local cluster shares its cores with the page (`model.jobs.cluster`
    sets `TRAINING_PRIORITY=idle`). Linux's `SCHED_IDLE` runs a thread only
    when no ordinary thread wants the core: training uses every core while
    the page is quiet and steps aside, at once, for each visitor's stroke.
    A thread inherits its creator's policy, so the TensorFlow threads this
    thread starts later (at its first training) run at it too, while the
    worker's own threads (its connection to the scheduler) keep theirs.
    """
    import os
    import threading

    if os.environ.get(PRIORITY_VAR) != "idle":
        return
    try:
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))
    except (OSError, AttributeError):  # not Linux: the nice value is the next best thing
        os.setpriority(os.PRIO_PROCESS, 0, 19)


@functools.cache
def worker_mnist() -> tuple[tuple, dict]:
    """MNIST as this worker finds it (its own MNIST_PATH, else Keras's download), once per process."""
    from model.store.data import load_mnist, mnist_source, provenance
    from model.training.download import download_mnist

    lower_priority()
    source = mnist_source()
    data = load_mnist(source, download=download_mnist)
    return data, provenance(source)


def warm_up() -> str:
    """Import TensorFlow, load MNIST and train the sidebar's default network once: the first run waits for none of it.

    The run (one epoch on the whole of MNIST) leaves that network's
    training step compiled, kept for the next run of
    the same architecture (`model.training.speed.compiled_twin`), and TensorFlow's
    memory for MNIST-sized batches set up (a run on a slice of MNIST left
    the visitor's first run slower than the second). The
    app sends it with the lowest priority, so a visitor's run asked before
    it starts goes first; one asked while it trains waits only for its
    compiling (and the validation pass that ends a stopped epoch): it stops
    at the first check that finds a visitor's run waiting
    (`VISITOR_CHECK_SECONDS`).
    """
    lower_priority()
    from model.config import SIDEBAR_DEFAULTS as default
    from model.training.ann import build_ann, train
    from model.training.speed import has_compiled_twin

    ((x, y), _), _ = worker_mnist()
    network = build_ann(default.hidden, dropout=default.dropout)
    if has_compiled_twin(network):  # a visitor's run came first and did it
        return "warm"
    train(
        network,
        x,
        y,
        epochs=1,
        batch_size=default.batch_size,
        validation_split=default.validation_split,
        should_stop=_VisitorWaiting(),
    )
    return "warm"


class _VisitorWaiting:
    """The warm-up's `should_stop`: True from the first check that finds a visitor's run waiting."""

    def __init__(self):
        self.checked = -float("inf")
        self.waiting = False

    def __call__(self) -> bool:
        if not self.waiting and time.monotonic() - self.checked >= VISITOR_CHECK_SECONDS:
            self.checked = time.monotonic()
            self.waiting = visitor_waiting()
        return self.waiting


def visitor_waiting(client=None) -> bool:
    """Whether a visitor's run (from any server) is on the scheduler; False where no cluster can say.

    Waiting there, or already sent to a worker: Dask may send a worker a
    task while it runs another (with few tasks it does not hold them back),
    and that one waits all the same.
    """
    from distributed import get_client

    from model.jobs.cluster import scheduler_line

    try:
        return bool((client or get_client()).run_on_scheduler(scheduler_line))
    except Exception:  # not on a worker (warm_up called in-process), or the scheduler is gone: train on
        return False


class _Reporter:
    """Progress into a `distributed.Queue`, stop from a `distributed.Event`, and the run's time limit."""

    def __init__(self, queue_name: str | None, stop_name: str | None, limit_s: float):
        from distributed import Event, Queue

        self.queue = Queue(queue_name) if queue_name else None
        self.stop = Event(stop_name) if stop_name else None
        self.limit_s = limit_s
        self.deadline = time.monotonic() + limit_s
        self.capped = False
        self.told = False
        self.checked = 0.0
        self.sent = 0.0

    def close(self) -> None:
        if self.queue is not None:
            self.queue.close()

    def progress(self, p: Progress) -> None:
        """Send `p` to the page: every epoch's end, and in between at most every `PROGRESS_EVERY_SECONDS`."""
        if self.queue is not None and (p.epoch_done or time.monotonic() - self.sent >= PROGRESS_EVERY_SECONDS):
            self.sent = time.monotonic()
            self.queue.put(p)

    def mark(self, network: Network) -> Network:
        """The run's network, its card saying so if the time limit stopped it."""
        if not self.capped:
            return network
        stopped = f"it reached the time limit of {self.limit_s / 60:g} minutes per run and was stopped there"
        return replace(network, card=replace(network.card, other={**network.card.other, "stopped": stopped}))

    def should_stop(self) -> bool:
        if time.monotonic() > self.deadline:
            self.capped = True
            return True
        if self.stop is not None and time.monotonic() - self.checked > STOP_CHECK_SECONDS:
            self.checked = time.monotonic()
            self.told = self.stop.is_set()
        return self.told


def train_task(spec, queue_name: str | None = None, stop_name: str | None = None) -> Network:
    """A training run (`model.jobs.service.TrainSpec`): `model.training.ann.fit_network` on this worker's MNIST."""
    lower_priority()
    from model.training.ann import fit_network

    mnist, data_info = worker_mnist()
    reporter = _Reporter(queue_name, stop_name, spec.limit_s)
    try:
        _, network = fit_network(spec.config, mnist, data_info, spec.command, reporter.progress, reporter.should_stop)
    finally:
        reporter.close()
    return reporter.mark(network)


def fine_tune_task(spec, queue_name: str | None = None, stop_name: str | None = None) -> Network:
    """ "Fine-tune on my digits" (`model.jobs.service.FineTuneSpec`): `model.training.finetune.fine_tune`."""
    lower_priority()
    from model.store.card import fine_tuned_card
    from model.training.finetune import fine_tune

    started = time.perf_counter()
    mnist, _ = worker_mnist()
    reporter = _Reporter(queue_name, stop_name, spec.limit_s)
    base = spec.base
    try:
        tuned, report = fine_tune(
            base.net,
            mnist,
            spec.samples,
            dropout=base.card.dropout,
            on_progress=reporter.progress,
            should_stop=reporter.should_stop,
        )
    finally:
        reporter.close()
    card = fine_tuned_card(
        base.card, report.test, {**report.summary(), "from": base.name}, time.perf_counter() - started
    )
    return reporter.mark(Network(tuned, card))


def shared_task(spec, queue_name: str | None = None, stop_name: str | None = None) -> Network:
    """The owner's retrain with shared handwriting (`model.jobs.service.SharedSpec`):
    `model.training.shared.retrain_with_shared`, scored on the real-writer judges this worker has prepared."""
    lower_priority()
    from model.training.shared import retrain_with_shared

    mnist, _ = worker_mnist()
    reporter = _Reporter(queue_name, stop_name, spec.limit_s)
    try:
        network = retrain_with_shared(
            spec.base, mnist, spec.shared, on_progress=reporter.progress, should_stop=reporter.should_stop
        )
    finally:
        reporter.close()
    return reporter.mark(network)
