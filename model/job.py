"""A training run in a background thread, with progress a page can poll.

A web page cannot block on a minute of training: the visitor keeps drawing
(which reruns the page) and the run must survive that. `TrainingJob` runs
`fit_network` in its own thread and keeps what the page shows (progress,
the curves so far, the result or the error) in plain attributes that the page
reads on each refresh. One run trains at a time per process: on two cores a
second run at once would only slow both, so it waits for the first.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from model.config import TrainConfig

_one_run_at_a_time = threading.Lock()
CURVE_POINTS_PER_EPOCH = 10  # training-curve resolution: enough to see it move, cheap to draw


@dataclass
class CurvePoint:
    epoch: float  # fractional: 1.5 is half-way through the second epoch
    split: str  # "training" or "validation"
    loss: float
    accuracy: float


@dataclass
class TrainingJob:
    config: TrainConfig
    mnist: tuple
    data_info: dict
    state: str = "waiting"  # waiting → training → done | stopped | failed
    fraction: float = 0.0
    status: str = "Waiting for another training run on this server to finish …"
    curve: list[CurvePoint] = field(default_factory=list)
    result: object = None  # a model.training.TrainedNetwork when done
    error: str | None = None
    started: float = field(default_factory=time.perf_counter)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> TrainingJob:
        threading.Thread(target=self._run, name="training", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    @property
    def finished(self) -> bool:
        return self.state in ("done", "stopped", "failed")

    def _run(self) -> None:
        try:
            with _one_run_at_a_time:
                if self._stop.is_set():
                    self.state, self.status = "stopped", "Stopped before it started."
                    return
                self.state, self.status = "training", "Starting …"
                from model.training import fit_network  # imports TensorFlow: seconds, once

                self.result = fit_network(
                    self.config,
                    self.mnist,
                    self.data_info,
                    command=self.config.command(),
                    on_progress=self._on_progress,
                    should_stop=self._stop.is_set,
                )
            self.state = "stopped" if self._stop.is_set() else "done"
            self.fraction = 1.0
        except Exception as error:  # the page shows it; the server must not die of it
            self.state, self.error = "failed", f"{type(error).__name__}: {error}"

    def _on_progress(self, p) -> None:
        self.fraction = p.fraction
        self.status = f"Epoch {p.epoch}/{p.epochs} · batch {p.batch}/{p.batches}"
        step = max(1, p.batches // CURVE_POINTS_PER_EPOCH)
        at = p.epoch - 1 + p.batch / p.batches
        logs = p.logs
        if p.epoch_done:
            self.curve.append(CurvePoint(at, "validation", logs.get("val_loss", 0.0), logs.get("val_accuracy", 0.0)))
        elif p.batch % step == 0:
            self.curve.append(CurvePoint(at, "training", logs.get("loss", 0.0), logs.get("accuracy", 0.0)))
