"""What the benchmarks read of processes (CPU time, resident memory, descendants), through psutil."""

from __future__ import annotations

import threading
import time

import psutil


def _alive(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def descendants(pid: int) -> list[int]:
    """Every process below `pid` still running (a server's local cluster: scheduler, nannies, workers)."""
    process = _alive(pid)
    if process is None:
        return []
    try:
        return [child.pid for child in process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of one process (all its threads), seconds; 0 once it is gone."""
    process = _alive(pid)
    try:
        times = process.cpu_times() if process else None
    except psutil.NoSuchProcess:
        times = None
    return times.user + times.system if times else 0.0


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and every descendant still running, seconds."""
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in descendants(pid))


def rss_mb(pid: int) -> float:
    """One process's resident set, MB; 0 once it is gone."""
    process = _alive(pid)
    try:
        return process.memory_info().rss / 2**20 if process else 0.0
    except psutil.NoSuchProcess:
        return 0.0


def tree_rss_mb(pid: int) -> tuple[float, float]:
    """(the process alone, the process and all its descendants) resident set, MB."""
    own = rss_mb(pid)
    return own, own + sum(rss_mb(child) for child in descendants(pid))


def named_cpu_seconds(pid: int, prefix: str) -> float:
    """CPU time of the processes below `pid` whose name starts with `prefix` (e.g. "chrom"), seconds."""
    total = 0.0
    for child in descendants(pid):
        process = _alive(child)
        try:
            if process and process.name().startswith(prefix):
                total += cpu_seconds(child)
        except psutil.NoSuchProcess:
            pass
    return total


def wait_gone(pids: list[int], timeout_s: float = 60) -> None:
    """Until none of `pids` runs (a zombie counts as gone), or `timeout_s`."""
    deadline = time.time() + timeout_s
    while time.time() < deadline and any(
        (p := _alive(pid)) is not None and p.status() != psutil.STATUS_ZOMBIE for pid in pids
    ):
        time.sleep(0.2)


class MemoryWatch(threading.Thread):
    """The peak resident set of some processes and their descendants, sampled every half second."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.pids, self.peak_servers, self.peak_tree, self.running = pids, 0.0, 0.0, True

    def run(self):
        while self.running:
            sizes = [tree_rss_mb(pid) for pid in self.pids]
            self.peak_servers = max(self.peak_servers, sum(own for own, _ in sizes))
            self.peak_tree = max(self.peak_tree, sum(tree for _, tree in sizes))
            time.sleep(0.5)
