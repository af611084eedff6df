"""Faults: `kill -9` at random moments while samples are saved and imported and the default is saved.

    python -m bench.faults [--kills 50] [--database sqlite|postgresql|both] [--write]

Each round starts a fresh process that does what the server does when a
visitor saves a sample, imports a file of samples, or the owner saves the
default (the same functions: `SampleStore.add`, `SampleStore.import_file`,
`model.store.defaults.publish`), printing a line each time one is
confirmed (committed), as the page would confirm it. After a random delay
the process is killed with SIGKILL, mid-transaction most of the time. Then
a new process opens the database as a server does at start-up and checks:

- every confirmed sample is listed and readable, and every confirmed import
  is there in full (an import is all or nothing: a cut one left no sample);
- the default network loads, and is the last one confirmed (or the one
  being saved when the kill came);
- the database opened without anything done by hand (SQLite replays its
  write-ahead log itself; PostgreSQL rolls the dead client's transaction back).

A round passes only if all three hold. Run against SQLite (a file) and a
real PostgreSQL server (`testkit.postgres`). The figures go to BENCHMARKS.md's
"Faults" section.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from bench.report import machine, replace_section, table

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "model" / "mnist_ann.keras"
KINDS = ("save", "import", "default")


def variant(data: bytes, n: int) -> bytes:
    """The same network in a different zip (another member order): another sha256, as a new default would be."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        infos = src.infolist()
        for info in infos[n % len(infos) :] + infos[: n % len(infos)]:
            dst.writestr(info.filename, src.read(info))
        dst.comment = f"variant {n}".encode()
    return out.getvalue()


def sample_file(seed: int, count: int = 40) -> bytes:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        images=images,
        labels=rng.integers(0, 10, count).astype(np.uint8),
        strokes=np.array([json.dumps({"objects": [i]}) for i in range(count)]),
    )
    return buffer.getvalue()


def worker(url: str, kind: str, seed: int) -> None:
    """Do one kind of write over and over, printing a line for each one confirmed."""
    from dataclasses import replace

    from model.store.collection import visitor_store
    from model.store.defaults import publish
    from model.store.network_file import read_network_file

    token = hashlib.sha256(f"round {seed}".encode()).hexdigest()[:32]  # a collection per round: within its quota
    store = visitor_store(token, url)
    rng = np.random.default_rng(seed)
    n = 0
    while True:
        n += 1
        if kind == "save":
            image = rng.integers(0, 256, (28, 28), dtype=np.uint8)
            strokes = {"objects": [[int(v) for v in rng.integers(0, 280, 40)]]}
            sample = store.add(image, int(rng.integers(0, 10)), strokes)
            print(f"sample {token} {sample.id}", flush=True)
        elif kind == "import":
            file_seed = seed * 1000 + n
            print(f"importing {token} {file_seed}", flush=True)
            store.import_file(sample_file(file_seed))
            print(f"imported {token} {file_seed}", flush=True)
        else:
            shipped = read_network_file(SHIPPED)
            name = f"round-{seed}-{n}"
            network = replace(shipped, card=replace(shipped.card, other={**shipped.card.other, "fault_round": name}))
            print(f"saving {name}", flush=True)
            publish(network, url, SHIPPED)
            print(f"saved {name}", flush=True)


def check(url: str, confirmed: list[str]) -> dict:
    """Open the database as a server does, then see whether everything confirmed is there."""
    from model.reading.network import ModelFileError
    from model.store.collection import visitor_store
    from model.store.defaults import current_default
    from model.store.samples import _digest

    problems = []
    stores: dict = {}
    for line in confirmed:
        kind, *fields = line.split()
        if kind == "sample":
            token, sample_id = fields
            store = stores.setdefault(token, visitor_store(token, url))
            try:
                store.load(sample_id)
            except Exception as error:  # noqa: BLE001 - any failure to read it back is the finding
                problems.append(f"confirmed sample {sample_id} missing or unreadable ({error})")
        elif kind == "imported":
            token, file_seed = fields
            store = stores.setdefault(token, visitor_store(token, url))
            digests = {entry["digest"] for entry in store.entries()}
            with np.load(io.BytesIO(sample_file(int(file_seed)))) as npz:
                wanted = {_digest(img, int(lab)) for img, lab in zip(npz["images"], npz["labels"])}
            if not wanted <= digests:
                problems.append(f"confirmed import {file_seed} incomplete")
    saved = [line.split()[1] for line in confirmed if line.startswith("saved ")]
    attempted = [line.split()[1] for line in confirmed if line.startswith("saving ")]
    last_confirmed = saved[-1] if saved else "shipped"
    try:
        default, problem = current_default(url, SHIPPED)
    except ModelFileError as error:
        default, problem = None, str(error)
    if problem:
        problems.append(f"the default did not load: {problem}")
    current = default.card.other.get("fault_round", "shipped") if default else None
    if current not in {last_confirmed, *attempted[-1:]}:
        problems.append("the default is neither the last confirmed one nor the one being saved")
    samples = sum(len(store.entries()) for store in stores.values())
    return {"problems": problems, "samples": samples}


def run(kills: int, url: str, seed: int = 0) -> dict:
    rng = random.Random(seed)
    confirmed: list[str] = []
    results = []
    for round_ in range(kills):
        kind = KINDS[round_ % len(KINDS)]
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.faults", "worker", url, kind, str(round_)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.8, 2.5))  # the worker needs ~0.6 s to start; kills land mid-work
        os.kill(child.pid, signal.SIGKILL)
        out, _ = child.communicate()
        confirmed += [line for line in out.splitlines() if line]
        verdict = subprocess.run(
            [sys.executable, "-m", "bench.faults", "check", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            input="\n".join(confirmed),
        )
        outcome = (
            json.loads(verdict.stdout)
            if verdict.returncode == 0
            else {"problems": [verdict.stderr.strip().splitlines()[-1] if verdict.stderr else "check failed"]}
        )
        outcome.update(
            kind=kind,
            confirmed=sum(1 for line in out.splitlines() if line.split()[0] in ("sample", "imported", "saved")),
        )
        results.append(outcome)
        print(
            f"round {round_ + 1}/{kills} ({kind}): confirmed {outcome['confirmed']}, "
            f"{'clean' if not outcome['problems'] else outcome['problems']}",
            flush=True,
        )
    return {"rounds": results}


def markdown(runs: dict[str, dict], command: str) -> str:
    rows = []
    for database, figures in runs.items():
        for kind in KINDS:
            rounds = [r for r in figures["rounds"] if r["kind"] == kind]
            clean = sum(not r["problems"] for r in rounds)
            rows.append(
                [
                    database,
                    {
                        "save": "saving samples",
                        "import": "importing files of 40 samples",
                        "default": "saving the default",
                    }[kind],
                    len(rounds),
                    sum(r["confirmed"] for r in rounds),
                    f"**{clean} of {len(rounds)}**",
                ]
            )
    totals = [
        f"**{database}: {sum(not r['problems'] for r in f['rounds'])} of {len(f['rounds'])} kills clean**"
        for database, f in runs.items()
    ]
    problems = sorted({p for f in runs.values() for r in f["rounds"] for p in r["problems"]})
    return "\n".join(
        [
            "## Faults: `kill -9` at random moments",
            "",
            "Each round: a fresh process saves samples, imports files, or saves the default, confirming each one "
            "as the page would (after its commit); it is killed with SIGKILL 0.8–2.5 s after it starts (mid-write, "
            "most of the time); then a new process opens the database as a server does and checks that everything "
            "confirmed is there and readable, every confirmed import whole, and that the default loads and is the "
            "last one confirmed (or the one being saved). Nothing is repaired by hand, and no repair code is left "
            "to run: SQLite replays its write-ahead log, PostgreSQL rolls a dead client's transaction back.",
            "",
            table(["database", "writing", "kills", "confirmed before the kills", "clean after restart"], rows),
            "",
            " · ".join(totals) + (f". Problems: {'; '.join(problems)}" if problems else "."),
            "",
            f"Command: `{command}` · {machine()}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "worker":
        worker(argv[1], argv[2], int(argv[3]))
        return 0
    if argv and argv[0] == "check":
        print(json.dumps(check(argv[1], [line for line in sys.stdin.read().splitlines() if line])))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="rewrite the Faults section of BENCHMARKS.md")
    args = parser.parse_args(argv)
    from testkit.postgres import temporary_postgres

    runs = {}
    if args.database in ("sqlite", "both"):
        home = Path(tempfile.mkdtemp(prefix="faults-"))
        try:
            runs["SQLite"] = run(args.kills, f"sqlite:///{home / 'samples.sqlite3'}", args.seed)
        finally:
            shutil.rmtree(home, ignore_errors=True)
    if args.database in ("postgresql", "both"):
        with temporary_postgres() as url:
            runs["PostgreSQL"] = run(args.kills, url, args.seed)
    text = markdown(runs, f"python -m bench.faults --kills {args.kills} --database {args.database}")
    print(text)
    if args.write:
        replace_section("faults", text)
    return 0 if all(not r["problems"] for f in runs.values() for r in f["rounds"]) else 1


if __name__ == "__main__":
    sys.exit(main())
