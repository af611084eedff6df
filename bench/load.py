"""Many visitors: 20 real Chromium pages drawing at once while 2 train and 1 imports a large file.

    python -m bench.load [--visitors 20] [--seconds 60] [--write]

One server (`streamlit run app.py`, the real MNIST, a copy of the default),
one Chromium with a browser context per visitor (their own cookies and
session), driven by Playwright's async API so that all draw at the same
time. The browsers are not at the server as far as the app is concerned
(`owner_on_this_machine = false`), so each visitor is an ordinary one.

First, in the same run, one visitor alone draws strokes: its median round
trip is the reference. Then every visitor draws digits for `--seconds`,
clearing between strokes; visitor 1 and 2 press Train in the sidebar first,
visitor 3 imports a file of 2,000 samples (the largest a collection holds).

Per stroke, the round trip runs from the mouse-up to the end of the rerun
that answers it (`data-test-script-state` back to `notRunning`, timed in the
page); a stroke the page has not answered 15 s later counts as dropped, one
whose answer shows no prediction as unread. Page errors are uncaught
exceptions in the page and Streamlit's exception boxes; server tracebacks
are counted in its log. Memory is the resident set of the server and all its
child processes together, sampled every 0.5 s, and the server's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.browser import SINGLE_STROKES, WATCH
from bench.chromium import CHROMIUM, CHROMIUM_FLAGS, ROOT, free_port
from bench.report import machine, replace_section, table
from model.store.defaults import copy_default

ANSWER_TIMEOUT_S = 15


def tree_rss_mb(pid: int) -> tuple[float, float]:
    """(server alone, server and all its descendants) resident set, MB, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return rss.get(pid, 0) / 2**20, total / 2**20


class MemoryWatch(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_server, self.peak_tree, self.running = pid, 0.0, 0.0, True

    def run(self):
        while self.running:
            server, tree = tree_rss_mb(self.pid)
            self.peak_server, self.peak_tree = max(self.peak_server, server), max(self.peak_tree, tree)
            time.sleep(0.5)


def samples_file(path: Path, count: int = 2000) -> Path:
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        images=rng.integers(0, 256, (count, 28, 28), dtype=np.uint8),
        labels=rng.integers(0, 10, count).astype(np.uint8),
    )
    path.write_bytes(buffer.getvalue())
    return path


async def wait_answer(page, timeout_s: float) -> float | None:
    """ms from the last mouse-up to the end of the rerun answering it; None if none came in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = await page.evaluate("""() => { const m = window.__marks, up = Math.max(0, ...m.mouseup);
            const s = document.querySelector('[data-testid="stApp"]').getAttribute('data-test-script-state');
            const after = m.idle.filter(t => t > up);
            return s === 'notRunning' && after.length ? after[after.length - 1] - up : null; }""")
        if done is not None:
            await asyncio.sleep(0.3)  # one stroke may start two reruns (image, then strokes): take the last
            again = await page.evaluate("""() => { const m = window.__marks, up = Math.max(0, ...m.mouseup);
                const after = m.idle.filter(t => t > up); return after[after.length - 1] - up; }""")
            return again
        await asyncio.sleep(0.05)
    return None


async def draw(page, box, strokes):
    for stroke in strokes:
        x, y = stroke[0]
        await page.mouse.move(box["x"] + x, box["y"] + y)
        await page.mouse.down()
        for x, y in stroke[1:]:
            await page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
        await page.mouse.up()


async def clear(page):
    await page.locator("canvas.upper-canvas").first.hover()
    await page.get_by_role("button", name="Reset canvas & history").click()


async def visitor(
    browser,
    url: str,
    number: int,
    seconds: float,
    role: str,
    stats: dict,
    upload: Path | None,
    ready: asyncio.Barrier | None = None,
):
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda error: stats["page_errors"].append(f"visitor {number}: {error}"))
    await page.goto(url, timeout=120_000)
    canvas = page.locator("canvas.upper-canvas").first
    await canvas.wait_for(timeout=120_000)
    box = await canvas.bounding_box()
    await page.evaluate(WATCH)
    if ready is not None:
        await ready.wait()  # every page loaded: from here on, all draw at once
    until = time.monotonic() + seconds
    if role == "train":
        await page.get_by_test_id("stSidebar").get_by_role("button", name="Train", exact=True).click()
    elif role == "import":
        await page.get_by_text("Teach it your handwriting").click()
        chooser = page.locator("[data-testid='stFileUploaderDropzoneInput']").first
        await chooser.set_input_files(str(upload))
        try:
            await page.get_by_text("Imported 2000 new samples").wait_for(timeout=120_000)
            stats["imported"] = True
        except Exception as error:  # reported in the table
            stats["import_error"] = str(error).splitlines()[0]
    n = 0
    while time.monotonic() < until:
        try:
            await clear(page)
            await wait_answer(page, 5)
            await page.evaluate("() => { const m = window.__marks; m.mouseup.length = 0; m.idle.length = 0; }")
            await draw(page, box, SINGLE_STROKES[(number + n) % len(SINGLE_STROKES)])
            n += 1
            stats["drawn"] += 1
            ms = await wait_answer(page, ANSWER_TIMEOUT_S)
            if ms is None:
                stats["dropped"] += 1
                continue
            stats["round_trips"].append(ms)
            if await page.get_by_test_id("stMetric").filter(has_text="Prediction").count():
                stats["read"] += 1
            stats["exceptions"] += await page.get_by_test_id("stException").count()
        except Exception as error:  # a Playwright timeout: counted, the visitor goes on
            stats["driver_errors"].append(str(error).splitlines()[0])
    if role == "train":
        try:
            await page.get_by_test_id("stSidebar").get_by_text("Trained #1").wait_for(timeout=300_000)
            stats["trained"] += 1
        except Exception as error:
            stats["driver_errors"].append(f"training: {str(error).splitlines()[0]}")
    await context.close()


def new_stats() -> dict:
    return {
        "drawn": 0,
        "read": 0,
        "dropped": 0,
        "round_trips": [],
        "page_errors": [],
        "exceptions": 0,
        "driver_errors": [],
        "trained": 0,
    }


def niced_chromium(folder: Path) -> str:
    """A launcher that runs Chromium at the lowest CPU priority: the browsers stand in for visitors'
    own machines, so they should not take the server's cores from it."""
    launcher = folder / "chromium-nice"
    launcher.write_text(f'#!/bin/sh\nexec nice -n 19 {CHROMIUM} "$@"\n')
    launcher.chmod(0o755)
    return str(launcher)


async def measure(url: str, visitors: int, seconds: float, upload: Path, executable: str = CHROMIUM) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        alone = new_stats()
        await visitor(browser, url, 0, 25, "draw", alone, None)
        crowd = new_stats()
        roles = ["train", "train", "import"] + ["draw"] * (visitors - 3)
        ready = asyncio.Barrier(visitors)
        await asyncio.gather(
            *[visitor(browser, url, i + 1, seconds, role, crowd, upload, ready) for i, role in enumerate(roles)]
        )
        await browser.close()
    return {"alone": alone, "crowd": crowd}


def run(visitors: int, seconds: float, nice: bool = False) -> dict:
    home = Path(tempfile.mkdtemp(prefix="load-"))
    model = home / "net.keras"
    copy_default(ROOT / "model" / "mnist_ann.keras", model)
    (home / "secrets.toml").write_text("owner_on_this_machine = false\n")
    upload = samples_file(home / "my_digits.npz")
    port = free_port()
    log = home / "server.log"
    env = {**os.environ, "MODEL_PATH": str(model), "SAMPLES_PATH": str(home / "samples")}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--secrets.files",
            str(home / "secrets.toml"),
        ],
        cwd=ROOT,
        env=env,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
    )
    watch = MemoryWatch(server.pid)
    try:
        time.sleep(3)
        watch.start()
        idle = tree_rss_mb(server.pid)
        executable = niced_chromium(home) if nice else CHROMIUM
        figures = asyncio.run(measure(f"http://127.0.0.1:{port}", visitors, seconds, upload, executable))
        figures["memory"] = {
            "idle_server": idle[0],
            "peak_server": watch.peak_server,
            "peak_tree": watch.peak_tree,
            "after_server": tree_rss_mb(server.pid)[0],
        }
    finally:
        watch.running = False
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    figures["tracebacks"] = text.count("Traceback")
    figures["log_tail"] = text[-2000:]
    figures["upload_mb"] = upload.stat().st_size / 2**20
    shutil.rmtree(home, ignore_errors=True)
    figures["visitors"], figures["seconds"], figures["nice"] = visitors, seconds, nice
    return figures


def percentile(values, q) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def markdown(f: dict, command: str) -> str:
    alone, crowd = f["alone"], f["crowd"]
    p50_alone = statistics.median(alone["round_trips"]) if alone["round_trips"] else float("nan")
    p50, p95 = percentile(crowd["round_trips"], 50), percentile(crowd["round_trips"], 95)
    m = f["memory"]
    rows = [
        [
            "visitors drawing at once",
            f"{f['visitors']} (2 of them training, 1 importing {f['upload_mb']:.1f} MB of samples)",
            "",
            "",
        ],
        [
            "strokes drawn / answered and read",
            f"{crowd['drawn']} / {crowd['read']}",
            f"{alone['drawn']} / {alone['read']} (one visitor alone)",
            "every stroke read",
        ],
        ["strokes dropped (no answer within 15 s)", crowd["dropped"], alone["dropped"], "0"],
        [
            "page errors (uncaught in the page, Streamlit exception boxes)",
            len(crowd["page_errors"]) + crowd["exceptions"],
            len(alone["page_errors"]) + alone["exceptions"],
            "0",
        ],
        ["server tracebacks (in its log)", f["tracebacks"], "", "0"],
        ["round trip p50 (mouse-up → rerun answered)", f"{p50:.0f} ms", f"{p50_alone:.0f} ms", ""],
        [
            "round trip p95",
            f"{p95:.0f} ms ({p95 / p50_alone:.1f}× the single visitor's p50)",
            "",
            "≤ 3× the single visitor's p50",
        ],
        ["trainings finished (each visitor's own network listed)", f"{crowd['trained']} of 2", "", ""],
        ["large import finished", "yes" if crowd.get("imported") else f"no: {crowd.get('import_error')}", "", ""],
        [
            "memory: server idle / peak / after",
            f"{m['idle_server']:.0f} / {m['peak_server']:.0f} / {m['after_server']:.0f} MB",
            "",
            "",
        ],
        [
            "memory: peak of the server and its child processes together",
            f"{m['peak_tree']:.0f} MB",
            "",
            "stated, bounded",
        ],
    ]
    notes = crowd["driver_errors"][:3]
    return "\n".join(
        [
            "## Many visitors",
            "",
            f"{f['visitors']} visitors in real Chromium pages (one browser, a context each) drawing digits for "
            f"{f['seconds']:.0f} s against one server on this 2-core machine, while visitors 1 and 2 train the "
            "sidebar's default network on the full MNIST and visitor 3 imports a file of 2,000 samples; before "
            "them, in the same run, one visitor alone. The browsers, the server and the training share the 2 cores"
            + (
                " (the browsers at the lowest CPU priority, `nice -n 19`, standing in for visitors' own machines)."
                if f.get("nice")
                else "."
            ),
            "",
            table(["measure", f"{f['visitors']} visitors", "reference", "target"], rows),
            "",
            (
                f"Playwright reported {len(crowd['driver_errors'])} timeouts while driving the pages (e.g. "
                f"{'; '.join(notes)})."
                if notes
                else "Playwright reported no timeouts while driving the pages."
            ),
            "",
            f"Command: `{command}` · {machine()}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--nice-browsers",
        action="store_true",
        help="run Chromium at the lowest CPU priority (it stands in for the visitors' machines)",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the Many visitors section of BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.visitors < 3:
        parser.error("at least 3 visitors: two train and one imports")
    figures = run(args.visitors, args.seconds, args.nice_browsers)
    command = f"python -m bench.load --visitors {args.visitors} --seconds {args.seconds:.0f}"
    text = markdown(figures, command + (" --nice-browsers" if args.nice_browsers else ""))
    print(text)
    if figures["tracebacks"]:
        print(figures["log_tail"], file=sys.stderr)
    if args.write:
        replace_section("load", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
