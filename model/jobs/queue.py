"""Training jobs on the cluster, as a page sees them: one queue for every visitor of this server.

A `TrainingJob` is one visitor's run (a retrain, a fine-tune, a save): a
task on the Dask cluster (`model.jobs.cluster`, `model.jobs.tasks`) and a thread of
the server that follows it, keeping what the page shows (where it stands
in the queue, progress, the curves so far, the result or the error) in
plain attributes the page reads on each refresh. Progress comes back
through a `distributed.Queue`, Stop goes out through a `distributed.Event`.

`JobQueue` holds the rules of a shared queue:
- at most one waiting or running job per visitor;
- at most `max_waiting` jobs waiting on the cluster (a clear message past that);
- each job knows how many runs are ahead of it;
- a job whose visitor has not looked at it for `abandon_after_s` (they closed
  the page) is stopped, and cancelled if it had not started.

The line itself lives in one place, the Dask scheduler, so that several
servers (replicas behind a proxy, `scripts/serve.py`) share it: a job's
Dask priority is the moment its visitor asked (wall-clock time, the same on
every server), and its place counts the runs ahead of it on the scheduler,
whichever server sent them (`scheduler_line`, read at most every
`LINE_MAX_AGE_S`).

No TensorFlow here: the server imports this, the workers do the training.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from model.jobs.cluster import ClusterUnavailable, get_client
from model.progress import Progress

CURVE_POINTS_PER_EPOCH = 10  # training-curve resolution: enough to see it move, cheap to draw
# The curves' charts change at most this often (`TrainingJob.charted`), and once more with the whole curve
# at the end; the page sends them unchanged otherwise. Every redraw is Vega's work in the browser, on the
# cores a local training uses: redrawn at every refresh, then at every epoch's end, they took CPU from the
# training they show (the browser's CPU during a 15-epoch retrain, epochs of about 1 s, one page refresh a
# second: 210 ms/s redrawn at each epoch's end, 180 ms/s at most every 2 s).
CHART_EVERY_S = 2.0
MAX_WAITING = 12  # jobs waiting on the cluster: a class of 30 gets a clear message, not a 10-minute wait
ABANDON_AFTER_S = 30
# A job's Dask priority is `priority * PRIORITY_STEP` less the seconds from `EPOCH` to its asking (see
# `_start`): a step of 30,000 years keeps every higher priority first.
EPOCH = 1.7e9  # 2023-11-14, in Unix time: keeps the numbers small
PRIORITY_STEP = 10**12
WARM_UP_PRIORITY = -(10**15)  # below every visitor's job
POLL_S = 0.25  # how often the server collects a job's progress
LINE_MAX_AGE_S = 0.5  # how stale the scheduler's line may be when a place is shown
JOB_KEY = "job-"  # every visitor's job's Dask key starts with this (the warm-up's does not)
WAITING_STATES = ("released", "waiting", "queued", "no-worker")
WORKER_LOST = (
    "The training worker stopped unexpectedly (it may have run out of memory); your run was lost. "
    "Press the button again to start a new one."
)


class QueueRefused(Exception):
    """A job the queue will not take now; the message says why."""


@dataclass
class CurvePoint:
    epoch: float  # fractional: 1.5 is half-way through the second epoch
    split: str  # "training" or "validation"
    loss: float
    accuracy: float


@dataclass(eq=False)
class TrainingJob:
    visitor: str
    kind: str  # what the page calls it: "training", "fine-tune", "save"
    task: Callable
    args: tuple
    priority: int = 0
    kwargs: dict = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = "waiting"  # waiting → running → done | stopped | failed
    fraction: float = 0.0
    status: str = "Waiting for the training cluster …"
    ahead: int | None = None  # runs ahead of this one; None once it runs
    curve: list[CurvePoint] = field(default_factory=list)
    charted: list[CurvePoint] = field(default_factory=list)  # the curve as the page draws it (`CHART_EVERY_S`)
    result: object = None
    result_for: object = None  # what the page needs to use the result (the network a save is for)
    error: str | None = None
    seen: float = field(default_factory=time.monotonic)
    asked: float = field(default_factory=time.time)  # when the visitor asked (Unix time): their place in line
    _future: object = None
    _stop_event: object = None
    _asked_to_stop: bool = False
    _last_training_point: float = -1.0
    _charted_at: float = 0.0
    _running_since: float | None = None  # `time.monotonic()` at its first progress
    ended: threading.Event = field(default_factory=threading.Event)  # set once its result or error is here

    @property
    def finished(self) -> bool:
        return self.state in ("done", "stopped", "failed")

    @property
    def key(self) -> str:
        """Its Dask key, which every server's queue recognises as a visitor's job."""
        return f"{JOB_KEY}{self.kind}-{self.id}"

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


class JobQueue:
    """The jobs of this server's visitors, in the order they were asked for."""

    def __init__(
        self,
        max_waiting: int = MAX_WAITING,
        abandon_after_s: float = ABANDON_AFTER_S,
        client_factory: Callable = get_client,
    ):
        self.max_waiting, self.abandon_after_s = max_waiting, abandon_after_s
        self.client_factory = client_factory
        self.jobs: list[TrainingJob] = []
        self.line: list[tuple[str, str, tuple]] | None = None  # the scheduler's, see `scheduler_line`
        self.line_read = 0.0
        self.lock = threading.Lock()
        threading.Thread(target=self._watch_abandoned, name="abandoned-jobs", daemon=True).start()

    def submit(
        self,
        visitor: str,
        kind: str,
        task: Callable,
        *args,
        priority: int = 0,
        asked: float | None = None,
        **kwargs,
    ) -> TrainingJob:
        """Queue `task(*args, **kwargs)`, or raise `QueueRefused` / `ClusterUnavailable` with a sentence.

        `asked` (`time.time()`) is when the visitor asked: the page's runs
        for visitors who click at nearly the same moment reach this queue (or
        another server's) in any order, and the one who clicked first must
        run first.
        """
        with self.lock:
            self.jobs = [j for j in self.jobs if not j.finished]
            if any(j.visitor == visitor for j in self.jobs):
                raise QueueRefused("You already have a run waiting or running: wait for it, or stop it, first.")
        client = self.client_factory()  # may raise ClusterUnavailable
        self._read_line(client)
        with self.lock:
            if any(j.visitor == visitor for j in self.jobs):  # the same visitor, clicking twice meanwhile
                raise QueueRefused("You already have a run waiting or running: wait for it, or stop it, first.")
            if self._waiting() >= self.max_waiting:
                raise QueueRefused(
                    f"The training queue is full ({self.max_waiting} runs waiting). Try again in a minute or two."
                )
            job = TrainingJob(visitor, kind, task, args, priority, kwargs=kwargs)
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

    def place(self, job: TrainingJob) -> int | None:
        if job._future is not None and time.monotonic() - self.line_read > LINE_MAX_AGE_S:
            self._read_line(job._future.client)
        with self.lock:
            self._update_places()
        return job.ahead

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
        # Key → (running, how soon Dask runs it: the first of its priority tuple, the order `_start` gives).
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

    def _start(self, client, job: TrainingJob) -> None:
        from distributed import Event, Queue

        queue_name, stop_name = f"progress-{job.id}", f"stop-{job.id}"
        progress = Queue(queue_name, client=client)
        job._stop_event = Event(stop_name, client=client)
        # Dask does not keep equal priorities in submission order: a job asked for later gets a lower one.
        job._future = client.submit(
            job.task,
            *job.args,
            **job.kwargs,
            queue_name=queue_name,
            stop_name=stop_name,
            key=job.key,
            priority=_order(job),
            pure=False,
        )
        threading.Thread(target=self._follow, args=(job, progress), name=f"job-{job.id}", daemon=True).start()

    def _follow(self, job: TrainingJob, progress) -> None:
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
                    self._read_line(future.client)
                with self.lock:
                    self._update_places()
                try:  # returns as soon as the job ends, so its result is not left waiting for a poll
                    with future.client.as_current():
                        wait(future, timeout=POLL_S)
                except TimeoutError:
                    pass
            if future.cancelled():
                job.state, job.status = "stopped", "Stopped before it started."
                return
            job.result = future.result()
            future.release()  # the result is here: the cluster need not keep it (nor recompute it if a worker dies)
            capped = getattr(job.result, "capped", False)
            job.state = "stopped" if job._asked_to_stop or capped else "done"
            if capped:
                job.error = "it reached the time limit per run and was stopped there"
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


def scheduler_line(dask_scheduler) -> list[tuple[str, str, tuple]]:
    """Run on the scheduler: every visitor's job there, from any server, as (key, state, Dask's priority).

    Dask runs the smallest priority tuple first; "processing" is a run a
    worker has (one per worker at a time: see `model.jobs.cluster`).
    """
    return [
        (ts.key, ts.state, tuple(ts.priority or ()))
        for ts in dask_scheduler.tasks.values()
        if isinstance(ts.key, str) and ts.key.startswith(JOB_KEY) and ts.state in (*WAITING_STATES, "processing")
    ]


def _order(job: TrainingJob) -> float:
    """Its Dask priority: higher runs first, then earlier asked (Dask keeps no order among equals)."""
    return job.priority * PRIORITY_STEP - (job.asked - EPOCH)


def describe_failure(error: BaseException) -> str:
    """One sentence for a failed job, whatever Dask or the worker raised."""
    from distributed.scheduler import KilledWorker

    if isinstance(error, KilledWorker) or type(error).__name__ in ("CommClosedError", "FutureCancelledError"):
        return WORKER_LOST
    if isinstance(error, ClusterUnavailable):
        return str(error)
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"{message[:300]}"
