"""Two local workers as a stand-in for a cluster: do the queue's jobs spread over both?

A local cluster of two workers is given to the app's own queue
(`model.jobs.service.JobService`), and four visitors' default retrains (128, 64; 5
epochs, full MNIST) are submitted at once. Reported: which worker ran each
job, the seconds from submission to each network, and the whole batch's
wall time against one worker doing the same four jobs in the same run. On
this 2-core machine the two workers share the cores (one TensorFlow thread
each, as the app sets them), so the point is the spreading, not a speed-up.

    MNIST_PATH=… python -m bench.two_workers [--epochs 5] [--jobs 4] [--write]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from model.config import SIDEBAR_DEFAULTS


def batch(n_workers: int, jobs: int, epochs: int) -> dict:
    from distributed import Client, get_task_stream

    from model.jobs.cluster import local_cluster
    from model.jobs.service import JobService, Kind, TrainSpec
    from model.jobs.tasks import warm_up

    cluster = local_cluster(n_workers=n_workers)  # the app's own settings: threads, priority
    client = Client(cluster, set_as_default=False)
    try:
        # Warm every worker, as the app warms its own: wait for all of them first (warming the workers
        # there happened to be had warmed none, and each first job measured their start-up too).
        client.wait_for_workers(n_workers)
        workers = list(client.scheduler_info()["workers"])
        client.gather([client.submit(warm_up, pure=False, workers=[worker]) for worker in workers])
        service = JobService(client_factory=lambda: client)
        config = replace(SIDEBAR_DEFAULTS, epochs=epochs)
        started = time.perf_counter()
        with get_task_stream(client) as stream:
            submitted = [
                service.submit(f"visitor {i}", Kind.TRAIN, TrainSpec(config, config.command())) for i in range(jobs)
            ]
            finished: dict[int, float] = {}
            while len(finished) < jobs:
                for i, job in enumerate(submitted):
                    job.touch()
                    if job.finished and i not in finished:
                        finished[i] = time.perf_counter() - started
                time.sleep(0.1)
        worker_of = {task["key"]: task["worker"] for task in stream.data}
        ran_on = [worker_of.get(job.key) if job.state == "done" else f"({job.state}: {job.error})" for job in submitted]
        return {
            "workers": n_workers,
            "wall_s": max(finished.values()),
            "per_job_s": [round(finished[i], 1) for i in range(jobs)],
            "ran_on": ran_on,
            "distinct_workers_used": len({w for w in ran_on if w and w.startswith("tcp")}),
        }
    finally:
        client.close()
        cluster.close()


def run(epochs: int, jobs: int) -> dict:
    two = batch(2, jobs, epochs)
    one = batch(1, jobs, epochs)
    return {"two_workers": two, "one_worker": one, "ratio": one["wall_s"] / two["wall_s"]}


def markdown(r: dict, command: str) -> str:
    from bench.report import machine, table

    rows = []
    for label, b in (("two workers", r["two_workers"]), ("one worker", r["one_worker"])):
        rows.append(
            [
                label,
                f"{b['distinct_workers_used']} of {b['workers']}",
                ", ".join(w.rsplit(":", 1)[-1] if w else "?" for w in b["ran_on"]),
                ", ".join(map(str, b["per_job_s"])),
                f"{b['wall_s']:.1f} s",
            ]
        )
    return "\n".join(
        [
            "## Training on Dask: two local workers as a stand-in for a cluster",
            "",
            "Four default retrains submitted at once to the app's queue (`model.jobs.service.JobService`) "
            "on a local cluster of two workers, then of one, in the same run; "
            "each worker warm (TensorFlow and MNIST loaded). "
            "On these 2 cores the two workers share the CPU (one TensorFlow thread each).",
            "",
            table(
                ["cluster", "workers used", "ran on (worker port)", "seconds to each network", "all four done"], rows
            ),
            "",
            f"Two workers against one: {r['ratio']:.2f}× the throughput of the batch.",
            "",
            f"Command: `{command}` · {machine()}",
        ]
    )


if __name__ == "__main__":
    from bench.report import replace_section

    parser = argparse.ArgumentParser(description="Do the training queue's jobs spread over two workers?")
    parser.add_argument("--epochs", type=int, default=SIDEBAR_DEFAULTS.epochs)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    figures = run(args.epochs, args.jobs)
    text = markdown(figures, f"python -m bench.two_workers --epochs {args.epochs} --jobs {args.jobs}")
    print(text)
    if args.write:
        replace_section("two-workers", text)
