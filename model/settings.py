"""Every setting of the app in one place: the environment variables it reads and the limits it keeps.

An operator changes the app's behaviour here and nowhere else:

- **environment variables** (`ENVIRONMENT`): where MNIST, the database, the
  shipped network and the training cluster are;
- **limits** (`LIMITS`): each bound the app keeps on what one visitor, one
  address or everybody together may cost. Each is a constant of this
  module, read once when the module is imported, and may be raised (or
  lowered) with its environment variable, `READMYDIGIT_<NAME>`; a value
  that is not a positive number stops the server at its start with a
  sentence, rather than running with no limit.

README.md's tables of both are checked against this module by a test
(tests/test_settings.py), so the two cannot drift apart.

No Streamlit, TensorFlow or Dask here: every layer reads its settings from
this module.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "READMYDIGIT_"


class SettingError(ValueError):
    """An environment variable with a value the app cannot use; the message says which and why."""


@dataclass(frozen=True)
class Variable:
    """An environment variable the app reads, what it does, and what it is when unset."""

    name: str
    default: str  # in words, for the README ("" when unset means "not used")
    meaning: str

    def value(self) -> str | None:
        """The variable's value, stripped; None when unset or empty."""
        return os.environ.get(self.name, "").strip() or None


@dataclass(frozen=True)
class Limit:
    """A bound the app keeps, its default, and what it bounds."""

    name: str
    default: int | float
    meaning: str

    @property
    def variable(self) -> str:
        return PREFIX + self.name

    def value(self) -> int | float:
        text = os.environ.get(self.variable, "").strip()
        if not text:
            return self.default
        try:
            value = type(self.default)(text)
        except ValueError:
            value = None
        if value is None or value <= 0:
            kind = "a whole number" if isinstance(self.default, int) else "a number"
            raise SettingError(f"{self.variable} must be {kind} above 0 (got {text!r}); unset it for {self.default}.")
        return value


MNIST_PATH = Variable(
    "MNIST_PATH",
    "Keras's download (~/.keras/datasets/mnist.npz)",
    "an mnist.npz in Keras's layout; the server never downloads MNIST itself",
)
MODEL_PATH = Variable(
    "MODEL_PATH",
    "model/mnist_ann.keras",
    "the shipped network: what every server starts from until the owner saves a default",
)
DATABASE_URL = Variable(
    "SAMPLES_DATABASE_URL",
    "sqlite:///data/samples.sqlite3",
    "the database of visitors' samples, limits and the owner's defaults (PostgreSQL for several machines)",
)
SAMPLES_PATH = Variable(
    "SAMPLES_PATH",
    "data/my_digits/",
    "the folder store of versions before the database, imported once",
)
SCHEDULER_ADDRESS = Variable(
    "DASK_SCHEDULER_ADDRESS",
    "a local cluster started by the first visitor",
    "the Dask scheduler that trains (Dask's own variable; train.py reads it too)",
)
DASHBOARD_ADDRESS = Variable(
    "DASK_DASHBOARD_ADDRESS",
    "off",
    "where a local cluster's dashboard listens, e.g. 127.0.0.1:8787",
)
REAL_WRITERS_PATH = Variable(
    "REAL_WRITERS_PATH",
    "data/real_writers_sources/",
    "fetched copies of the real-writer sources (bench/real_writers.py prepare)",
)
REAL_WRITERS_PREPARED = Variable(
    "REAL_WRITERS_PREPARED",
    "data/real_writers/",
    "the prepared real-writer judges; where present, a retrain with shared handwriting is scored on them too",
)
ENVIRONMENT = (
    MNIST_PATH,
    MODEL_PATH,
    DATABASE_URL,
    SAMPLES_PATH,
    SCHEDULER_ADDRESS,
    DASHBOARD_ADDRESS,
    REAL_WRITERS_PATH,
    REAL_WRITERS_PREPARED,
)

LIMITS: list[Limit] = []


def _limit(name: str, default: int | float, meaning: str) -> int | float:
    limit = Limit(name, default, meaning)
    LIMITS.append(limit)
    return limit.value()


# A visitor's samples
MAX_SAMPLES = _limit("MAX_SAMPLES", 2_000, "samples in one collection")
MAX_COLLECTION_MB = _limit("MAX_COLLECTION_MB", 16, "MB of samples (images and strokes) in one collection")
MAX_STROKES_KB = _limit("MAX_STROKES_KB", 64, "kB of a drawing's strokes kept with its sample")
MAX_UNPACKED_MB = _limit("MAX_UNPACKED_MB", 8, "MB an imported file of samples may unpack to")
SAVES_PER_MINUTE = _limit("SAVES_PER_MINUTE", 20, "samples one collection may save in a minute")
IMPORTS_PER_MINUTE = _limit("IMPORTS_PER_MINUTE", 3, "imports into one collection in a minute")
PASSWORD_TRIES_PER_MINUTE = _limit(
    "PASSWORD_TRIES_PER_MINUTE", 5, "tries of the admin password a page may make a minute"
)
PASSWORD_TRIES_PER_ADDRESS = _limit(
    "PASSWORD_TRIES_PER_ADDRESS", 20, "tries of the admin password from one address (IPv6: its /64) in 10 minutes"
)

# One address (a class behind one school's address is many visitors: these leave room for 40 of them)
COLLECTIONS_PER_ADDRESS = _limit("COLLECTIONS_PER_ADDRESS", 100, "new collections from one address in an hour")
SAVES_PER_ADDRESS = _limit("SAVES_PER_ADDRESS", 1_000, "samples saved from one address in a minute")
IMPORTS_PER_ADDRESS = _limit("IMPORTS_PER_ADDRESS", 100, "imports from one address in an hour")
PAGES_PER_ADDRESS = _limit("PAGES_PER_ADDRESS", 60, "pages open at once from one address on one server")
NEW_PAGES_PER_ADDRESS = _limit("NEW_PAGES_PER_ADDRESS", 150, "pages opened from one address in 10 minutes")
UPLOAD_MB_PER_ADDRESS = _limit("UPLOAD_MB_PER_ADDRESS", 64, "MB of uploaded files one address's pages hold")
RUNS_PER_ADDRESS = _limit("RUNS_PER_ADDRESS", 40, "training runs waiting or running for one address")

# Everybody together
MAX_DATABASE_MB = _limit("MAX_DATABASE_MB", 2_048, "MB of samples the database holds in all; then saving stops")
UPLOAD_MB_IN_ALL = _limit("UPLOAD_MB_IN_ALL", 256, "MB of uploaded files all pages of a server hold")

# A visitor's networks
MAX_NETWORKS = _limit("MAX_NETWORKS", 8, "networks one visitor's session holds, the default included")
MAX_NETWORKS_MB = _limit("MAX_NETWORKS_MB", 64, "MB of weights one visitor's session holds")

# The training queue
MAX_WAITING = _limit("MAX_WAITING", 48, "runs waiting on the training cluster, all visitors together")
MAX_RUN_SECONDS = _limit("MAX_RUN_SECONDS", 300, "seconds of training one run may take before it stops itself")
ABANDON_AFTER_SECONDS = _limit("ABANDON_AFTER_SECONDS", 30, "seconds without a sign of its visitor before a run stops")

# Shared handwriting
SHARED_PER_CONTRIBUTOR = _limit(
    "SHARED_PER_CONTRIBUTOR", 100, "samples of one contributor a retrain with shared handwriting takes at most"
)

# The drawing
MAX_DRAWING_SIDE = _limit("MAX_DRAWING_SIDE", 840, "pixels of the canvas's image on its longer side (3× the box)")

KEPT_DEFAULTS = 5  # earlier defaults kept for rollback: history, not a limit on anyone


def markdown() -> str:
    """README.md's tables of the environment variables and the limits (`python -m model.settings` prints them)."""
    lines = ["| environment variable | when unset | what it is |", "| --- | --- | --- |"]
    lines += [f"| `{v.name}` | {v.default} | {v.meaning} |" for v in ENVIRONMENT]
    lines += ["", "| limit (environment variable) | default | what it bounds |", "| --- | --- | --- |"]
    lines += [f"| `{limit.variable}` | {limit.default:,} | {limit.meaning} |" for limit in LIMITS]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
