"""A training run in a child process, with progress a page can poll.

A web page cannot block on a minute of training: the visitor keeps drawing
(which reruns the page) and the run must survive that. `TrainingJob` runs a
piece of training work (a whole run, or a fine-tune) in a child process,
and a thread of the server follows it and keeps what the page shows
(progress, the curves so far, the result or the error) in plain attributes
that the page reads on each refresh.

Why a process rather than a thread: TensorFlow takes about 600 MB once
imported and training holds more; in a child, the server itself never
imports it, so it stays small, gives it all back when the run ends, and a
crash inside TensorFlow cannot take the page down. The child is a fresh
`python` (not a fork of the threaded server, and not `multiprocessing`,
which would re-run the page's script in the child as its main module): the
work is a module-level function, sent with its arguments down the child's
stdin by pickle; progress and the result come back the same way on a pipe
of their own, and "stop" goes down stdin as one line.

One run trains at a time per server: on two cores a second run at once
would only slow both, so it waits for the first.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from model.inference import DenseNet

_one_run_at_a_time = threading.Lock()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where `model` imports from
CURVE_POINTS_PER_EPOCH = 10  # training-curve resolution: enough to see it move, cheap to draw

# work(*args, on_progress=…, should_stop=…) -> JobResult, defined at module level.
Work = Callable[..., "JobResult"]


@dataclass
class JobResult:
    net: DenseNet
    card: dict
    keras_bytes: bytes | None = None  # a save's `.keras` file, written by the server


@dataclass
class CurvePoint:
    epoch: float  # fractional: 1.5 is half-way through the second epoch
    split: str  # "training" or "validation"
    loss: float
    accuracy: float


@dataclass
class TrainingJob:
    work: Work
    args: tuple = ()
    kind: str = "training"  # what the page calls it: "training", "fine-tune", "save"
    exclusive: bool = True  # wait for other exclusive jobs (training); a save need not
    state: str = "waiting"  # waiting → running → done | stopped | failed
    fraction: float = 0.0
    status: str = "Waiting for another training run on this server to finish …"
    curve: list[CurvePoint] = field(default_factory=list)
    result: JobResult | None = None
    error: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _child: subprocess.Popen | None = None

    def start(self) -> TrainingJob:
        threading.Thread(target=self._follow, name=self.kind, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        child = self._child
        if child is not None:
            try:
                child.stdin.write(b"stop\n")
                child.stdin.flush()
            except (OSError, ValueError):  # it has ended already
                pass

    @property
    def finished(self) -> bool:
        return self.state in ("done", "stopped", "failed")

    def _follow(self) -> None:
        try:
            with _one_run_at_a_time if self.exclusive else contextlib.nullcontext():
                if self._stop.is_set():
                    self.state, self.status = "stopped", "Stopped before it started."
                    return
                self.state, self.status = "running", "Starting (loading TensorFlow) …"
                self.result = self._run_child()
            self.state = "stopped" if self._stop.is_set() else "done"
            self.fraction = 1.0
        except Exception as error:  # the page shows it; the server must not die of it
            self.state, self.error = "failed", str(error)

    def _run_child(self) -> JobResult:
        read, write = os.pipe()  # the child's messages; its stdout stays free for stray prints
        child = subprocess.Popen(
            [sys.executable, "-c", f"from model.job import child_main; child_main({write})"],
            cwd=ROOT, stdin=subprocess.PIPE, pass_fds=(write,))
        os.close(write)
        self._child = child
        try:
            child.stdin.write(pickle.dumps((self.work, self.args), protocol=pickle.HIGHEST_PROTOCOL))
            child.stdin.write(b"\n")
            child.stdin.flush()
            if self._stop.is_set():
                self.stop()
            with os.fdopen(read, "rb") as messages:
                while True:
                    try:
                        kind, payload = pickle.load(messages)
                    except (EOFError, pickle.UnpicklingError):  # it ended, maybe mid-message
                        code = child.wait()
                        raise RuntimeError(f"the {self.kind} process ended unexpectedly (exit code {code}); "
                                           "is the server out of memory?") from None
                    if kind == "progress":
                        self._on_progress(payload)
                    elif kind == "done":
                        return payload
                    else:
                        raise RuntimeError(payload)
        finally:
            self._child = None
            try:
                child.stdin.close()
                child.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                child.kill()

    def _on_progress(self, p) -> None:
        self.fraction = p.fraction
        self.status = f"Epoch {p.epoch}/{p.epochs} · batch {p.batch}/{p.batches}"
        at = p.epoch - 1 + p.batch / p.batches
        logs = p.logs
        if p.epoch_done:
            self.curve.append(CurvePoint(at, "validation", logs.get("val_loss", 0.0), logs.get("val_accuracy", 0.0)))
            return
        training = [point.epoch for point in self.curve if point.split == "training"]
        if not training or at - training[-1] >= 1 / CURVE_POINTS_PER_EPOCH:
            self.curve.append(CurvePoint(at, "training", logs.get("loss", 0.0), logs.get("accuracy", 0.0)))


def child_main(fd: int) -> None:
    """The child process: run the work from stdin, send progress as it goes, then the result or the error."""
    messages = os.fdopen(fd, "wb")
    lock = threading.Lock()

    def send(kind: str, payload) -> None:
        with lock:
            pickle.dump((kind, payload), messages, protocol=pickle.HIGHEST_PROTOCOL)
            messages.flush()

    stop = threading.Event()
    try:
        work, args = pickle.load(sys.stdin.buffer)

        def listen() -> None:  # "stop" or the server gone (end of stdin) both mean stop
            for line in sys.stdin.buffer:
                if line.strip() == b"stop":
                    break
            stop.set()

        threading.Thread(target=listen, daemon=True).start()
        send("done", work(*args, on_progress=lambda p: send("progress", p), should_stop=stop.is_set))
    except Exception as error:
        send("failed", f"{type(error).__name__}: {error}")
    finally:
        messages.close()


def train_network(config, mnist, data_info, command, *, on_progress, should_stop) -> JobResult:
    """The sidebar's retrain, as a job: `model.training.fit_network`."""
    from model.training import fit_network  # TensorFlow: imported in the child only

    trained = fit_network(config, mnist, data_info, command, on_progress, should_stop)
    return JobResult(trained.net, trained.card)


def fine_tune_network(base: DenseNet, base_card: dict, base_name: str, mnist, samples, *,
                      on_progress, should_stop) -> JobResult:
    """"Fine-tune on my digits", as a job: `model.finetune.fine_tune` and the new network's card."""
    import time

    from model.card import fine_tuned_card
    from model.finetune import fine_tune

    started = time.perf_counter()
    dropout = base_card.get("hyperparameters", {}).get("dropout", 0.0)
    tuned, report = fine_tune(base, mnist, samples, dropout=dropout, on_progress=on_progress,
                              should_stop=should_stop)
    card = fine_tuned_card(base_card, report.test, {**report.summary(), "from": base_name},
                           time.perf_counter() - started)
    return JobResult(tuned, card)


def save_network(net: DenseNet, card: dict, *, on_progress, should_stop) -> JobResult:
    """"Save as default", as a job: making a .keras file needs Keras, so the server leaves it to a child,
    and writes the bytes it returns itself (`model.defaults.save_default`)."""
    from model.network import keras_bytes, to_keras

    dropout = card.get("hyperparameters", {}).get("dropout", 0.0)
    return JobResult(net, card, keras_bytes(to_keras(net, dropout=dropout)))
