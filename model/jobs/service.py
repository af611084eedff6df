"""Training jobs as a page sees them: `submit(kind, spec) → Job`, then progress, then a `Network`.

    service = JobService()
    job = service.submit(visitor, Kind.TRAIN, TrainSpec(config, command))
    ... job.state, job.fraction, job.status, job.ahead, job.curve ...   (refreshed by a thread of the server)
    job.result   # a Network (the weights and their card) once job.state == "done"

A job is one visitor's run, a task on the Dask cluster
(`model.jobs.tasks`, by its `Kind`), and a thread of this server that
follows it: progress comes back through a `distributed.Queue` (as
`model.progress.Progress` events), Stop goes out through a
`distributed.Event`. The page reads the job's plain attributes at each
refresh.

The rules of a shared queue:
- at most one waiting or running job per visitor (their page), and per
  collection of samples or account (their other pages);
- at most `RUNS_PER_ADDRESS` waiting or running for one address, and an
  address's second run waits behind every other address's first, its third
  behind every second, …: a class behind one school's address trains, and
  a client that opens many pages gets no more than its share;
- at most `MAX_WAITING` jobs waiting on the cluster, every server's
  together (a sentence past that);
- each job knows how many runs are ahead of it;
- a job whose visitor has not looked at it for `ABANDON_AFTER_SECONDS`
  (they closed the page) is stopped, or cancelled if it had not started.

The line lives in one place, the Dask scheduler, so that several servers
(replicas behind a proxy) share it: a job's Dask priority is the moment
its visitor asked (wall-clock time, the same on every server), and its
place counts the runs ahead of it on the scheduler, whichever server sent
them. Reading that line is the one use of Dask's internals
(`model.jobs.cluster.scheduler_line`).

No TensorFlow here: the server imports this, the workers do the training.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from model.config import TrainConfig
from model.jobs.cluster import JOB_KEY, WAITING_STATES, ClusterUnavailable, get_client, scheduler_line
from model.jobs.tasks import fine_tune_task, shared_task, train_task
from model.progress import Progress
from model.settings import ABANDON_AFTER_SECONDS, MAX_RUN_SECONDS, MAX_WAITING, RUNS_PER_ADDRESS
from model.store.network import Network
from model.store.sharing import SharedSet

CURVE_POINTS_PER_EPOCH = 10  # training-curve resolution: enough to see it move, cheap to draw
# The curves' charts change at most this often (`Job.charted`), and once more with the whole curve at the
# end: each redraw is the browser's work, on the cores a local training uses.
CHART_EVERY_S = 2.0
# A job's Dask priority is `priority * PRIORITY_STEP` less the seconds from `EPOCH` to its asking (see
# `_order`): a step of 30,000 years keeps every higher priority first.
EPOCH = 1.7e9  # 2023-11-14, in Unix time: keeps the numbers small
PRIORITY_STEP = 10**12
TURN_STEP = 10**9  # an address's next run waits 30 years behind: after every earlier turn of every address
WARM_UP_PRIORITY = -(10**15)  # below every visitor's job
POLL_S = 0.25  # how often the server collects a job's progress
LINE_MAX_AGE_S = 0.5  # how stale the scheduler's line may be when a place is shown
FAILED = "The run failed on the training worker; the owner finds why in the server's log. Drawing goes on."
WORKER_LOST = (
    "The training worker stopped unexpectedly (it may have run out of memory); your run was lost. "
    "Press the button again to start a new one."
)


class Kind(Enum):
    """What a job does; its value is how the page names it."""

    TRAIN = "training"
    FINE_TUNE = "fine-tune"
    SHARED = "retrain with shared handwriting"


@dataclass(frozen=True)
class TrainSpec:
    """A training run from scratch (`model.jobs.tasks.train_task`)."""

    config: TrainConfig
    command: str  # the train.py command that repeats it, for the card
    limit_s: float = MAX_RUN_SECONDS


@dataclass(frozen=True)
class FineTuneSpec:
    """A network trained further on a person's samples (`model.jobs.tasks.fine_tune_task`)."""

    base: Network
    samples: tuple  # (images (N, 28, 28) uint8, labels (N,), ids)
    limit_s: float = MAX_RUN_SECONDS


@dataclass(frozen=True)
class SharedSpec:
    """The shipped network trained further on the handwriting a class shared (`model.jobs.tasks.shared_task`)."""

    base: Network  # the shipped network
    shared: SharedSet  # what `model.store.sharing.split_pool` took from the pool
    limit_s: float = MAX_RUN_SECONDS


SPECS = {Kind.TRAIN: TrainSpec, Kind.FINE_TUNE: FineTuneSpec, Kind.SHARED: SharedSpec}
TASKS = {Kind.TRAIN: train_task, Kind.FINE_TUNE: fine_tune_task, Kind.SHARED: shared_task}


class QueueRefused(Exception):
    """A job the queue will not take now; the message says why."""


@dataclass
class CurvePoint:
    epoch: float  # fractional: 1.5 is half-way through the second epoch
    split: str  # "training" or "validation"
    loss: float
    accuracy: float


@dataclass(eq=False)
class Job:
    visitor: str
    kind: Kind
    spec: TrainSpec | FineTuneSpec | SharedSpec
    priority: int = 0
    address: str = ""  # the visitor's address, as limits count it (IPv6 by its /64)
    collection: str = ""  # their collection of samples or account, if they have one
    turn: int = 0  # how many runs of the same address were waiting or running when it was asked for
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = "waiting"  # waiting → running → done | stopped | failed
    fraction: float = 0.0
    status: str = "Waiting for the training cluster …"
    ahead: int | None = None  # runs ahead of this one; None once it runs
    curve: list[CurvePoint] = field(default_factory=list)
    charted: list[CurvePoint] = field(default_factory=list)  # the curve as the page draws it (`CHART_EVERY_S`)
    result: Network | None = None
    error: str | None = None
    seen: float = field(default_factory=time.monotonic)
    asked: float = field(default_factory=time.time)  # when the visitor asked (Unix time): their place in line
    ended: threading.Event = field(default_factory=threading.Event)  # set once its result or error is here
    _future: object = None
    _stop_event: object = None
    _asked_to_stop: bool = False
    _last_training_point: float = -1.0
    _charted_at: float = 0.0
    _running_since: float | None = None  # `time.monotonic()` at its first progress

    @property
    def finished(self) -> bool:
        return self.state in ("done", "stopped", "failed")

    @property
    def name(self) -> str:
        return self.kind.value

    @property
    def key(self) -> str:
        """Its Dask key, which every server recognises as a visitor's job, and reads its address's and
        collection's digests from (so that their limits hold across servers, and no address is shown)."""
        return f"{JOB_KEY}{self.kind.name.lower()}-{digest(self.address)}-{digest(self.collection)}-{self.id}"

    def touch(self) -> None:
        """The visitor looked at this job (called on every refresh of their page)."""
        self.seen = time.monotonic()

    def stop(self) -> None:
        self._asked_to_stop = True
        if self._stop_event is not None:
            try:
                self._stop_event.set()
            except Exception:  # the cluster is gone: the follower thread reports that
                pass
        if self._future is not None and self.state == "waiting":
            self._future.cancel()

    def seconds_left(self) -> float | None:
        """How long it should still run, at its pace so far; None before its first progress."""
        if self._running_since is None or self.fraction <= 0:
            return None
        return (time.monotonic() - self._running_since) * (1 - self.fraction) / self.fraction

    def on_progress(self, p: Progress) -> None:
        if self._running_since is None:
            self._running_since = time.monotonic()
        self.state, self.ahead = "running", None
        self.fraction = p.fraction
        self.status = f"Epoch {p.epoch}/{p.epochs} · batch {p.batch}/{p.batches}"
        at = p.epoch - 1 + p.batch / p.batches
        if p.epoch_done:
            self.curve.append(
                CurvePoint(at, "validation", p.logs.get("val_loss", 0.0), p.logs.get("val_accuracy", 0.0))
            )
        elif at - self._last_training_point >= 1 / CURVE_POINTS_PER_EPOCH:
            self._last_training_point = at
            self.curve.append(CurvePoint(at, "training", p.logs.get("loss", 0.0), p.logs.get("accuracy", 0.0)))
        if time.monotonic() - self._charted_at >= CHART_EVERY_S:
            self.charted, self._charted_at = list(self.curve), time.monotonic()


class JobService:
    """The jobs of this server's visitors, in the order they were asked for."""

    def __init__(
        self,
        max_waiting: int = MAX_WAITING,
        abandon_after_s: float = ABANDON_AFTER_SECONDS,
        client_factory: Callable = get_client,
    ):
        self.max_waiting, self.abandon_after_s = max_waiting, abandon_after_s
        self.client_factory = client_factory
        self.jobs: list[Job] = []
        self.line: list[tuple[str, str, tuple]] | None = None  # the scheduler's (`scheduler_line`)
        self.line_read = 0.0
        self.lock = threading.Lock()
        threading.Thread(target=self._watch_abandoned, name="abandoned-jobs", daemon=True).start()

    def submit(
        self,
        visitor: str,
        kind: Kind,
        spec: TrainSpec | FineTuneSpec | SharedSpec,
        priority: int = 0,
        asked: float | None = None,
        address: str = "",
        collection: str = "",
    ) -> Job:
        """Queue a job, or raise `QueueRefused` / `ClusterUnavailable` with a sentence.

        `asked` (`time.time()`) is when the visitor asked: visitors who
        click at nearly the same moment reach this service (or another
        server's) in any order, and the one who clicked first runs first.
        `address` and `collection` are whose runs the limits count.
        """
        if not isinstance(spec, SPECS[kind]):
            raise TypeError(f"A {kind.value} job takes a {SPECS[kind].__name__}, not a {type(spec).__name__}.")
        self._refuse_a_second(visitor)
        client = self.client_factory()  # may raise ClusterUnavailable
        self._read_line(client)
        with self.lock:
            self._refuse_a_second(visitor, locked=True)  # the same visitor, clicking twice meanwhile
            if collection and digest(collection) in self._active(field=2):
                raise QueueRefused("Your samples already have a run waiting or running (in another page of yours).")
            turn = self._active(field=1).count(digest(address))
            if turn >= RUNS_PER_ADDRESS:
                raise QueueRefused(
                    f"Your address already has {RUNS_PER_ADDRESS} runs waiting or running; try again when one ends."
                )
            if self._waiting() >= self.max_waiting:
                raise QueueRefused(
                    f"The training queue is full ({self.max_waiting} runs waiting). Try again in a minute or two."
                )
            job = Job(visitor, kind, spec, priority, address=address, collection=collection, turn=turn)
            if asked is not None:
                job.asked = asked
            self.jobs.append(job)
            self._update_places()
        try:
            self._start(client, job)
        except Exception:
            with self.lock:
                self.jobs.remove(job)
            raise
        return job

    def _refuse_a_second(self, visitor: str, locked: bool = False) -> None:
        if not locked:
            with self.lock:
                return self._refuse_a_second(visitor, locked=True)
        self.jobs = [j for j in self.jobs if not j.finished]
        if any(j.visitor == visitor for j in self.jobs):
            raise QueueRefused("You already have a run waiting or running: wait for it, or stop it, first.")

    def _active(self, field: int) -> list[str]:
        """A digest (1: the address's, 2: the collection's) of every job waiting or running, on every server."""
        keys = {key for key, state, _ in self.line or [] if state == "processing" or state in WAITING_STATES}
        keys |= {j.key for j in self.jobs if not j.finished}
        return [key[len(JOB_KEY) :].split("-")[field] for key in keys]

    def _read_line(self, client) -> None:
        """The scheduler's line of every server's jobs; the last one read is kept if it cannot be had."""
        try:
            line = client.run_on_scheduler(scheduler_line)
        except Exception:  # the page goes on with this server's own jobs; the follower reports a lost cluster
            return
        with self.lock:
            self.line, self.line_read = line, time.monotonic()

    def _waiting(self) -> int:
        """Runs waiting on the cluster (every server's), and this server's not yet on the line read."""
        on_line = {key for key, state, _ in self.line or [] if state in WAITING_STATES}
        mine = {j.key for j in self.jobs if j.state == "waiting"}
        return len(on_line | mine)

    def _update_places(self) -> None:
        """Each waiting job's place: the runs on the scheduler's line, and this server's not on it yet."""
        # Key → (running, how soon Dask runs it: the first of its priority tuple, the order `_order` gives).
        line = {
            key: (state == "processing", priority[0] if priority else 0.0)
            for key, state, priority in self.line or []
            if state == "processing" or state in WAITING_STATES
        }
        active = [j for j in self.jobs if not j.finished]
        for job in active:
            if job.key not in line or job.state != "waiting":
                line[job.key] = (job.state == "running", -_order(job))
        for job in active:
            if job.state != "waiting":
                continue
            mine = line[job.key][1]
            job.ahead = sum(1 for key, (running, soon) in line.items() if key != job.key and (running or soon < mine))
            job.status = (
                "Next in line: starting …"
                if job.ahead == 0
                else f"{job.ahead} run{'s' if job.ahead > 1 else ''} ahead of yours …"
            )

    def _start(self, client, job: Job) -> None:
        from distributed import Event, Queue

        queue_name, stop_name = f"progress-{job.id}", f"stop-{job.id}"
        progress = Queue(queue_name, client=client)
        job._stop_event = Event(stop_name, client=client)
        job._future = client.submit(
            TASKS[job.kind],
            job.spec,
            queue_name=queue_name,
            stop_name=stop_name,
            key=job.key,
            priority=_order(job),  # Dask keeps no order among equal priorities: a later asking gets a lower one
            pure=False,
        )
        threading.Thread(target=self._follow, args=(client, job, progress), name=f"job-{job.id}", daemon=True).start()

    def _follow(self, client, job: Job, progress) -> None:
        from distributed import wait

        future = job._future
        try:
            while True:
                done = future.done()
                for item in progress.get(batch=True):  # whatever has come, without waiting
                    job.on_progress(item)
                if done:
                    break
                if job.state == "waiting" and time.monotonic() - self.line_read > LINE_MAX_AGE_S:
                    self._read_line(client)
                with self.lock:
                    self._update_places()
                try:  # returns as soon as the job ends, so its result is not left waiting for a poll
                    with client.as_current():
                        wait(future, timeout=POLL_S)
                except TimeoutError:
                    pass
            if future.cancelled():
                job.state, job.status = "stopped", "Stopped before it started."
                return
            job.result = future.result()
            future.release()  # the result is here: the cluster need not keep it (nor recompute it if a worker dies)
            capped = job.result.card.other.get("stopped")
            job.state = "stopped" if job._asked_to_stop or capped else "done"
            if capped:
                job.error = capped
            if job.state == "done":  # a stopped run's bar stays where it stopped
                job.fraction = 1.0
        except Exception as error:  # the page shows it; the server must not die of it
            job.state, job.error = "failed", describe_failure(error)
        finally:
            job.ahead = None
            job.charted = list(job.curve)
            job.ended.set()
            try:  # release the job's queue and event on the scheduler
                progress.close()
                job._stop_event.clear()
            except Exception:
                pass
            with self.lock:
                self._update_places()

    def _watch_abandoned(self) -> None:
        while True:
            time.sleep(1.0)
            now = time.monotonic()
            with self.lock:
                gone = [j for j in self.jobs if not j.finished and now - j.seen > self.abandon_after_s]
            for job in gone:
                job.stop()


def _order(job: Job) -> float:
    """Its Dask priority: higher runs first, then an address's earlier turns, then earlier asked."""
    return job.priority * PRIORITY_STEP - job.turn * TURN_STEP - (job.asked - EPOCH)


def digest(text: str) -> str:
    """Eight hex digits standing for an address or a collection in a job's key (which names neither)."""
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:8]


def describe_failure(error: BaseException) -> str:
    """One sentence for a failed job, whatever Dask or the worker raised; the details go to the server's log
    (a worker's exception can name paths and settings a visitor has no business seeing)."""
    import logging

    from distributed.scheduler import KilledWorker

    if isinstance(error, KilledWorker) or type(error).__name__ in ("CommClosedError", "FutureCancelledError"):
        return WORKER_LOST
    if isinstance(error, ClusterUnavailable):
        return str(error)
    logging.getLogger("read-my-digit").error("A training job failed: %r", error)
    return FAILED
