"""What a visitor waits for in the browser: each stroke's round trip, the cold start, the server's memory.

Measured in headless Chromium (Debian's) driven by Playwright, against the
real app and, in the same run, against a bare page with only the same canvas
and one st.metric (bench/bare_app.py).

- Round trip: from releasing the mouse after a stroke to the last change the
  rerun makes to the page (the prediction, the 28×28 image loaded, the chart
  drawn), timed inside the page with `performance.now()`; split into the
  rerun itself (until Streamlit reports the script is no longer running) and
  what is drawn after it.
- Cold start: from `streamlit run` to a canvas a person can draw on, and to
  the first prediction of a stroke drawn as soon as it is.
- The browser's own work per stroke, from Chromium's own counters (the
  DevTools protocol's `Performance.getMetrics`: script, layout and style
  recalculation, and every task on the page's main thread), read before and
  after each timed stroke (its clear included, as a visitor does it).
- Memory: the server's resident set after 10 predictions and after one
  default retrain from the sidebar on the full MNIST.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time

import numpy as np

from bench.processes import rss_mb
from scripts.serve import streamlit_command, wait_healthy
from testkit.canvas import SAMPLE_DRAWINGS
from testkit.chromium import ROOT, canvas_box, clear_canvas, draw, free_port, launch_chromium, prediction

SINGLE_STROKES = [SAMPLE_DRAWINGS[d] for d in (1, 0, 7)]

WATCH = """
() => {
  const marks = {mouseup: [], activity: [], idle: []};
  window.__marks = marks;
  document.addEventListener('mouseup', () => marks.mouseup.push(performance.now()), true);
  const main = document.querySelector('[data-testid="stMain"]');
  new MutationObserver(() => marks.activity.push(performance.now()))
    .observe(main, {subtree: true, childList: true, attributes: true, characterData: true});
  document.addEventListener('load', () => marks.activity.push(performance.now()), true);
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => {
    if (app.getAttribute('data-test-script-state') === 'notRunning') marks.idle.push(performance.now());
  }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}
"""


class Server:
    """`streamlit run` in the background, timed from its start."""

    def __init__(self, script: str, env: dict | None = None, args: list[str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            streamlit_command(script, self.port, args),
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_until_up(self) -> None:
        wait_healthy(self.url, self.process, poll_s=0.02)  # finely: the cold start is timed by it

    def rss_mb(self) -> float:
        return rss_mb(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def cold_start(browser, script: str, wait_for_prediction: bool) -> tuple[float, float | None, Server]:
    """Seconds from `streamlit run` to a drawable canvas, and to the first prediction."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    server = Server(script)
    server.wait_until_up()
    page.goto(server.url)
    box = canvas_box(page)
    canvas_ready = time.perf_counter() - server.started
    first_prediction = None
    if wait_for_prediction:
        draw(page, SAMPLE_DRAWINGS[7], box)
        prediction(page).wait_for(timeout=60_000)
        first_prediction = time.perf_counter() - server.started
    page.close()
    return canvas_ready, first_prediction, server


def wait_quiet(page, quiet_ms: float = 400, timeout_s: float = 30, after_stroke: bool = False) -> bool:
    """Until the script is idle and nothing on the page has changed for `quiet_ms`; False on timeout.

    With `after_stroke`, a rerun must also have ended since the last mouse-up:
    the canvas may send its image later than `quiet_ms` after the stroke.
    """
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        state = page.evaluate("""() => {
            const m = window.__marks, now = performance.now();
            const last = Math.max(0, ...m.activity.slice(-50));
            const up = Math.max(0, ...m.mouseup);
            const s = document.querySelector('[data-testid="stApp"]').getAttribute('data-test-script-state');
            return {idle: s === 'notRunning', quiet: now - last, answered: m.idle.some(t => t > up)}; }""")
        if state["idle"] and state["quiet"] >= quiet_ms and (state["answered"] or not after_stroke):
            return True
        time.sleep(0.05)
    return False


CHROMIUM_WORK = {"TaskDuration": "all tasks", "ScriptDuration": "script", "LayoutDuration": "layout"}
CHROMIUM_WORK["RecalcStyleDuration"] = "style"


def chromium_work(cdp) -> dict[str, float]:
    """Chromium's own counters of the page's main-thread work so far, ms (DevTools' Performance domain)."""
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {name: 1000 * metrics.get(name, 0.0) for name in CHROMIUM_WORK}


def round_trips(browser, url: str, strokes: int) -> dict[str, list[float]]:
    """Per stroke: ms to the last page change, how much of it was the rerun itself, and Chromium's own work.

    Now and then the canvas drops a stroke drawn right after a clear and the
    page never answers; such strokes are counted in `missed`, not timed.
    """
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(url)
    box = canvas_box(page)
    page.evaluate(WATCH)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    total, rerun, missed = [], [], 0
    work: dict[str, list[float]] = {name: [] for name in CHROMIUM_WORK}
    for i in range(strokes + 2):  # the first two warm up (imports, first chart)
        before = chromium_work(cdp)
        clear_canvas(page)
        wait_quiet(page, after_stroke=True, timeout_s=5)  # the clear's own rerun
        page.evaluate(
            "() => { const m = window.__marks; m.mouseup.length = 0; m.activity.length = 0; m.idle.length = 0; }"
        )
        draw(page, SINGLE_STROKES[i % len(SINGLE_STROKES)], box)
        if not wait_quiet(page, after_stroke=True, timeout_s=10):
            missed += 1
            continue
        marks = page.evaluate("() => window.__marks")
        up = marks["mouseup"][-1]
        after = [t for t in marks["activity"] if t > up]
        idle = [t for t in marks["idle"] if t > up]
        if i >= 2 and after and idle:
            total.append(max(after) - up)
            rerun.append(idle[-1] - up)
            done = chromium_work(cdp)
            for name in CHROMIUM_WORK:
                work[name].append(done[name] - before[name])
    page.close()
    return {"total": total, "rerun": rerun, "missed": missed, "work": work}


def retrain_in_browser(browser, url: str) -> float:
    """Train the sidebar's default network; seconds from the click to the new network in the list."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(url)
    canvas_box(page)
    sidebar = page.get_by_test_id("stSidebar")
    started = time.perf_counter()
    sidebar.get_by_role("button", name="Train", exact=True).click()
    sidebar.get_by_text("Trained #1").wait_for(timeout=300_000)
    seconds = time.perf_counter() - started
    page.close()
    return seconds


def median(values) -> float:
    return float(statistics.median(values))


def p90(values) -> float:
    return float(np.percentile(values, 90))


def run(strokes: int = 24) -> dict:
    from playwright.sync_api import sync_playwright

    results: dict = {}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)

        bare_ready, _, bare = cold_start(browser, "bench/bare_app.py", wait_for_prediction=False)
        bare_trips = round_trips(browser, bare.url, strokes)
        bare.stop()

        app_ready, app_first, app = cold_start(browser, "app.py", wait_for_prediction=True)
        app_trips = round_trips(browser, app.url, strokes)
        page = browser.new_page()
        page.goto(app.url)
        box = canvas_box(page)
        for i in range(10):
            clear_canvas(page)
            draw(page, SINGLE_STROKES[i % 3], box)
            prediction(page).wait_for(timeout=30_000)
        page.close()
        results["rss_after_10_predictions_mb"] = app.rss_mb()
        results["retrain_in_browser_s"] = retrain_in_browser(browser, app.url)
        time.sleep(2)
        results["rss_after_retrain_mb"] = app.rss_mb()
        app.stop()
        browser.close()

    results.update(
        {
            "strokes": len(app_trips["total"]),
            "bare_strokes": len(bare_trips["total"]),
            "missed_strokes": app_trips["missed"] + bare_trips["missed"],
            "app_round_trip_median_ms": median(app_trips["total"]),
            "app_round_trip_p90_ms": p90(app_trips["total"]),
            "app_rerun_median_ms": median(app_trips["rerun"]),
            "bare_round_trip_median_ms": median(bare_trips["total"]),
            "bare_round_trip_p90_ms": p90(bare_trips["total"]),
            "bare_rerun_median_ms": median(bare_trips["rerun"]),
            "round_trip_ratio": median(app_trips["total"]) / median(bare_trips["total"]),
            "app_browser_work_ms": {CHROMIUM_WORK[k]: median(v) for k, v in app_trips["work"].items()},
            "bare_browser_work_ms": {CHROMIUM_WORK[k]: median(v) for k, v in bare_trips["work"].items()},
            "app_canvas_ready_s": app_ready,
            "bare_canvas_ready_s": bare_ready,
            "canvas_ready_ratio": app_ready / bare_ready,
            "app_first_prediction_s": app_first,
        }
    )
    return results


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:>30}: {value:.3f}" if isinstance(value, float) else f"{key:>30}: {value}")
