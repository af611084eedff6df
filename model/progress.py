"""What a training run reports as it goes, to a command line or a web page.

Its own module, free of TensorFlow, because the page's server receives these
from the training process and must not import TensorFlow to read them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Progress:
    """One step of training, as the progress hook sees it.

    `batch` counts the batches done in `epoch` (1-based) out of `batches`.
    `logs` holds the running training loss and accuracy within the epoch and,
    when `epoch_done`, also `val_loss` and `val_accuracy`.
    """

    epoch: int
    epochs: int
    batch: int
    batches: int
    logs: dict[str, float] = field(default_factory=dict)
    epoch_done: bool = False

    @property
    def fraction(self) -> float:
        """How much of the whole run is done, 0 to 1."""
        return ((self.epoch - 1) + self.batch / self.batches) / self.epochs


ProgressHook = Callable[[Progress], None]
