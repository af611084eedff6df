"""A local cluster's processes end with the process that started them, even after a `kill -9`.

The app's local cluster (`model.jobs.cluster.local_cluster`) runs its
scheduler and each worker's nanny as `dask spec` processes, children of the
web server, and each worker as a child of its nanny. A server that exits
normally closes them; one killed with SIGKILL cannot, and they used to run
on, holding a gigabyte each, with nobody to send them work.

Dask loads this module in each of those processes at start-up (a
"preload": `dask_setup` below). It asks Linux to send the process SIGTERM
when its parent dies (`prctl(PR_SET_PDEATHSIG)`), and ends it at once if the
parent is already gone. SIGTERM ends a nanny (and so its worker, which gets
the same arrangement) and the scheduler.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
ENDS_WITH_PARENT = sys.platform.startswith("linux")  # where prctl can tie a process to its parent
PARENT_VAR = "LIFELINE_PARENT_PID"  # the pid the first process of the cluster must outlive


def tie_to_parent(expected_parent: int | None = None) -> bool:
    """Be sent SIGTERM when the parent process dies; return False where Linux's prctl is not there."""
    if not ENDS_WITH_PARENT:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return False
    # The parent may have died before the line above: then no signal will come.
    if (expected_parent is not None and os.getppid() != expected_parent) or os.getppid() == 1:
        os.kill(os.getpid(), signal.SIGTERM)
    return True


def dask_setup(service) -> None:
    """Dask's preload hook: called in the scheduler, a nanny or a worker as it starts."""
    expected = os.environ.get(PARENT_VAR)
    # A worker's parent is its nanny; the scheduler's and a nanny's, the process that made the cluster.
    is_worker = type(service).__name__ == "Worker"
    tie_to_parent(None if is_worker or not expected else int(expected))
