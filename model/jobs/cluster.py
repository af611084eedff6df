"""Where training runs: a Dask cluster, local by default, shared when `DASK_SCHEDULER_ADDRESS` says so.

With nothing configured, the first job starts a local cluster of worker
**processes** (never threads: TensorFlow must stay out of the web server's
process; see `local_cluster` for why not `LocalCluster` itself), one worker
with one task slot on a machine of up to 4 cores, a worker per 4 cores
beyond. TensorFlow uses every core of its worker's share but one (left to
the web server), so two runs at once would only slow each other: one slot
per worker makes the rest queue, in the order they were asked for. The
dashboard is off unless `DASK_DASHBOARD_ADDRESS` asks for it.

With `DASK_SCHEDULER_ADDRESS` (Dask's own setting, also read by
`train.py`), jobs go to that cluster instead: start `dask scheduler` on one
machine and `dask worker tcp://SCHEDULER:8786 --nthreads 1 --nworkers N`
on each of the others, each with its own `MNIST_PATH`.

A scheduler that cannot be reached, or a cluster that cannot start, is a
`ClusterUnavailable` with a sentence to show.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading

import dask

LOCAL_WORKER_CORES = 4  # cores per local worker: TensorFlow's gain beyond this is small for these networks
CONNECT_TIMEOUT = "5s"
ALLOWED_FAILURES = 0  # a task whose worker dies is failed at once (and the nanny restarts the worker)
LOCAL_WORKER_NICE = 10  # local workers run at a lower CPU priority than the page

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
            if address:
                _client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
            else:
                _client = Client(local_cluster(), set_as_default=False)
                atexit.register(close_client)  # the scheduler and workers go when the server does
        except (OSError, TimeoutError) as error:
            where = f"the training cluster at {address}" if address else "a local training cluster"
            raise ClusterUnavailable(
                f"Training is unavailable: {where} could not be reached or started "
                f"({type(error).__name__}). Drawing works as before."
            ) from None
        return _client


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
    # Dask starts workers with OMP_NUM_THREADS=1 (right for many small tasks);
    # a worker here runs one TensorFlow job on its share of the cores.
    threads = str(max(1, cores // n_workers))
    # TensorFlow leaves one core of its share to the web server on the same
    # machine. For these networks it loses little: on 2 cores, one thread
    # trained the sidebar's default network in 5.5 s against 5.7 s with two
    # (medians of 6), using a quarter less CPU, and 784-800-400 as fast.
    tensorflow_threads = str(max(1, int(threads) - 1))
    # Training also yields the CPU to the page (`model.jobs.tasks.lower_priority`).
    env = {
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "TF_NUM_INTRAOP_THREADS": tensorflow_threads,
        "TF_NUM_INTEROP_THREADS": tensorflow_threads,
        "TRAINING_NICE": str(LOCAL_WORKER_NICE),
        **(env or {}),
    }
    # Dask sends a worker one task more than it has slots, ahead of time; a run sent ahead would start
    # before one asked for earlier that reached the scheduler later. One at a time keeps the queue's
    # order. (The scheduler's process reads this from its environment, which it inherits from ours.)
    os.environ.setdefault("DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION", "1.0")
    return SubprocessCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        dashboard_address=os.environ.get("DASK_DASHBOARD_ADDRESS"),
        scheduler_kwargs={"allowed_failures": ALLOWED_FAILURES},
        worker_kwargs={"env": env},
        silence_logs=logging.ERROR,
    )


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
            cluster = _client.cluster
            _client.close()
            if cluster is not None:
                cluster.close()
            _client = None
