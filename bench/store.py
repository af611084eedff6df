"""The samples' database under load, on SQLite and on PostgreSQL, in one run.

    python -m bench.store [--saves 200] [--seconds 10] [--write]

- a save (`SampleStore.add`: one transaction, the quota checked in it) with
  10 and with 10,000 samples already in the collection: median and p95 of
  `--saves` saves each;
- 20 visitors saving at once, each to their own collection, for
  `--seconds`: saves per second and the p95 of a save;
- importing a file of 2,000 samples (the most a collection holds): median of 3;
- the lines of the store's code before the database (the folder store with
  its log, repair and locks) and now.

SQLite is a file in a temporary folder; PostgreSQL a throw-away server
(`testkit.postgres`) on the same machine, over its Unix socket.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.report import machine, replace_section, table
from model.store.samples import SampleStore

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "cc74f27"  # the last commit with the folder store
OLD_STORE = ["model/store/samples.py", "model/store/collection.py", "model/store/atomic.py", "model/store/ratelimit.py"]
NEW_STORE = [
    "model/store/samples.py",
    "model/store/collection.py",
    "model/store/ratelimit.py",
    "model/store/db.py",
    "model/store/schema.py",
    "model/store/folder_import.py",
    "model/store/migrations/env.py",
    "model/store/migrations/versions/0001_first_schema.py",
]


def image(n: int) -> np.ndarray:
    return np.random.default_rng(n).integers(0, 256, (28, 28), dtype=np.uint8)


def samples_file(count: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, images=rng.integers(0, 256, (count, 28, 28), dtype=np.uint8), labels=rng.integers(0, 10, count)
    )
    return buffer.getvalue()


def strokes(n: int) -> dict:
    return {"objects": [{"type": "Path", "path": [["Q", n, n + 1, n + 2, n + 3]] * 40}]}


def save_times(store: SampleStore, count: int) -> list[float]:
    times = []
    for n in range(count):
        started = time.perf_counter()
        store.add(image(n), n % 10, strokes(n))
        times.append((time.perf_counter() - started) * 1000)
    return times


def fill(store: SampleStore, total: int) -> None:
    """Bring a collection to `total` samples with imports of 2,000 (quick; what is measured is the save after)."""
    for n in range(total // 2000):
        store.import_file(samples_file(2000, seed=1000 + n))


def concurrent_saves(url: str, visitors: int, seconds: float) -> dict:
    times: list[float] = []
    stop = time.monotonic() + seconds

    def visitor(v: int) -> None:
        store = SampleStore(f"visitors/bench-{v}", url=url)
        n = 0
        while time.monotonic() < stop:
            started = time.perf_counter()
            store.add(image(v * 100_000 + n), n % 10, strokes(n))
            times.append((time.perf_counter() - started) * 1000)
            n += 1

    threads = [threading.Thread(target=visitor, args=(v,)) for v in range(visitors)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {"saves": len(times), "per_second": len(times) / elapsed, "p50": _p(times, 50), "p95": _p(times, 95)}


def _p(values, q) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def measure(url: str, saves: int, seconds: float) -> dict:
    small = SampleStore("visitors/small", max_samples=20_000, url=url)
    for n in range(10):
        small.add(image(10_000_000 + n), n % 10)
    large = SampleStore("visitors/large", max_samples=20_000, url=url)
    fill(large, 10_000)
    assert large.used()[0] == 10_000
    result = {"small": save_times(small, saves), "large": save_times(large, saves)}
    result["concurrent"] = concurrent_saves(url, 20, seconds)
    imports = []
    for n in range(3):
        target = SampleStore(f"visitors/import-{n}", url=url)
        data = samples_file(2000, seed=n)
        started = time.perf_counter()
        assert target.import_file(data) == 2000
        imports.append(time.perf_counter() - started)
    result["import_s"] = statistics.median(imports)
    return result


def lines(revision: str | None, paths: list[str]) -> dict[str, int]:
    """Lines of each file, now or at `revision`."""
    counted = {}
    for path in paths:
        if revision is None:
            counted[path] = len((ROOT / path).read_text().splitlines())
        else:
            shown = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, capture_output=True, text=True)
            counted[path] = len(shown.stdout.splitlines())
    return counted


def listed(counted: dict[str, int]) -> str:
    return ", ".join(f"{Path(path).stem} {n}" for path, n in counted.items()) + f" = **{sum(counted.values())}**"


def markdown(results: dict, saves: int, command: str) -> str:
    rows = []
    for database, r in results.items():
        c = r["concurrent"]
        rows.append(
            [
                database,
                f"{statistics.median(r['small']):.2f} / {_p(r['small'], 95):.2f} ms",
                f"{statistics.median(r['large']):.2f} / {_p(r['large'], 95):.2f} ms",
                f"{statistics.median(r['large']) / statistics.median(r['small']):.2f}×",
                f"{c['per_second']:.0f} saves/s (p50 {c['p50']:.1f} ms, p95 {c['p95']:.1f} ms)",
                f"{r['import_s']:.2f} s",
            ]
        )
    before, after = lines(BEFORE, OLD_STORE), lines(None, NEW_STORE)
    return "\n".join(
        [
            "## Visitors' samples in a database",
            "",
            f"Each save is one transaction (`SampleStore.add`: the collection's counters raised within the quota, "
            f"then the row), committed before it returns; median / p95 of {saves} saves into a collection of 10 and "
            "of 10,000 samples (its quota raised for the measure); then 20 threads, each a visitor with a collection "
            "of its own, saving as fast as they can; then a file of 2,000 samples imported in one transaction "
            "(median of 3). SQLite is a file (WAL, `synchronous=FULL`), PostgreSQL a server on this machine "
            "reached over its Unix socket; the load shares this machine's 2 cores with the databases.",
            "",
            table(
                [
                    "database",
                    "a save, 10 in the collection (median / p95)",
                    "a save, 10,000 in the collection",
                    "10,000 ÷ 10",
                    "20 visitors saving at once",
                    "import of 2,000 samples",
                ],
                rows,
            ),
            "",
            f"Lines of the store's code (docstrings included). Before, the folder store (commit {BEFORE}): "
            f"{listed(before)}. Now: {listed(after)}. The log, its incremental reader, the repair and the "
            "folder locks are gone (samples.py lost them and gained its queries); what is new is the database's "
            "plumbing (db: engine, schema upgrade under a lock, failures as sentences), the schema (written twice, "
            "as SQLAlchemy tables and as the first Alembic migration, which stays as written) and the one-time "
            "import of the folder store.",
            "",
            f"Command: `{command}` · {machine()}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__.split("\n")[0])
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--write", action="store_true", help="rewrite the store section of BENCHMARKS.md")
    args = parser.parse_args(argv)
    from testkit.postgres import temporary_postgres

    results = {}
    home = Path(tempfile.mkdtemp(prefix="store-"))
    try:
        results["SQLite"] = measure(f"sqlite:///{home / 'samples.sqlite3'}", args.saves, args.seconds)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    with temporary_postgres() as url:
        results["PostgreSQL"] = measure(url, args.saves, args.seconds)
    text = markdown(results, args.saves, f"python -m bench.store --saves {args.saves} --seconds {args.seconds:.0f}")
    print(text)
    if args.write:
        replace_section("store", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
