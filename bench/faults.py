"""Faults: `kill -9` at random moments while samples are saved and imported and the default is saved.

    python -m bench.faults [--kills 60] [--write]

Each round starts a fresh process that does what the server does when a
visitor saves a sample, imports a file of samples, or the owner saves the
default (the same functions: `SampleStore.add`, `SampleStore.import_file`,
`model.store.defaults.save_default`), printing a line each time one is confirmed,
as the page would confirm it. After a random delay the process is killed
with SIGKILL. Then a new process does what the server does at start-up
(`ui.session.housekeeping`: sweep temporary files, repair every collection)
and checks:

- every confirmed sample is listed and readable, and every confirmed import
  is there in full;
- the default network loads, and is the last one confirmed (or the one
  being saved when the kill came);
- no temporary file or other debris is left anywhere.

A round passes only if all three hold. The figures go to BENCHMARKS.md's
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
from model.store.defaults import copy_default

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


def worker(home: Path, kind: str, seed: int) -> None:
    """Do one kind of write over and over, printing a line for each one confirmed."""
    from model.store.card import ModelCard
    from model.store.collection import visitor_store
    from model.store.defaults import save_default

    token = hashlib.sha256(f"round {seed}".encode()).hexdigest()[:32]  # a collection per round: within its quota
    store = visitor_store(token, home / "samples")
    rng = np.random.default_rng(seed)
    n = 0
    while True:
        n += 1
        if kind == "save":
            image = rng.integers(0, 256, (28, 28), dtype=np.uint8)
            strokes = {"objects": [[int(v) for v in rng.integers(0, 280, 40)]]}
            sample = store.add(image, int(rng.integers(0, 10)), strokes)
            print(f"sample {sample.id}", flush=True)
        elif kind == "import":
            file_seed = seed * 1000 + n
            print(f"importing {file_seed}", flush=True)
            store.import_file(sample_file(file_seed))
            print(f"imported {file_seed}", flush=True)
        else:
            data = variant(SHIPPED.read_bytes(), seed * 1000 + n)
            print(f"saving {hashlib.sha256(data).hexdigest()}", flush=True)
            save_default(home / "model" / "net.keras", data, ModelCard(other={"round": seed, "n": n}))
            print(f"saved {hashlib.sha256(data).hexdigest()}", flush=True)


def check(home: Path) -> dict:
    """What the server does at start-up, then whether everything confirmed is there and nothing else."""
    from model.store.collection import all_stores
    from model.store.defaults import load_default, sweep
    from model.store.samples import _digest

    repaired = len(sweep(home / "model" / "net.keras"))
    for store in all_stores(home / "samples"):
        repaired += sum(map(len, store.repair().values()))
    confirmed = (home / "confirmed.log").read_text().split("\n") if (home / "confirmed.log").exists() else []
    stores, entries = {}, {}
    for store in all_stores(home / "samples"):
        for entry in store.entries():
            stores[entry["id"]], entries[entry["id"]] = store, entry
    digests = {e["digest"] for e in entries.values()}
    problems = []
    for line in confirmed:
        kind, _, value = line.partition(" ")
        if kind == "sample":
            if value not in entries:
                problems.append(f"confirmed sample {value} missing")
            else:
                stores[value].load(value)  # raises if unreadable
        elif kind == "imported":
            with np.load(io.BytesIO(sample_file(int(value)))) as npz:
                wanted = {_digest(img, int(lab)) for img, lab in zip(npz["images"], npz["labels"])}
            if not wanted <= digests:
                problems.append(f"confirmed import {value} incomplete")
    saved = [line.split()[1] for line in confirmed if line.startswith("saved ")]
    attempted = [line.split()[1] for line in confirmed if line.startswith("saving ")]
    last_confirmed = saved[-1] if saved else hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    default = load_default(home / "model" / "net.keras")
    if default.name == "current":
        current = hashlib.sha256((home / "model" / "net.keras").read_bytes()).hexdigest()
        if current not in {last_confirmed, *attempted[-1:]}:
            problems.append("the default is neither the last confirmed one nor the one being saved")
    else:  # the pair was cut by the kill: the page reads the newest good one kept
        kept = hashlib.sha256((home / "model" / "net.history" / f"{default.name}.keras").read_bytes()).hexdigest()
        if kept != last_confirmed:
            problems.append("the default fell back past the last confirmed one")
    debris = [str(p.relative_to(home)) for p in home.rglob(".tmp-*")]
    if debris:
        problems.append(f"debris: {debris}")
    return {
        "problems": problems,
        "samples": len(entries),
        "fallback": default.problem is not None,
        "repaired": repaired,
    }


def run(kills: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    home = Path(tempfile.mkdtemp(prefix="faults-"))
    (home / "model").mkdir()
    copy_default(SHIPPED, home / "model" / "net.keras")
    results = []
    try:
        for round_ in range(kills):
            kind = KINDS[round_ % len(KINDS)]
            child = subprocess.Popen(
                [sys.executable, "-m", "bench.faults", "worker", str(home), kind, str(round_)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(rng.uniform(0.4, 2.0))  # the worker needs ~0.3 s to start; kills land mid-work
            os.kill(child.pid, signal.SIGKILL)
            out, err = child.communicate()
            with open(home / "confirmed.log", "a") as log:
                log.write(out)
            verdict = subprocess.run(
                [sys.executable, "-m", "bench.faults", "check", str(home)], cwd=ROOT, capture_output=True, text=True
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
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return {"rounds": results}


def markdown(figures: dict, command: str) -> str:
    rows = []
    for kind in KINDS:
        rounds = [r for r in figures["rounds"] if r["kind"] == kind]
        clean = sum(not r["problems"] for r in rounds)
        rows.append(
            [
                {
                    "save": "saving samples",
                    "import": "importing files of 40 samples",
                    "default": "saving the default network",
                }[kind],
                len(rounds),
                sum(r["confirmed"] for r in rounds),
                f"**{clean} of {len(rounds)}**",
                sum(r.get("repaired", 0) > 0 for r in rounds),
                sum(r.get("fallback", False) for r in rounds),
            ]
        )
    total = len(figures["rounds"])
    clean = sum(not r["problems"] for r in figures["rounds"])
    problems = sorted({p for r in figures["rounds"] for p in r["problems"]})
    return "\n".join(
        [
            "## Faults: `kill -9` at random moments",
            "",
            "Each round: a fresh process saves samples, imports files, or saves the default, confirming each one "
            "as the page would; it is killed with SIGKILL 0.4–2 s after it starts (mid-write, most of the time); "
            "then what the server does at start-up runs and checks that everything confirmed is there and "
            "readable, the default loads, and no temporary file is left.",
            "",
            table(
                [
                    "writing",
                    "kills",
                    "confirmed before the kills",
                    "clean after restart",
                    "kills that left something to repair (a temporary file, a sample without its line)",
                    "default read from the history (kill between network and card)",
                ],
                rows,
            ),
            "",
            f"**{clean} of {total} clean.**" + (f" Problems: {'; '.join(problems)}" if problems else ""),
            "",
            f"Command: `{command}` · {machine()}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "worker":
        worker(Path(argv[1]), argv[2], int(argv[3]))
        return 0
    if argv and argv[0] == "check":
        print(json.dumps(check(Path(argv[1]))))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="rewrite the Faults section of BENCHMARKS.md")
    args = parser.parse_args(argv)
    figures = run(args.kills, args.seed)
    text = markdown(figures, f"python -m bench.faults --kills {args.kills}")
    print(text)
    if args.write:
        replace_section("faults", text)
    return 0 if all(not r["problems"] for r in figures["rounds"]) else 1


if __name__ == "__main__":
    sys.exit(main())
