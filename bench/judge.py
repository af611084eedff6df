"""The judge of legibility and the second opinion on shared samples: a small CNN (model/second_opinion.keras).

A benchmark that feeds a network drawings nobody can read measures nothing.
The drawn-digit benchmark (bench/drawn_digits.py) redraws MNIST **test**
digits; whether its drawings stayed legible is a question for a reader
stronger than the networks it measures and trained on none of its drawings:
a convolutional network (`model.training.extras.cnn`) trained on MNIST's training
split, with the project's distortions and redrawn digits
(`model.training.extras.styles`) and, with `--extra-real`, the real training
writers whose licence allows shipping what it learns (UNIPEN, HwD-1000),
never on anything in `bench/`. The same network is the page's second
opinion on the labels of shared handwriting (`model.reading.flags`).

    python -m bench.judge train [--epochs 30] [--redraw 40000] [--extra-real DIR] [--out model/second_opinion.keras]
    python -m bench.judge score [--model model/second_opinion.keras] [--count 3000]

`train` needs TensorFlow and writes the network and a JSON card beside it;
`score` reads the network in NumPy (`model.reading.cnn.NumpyCNN`, no
TensorFlow) and reports how many of the drawn digits it reads right, per
digit, with its mistakes. tests/test_distill.py checks that NumPy reads a
CNN of this kind as Keras does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from model.reading.cnn import NumpyCNN

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "model" / "second_opinion.keras"  # the one shipped
EPOCHS, REDRAW, DROPOUT = 30, 40_000, 0.3


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

        *extra, real_info = real_training_digits(
            args.extra_real, args.real_renderings, args.seed, tuple(args.real_sources)
        )
        print(f"Adding {len(extra[1]):,} real writers' digits ({', '.join(args.real_sources)}).", flush=True)
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
        "kind": "a convolutional network (model/training/extras/cnn.py): the legibility judge of bench/judge.py and "
        "the second opinion on shared samples (model/reading/flags.py)",
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
        help="also train on the real training writers (data/real_writers): a stronger second opinion on "
        "shared samples' labels and teacher for distillation; it still never sees this benchmark's drawings",
    )
    fit.add_argument("--real-renderings", type=int, default=6)
    fit.add_argument(
        "--real-sources",
        nargs="+",
        default=["unipen", "hwd"],
        choices=["unipen", "digilets", "ardis", "hwd"],
        help="with --extra-real: which parts (default: those whose licence allows shipping the network)",
    )
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
