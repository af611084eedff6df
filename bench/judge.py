"""The judge of legibility: a small CNN that says whether drawings are still the digits they claim to be.

A benchmark that feeds a network drawings nobody can read measures nothing.
The drawn-digit benchmark (bench/drawn_digits.py) redraws MNIST **test**
digits; whether its drawings stayed legible is a question for a reader
stronger than the networks it measures and trained on none of its drawings:
a convolutional network (`model.training.extras.cnn`) trained on MNIST's training
split, with the project's distortions and redrawn digits
(`model.training.extras.styles`), never on anything in `bench/`.

    python -m bench.judge train [--epochs 30] [--redraw 40000] [--extra-real DIR] [--out artifacts/judge.keras]
    python -m bench.judge score [--model artifacts/judge.keras] [--count 3000]

`train` needs TensorFlow and writes the network and a JSON card beside it
(with `--extra-real`, the same network also learns the real training
writers of `model.training.extras.real`: a teacher to distil, `train.py --teacher`);
`score` reads the network in NumPy (`NumpyCNN`, no TensorFlow) and reports
how many of the drawn digits it reads right, per digit, with its mistakes.
No judge is committed: `train` makes one in artifacts/ (git-ignored), and
tests/test_distill.py checks that NumPy reads a CNN of this kind as Keras
does.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.reading.network import ModelFileError, softmax

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "artifacts" / "judge.keras"
MAX_FILE_BYTES = 8 << 20
EPOCHS, REDRAW, DROPOUT = 30, 40_000, 0.3


@dataclass(frozen=True, eq=False)
class NumpyCNN:
    """A `model.training.extras.cnn` network as NumPy arrays: ("conv", kernel (3, 3, in, out), bias, padding) or
    ("pool",) or ("dense", kernel, bias) steps, input to output."""

    steps: tuple

    @classmethod
    def load(cls, path: str | os.PathLike) -> NumpyCNN:
        """Read a `.keras` file of the judge's kind (Reshape, Conv2D, MaxPooling2D, Flatten, Dropout, Dense)."""
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"No judge network at {path} (make one with `python -m bench.judge train`).")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ModelFileError(f"{path} is larger than any judge network.")
        try:
            with zipfile.ZipFile(path) as archive:
                config = json.loads(archive.read("config.json"))
                weights = archive.read("model.weights.h5")
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
            raise ModelFileError(f"{path} is not a readable .keras file ({error}).") from None
        return cls(tuple(_steps(config, weights, str(path))))

    def probabilities(self, images: np.ndarray, batch: int = 256) -> np.ndarray:
        """(N, 28, 28) float images in [0, 1] → (N, 10) probabilities, in slices of `batch`."""
        images = np.asarray(images, np.float32)
        return np.concatenate([self._forward(images[i : i + batch]) for i in range(0, len(images), batch)])

    def _forward(self, x: np.ndarray) -> np.ndarray:
        x = x[..., None]
        for step in self.steps:
            if step[0] == "conv":
                x = np.maximum(conv3x3(x, step[1], step[3]) + step[2], 0.0)
            elif step[0] == "pool":
                n, h, w, c = x.shape
                x = x[:, : h // 2 * 2, : w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
            else:
                return softmax(x.reshape(len(x), -1) @ step[1] + step[2])
        raise ModelFileError("The judge network has no output layer.")


def conv3x3(x: np.ndarray, kernel: np.ndarray, padding: str) -> np.ndarray:
    """A 3×3 convolution (Keras's cross-correlation) of (N, H, W, C) by (3, 3, C, F), 'same' or 'valid'."""
    if padding == "same":
        x = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # (N, H', W', C, 3, 3)
    n, h, w, c = windows.shape[:4]
    columns = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * h * w, 9 * c)
    return (columns @ kernel.reshape(9 * c, -1)).reshape(n, h, w, -1)


def _steps(config: dict, weights: bytes, where: str) -> list:
    import h5py

    try:
        layers = config["config"]["layers"]
    except (KeyError, TypeError):
        raise ModelFileError(f"{where}: config.json does not describe a Sequential model.") from None
    steps, counts = [], {"conv2d": 0, "dense": 0}
    with h5py.File(io.BytesIO(weights), "r") as h5:

        def arrays(kind: str) -> tuple[np.ndarray, np.ndarray]:
            group = kind if counts[kind] == 0 else f"{kind}_{counts[kind]}"
            counts[kind] += 1
            return tuple(np.array(h5[f"layers/{group}/vars/{i}"], np.float32) for i in (0, 1))

        for layer in layers:
            kind, cfg = layer["class_name"], layer.get("config", {})
            if kind in ("InputLayer", "Reshape", "Flatten", "Dropout"):
                continue
            if kind == "Conv2D":
                if cfg.get("activation") != "relu" or list(cfg.get("kernel_size", [])) != [3, 3]:
                    raise ModelFileError(f"{where}: a convolution that is not 3×3 with ReLU.")
                steps.append(("conv", *arrays("conv2d"), cfg.get("padding", "valid")))
            elif kind == "MaxPooling2D":
                steps.append(("pool",))
            elif kind == "Dense" and cfg.get("activation") == "softmax":
                steps.append(("dense", *arrays("dense")))
            else:
                raise ModelFileError(f"{where}: a {kind} layer is not part of the judge's kind of network.")
    return steps


def train_judge(args) -> int:
    """Train the judge on MNIST's training split with distortions and redrawn digits; save it and its card."""
    from model.reading.metrics import evaluate
    from model.store.atomic import atomic_write_bytes, atomic_write_json
    from model.store.card import library_versions
    from model.store.data import load_mnist, mnist_source, provenance
    from model.training.ann import keras_bytes, load_model, train
    from model.training.extras.cnn import build_cnn

    (x_train, y_train), (x_test, y_test) = load_mnist(args.data)
    extra, real_info = None, None
    if args.extra_real:
        from model.training.extras.real import real_training_digits

        *extra, real_info = real_training_digits(args.extra_real, args.real_renderings, args.seed)
        print(f"Adding {len(extra[1]):,} real writers' digits (a teacher, then, not the judge).", flush=True)
    model = load_model(args.init) if args.init else build_cnn(dropout=DROPOUT)
    started = time.perf_counter()

    def progress(p) -> None:
        if p.epoch_done:
            print(
                f"epoch {p.epoch}/{p.epochs} loss {p.logs.get('loss', 0):.4f} "
                f"val_accuracy {p.logs.get('val_accuracy', 0):.2%} ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )

    history = train(
        model,
        x_train,
        y_train,
        epochs=args.epochs,
        batch_size=128,
        learning_rate=args.learning_rate,
        validation_split=0.05,
        seed=args.seed,
        augment=True,
        redraw=args.redraw,
        extra=tuple(extra) if extra else None,
        on_progress=progress,
    )
    seconds = time.perf_counter() - started
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out, keras_bytes(model))
    test = evaluate(NumpyCNN.load(args.out).probabilities(x_test.astype(np.float32) / 255.0), y_test)
    card = {
        "kind": "the legibility judge of bench/judge.py (model/training/extras/cnn.py)",
        "command": "python -m bench.judge train " + " ".join(sys.argv[2:]),
        "epochs": args.epochs,
        "init": args.init,
        "learning_rate": args.learning_rate,
        "redraw": args.redraw,
        "seed": args.seed,
        "dropout": DROPOUT,
        "parameters": int(model.count_params()),
        "mnist_test_accuracy": round(test.accuracy, 5),
        "mnist_test_per_class": [round(a, 5) for a in test.per_class_accuracy],
        "history": {key: [round(v, 5) for v in values] for key, values in history.items()},
        "training_seconds": round(seconds, 1),
        "data": provenance(mnist_source(args.data)),
        "extra_real": real_info,
        "versions": library_versions(),
    }
    atomic_write_json(Path(args.out).with_suffix(".json"), card)
    print(f"MNIST test {test.accuracy:.2%}; saved {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB).")
    return 0


def score_judge(args) -> int:
    """How many of the drawn-digit benchmark's drawings the judge reads right."""
    from bench.drawn_digits import drawn_digits, indices
    from model.reading.metrics import evaluate, top_confusions
    from model.reading.preprocess import to_mnist
    from model.store.data import load_mnist

    judge = NumpyCNN.load(args.model)
    (_, _), (x_test, y_test) = load_mnist(args.data)
    mnist = evaluate(judge.probabilities(x_test.astype(np.float32) / 255.0), y_test)
    chosen = indices(len(x_test), args.count, args.seed)
    pairs = list(drawn_digits(x_test, y_test, args.count, args.seed))
    inputs = np.stack([to_mnist(canvas) for canvas, _ in pairs])
    labels = np.array([label for _, label in pairs])
    drawn = evaluate(judge.probabilities(inputs), labels)
    originals_read = judge.probabilities(x_test[chosen] / 255.0).argmax(axis=1) == labels
    drawings_read = judge.probabilities(inputs).argmax(axis=1) == labels
    confusions = ", ".join(f"{t}→{p} ({n})" for t, p, n in top_confusions(drawn.confusion, 10))
    print(
        f"{args.model}: MNIST test {mnist.accuracy:.2%}; {len(labels)} drawn digits {drawn.accuracy:.2%} "
        f"({round((1 - drawn.accuracy) * len(labels))} wrong; their MNIST originals {originals_read.mean():.2%}; "
        f"of the originals it reads right, their drawings {drawings_read[originals_read].mean():.2%}); per digit "
        + " ".join(f"{d}: {a:.1%}" for d, a in enumerate(drawn.per_class_accuracy))
        + f"; {confusions or 'no mistakes'}"
    )
    return 0


def main(argv=None) -> int:
    from bench.drawn_digits import COUNT, SEED

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("train", help="train the judge (needs TensorFlow)")
    fit.add_argument("--epochs", type=int, default=EPOCHS)
    fit.add_argument(
        "--redraw", type=int, default=REDRAW, help="redrawn training digits (model/training/extras/styles.py)"
    )
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument(
        "--extra-real",
        metavar="PATH",
        help="also train on the real training writers (data/real_writers): a teacher for distillation, "
        "no longer a judge of MNIST drawings alone",
    )
    fit.add_argument("--real-renderings", type=int, default=6)
    fit.add_argument("--init", metavar="PATH", help="go on training this CNN (.keras) instead of a new one")
    fit.add_argument("--learning-rate", type=float, default=1e-3)
    fit.add_argument("--data", default=None, help="mnist.npz (default: $MNIST_PATH)")
    fit.add_argument("--out", default="artifacts/judge.keras")
    score = commands.add_parser("score", help="read the drawn-digit benchmark with the judge (NumPy)")
    score.add_argument("--model", default=str(DEFAULT_MODEL))
    score.add_argument("--count", type=int, default=COUNT)
    score.add_argument("--seed", type=int, default=SEED)
    score.add_argument("--data", default=None, help="mnist.npz (default: $MNIST_PATH)")
    args = parser.parse_args(argv)
    if args.command == "train":
        if not 1 <= args.epochs <= 200 or not 0 <= args.redraw <= 120_000:
            parser.error("--epochs must be 1 to 200 and --redraw 0 to 120,000.")
        return train_judge(args)
    return score_judge(args)


if __name__ == "__main__":
    sys.exit(main())
