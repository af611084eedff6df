"""Locust visitors for the page: they draw real digits through Streamlit's own protocol, no browser.

    locust -f bench/visitors.py --headless --host http://127.0.0.1:8501 -u 60 -r 10 -t 60s --csv out

(`python -m bench.capacity` runs this for every level of load, against the
page and against the bare reference page, and writes BENCHMARKS.md.)

A `Drawer` connects (`testkit.protocol.Session`), waits for the first run,
then every 1.5-3 s draws a digit: the canvas's value becomes a 280×280 PNG
of an MNIST test digit redrawn as the canvas draws it (`bench.drawn_digits`,
as a data URL, with fabric.js's JSON of the strokes beside it, as the
browser sends them), the canvas's fragment reruns, and the visitor checks
the "Prediction" the page returns against the digit's label and fetches the
media the answer names. A `Trainer` presses Train in the sidebar first and
keeps its progress fragment polling (the browser's `auto_rerun` timer)
while it draws; an `Importer` uploads a file of 2,000 samples in "Teach it
your handwriting" first. `LOAD_TRAINERS` and `LOAD_IMPORTERS` (environment)
say how many of each; the rest draw.

Every stroke is a Locust request ("stroke"), so Locust's stats and CSV
hold the round trips; a stroke with no answer in 15 s is a failure, and the
visitor reconnects as a page does (same cookies, so the proxy's choice of
replica holds while that replica lives). What Locust does not count, each
visitor adds to `COUNTS`: every stroke as [when it was sent (Unix time),
its round trip in ms or None, read right (1/0), Streamlit exception boxes,
the visitor's number],
so that a benchmark can take exact percentiles over the window it
measures; trainings finished and imports done. Workers report them to the
master (`report_to_master`), which writes them to `LOAD_COUNTS_FILE` as JSON
when the run ends.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time

from gevent import GreenletExit
from locust import User, between, events, task

from testkit.protocol import ProtocolError, Session
from testkit.strokes import POOL, blank_canvas, drawings, samples_file, string_array

STROKE_WAIT_S = (1.5, 3.0)
# With LOAD_CLEAR=1 a visitor clears the canvas before each digit, as the Chromium pages of
# `bench.pages` do, so that the two can be compared rerun for rerun (a clear is recorded with read -1).
CLEAR_FIRST = os.environ.get("LOAD_CLEAR") == "1"
ANSWER_TIMEOUT_S = 15.0
COUNTS: dict = {"strokes": [], "errors": [], "trained": 0, "imported": 0, "connect_ms": []}
_VISITORS = itertools.count(1)


def own_address() -> str:
    """A loopback address for one visitor, as the visitors of a public page each have their own: from one
    address, the page's limits per address (model/settings.py) would count them all as one client."""
    n = next(_VISITORS)
    return f"127.{os.getpid() % 200 + 20}.{n // 250}.{n % 250 + 1}"


class Drawer(User):
    """A visitor who draws a digit every 1.5-3 s and checks what the page reads."""

    wait_time = between(*STROKE_WAIT_S)
    weight = 100

    def on_start(self) -> None:
        self.session = Session(self.host, timeout_s=ANSWER_TIMEOUT_S, source=own_address())
        self.next = random.randrange(POOL)
        self.number = random.getrandbits(48)
        self.open(self.session.connect)
        self.setup()

    def open(self, connect) -> None:
        """Connect (or reconnect) and find the canvas and its fragment in the first run."""
        started = time.perf_counter()
        try:
            first = connect()
            self.canvas = self.session.widget("bidi_component", "canvas").id
            self.fragment = next(
                fragment for path, fragment, element in first.elements if element.WhichOneof("type") == "bidi_component"
            )
        except (ProtocolError, OSError, StopIteration) as error:
            self._fire("connect", started, error)
            COUNTS["errors"].append(f"connect: {error}")
            self.session.close()
            raise  # Locust logs it and stops this visitor
        self._fire("connect", started, None)
        COUNTS["connect_ms"].append((time.perf_counter() - started) * 1000)

    def setup(self) -> None:
        """What this kind of visitor does first (nothing: a drawer draws)."""

    def on_stop(self) -> None:
        self.session.close()

    def _fire(self, name: str, started: float, error: Exception | None, length: int = 0) -> None:
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=error,
            context={},
        )

    def stroke(self) -> None:
        value, label = drawings()[self.next % POOL]
        self.next += 1
        if CLEAR_FIRST:
            self.session.set_json(self.canvas, blank_canvas())
            sent, started = time.time(), time.perf_counter()
            try:
                run = self.session.rerun(self.fragment)
                COUNTS["strokes"].append([sent, round((time.perf_counter() - started) * 1000, 2), -1, 0, self.number])
            except (ProtocolError, OSError) as error:
                COUNTS["errors"].append(f"clear: {error}"[:200])
        self.session.set_json(self.canvas, value)
        sent, started = time.time(), time.perf_counter()
        try:
            run = self.session.rerun(self.fragment)
            for url in run.media_urls():
                self.session.media(url)
        except GreenletExit:  # the run's end stopped this visitor mid-stroke: neither answered nor lost
            raise
        except (ProtocolError, OSError) as error:
            COUNTS["strokes"].append([sent, None, 0, 0, self.number])
            COUNTS["errors"].append(str(error)[:200])
            self._fire("stroke", started, error)
            self.open(self.session.reconnect)  # as the page does: same cookies, a new websocket
            return
        ms = (time.perf_counter() - started) * 1000
        right = int(run.metric("Prediction") == str(label))
        COUNTS["strokes"].append([sent, round(ms, 2), right, len(run.exceptions()), self.number])
        self._fire("stroke", started, None)

    @task
    def draw(self) -> None:
        self.stroke()


class Trainer(Drawer):
    """Presses Train in the sidebar (the default settings), then draws while the run's progress polls."""

    weight = 0
    fixed_count = int(os.environ.get("LOAD_TRAINERS", "0"))

    def setup(self) -> None:
        self.session.press("button", "FormSubmitter:train-Train")
        self.done = False

    def stroke(self) -> None:
        try:
            self.session.rerun_due()
        except (ProtocolError, OSError) as error:
            COUNTS["errors"].append(f"training progress: {error}")
        if not self.done and self.trained():
            self.done = True
            COUNTS["trained"] += 1
        super().stroke()

    def trained(self) -> bool:
        """The new network is listed and active (the page reran itself when the run ended)."""
        return any(
            w.kind == "radio" and w.state is not None and w.state.string_value.startswith("Trained #")
            for w in self.session.widgets.values()
        )


class Importer(Drawer):
    """Uploads a file of 2,000 samples in "Teach it your handwriting", then draws."""

    weight = 0
    fixed_count = int(os.environ.get("LOAD_IMPORTERS", "0"))

    def setup(self) -> None:
        explore = self.session.widget("button_group", "explore")
        self.session.values[explore.id] = string_array(explore.id, ["Teach it your handwriting"])
        self.session.rerun()  # "Look closer" is outside the canvas's fragment: the whole page reruns
        started = time.perf_counter()
        try:
            run = self.session.upload(None, "my_digits.npz", samples_file(), self.fragment)
        except (ProtocolError, OSError) as error:
            self._fire("import", started, error)
            COUNTS["errors"].append(f"import: {error}")
            return
        said = [alert.body for alert in run.find("alert")]
        ok = any("Imported 2000 new samples" in body for body in said)
        self._fire("import", started, None if ok else ProtocolError(f"the page said {said}"))
        COUNTS["imported"] += ok
        del self.session.values[explore.id]  # the panel closes again: drawing as the others do


# -- counts across Locust's worker processes


@events.report_to_master.add_listener
def _report(client_id, data):
    data["page_counts"] = {k: (list(v) if isinstance(v, list) else v) for k, v in COUNTS.items()}
    for value in COUNTS.values():
        if isinstance(value, list):
            value.clear()
    for key in ("trained", "imported"):
        COUNTS[key] = 0


@events.worker_report.add_listener
def _merge(client_id, data):
    for key, value in data.get("page_counts", {}).items():
        COUNTS[key] = COUNTS[key] + value


@events.quitting.add_listener
def _write(environment, **kwargs):
    path = os.environ.get("LOAD_COUNTS_FILE")
    if path and environment.runner is not None and not _is_worker(environment):
        with open(path, "w") as f:
            json.dump(COUNTS, f)


def _is_worker(environment) -> bool:
    from locust.runners import WorkerRunner

    return isinstance(environment.runner, WorkerRunner)


@events.init.add_listener
def _warm(environment, **kwargs):
    drawings()  # before the first visitor starts: rendering the pool is not a visitor's time
