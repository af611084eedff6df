"""Where training runs: a Dask cluster, local by default, shared when `DASK_SCHEDULER_ADDRESS` says so.

With nothing configured, the first job starts a local cluster of worker
**processes** (never threads: TensorFlow must stay out of the web server's
process; see `local_cluster` for why not `LocalCluster` itself), one worker
with one task slot on a machine of up to 4 cores, a worker per 4 cores
beyond. TensorFlow uses every core of its worker's share, at Linux's idle
priority (`model.jobs.tasks.lower_priority`): as fast as in-process when
the page is quiet, out of the way of every stroke when it is not. Two runs
at once would only slow each other: one slot per worker makes the rest
queue, in the order they were asked for. The dashboard is off unless
`DASK_DASHBOARD_ADDRESS` asks for it, and then on 127.0.0.1 unless it names
another interface.

With `DASK_SCHEDULER_ADDRESS` (Dask's own setting, also read by
`train.py`), jobs go to that cluster instead: start `dask scheduler` on one
machine and `dask worker tcp://SCHEDULER:8786 --nthreads 1 --nworkers N`
on each of the others, each with its own `MNIST_PATH`.

A scheduler that cannot be reached, or a cluster that cannot start, is a
`ClusterUnavailable` with a sentence to show.

`scheduler_line` is the one place that reads Dask's internals (the
scheduler's task states, for every server's line of runs);
tests/test_jobs.py pins what it relies on.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading

import dask

from model.jobs.lifeline import ENDS_WITH_PARENT
from model.jobs.lifeline import PARENT_VAR as LIFELINE_PARENT_VAR
from model.settings import DASHBOARD_ADDRESS

LOCAL_WORKER_CORES = 4  # cores per local worker: TensorFlow's gain beyond this is small for these networks
CONNECT_TIMEOUT = "5s"
CLOSE_TIMEOUT_S = 2  # for each of the client and the cluster, on the way out
ALLOWED_FAILURES = 0  # a task whose worker dies is failed at once (and the nanny restarts the worker)
JOB_KEY = "job-"  # every visitor's job's Dask key starts with this (the warm-up's does not)
WAITING_STATES = ("released", "waiting", "queued", "no-worker")
PRIORITY_VAR = "TRAINING_PRIORITY"  # "idle" in a local worker's environment: `model.jobs.tasks.lower_priority`

_client = None
_lock = threading.Lock()


class ClusterUnavailable(Exception):
    """The training cluster cannot be reached or started; the message says what to do."""


def scheduler_address() -> str | None:
    """`DASK_SCHEDULER_ADDRESS` (or Dask's `scheduler-address` setting), or None for a local cluster."""
    return dask.config.get("scheduler-address", None) or None


def get_client():
    """The `distributed.Client` for training jobs, made (and the cluster started) at the first call."""
    global _client
    with _lock:
        if _client is not None and _client.status == "running":
            return _client
        from distributed import Client

        address = scheduler_address()
        try:
            if address and address.startswith("tls://") and not tls_configured():
                raise ValueError("a tls:// scheduler, and no TLS certificates in Dask's settings")
            if address:
                _client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
            else:
                _client = Client(local_cluster(), set_as_default=False)
                atexit.register(close_client)  # the scheduler and workers go when the server does
        except (OSError, TimeoutError, TypeError, ValueError) as error:
            where = f"the training cluster at {address}" if address else "a local training cluster"
            logging.getLogger("read-my-digit").error("Cannot reach or start %s: %r", where, error)
            raise ClusterUnavailable(
                "Training is unavailable: the training cluster could not be reached or started. "
                "Drawing works as before."
            ) from None
        return _client


def tls_configured() -> bool:
    """Whether Dask's settings give this process a client certificate (docs/cluster.md: a cluster over TLS)."""
    from distributed.security import Security

    return Security().get_connection_args("client").get("ssl_context") is not None


def local_cluster(n_workers: int | None = None, env: dict | None = None):
    """A cluster on this machine as this app runs it: scheduler and workers each in a process of their own.

    Not `LocalCluster`: its scheduler and nannies live in the calling
    process, and a nanny restarts a dead worker by `multiprocessing` spawn,
    which re-runs the caller's `__main__` in the new worker; in a Streamlit
    server that is the page's script. Here the scheduler and each nanny are
    fresh `dask spec` processes, so a restart runs nothing of the server,
    and the server holds only a client.
    """
    from distributed.deploy.subprocess import SubprocessCluster

    cores = os.cpu_count() or 1
    n_workers = n_workers or max(1, cores // LOCAL_WORKER_CORES)
    env = {**training_env(max(1, cores // n_workers)), **(env or {})}
    # Saturation 1.0 holds back only tasks of a group larger than twice the cluster's threads: with one
    # run going, the next was sent ahead to the busy worker and started before one asked for earlier
    # that the scheduler still held. Sent at once ("inf"), every waiting run lies in the worker's own
    # line, which it takes in priority order: the order visitors asked in. (The scheduler's process
    # reads this from its environment, which it inherits from ours.)
    os.environ.setdefault("DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION", "inf")
    # Every process of the cluster ends with this one, even after a `kill -9` (`model.jobs.lifeline`).
    os.environ[LIFELINE_PARENT_VAR] = str(os.getpid())
    lifeline = ["model.jobs.lifeline"]
    return SubprocessCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        dashboard_address=dashboard_address(),
        scheduler_kwargs={"allowed_failures": ALLOWED_FAILURES, "preload": lifeline},
        worker_kwargs={"env": env, "preload_nanny": lifeline, "preload": lifeline},
        silence_logs=logging.ERROR,
    )


def dashboard_address() -> str | None:
    """Where a local cluster's dashboard listens: off unless `DASK_DASHBOARD_ADDRESS` asks, and on this machine
    alone (127.0.0.1) unless it names an interface: a bare port (":8787") would listen on every one."""
    asked = DASHBOARD_ADDRESS.value()
    if asked is None:
        return None
    host, _, port = asked.rpartition(":")
    return f"{host or '127.0.0.1'}:{port}" if port.isdigit() else asked


def training_env(threads: int) -> dict[str, str]:
    """A local worker's environment: its share of the cores for TensorFlow, at the idle priority.

    Dask starts workers with OMP_NUM_THREADS=1 (right for many small tasks);
    a worker here runs one TensorFlow job on all of its share. It shares them
    with the web server only as `SCHED_IDLE` allows (see
    `model.jobs.tasks.lower_priority`): a stroke never waits for training.
    """
    n = str(threads)
    return {
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "TF_NUM_INTRAOP_THREADS": n,
        "TF_NUM_INTEROP_THREADS": n,
        PRIORITY_VAR: "idle",
    }


def use_client(client) -> None:
    """Send jobs to `client` from now on (the tests' own small cluster, say)."""
    global _client
    with _lock:
        _client = client


def close_client() -> None:
    """Shut the client down (and a local cluster with it)."""
    global _client
    with _lock:
        if _client is not None:
            close(_client)
            _client = None


def close(client) -> None:
    """Close `client` on the way out, and the local cluster it started (`stop`), within a few seconds.

    Ctrl-C in a terminal reaches every process of its group, the cluster's
    scheduler and nannies included: they may be closing, or gone, when this
    process closes them, and Dask would try to reach them for up to its 30 s
    connect timeout, printing tracebacks, before the server could exit.
    """
    cluster = client.cluster
    if cluster is not None:
        # Closing cancels the client's attempts to reach a scheduler that went with Ctrl-C: Dask logs each
        # with a traceback, and none is news on the way out.
        logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
    with contextlib.suppress(Exception):
        client.close(timeout=CLOSE_TIMEOUT_S)
    if cluster is not None:
        stop(cluster)


def stop(cluster) -> None:
    """Let a local cluster end with this process, or close it where it would not (within a few seconds).

    On Linux every process of the cluster is sent SIGTERM when this one ends
    (`model.jobs.lifeline`), and each answers with an orderly close of its own:
    nothing needs to be waited for, whether they are alive, closing or gone.
    """
    if ENDS_WITH_PARENT:
        cluster.shutdown_on_close = False  # else Dask's own exit hook waits up to 10 s for it
        return
    with contextlib.suppress(Exception):
        cluster.close(timeout=CLOSE_TIMEOUT_S)


def scheduler_line(dask_scheduler) -> list[tuple[str, str, tuple]]:
    """Run on the scheduler: every visitor's job there, from any server, as (key, state, Dask's priority).

    Dask runs the smallest priority tuple first; "processing" is a run a
    worker is running. Every run is sent to a worker at once (see
    `local_cluster`), where it waits in the worker's own line, so of a
    worker's tasks beyond its threads only those its last heartbeat (every
    second) said it runs are "processing", the others "queued"; before a
    heartbeat says so, the ones it was sent first (Dask's generation, the
    second of the tuple). This reads `Scheduler.tasks`, each `TaskState`'s
    key, state, priority and worker, and `WorkerState.processing`,
    `executing` and `nthreads`, which Dask does not promise to keep:
    tests/test_jobs.py checks them.
    """

    def running(worker) -> set:
        if len(worker.processing) <= worker.nthreads:
            return set(worker.processing)
        known = {ts for ts in worker.processing if ts in worker.executing}
        return known or set(sorted(worker.processing, key=lambda ts: ts.priority[1:])[: worker.nthreads])

    workers = {}

    def state(ts) -> str:
        worker = ts.processing_on
        if ts.state != "processing" or worker is None:
            return ts.state
        if worker.address not in workers:
            workers[worker.address] = running(worker)
        return "processing" if ts in workers[worker.address] else "queued"

    return [
        (ts.key, state(ts), tuple(ts.priority or ()))
        for ts in dask_scheduler.tasks.values()
        if isinstance(ts.key, str) and ts.key.startswith(JOB_KEY) and ts.state in (*WAITING_STATES, "processing")
    ]
