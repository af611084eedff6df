"""How many visitors the page carries: Locust visitors that speak Streamlit's protocol, in one run.

    python -m bench.capacity [--levels 1 20 60 100 200] [--seconds 45] [--write]

All in one run on this machine, each against servers started for it (the
real MNIST, a copy of the default, a database of its own; visitors are not
the owner):

1. the bare page (`bench/bare_app.py`: the same canvas in a fragment, one
   `st.metric`, the same `.streamlit`) at `--bare-levels` visitors: the
   reference for the server's CPU per stroke;
2. the page, one server, at each of `--levels` visitors (a stroke every
   1.5-3 s each, `bench.visitors`);
3. the bare page and the page in turn, both servers up, `--pairs` times at
   `--pair-visitors` visitors for `--pair-seconds` each: the ratio of their
   CPU per stroke, with the machine's drift on both sides of each ratio;
4. the page, one server, 60 visitors while 2 of them train the sidebar's
   default network and 1 imports a file of 2,000 samples;
5. the check against real browsers: `--pages` Chromium pages alone, then as
   many protocol visitors alone, each clearing and drawing (`LOAD_CLEAR`):
   the server's CPU per rerun of each;
6. the page on `--replicas` replicas behind HAProxy (`scripts/serve.py`) at
   `--replica-levels` visitors.

Each level is measured over `--seconds` after every visitor has connected:
strokes sent, answered, read right (the Prediction against the digit's
label), unanswered (no answer in 15 s), Streamlit's exception boxes,
tracebacks in the servers' logs, round trip p50/p95/p99/max (server only:
the browser's own 200 ms wait after mouse-up and its rendering come on top),
the servers' CPU per stroke (their processes alone, not the training
cluster's), their memory with and without their children, and the load
generator's own CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.pages import draw_in_pages
from bench.processes import MemoryWatch, cpu_seconds, tree_cpu_seconds
from bench.report import machine, replace_section, table
from model.store.network_file import copy_network_file
from scripts.serve import wait_healthy
from testkit.chromium import ROOT, free_port

IDLE_S = 10  # the servers' idle CPU is read over this long, once warm
SETTLE_S = 5  # after the last visitor connected, before the window opens
SPAWN_PER_S = 5  # visitors arriving per second: a class opening the page within a minute, not all at once


class Servers:
    """One page's servers for a phase: their processes, logs, URL; stopped with `stop`."""

    def __init__(self, url: str, processes: list[subprocess.Popen], logs: list[Path], owner: subprocess.Popen):
        self.url, self.processes, self.logs, self.owner = url, processes, logs, owner
        self.idle_cpu_per_s = 0.0  # measured by `warm`: what the servers spend with nobody drawing

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def tracebacks(self) -> int:
        return sum(log.read_text(errors="replace").count("Traceback") for log in self.logs if log.exists())

    def stop(self) -> None:
        self.owner.send_signal(signal.SIGTERM)
        try:
            self.owner.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.owner.kill()


PUBLIC = "owner_on_this_machine = false\n"  # the benchmark's browsers are visitors, not the owner


def page_env(home: Path, secrets: str = PUBLIC) -> dict:
    home.mkdir(parents=True, exist_ok=True)
    model = home / "model" / "mnist_ann.keras"
    model.parent.mkdir(parents=True, exist_ok=True)
    copy_network_file(ROOT / "model" / "mnist_ann.keras", model)
    (home / "secrets.toml").write_text(secrets)
    env = {**os.environ, "MODEL_PATH": str(model), "SAMPLES_DATABASE_URL": f"sqlite:///{home / 'samples.sqlite3'}"}
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    return env


def one_server(script: str, home: Path, secrets: str = PUBLIC) -> Servers:
    port = free_port()
    env = page_env(home, secrets)
    log = home / f"{Path(script).stem}.log"
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--secrets.files", str(home / "secrets.toml")]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process, timeout_s=180)
    return Servers(url, [process], [log], process)


def replicas(count: int, home: Path, secrets: str = PUBLIC) -> Servers:
    port = free_port() if count == 1 else _free_run(count + 1)
    command = [sys.executable, str(ROOT / "scripts" / "serve.py"), "--replicas", str(count), "--port", str(port)]
    command += ["--bind", "127.0.0.1", "--logs", str(home / "logs")]
    command += ["--", "--secrets.files", str(home / "secrets.toml")]
    env = page_env(home, secrets)
    owner = subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(home / "serve.log", "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, owner, timeout_s=240)
    found = []
    for n in range(1, count + 1):
        pid = subprocess.run(
            ["pgrep", "-f", f"streamlit run .*--server.port {port + n}"], capture_output=True, text=True
        ).stdout.split()
        found.append(pid[0])
    processes = [_Known(int(pid)) for pid in found]
    logs = [home / "logs" / f"replica-{n}.log" for n in range(1, count + 1)]
    return Servers(url, processes, logs, owner)


class _Known:
    """A process this benchmark did not start itself (a replica of serve.py): its pid is enough."""

    def __init__(self, pid: int):
        self.pid = pid


def _free_run(n: int) -> int:
    import socket

    for _ in range(50):
        base = free_port()
        ok = True
        for k in range(n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", base + k))
                except OSError:
                    ok = False
        if ok:
            return base
    raise RuntimeError("no run of free ports")


def warm(servers: Servers, quiet_for_s: float = 5, timeout_s: float = 120) -> None:
    """A first visit and a few strokes, then wait until the servers are quiet: their start-up is not measured.

    A server's first run imports the page's modules, and the page's first
    visit starts the training cluster and its warm-up; none of that is a
    stroke's cost.
    """
    from testkit.protocol import Session
    from testkit.strokes import drawings

    session = Session(f"{servers.url}/", timeout_s=60)
    first = session.connect()
    fragment = next(f for _, f, e in first.elements if e.WhichOneof("type") == "bidi_component")
    canvas = session.widget("bidi_component", "canvas").id
    for value, _ in drawings()[:5]:
        session.set_json(canvas, value)
        session.rerun(fragment)
    session.close()
    deadline = time.monotonic() + timeout_s
    quiet_since, before = time.monotonic(), servers.cpu()
    while time.monotonic() < deadline:
        time.sleep(1)
        now = servers.cpu()
        if now - before > 0.05:  # more than 5% of a core in that second
            quiet_since = time.monotonic()
        before = now
        if time.monotonic() - quiet_since >= quiet_for_s:
            break
    # Streamlit polls its config files five times a second, whoever is drawing: a cost per second, not per
    # stroke, taken out of every level's CPU per stroke (it would favour whichever level draws most).
    before = servers.cpu()
    time.sleep(IDLE_S)
    servers.idle_cpu_per_s = (servers.cpu() - before) / IDLE_S


class CpuTimeline(threading.Thread):
    """The servers' and the load generator's CPU seconds, read every half second, to take any window of them."""

    def __init__(self, servers: Servers, generator_pid: int):
        super().__init__(daemon=True)
        self.servers, self.generator_pid, self.running = servers, generator_pid, True
        self.points: list[tuple[float, float, float]] = []  # (time, servers' CPU, generator's CPU)

    def run(self):
        while self.running:
            try:
                self.points.append((time.time(), self.servers.cpu(), tree_cpu_seconds(self.generator_pid)))
            except (OSError, ValueError):
                pass
            time.sleep(0.5)

    @property
    def last_time(self) -> float:
        return self.points[-1][0] if self.points else time.time()

    def _at(self, when: float, column: int) -> float:
        times = [p[0] for p in self.points]
        return float(np.interp(when, times, [p[column] for p in self.points]))

    def servers_between(self, start: float, end: float) -> float:
        return self._at(end, 1) - self._at(start, 1)

    def generator_between(self, start: float, end: float) -> float:
        return self._at(end, 2) - self._at(start, 2)


def load(servers: Servers, visitors: int, seconds: float, home: Path, **env) -> dict:
    """`visitors` Locust visitors against `servers` for `seconds` (after they have all connected)."""
    counts = home / f"counts-{visitors}-{time.time():.0f}.json"
    ramp = visitors / SPAWN_PER_S
    processes = 1 if visitors <= 120 else 2
    command = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "visitors.py"), "--headless"]
    command += ["--host", f"{servers.url}/", "-u", str(visitors), "-r", str(SPAWN_PER_S)]
    command += ["-t", f"{ramp + SETTLE_S + seconds + 15:.0f}s", "--only-summary", "--stop-timeout", "5"]  # + start-up
    command += ["--csv", str(home / f"locust-{visitors}"), "--processes", str(processes)]
    environment = {**os.environ, "LOAD_COUNTS_FILE": str(counts), **{k: str(v) for k, v in env.items()}}
    watch = MemoryWatch(servers.pids)
    watch.start()
    tracebacks_before = servers.tracebacks()
    generator = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=open(home / "locust.log", "a"), stderr=subprocess.STDOUT
    )
    timeline = CpuTimeline(servers, generator.pid)
    timeline.start()
    generator.wait(timeout=ramp + SETTLE_S + seconds + 600)
    timeline.running = False
    watch.running = False
    found = json.loads(counts.read_text()) if counts.exists() else {"strokes": [], "errors": ["no counts written"]}
    # The window opens once every visitor has drawn (a session's first stroke sets it up: not a steady stroke).
    first = {}
    for stroke in found["strokes"]:
        first[stroke[4]] = min(first.get(stroke[4], stroke[0]), stroke[0])
    window_start = (max(first.values()) if first else time.time()) + 1.0
    window_end = min(window_start + seconds, timeline.last_time - 1.0)
    inside = [s for s in found["strokes"] if window_start <= s[0] < window_end]
    drawn = [s for s in inside if s[2] != -1]
    answered = [s for s in inside if s[1] is not None and s[1] <= 15_000 and s[0] + s[1] / 1000 <= window_end]
    times = np.array([s[1] for s in answered]) if answered else np.array([np.nan])
    servers_cpu = timeline.servers_between(window_start, window_end)
    cpu = servers_cpu - servers.idle_cpu_per_s * (window_end - window_start)
    generator_cpu = timeline.generator_between(window_start, window_end)
    return {
        "visitors": visitors,
        "seconds": window_end - window_start,
        "sent": len(inside),
        "drawn": len(drawn),
        "answered": len(answered),
        "read_right": sum(1 for s in drawn if s[2] == 1),
        "unanswered": sum(1 for s in inside if s[1] is None),
        "exceptions": sum(s[3] for s in inside),
        "tracebacks": servers.tracebacks() - tracebacks_before,
        "p50": float(np.percentile(times, 50)),
        "p95": float(np.percentile(times, 95)),
        "p99": float(np.percentile(times, 99)),
        "max": float(np.max(times)),
        "cpu_per_stroke_ms": 1000 * cpu / max(1, len(answered)),
        "cpu_share": servers_cpu / (window_end - window_start),
        "idle_cpu_per_s": servers.idle_cpu_per_s,
        "generator_share": generator_cpu / (window_end - window_start) / (os.cpu_count() or 1),
        "memory_servers": watch.peak_servers,
        "memory_tree": watch.peak_tree,
        "trained": found.get("trained", 0),
        "imported": found.get("imported", 0),
        "errors": found.get("errors", [])[:5],
        "connected": len(first),
        "connect_failures": sum(1 for e in found.get("errors", []) if e.startswith("connect:")),
    }


def browsers_against_protocol(servers: Servers, pages: int, seconds: float, home: Path) -> dict:
    """The server's CPU per rerun for `pages` Chromium pages, then for as many protocol visitors, all clearing
    and drawing."""
    seen = draw_in_pages(servers.url, pages, seconds, servers.cpu)
    browser_cpu = seen["cpu_end"] - seen["cpu_start"] - servers.idle_cpu_per_s * (seen["ended"] - seen["started"])
    time.sleep(3)
    protocol = load(servers, pages, seconds, home, LOAD_CLEAR=1)
    browser_per_rerun = 1000 * browser_cpu / max(1, seen["reruns"])
    return {
        "pages": pages,
        "browser_reruns": seen["reruns"],
        "browser_cpu_per_rerun_ms": browser_per_rerun,
        "browser_p50": float(np.median(seen["round_trips"])) if seen["round_trips"] else float("nan"),
        "browser_dropped": seen["dropped"],
        "page_errors": len(seen["page_errors"]),
        "protocol_reruns": protocol["answered"],
        "protocol_cpu_per_rerun_ms": protocol["cpu_per_stroke_ms"],
        "ratio": protocol["cpu_per_stroke_ms"] / browser_per_rerun if browser_per_rerun else float("nan"),
    }


def run(args) -> dict:
    home = Path(tempfile.mkdtemp(prefix="capacity-"))
    results: dict = {"bare": [], "page": [], "pairs": [], "busy": None, "replicas": [], "browsers": None}
    bare = page = served = None
    try:
        bare = one_server("bench/bare_app.py", home / "bare")
        warm(bare)
        for visitors in args.bare_levels:
            results["bare"].append(load(bare, visitors, args.seconds, home / "bare"))
            print("bare", results["bare"][-1], flush=True)
        page = one_server("app.py", home / "page")
        warm(page)
        for visitors in args.levels:
            results["page"].append(load(page, visitors, args.seconds, home / "page"))
            print("page", results["page"][-1], flush=True)
        # The two pages in turn, both servers up: whatever the machine's speed does over the run
        # (up to 2x between hours here) falls on both sides of each ratio alike.
        for _ in range(args.pairs):
            pair = {
                where: load(server, args.pair_visitors, args.pair_seconds, home / where)
                for where, server in (("bare", bare), ("page", page))
            }
            results["pairs"].append(pair)
            print("pair", {k: m["cpu_per_stroke_ms"] for k, m in pair.items()}, flush=True)
        bare.stop()
        bare = None
        if args.busy:
            results["busy"] = load(page, args.busy, args.busy_seconds, home / "page", LOAD_TRAINERS=2, LOAD_IMPORTERS=1)
            print("busy", results["busy"], flush=True)
        if args.pages:
            results["browsers"] = browsers_against_protocol(page, args.pages, 30, home / "page")
            print("browsers", results["browsers"], flush=True)
        page.stop()
        page = None
        if args.replicas > 1:
            served = replicas(args.replicas, home / "served")
            warm(served)
            for visitors in args.replica_levels:
                results["replicas"].append(load(served, visitors, args.seconds, home / "served"))
                print("replicas", results["replicas"][-1], flush=True)
    finally:
        for servers in (bare, page, served):
            if servers is not None:
                servers.stop()
        shutil.rmtree(home, ignore_errors=True)
    return results


MEASURABLE_S = 0.5  # CPU above idle over a window: fewer than 50 of the kernel's 10 ms ticks is noise


def measured(m: dict) -> float | None:
    """The CPU per stroke, or None where the strokes together cost less than the idle CPU's noise."""
    return m["cpu_per_stroke_ms"] if m["cpu_per_stroke_ms"] * m["answered"] / 1000 >= MEASURABLE_S else None


def row(where: str, m: dict, single_p50: float, bare: dict[int, dict]) -> list:
    cost = measured(m)
    reference = measured(bare[m["visitors"]]) if m["visitors"] in bare else None
    ratio = f" ({cost / reference:.2f}× bare)" if cost and reference else ""
    connected = m.get("connected", m["visitors"])
    return [
        where,
        m["visitors"] if connected >= m["visitors"] else f"{m['visitors']} (only {connected} drew)",
        f"{m['drawn']} / {m['answered']} / {m['read_right']}",
        m["unanswered"],
        f"{m['exceptions']} / {m['tracebacks']}",
        f"{m['p50']:.0f} / {m['p95']:.0f} / {m['p99']:.0f} / {m['max']:.0f}",
        f"{m['p95'] / single_p50:.1f}×" if single_p50 else "",
        f"{cost:.1f}{ratio}" if cost else "– (within the idle's noise)",
        f"{100 * m['cpu_share']:.0f}%",
        f"{m['memory_servers']:.0f} / {m['memory_tree']:.0f}",
        f"{100 * m['generator_share']:.1f}%",
    ]


def idle_note(results: dict) -> str:
    phases = [("the bare page", results["bare"]), ("the page", results["page"]), ("the replicas", results["replicas"])]
    return ", ".join(f"{where} {1000 * ms[0]['idle_cpu_per_s']:.1f} ms/s" for where, ms in phases if ms)


def markdown(results: dict, command: str) -> str:
    single = next((m for m in results["page"] if m["visitors"] == 1), None)
    single_p50 = single["p50"] if single else 0.0
    bare_single = next((m for m in results["bare"] if m["visitors"] == 1), None)
    bare_levels = {m["visitors"]: m for m in results["bare"]}
    rows = [row("bare page", m, bare_single["p50"] if bare_single else 0, {}) for m in results["bare"]]
    rows += [row("the page, 1 server", m, single_p50, bare_levels) for m in results["page"]]
    busy = results["busy"]
    if busy:
        rows.append(row("the page, 1 server, 2 training, 1 importing", busy, single_p50, bare_levels))
    rows += [row("the page, 2 replicas behind HAProxy", m, single_p50, bare_levels) for m in results["replicas"]]
    header = [
        "page",
        "visitors",
        "strokes drawn / answered / read right",
        "unanswered (15 s)",
        "exception boxes / tracebacks",
        "round trip p50 / p95 / p99 / max, ms",
        "p95 ÷ one visitor's p50",
        "server CPU per stroke, ms (above idle)",
        "server CPU (of one core)",
        "memory, MB: servers / with children",
        "load generator CPU (of the machine)",
    ]
    lines = [
        "## Many visitors: capacity",
        "",
        "Visitors speak Streamlit's websocket protocol (`bench/visitors.py`, Locust): each connects, then every "
        "1.5–3 s draws an MNIST test digit redrawn as the canvas draws it (a 280×280 PNG and its strokes in the "
        "canvas's state), reruns the canvas's fragment and checks the Prediction against the digit's label. "
        f"Each level is measured over {results['page'][0]['seconds']:.0f} s once every visitor is connected, "
        "against servers started for this run (the bare page, then the page, then replicas), on this machine: "
        "the visitors, the servers and any training share its cores. Round trips are the server's (send → the "
        "fragment's end); the browser adds its 200 ms wait after mouse-up and its rendering. "
        "The servers' CPU per stroke is their CPU over the window less what they spend idle (read for "
        f"{IDLE_S} s once warm: {idle_note(results)}; Streamlit polls its config files five times a second), "
        "divided by the strokes answered.",
        "",
        table(header, rows),
        "",
    ]
    if results.get("pairs"):
        lines += [pairs_line(results["pairs"]), ""]
    if results["browsers"]:
        b = results["browsers"]
        lines += [
            f"Real browsers as a check: {b['pages']} Chromium pages clearing and drawing for 30 s cost the server "
            f"**{b['browser_cpu_per_rerun_ms']:.1f} ms of CPU per rerun** ({b['browser_reruns']} reruns, "
            f"{b['browser_dropped']} dropped, {b['page_errors']} page errors, p50 {b['browser_p50']:.0f} ms from "
            f"mouse-up); {b['pages']} protocol visitors doing the same, "
            f"**{b['protocol_cpu_per_rerun_ms']:.1f} ms** ({b['protocol_reruns']} reruns): "
            f"**{b['ratio']:.2f}×** the browsers'.",
            "",
        ]
    errors = sorted({e for m in results["page"] + results["replicas"] + ([busy] if busy else []) for e in m["errors"]})
    if errors:
        lines += [f"Errors the visitors met (first few): {'; '.join(errors[:5])}", ""]
    if busy:
        lines += [
            f"While they drew: {busy['trained']} of 2 trainings finished, {busy['imported']} of 1 import of "
            "2,000 samples done.",
            "",
        ]
    lines.append(f"Command: `{command}` · {machine()}")
    return "\n".join(lines)


def pairs_line(pairs: list[dict]) -> str:
    bare = [p["bare"]["cpu_per_stroke_ms"] for p in pairs]
    page = [p["page"]["cpu_per_stroke_ms"] for p in pairs]
    ratios = [cost / reference for cost, reference in zip(page, bare)]
    visitors, seconds = pairs[0]["page"]["visitors"], pairs[0]["page"]["seconds"]
    return (
        f"**The server's CPU per stroke, the page against the bare page, measured in turn with both servers up "
        f"({len(pairs)} pairs of {seconds:.0f} s at {visitors} visitors each): "
        f"{', '.join(f'{r:.2f}×' for r in ratios)}; median {float(np.median(ratios)):.2f}×** "
        f"(bare page {min(bare):.1f}–{max(bare):.1f} ms, the page {min(page):.1f}–{max(page):.1f} ms a stroke)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__.split("\n")[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 20, 60, 100, 200])
    parser.add_argument("--bare-levels", type=int, nargs="+", default=[1, 20, 60])
    parser.add_argument("--pairs", type=int, default=3, help="bare page and page in turn, for the CPU ratio")
    parser.add_argument("--pair-visitors", type=int, default=60)
    parser.add_argument("--pair-seconds", type=float, default=30)
    parser.add_argument("--busy", type=int, default=60, help="visitors while 2 train and 1 imports")
    parser.add_argument("--busy-seconds", type=float, default=60)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--replica-levels", type=int, nargs="+", default=[100, 200])
    parser.add_argument("--pages", type=int, default=3, help="Chromium pages in the check against real browsers")
    parser.add_argument("--seconds", type=float, default=45)
    parser.add_argument("--write", action="store_true", help="rewrite the capacity section of BENCHMARKS.md")
    args = parser.parse_args(argv)
    results = run(args)
    command = "python -m bench.capacity " + " ".join(a for a in (argv if argv is not None else sys.argv[1:]))
    text = markdown(results, command.strip())
    print(text)
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "capacity.json").write_text(json.dumps(results, indent=1))
    if args.write:
        replace_section("capacity", text)
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "capacity"
    sys.exit(main())
