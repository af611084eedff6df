"""One BLAS thread for the reading path: a stroke's matrix products are too small to share out.

NumPy's OpenBLAS starts a thread per core and, after each product, keeps
them spinning for a while in case another comes. The page's products
(one drawing through a few Dense layers) take well under a millisecond on
one core, so the other threads only burn CPU the web server needs for
other visitors: measured on 2 cores with one visitor drawing every 1.5 s,
the server spent 138 ms of CPU per stroke with OpenBLAS's default threads
and 21 ms with one (BENCHMARKS.md, "Many visitors").

`threadpoolctl` sets it at run time, in the process that calls it, for
every BLAS library NumPy (or SciPy) loaded; set once per server process.
"""

from __future__ import annotations

import functools


@functools.cache
def one_blas_thread() -> int:
    """Limit BLAS to one thread in this process from now on; return how many libraries it set."""
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    return sum(1 for library in threadpool_info() if library["user_api"] == "blas")
