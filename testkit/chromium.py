"""Drive the real app in Debian's Chromium through Playwright: start it, draw on it, read it.

Shared by the end-to-end tests (tests/test_browser.py) and the browser
benchmark (bench/browser.py). Playwright's own browser download does not
work on offline build machines, so Chromium is Debian's package at
/usr/bin/chromium (`scripts/install-debian-packages.sh`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from scripts.serve import streamlit_command, wait_healthy
from testkit.canvas import SAMPLE_DRAWINGS

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

DRAWINGS = SAMPLE_DRAWINGS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(
    script: str | Path = "app.py", env: dict | None = None, log: Path | None = None, args: list[str] | None = None
) -> Iterator[str]:
    """`streamlit run script [args]` on a free localhost port; yields its URL once it answers."""
    port = free_port()
    command = streamlit_command(script, port, ["--browser.gatherUsageStats", "false", *(args or [])])
    out = open(log, "w") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, timeout_s=60)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if log:
            out.close()


def launch_chromium(playwright):
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/install-debian-packages.sh chromium (make test does).")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


def canvas_box(page) -> dict:
    """Where the drawing surface is on the page (fabric.js's upper canvas takes the mouse)."""
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(timeout=30_000)
    return canvas.bounding_box()


def draw(page, strokes, box: dict | None = None, scale: float = 1.0) -> None:
    """Draw polylines (in 280×280 canvas pixels) with the mouse, one press per stroke."""
    box = box or canvas_box(page)
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=8)
        page.mouse.up()


PHONES = {  # CSS pixels, as Chromium's device emulation has them: a phone held upright
    "412×915": {"viewport": {"width": 412, "height": 915}, "device_scale_factor": 2.625},
    "360×740": {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 3},
}


def phone_context(browser, size: str = "412×915"):
    """A browser context as a phone: its size and density, touch and no mouse, a phone's user agent."""
    return browser.new_context(
        **PHONES[size],
        is_mobile=True,
        has_touch=True,
        user_agent="Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0 Mobile Safari/537.36",
    )


def draw_by_touch(page, strokes, box: dict | None = None) -> None:
    """Draw polylines (in 280×280 canvas pixels) with a finger: touch start, moves, end (Chromium's own events)."""
    box = box or canvas_box(page)
    session = page.context.new_cdp_session(page)
    for stroke in strokes:
        points = []
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            points += [(x0 + (x1 - x0) * t / 8, y0 + (y1 - y0) * t / 8) for t in range(8)]
        points.append(stroke[-1])
        for n, (x, y) in enumerate(points):
            kind = "touchStart" if n == 0 else "touchMove"
            touch = {"x": box["x"] + x, "y": box["y"] + y, "id": 1}
            session.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [touch]})
        session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()


def clear_canvas(page) -> None:
    page.locator("canvas.upper-canvas").first.hover()
    page.get_by_role("button", name="Reset canvas & history").click()


def prediction(page):
    """The "Prediction" metric's locator (its value is the digit)."""
    return page.get_by_test_id("stMetric").filter(has_text="Prediction").get_by_test_id("stMetricValue")


def invitation(page):
    """The empty-canvas invitation to draw."""
    return page.get_by_test_id("stAlertContentInfo").filter(has_text="Draw a digit")


def wait_idle(page, settle_s: float = 0.4, timeout_s: float = 30) -> None:
    """Until Streamlit has been idle for `settle_s` (so a click lands on the page a rerun ends with).

    One stroke can start two reruns in a row (the canvas sends its image,
    then its strokes), so a single idle moment is not enough.
    """
    state = "document.querySelector('[data-testid=\"stApp\"]').getAttribute('data-test-script-state')"
    deadline = time.time() + timeout_s
    idle_since = None
    while time.time() < deadline:
        if page.evaluate(f"() => {state}") == "notRunning":
            idle_since = idle_since or time.time()
            if time.time() - idle_since >= settle_s:
                return
        else:
            idle_since = None
        time.sleep(0.05)
    raise TimeoutError("the page kept rerunning")
