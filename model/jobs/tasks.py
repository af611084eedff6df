"""What runs on a Dask worker: a whole training run, a fine-tune, or making a `.keras` file.

These functions are sent to a worker by name (`model.jobs.tasks.train_task`),
with small arguments: a `TrainConfig`, a network's weights, a person's few
samples, and the names of the job's `distributed.Queue` (progress out) and
`distributed.Event` (stop in). Never MNIST: each worker loads it once from
its own `MNIST_PATH` (`worker_mnist`) and keeps it, and TensorFlow is
imported once per worker process, so every run after the first starts at
once. A run stops itself at `MAX_RUN_SECONDS` of training, whatever was
asked, so that one visitor cannot hold the workers for long.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from model.progress import Progress
from model.reading.network import NumpyNetwork
from model.store.card import ModelCard

MAX_RUN_SECONDS = 300  # of training per run, enforced here on the worker
STOP_CHECK_SECONDS = 0.5  # how often a run asks the scheduler whether it was told to stop
# Each progress message is a round trip to the scheduler that the training
# waits for: one per 32 batches made a warm 5-epoch retrain about 1 s slower
# (8.4 s against 7.3 s, medians of 3 in one run). The page looks once a
# second (`ui.sidebar.REFRESH_S`), so more often than this shows nothing more.
PROGRESS_EVERY_SECONDS = 0.25
VISITOR_CHECK_SECONDS = 0.5  # how often the warm-up asks the scheduler whether a visitor's run waits for it


@dataclass
class JobResult:
    net: NumpyNetwork
    card: ModelCard
    capped: bool = False  # stopped by MAX_RUN_SECONDS rather than finished
    worker: str | None = None  # the address of the worker that ran it


def _worker_address() -> str | None:
    from distributed import get_worker

    try:
        return get_worker().address
    except ValueError:  # not on a worker (train.py in-process)
        return None


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

    if os.environ.get("TRAINING_PRIORITY") != "idle":
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

    The run (one epoch on the whole of MNIST, about 2.5 s on one core)
    leaves that network's training step compiled, kept for the next run of
    the same architecture (`keras_ann.compiled_twin`), and TensorFlow's
    memory for MNIST-sized batches set up: a shorter run on a slice of MNIST
    left the visitor's first run about 1.5 s slower than the second. The
    app sends it with the lowest priority, so a visitor's run asked before
    it starts goes first; one asked while it trains waits only for its
    compiling (and the validation pass that ends a stopped epoch): it stops
    at the first check that finds a visitor's run waiting
    (`VISITOR_CHECK_SECONDS`). A visitor who pressed Train as soon
    as a new `make serve` showed the page waited 2.8 s for it to finish.
    """
    lower_priority()
    from model.config import SIDEBAR_DEFAULTS as default
    from model.training.keras_ann import build_ann, has_compiled_twin, train

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

    from model.jobs.queue import scheduler_line

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

    def should_stop(self) -> bool:
        if time.monotonic() > self.deadline:
            self.capped = True
            return True
        if self.stop is not None and time.monotonic() - self.checked > STOP_CHECK_SECONDS:
            self.checked = time.monotonic()
            self.told = self.stop.is_set()
        return self.told


def train_task(
    config, command: str, queue_name: str | None = None, stop_name: str | None = None, limit_s: float = MAX_RUN_SECONDS
) -> JobResult:
    """The sidebar's retrain (and `train.py` on a cluster): `model.training.run.fit_network` on this worker's MNIST."""
    lower_priority()
    from model.training.run import fit_network

    mnist, data_info = worker_mnist()
    reporter = _Reporter(queue_name, stop_name, limit_s)
    try:
        trained = fit_network(config, mnist, data_info, command, reporter.progress, reporter.should_stop)
    finally:
        reporter.close()
    return JobResult(trained.net, trained.card, reporter.capped, _worker_address())


def fine_tune_task(
    base: NumpyNetwork,
    base_card: ModelCard,
    base_name: str,
    samples,
    queue_name: str | None = None,
    stop_name: str | None = None,
    limit_s: float = MAX_RUN_SECONDS,
) -> JobResult:
    """ "Fine-tune on my digits": `model.training.finetune.fine_tune` and the new network's card."""
    lower_priority()
    from model.store.card import fine_tuned_card
    from model.training.finetune import fine_tune

    started = time.perf_counter()
    mnist, _ = worker_mnist()
    reporter = _Reporter(queue_name, stop_name, limit_s)
    dropout = base_card.dropout
    try:
        tuned, report = fine_tune(
            base, mnist, samples, dropout=dropout, on_progress=reporter.progress, should_stop=reporter.should_stop
        )
    finally:
        reporter.close()
    card = fine_tuned_card(
        base_card, report.test, {**report.summary(), "from": base_name}, time.perf_counter() - started
    )
    return JobResult(tuned, card, reporter.capped, _worker_address())


def keras_file_task(
    net: NumpyNetwork, card: ModelCard, queue_name: str | None = None, stop_name: str | None = None
) -> bytes:
    """ "Save as default": the network as the bytes of a `.keras` file; the server writes them."""
    lower_priority()
    from model.training.keras_ann import keras_bytes, to_keras

    return keras_bytes(to_keras(net, dropout=card.dropout))
