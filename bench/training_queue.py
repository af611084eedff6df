"""What a visitor waits for when training on the Dask workers, measured in the browser.

Headless Chromium (Debian's) driven by Playwright against the real app on
its own local cluster (nothing configured: the app starts it at the first job).

- The sidebar's default retrain (128, 64; 5 epochs on the full MNIST),
  from the Train click to the new network listed: the first run on a new
  server twice, Train clicked as soon as the canvas is ready (the run then
  includes whatever of the worker's start is not done by then) and after
  `drawing_s` on the page (a visitor who draws first); then the second and
  later runs on one server (their median). Also the first run pressed at once
  on a new `make serve` with one replica (`scripts/serve.py`, which starts
  the training cluster and warms it up before the replica, behind HAProxy).
- Four visitors pressing Train at once (four pages, four sessions): each
  must get their own network, in the order they clicked, and each waiting
  page must have shown its place ("N runs ahead of yours").
- The CPU that showing a warm run's progress took the server and the browser, per second of the run.
- Memory: the server's resident set, and its workers' (every process below
  it: nannies and workers) apart, idle after the page is loaded, while a
  training runs, and after the runs.
- The reference, in the same run: the same network trained the seed
  tutorials' way, a plain `model.fit` (and `evaluate`) in a process of its
  own with MNIST already loaded, before and after the browser measurements
  (their median). Every retrain above is given as a ratio of it. Beside it,
  the floor: this project's own training of the same run in-process
  (`model.training.ann.fit_network`, as a worker runs it, on a network
  already compiled as on a warm worker), with no page and no browser.

    MNIST_PATH=… python -m bench.training_queue [--epochs 5] [--visitors 4]

`--epochs` and `--visitors` exist to check the script quickly with small
settings; the figures are taken with the defaults.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

from bench.browser import Server
from bench.processes import cpu_seconds, descendants, named_cpu_seconds, rss_mb, wait_gone
from testkit.chromium import canvas_box, launch_chromium

PLACE = "ahead of yours"


def browser_cpu_seconds() -> float:
    """CPU time of this benchmark's Chromium processes (the browser and its renderers, below Playwright), seconds."""
    return named_cpu_seconds(os.getpid(), "chrom")


def memory(server: Server) -> dict:
    workers = sum(rss_mb(pid) for pid in descendants(server.process.pid))
    return {"server_mb": rss_mb(server.process.pid), "workers_mb": workers}


def stop_with_cluster(server: Server, timeout_s: float = 60) -> None:
    """Stop the server and wait until its scheduler and workers have gone too (they would slow what comes next)."""
    children = descendants(server.process.pid)
    server.stop()
    wait_gone(children, timeout_s)


PLAIN_FIT = """
import os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras, numpy as np
from model.config import SIDEBAR_DEFAULTS as d
from model.store.data import load_mnist
from model.training.ann import build_ann
(x, y), (x_test, y_test) = load_mnist()
x, x_test = x.astype(np.float32) / 255.0, x_test.astype(np.float32) / 255.0
keras.utils.set_random_seed(0)
model = build_ann(d.hidden, d.dropout)
model.compile(optimizer=keras.optimizers.Adam(d.learning_rate), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
started = time.perf_counter()
model.fit(x, y, epochs=int(sys.argv[1]), batch_size=d.batch_size, validation_split=d.validation_split, verbose=0)
model.evaluate(x_test, y_test, batch_size=2048, verbose=0)
print(time.perf_counter() - started)
"""


OWN_FIT = """
import sys, time
from dataclasses import replace
from model.config import SIDEBAR_DEFAULTS
from model.store.data import load_mnist
from model.training.ann import fit_network
mnist = load_mnist()
config = replace(SIDEBAR_DEFAULTS, epochs=int(sys.argv[1]))
fit_network(config, mnist, {}, "")  # compiles it, as a worker's warm-up does
started = time.perf_counter()
fit_network(config, mnist, {}, "")
print(time.perf_counter() - started)
"""


def own_fit_seconds(epochs: int) -> float:
    """Seconds of the sidebar's default run by `fit_network` in-process, compiled already: the warm floor."""
    return _seconds_of(OWN_FIT, epochs)


def plain_fit_seconds(epochs: int) -> float:
    """Seconds of a plain in-process `model.fit` + `evaluate` of the sidebar's default network (TF's own threads)."""
    return _seconds_of(PLAIN_FIT, epochs)


def _seconds_of(script: str, epochs: int) -> float:
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", script, str(epochs)], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    return float(out.strip().splitlines()[-1])


def set_epochs(page, epochs: int) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    field = sidebar.get_by_label("Epochs", exact=True)
    field.fill(str(epochs))
    field.blur()
    time.sleep(0.3)


def train_and_time(page, name: str, epochs: int) -> float:
    """Click Train; seconds until `name` is listed under Networks."""
    sidebar = page.get_by_test_id("stSidebar")
    set_epochs(page, epochs)
    started = time.perf_counter()
    sidebar.get_by_role("button", name="Train", exact=True).click()
    sidebar.get_by_text(name).wait_for(timeout=600_000)
    return time.perf_counter() - started


def four_visitors(browser, url: str, visitors: int, epochs: int) -> dict:
    """`visitors` pages click Train in turn; who finished when, and what place each page showed."""
    pages = []
    for _ in range(visitors):
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.goto(url)
        canvas_box(page)
        set_epochs(page, epochs)
        pages.append(page)
    clicked, finished, places = [], [None] * visitors, [set() for _ in range(visitors)]
    for page in pages:
        page.get_by_test_id("stSidebar").get_by_role("button", name="Train", exact=True).click()
        clicked.append(time.perf_counter())
    deadline = time.time() + 600
    while None in finished and time.time() < deadline:
        for i, page in enumerate(pages):
            if finished[i] is not None:
                continue
            text = page.get_by_test_id("stSidebar").inner_text()
            for line in text.splitlines():
                if PLACE in line:
                    places[i].add(line.strip())
            if "Trained #1" in text:
                finished[i] = time.perf_counter()
        time.sleep(0.1)
    for page in pages:
        page.context.close()
    done = [t for t in finished if t is not None]
    order = sorted(range(visitors), key=lambda i: finished[i] if finished[i] is not None else float("inf"))
    return {
        "visitors": visitors,
        "all_got_a_network": len(done) == visitors,
        "finished_in_click_order": order == list(range(visitors)),
        "finish_order": order,
        "seconds_to_network": [round(t - c, 1) if t is not None else None for t, c in zip(finished, clicked)],
        "places_seen": [sorted(p) for p in places],
        "every_waiting_visitor_saw_a_place": all(places[i] for i in range(1, visitors)),
    }


def public_secrets() -> list[str]:
    """Streamlit's arguments for a public server: the browsers here are visitors, not the owner (at the server,
    every page would share the owner's collection, which has one run at a time)."""
    import tempfile

    from bench.capacity import PUBLIC

    path = Path(tempfile.mkdtemp(prefix="training-queue-")) / "secrets.toml"
    path.write_text(PUBLIC)
    return ["--secrets.files", str(path)]


@contextmanager
def fresh_server_page(browser):
    """A new server (so that its first run is a first run) and a page on it with the canvas drawn."""
    server = Server("app.py", args=public_secrets())
    server.wait_until_up()
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(server.url)
        canvas_box(page)
        yield server, page
        if not page.is_closed():
            page.close()
    finally:
        stop_with_cluster(server)


@contextmanager
def fresh_served_page(browser):
    """A new `scripts/serve.py --replicas 1` (cluster, replica, proxy) and a page on it with the canvas drawn."""
    import signal
    import subprocess
    import sys

    from scripts.serve import wait_healthy
    from testkit.chromium import ROOT, free_port

    port = free_port()
    command = [sys.executable, "scripts/serve.py", "--replicas", "1", "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--", *public_secrets()]
    serve = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children = []
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, serve, timeout_s=240)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url)
        canvas_box(page)
        children = descendants(serve.pid)
        yield page
        page.close()
    finally:
        children = children or descendants(serve.pid)
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=120)
        wait_gone(children)


def run(epochs: int = 5, visitors: int = 4, later: int = 3, drawing_s: float = 20.0) -> dict:
    from playwright.sync_api import sync_playwright

    results: dict = {"plain_fit_s": [plain_fit_seconds(epochs)], "own_fit_s": [own_fit_seconds(epochs)]}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            with fresh_server_page(browser) as (server, page):
                results["memory_at_page_load"] = memory(server)
                results["first_retrain_s"] = train_and_time(page, "Trained #1", epochs)
                time.sleep(2)
                results["memory_idle_after_a_run"] = memory(server)
                sidebar = page.get_by_test_id("stSidebar")
                seconds, server_cpu, browser_cpu = [], [], []
                for number in range(2, later + 2):
                    cpu = cpu_seconds(server.process.pid), browser_cpu_seconds()
                    started = time.perf_counter()
                    sidebar.get_by_role("button", name="Train", exact=True).click()
                    if number == 2:
                        time.sleep(2)  # well inside the run
                        results["memory_while_training"] = memory(server)
                    sidebar.get_by_text(f"Trained #{number}").wait_for(timeout=600_000)
                    seconds.append(time.perf_counter() - started)
                    server_cpu.append((cpu_seconds(server.process.pid) - cpu[0]) / seconds[-1])
                    browser_cpu.append((browser_cpu_seconds() - cpu[1]) / seconds[-1])
                    time.sleep(1)
                results["later_retrains_s"] = seconds
                # What showing the run's progress cost, per second of it: CPU a local training does not get.
                results["page_cpu_ms_per_s"] = {
                    "server": 1000 * statistics.median(server_cpu),
                    "browser": 1000 * statistics.median(browser_cpu),
                }
                results["second_retrain_s"] = statistics.median(seconds)
                page.close()
                results["queue"] = four_visitors(browser, server.url, visitors, epochs)
                time.sleep(2)
                results["memory_after"] = memory(server)
            with fresh_server_page(browser) as (server, page):  # a visitor who draws before pressing Train
                time.sleep(drawing_s)
                results["first_retrain_after_drawing_s"] = train_and_time(page, "Trained #1", epochs)
            with fresh_served_page(browser) as page:  # the operator's way: the cluster starts with the server
                results["first_retrain_served_s"] = train_and_time(page, "Trained #1", epochs)
        finally:
            browser.close()
    results["plain_fit_s"].append(plain_fit_seconds(epochs))
    results["own_fit_s"].append(own_fit_seconds(epochs))
    results["reference_s"] = statistics.median(results["plain_fit_s"])
    results["floor_s"] = statistics.median(results["own_fit_s"])
    results["epochs"] = epochs
    results["drawing_s"] = drawing_s
    return results


def markdown(r: dict, command: str) -> str:
    from bench.report import machine, table

    q = r["queue"]
    ref = r["reference_s"]

    def ratio(seconds: float) -> str:
        return f"**{seconds:.1f} s = {seconds / ref:.2f}×**"

    m = [
        ("page loaded, no job yet", r["memory_at_page_load"]),
        ("after the first run", r["memory_idle_after_a_run"]),
        ("while a run trains", r["memory_while_training"]),
        ("after all runs", r["memory_after"]),
    ]
    return "\n".join(
        [
            "## Training on Dask: what a visitor waits for",
            "",
            f"Reference, in the same run: the same network trained with a plain in-process `model.fit` and "
            f"`evaluate` (the seed tutorials' way, TensorFlow's own threads, MNIST loaded), **{ref:.1f} s** "
            f"(median of {', '.join(f'{t:.1f}' for t in r['plain_fit_s'])} s, before and after the browser "
            "measurements). Each retrain below: Train click → the new network listed, in Chromium, as a ratio of it. "
            f"The floor, in the same run: this project's own training of the same run in-process, compiled already, "
            f"no page, no browser (`fit_network`, as a warm worker runs it): **{r['floor_s']:.1f} s = "
            f"{r['floor_s'] / ref:.2f}×** (median of {', '.join(f'{t:.1f}' for t in r['own_fit_s'])} s).",
            "",
            table(
                ["measure", "measured (÷ plain model.fit)", "target"],
                [
                    [
                        f"default retrain (128, 64; {r['epochs']} epochs, full MNIST), Train click → new network "
                        "listed, first run on a new server, Train pressed as soon as the canvas appears "
                        "(includes the rest of starting the local cluster: its worker importing TensorFlow and "
                        "compiling)",
                        ratio(r["first_retrain_s"]),
                        "",
                    ],
                    [
                        f"the same, first run on a new server, Train pressed after {r['drawing_s']:.0f} s on the page "
                        "(a visitor who draws first)",
                        ratio(r["first_retrain_after_drawing_s"]),
                        "cold ≤ 1.2×",
                    ],
                    [
                        "the same, first run pressed as soon as the canvas appears, on a new `make serve "
                        "REPLICAS=1` (scripts/serve.py: the training cluster starts and warms up with the server, "
                        "before the first visitor; the page behind HAProxy)",
                        ratio(r["first_retrain_served_s"]),
                        "cold ≤ 1.2×",
                    ],
                    [
                        f"the same, second and later runs on one server (median of {len(r['later_retrains_s'])}: "
                        + ", ".join(f"{s:.1f}" for s in r["later_retrains_s"])
                        + " s)",
                        ratio(r["second_retrain_s"]),
                        "warm ≤ 0.6×",
                    ],
                    [
                        f"{q['visitors']} visitors pressing Train at once: each got their own network",
                        "yes" if q["all_got_a_network"] else "**no**",
                        "yes",
                    ],
                    [
                        "… in the order they asked",
                        "yes" if q["finished_in_click_order"] else f"**no** ({q['finish_order']})",
                        "yes",
                    ],
                    [
                        "… each waiting visitor saw their place",
                        "yes" if q["every_waiting_visitor_saw_a_place"] else "**no**",
                        "yes",
                    ],
                    ["… seconds from click to network, per visitor", ", ".join(map(str, q["seconds_to_network"])), ""],
                ],
            ),
            "",
            f"While those later runs trained, showing their progress took the server "
            f"{r['page_cpu_ms_per_s']['server']:.0f} ms and Chromium {r['page_cpu_ms_per_s']['browser']:.0f} ms "
            "of CPU per second of the run (medians): on this machine the browser shares the 2 cores with the "
            "server and the worker, whose training runs at idle priority and gets what they leave.",
            "",
            "Places shown to each visitor: "
            + "; ".join(f"visitor {i + 1}: {', '.join(p) or '(ran at once)'}" for i, p in enumerate(q["places_seen"]))
            + ".",
            "",
            table(
                ["memory (resident set)", "server", "scheduler and workers (its child processes)"],
                [[label, f"{v['server_mb']:.0f} MB", f"{v['workers_mb']:.0f} MB"] for label, v in m],
            ),
            "",
            f"Command: `{command}` · {machine()}",
        ]
    )


if __name__ == "__main__":
    from bench.report import replace_section

    parser = argparse.ArgumentParser(description="Browser timings of training on the Dask workers.")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per run (default: the sidebar's 5)")
    parser.add_argument("--visitors", type=int, default=4, help="visitors pressing Train at once (default: 4)")
    parser.add_argument("--write", action="store_true", help="rewrite the section of BENCHMARKS.md")
    args = parser.parse_args()
    figures = run(args.epochs, args.visitors)
    text = markdown(figures, f"python -m bench.training_queue --epochs {args.epochs} --visitors {args.visitors}")
    print(text)
    if args.write:
        replace_section("training-queue", text)
