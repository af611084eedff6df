"""How well networks read drawings, not just MNIST: the drawn-digit benchmark, side by side.

For each network, on the same drawings and in one run:
(a) the app's path: `to_mnist` on the canvas, then the network;
(b) the naive path most drawing apps use: the whole canvas shrunk to 28×28;
(c) the MNIST test set, for comparison;
plus per-class accuracy and the most frequent confusions of the app's path.
The drawings come from three sources: MNIST test digits redrawn legibly from
their strokes (bench/drawn_digits.py) and templates of writing styles MNIST
has few of (bench/digit_styles.py), both through the same "hand", and the
real-writer judge: real people's own pen strokes drawn on the canvas
(bench/real_writers.py; it needs `python -m bench.real_writers prepare`
first, and says so when it is missing). The first `--brush-count` of the
MNIST-stroke drawings are drawn again with the thinnest, the default and
the thickest brush the page offers, to show whether the brush changes what
is read. Each style is reported on its own.

A network is a Dense `.keras` file as the page reads it, or the CNN of
bench/judge.py (read in NumPy too), which judges whether the drawings are
legible at all.

    python -m bench.accuracy [--model PATH ...] [--count 3000] [--write]

With --write, the table replaces the accuracy section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import numpy as np
from PIL import Image

from bench.digit_styles import PER_STYLE, catalogue, styled_digits
from bench.drawn_digits import COUNT, SEED, drawn_digits
from bench.real_writers import RealWritersUnavailable, describe, judge_inputs, load_judge
from bench.report import machine, replace_section, table
from model.reading.cnn import NumpyCNN
from model.reading.metrics import evaluate, top_confusions
from model.reading.network import ModelFileError, NumpyNetwork
from model.reading.preprocess import to_mnist
from model.store.card import ModelCard, architecture, read_card
from model.store.data import load_mnist


def naive_28(canvas: np.ndarray) -> np.ndarray:
    """What typical apps feed the network: the whole canvas resized to 28×28, ink bright."""
    return np.asarray(Image.fromarray(canvas[:, :, 3]).resize((28, 28), Image.BILINEAR), np.float32) / 255.0


def prepare(drawings):
    """(canvas, label) pairs as the app's path and the naive path turn them into network inputs."""
    app, naive, labels = [], [], []
    for canvas, label in drawings:
        app.append(to_mnist(canvas))
        naive.append(naive_28(canvas))
        labels.append(label)
    return np.stack(app), np.stack(naive), np.array(labels)


# The page's brush slider: its two ends and its default (app.py).
BRUSHES = {"thinnest (6 px)": 6, "default (18 px)": 18, "thickest (40 px)": 40}


def per_style(correct: np.ndarray) -> list[tuple[str, float]]:
    """("1 flag", accuracy) for each style of bench/digit_styles.py, from per-drawing hits in catalogue order."""
    hits = correct.reshape(-1, PER_STYLE).mean(axis=1)
    return [(f"{digit} {style}", float(hit)) for (digit, style), hit in zip(catalogue(), hits)]


def note_card(model_path: str, misreads: str) -> None:
    """Write `misreads` into the card beside `model_path` (its hash is of the network, so it still matches)."""
    from dataclasses import replace

    from model.store.atomic import atomic_write_json
    from model.store.card import card_path

    card = read_card(model_path) or ModelCard()
    atomic_write_json(card_path(model_path), replace(card, notes={**card.notes, "still_misreads": misreads}).to_dict())


def misread_picture(path: str, images: np.ndarray, labels: np.ndarray, reads: np.ndarray, columns: int = 10) -> None:
    """Network inputs (28×28) enlarged side by side, each captioned "label read as", for a person to judge."""
    from PIL import ImageDraw

    scale, caption = 4, 14
    width, height = 28 * scale, 28 * scale + caption
    sheet = Image.new("L", (columns * width, max(1, -(-len(images) // columns)) * height), 0)
    draw = ImageDraw.Draw(sheet)
    for i, (image, label, read) in enumerate(zip(images, labels, reads)):
        x, y = i % columns * width, i // columns * height
        sheet.paste(Image.fromarray((image * 255).astype(np.uint8)).resize((28 * scale, 28 * scale)), (x, y))
        draw.text((x + 4, y + 28 * scale + 1), f"{label} read as {read}", fill=255)
    sheet.save(path)


def app_errors(result) -> str:
    return f"{round((1 - result.accuracy) * result.count)}"


def load_network(path: str):
    """(network, its name for the table): a Dense network as the page reads it, or the judge's CNN."""
    try:
        net = NumpyNetwork.load(path)
    except ModelFileError:
        cnn = NumpyCNN.load(path)
        return cnn, f"`{path}` (CNN judge, 4 convolutions; not shippable)"
    card = read_card(path) or ModelCard()
    return net, f"`{path}` ({architecture(net.hidden)}{', augmented' if card.augmented else ''})"


def read_all(net, images: np.ndarray) -> np.ndarray:
    """Probabilities for many images, in slices (both kinds of network)."""
    return np.concatenate([net.probabilities(images[i : i + 1024]) for i in range(0, len(images), 1024)])


def weakest_digit(result) -> tuple[int, float]:
    digit = int(np.argmin(result.per_class_accuracy))
    return digit, result.per_class_accuracy[digit]


def confusion_words(result, n: int = 5) -> str:
    return ", ".join(f"{t}→{p} ({k})" for t, p, k in top_confusions(result.confusion, n))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=["model/mnist_ann.keras"], help="networks to compare")
    parser.add_argument("--count", type=int, default=COUNT, help=f"drawings (default {COUNT})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"generator seed (default {SEED})")
    parser.add_argument(
        "--brush-count", type=int, default=1000, help="drawings redrawn with each fixed brush (default 1000)"
    )
    parser.add_argument("--data", default=None, help="mnist.npz (default: $MNIST_PATH)")
    parser.add_argument(
        "--real-writers", default=None, help="the prepared real-writer folder (default: data/real_writers)"
    )
    parser.add_argument("--write", action="store_true", help="rewrite the accuracy section of BENCHMARKS.md")
    parser.add_argument(
        "--misread-picture",
        metavar="PNG",
        help="draw the MNIST-stroke drawings that every network given misreads, as the networks see them, "
        "into this picture, to judge whether they are legible (made from MNIST test digits: keep it out of git)",
    )
    parser.add_argument(
        "--note-card",
        action="store_true",
        help="write what the first network still misreads into its card (notes.still_misreads)",
    )
    args = parser.parse_args(argv)

    (_, _), (x_test, y_test) = load_mnist(args.data)
    started = time.perf_counter()
    try:
        judge = load_judge(args.real_writers)
        real_inputs, real_labels, real_writers = judge_inputs(judge.digits)
        unipen_inputs, unipen_labels, _ = judge_inputs(judge.unipen)
        ardis_inputs = judge.ardis_x.astype(np.float32) / 255.0
    except RealWritersUnavailable as error:
        judge = None
        print(f"The real-writer judge is left out: {error}")
    app_inputs, naive_inputs, labels = prepare(drawn_digits(x_test, y_test, args.count, args.seed))
    style_inputs, _, style_labels = prepare(styled_digits())
    brush_inputs = {
        name: prepare(drawn_digits(x_test, y_test, args.brush_count, args.seed, brush=px))
        for name, px in BRUSHES.items()
    }
    print(
        f"{len(labels) + len(style_labels) + len(BRUSHES) * args.brush_count + (len(real_labels) if judge else 0)} "
        "drawings generated and preprocessed "
        f"in {time.perf_counter() - started:.0f} s"
    )
    mnist_inputs = x_test.astype(np.float32) / 255.0

    rows, details = [], []
    misread_by_all, first_reads = np.ones(len(labels), bool), None
    for number, path in enumerate(args.model):
        net, name = load_network(path)
        app_probabilities = read_all(net, app_inputs)
        app = evaluate(app_probabilities, labels)
        misread_by_all &= app_probabilities.argmax(axis=1) != labels
        first_reads = app_probabilities.argmax(axis=1) if first_reads is None else first_reads
        naive = evaluate(read_all(net, naive_inputs), labels)
        mnist = evaluate(read_all(net, mnist_inputs), y_test)
        style_probabilities = read_all(net, style_inputs)
        styles = evaluate(style_probabilities, style_labels)
        each_style = per_style(style_probabilities.argmax(axis=1) == style_labels)
        brushes = {
            name: evaluate(read_all(net, inputs), brush_labels).accuracy
            for name, (inputs, _, brush_labels) in brush_inputs.items()
        }
        weakest = min(each_style, key=lambda pair: pair[1])
        drawn_digit, drawn_low = weakest_digit(app)
        real_cells, real_words = ["not prepared"] * 5, ""
        if judge is not None:
            real = evaluate(read_all(net, real_inputs), real_labels)
            reads = read_all(net, real_inputs).argmax(axis=1)
            by_writer = [(reads[real_writers == w] == real_labels[real_writers == w]).mean() for w in set(real_writers)]
            ardis = evaluate(read_all(net, ardis_inputs), judge.ardis_y)
            unipen = evaluate(read_all(net, unipen_inputs), unipen_labels)
            real_digit, real_low = weakest_digit(real)
            unipen_digit, unipen_low = weakest_digit(unipen)
            real_cells = [
                f"**{real.accuracy:.2%}** ({app_errors(real)} wrong)",
                f"{real_low:.1%} ({real_digit})",
                f"**{unipen.accuracy:.2%}** ({app_errors(unipen)} wrong)",
                f"{unipen_low:.1%} ({unipen_digit})",
                f"{ardis.accuracy:.2%}",
            ]
            real_words = (
                "  Real writers (DigiLeTs judge): per digit "
                + " ".join(f"{d}: {a:.1%}" for d, a in enumerate(real.per_class_accuracy))
                + f"; confusions (true→read) {confusion_words(real, 10) or 'none'}; "
                f"writers all read right {sum(a == 1 for a in by_writer)} of {len(by_writer)}, "
                f"the weakest writer {min(by_writer):.0%}. ARDIS test: per digit "
                + " ".join(f"{d}: {a:.0%}" for d, a in enumerate(ardis.per_class_accuracy))
                + f"; confusions {confusion_words(ardis)}. UNIPEN judge: per digit "
                + " ".join(f"{d}: {a:.1%}" for d, a in enumerate(unipen.per_class_accuracy))
                + f"; confusions {confusion_words(unipen, 10) or 'none'}."
            )
        rows.append(
            [
                name,
                f"**{app.accuracy:.2%}** ({app_errors(app)} wrong)",
                f"{drawn_low:.1%} ({drawn_digit})",
                f"{naive.accuracy:.2%}",
                f"**{styles.accuracy:.2%}** ({app_errors(styles)} wrong)",
                f"{weakest[1]:.1%} ({weakest[0]})",
                *real_cells,
                " / ".join(f"{a:.1%}" for a in brushes.values()),
                f"**{mnist.accuracy:.2%}**",
            ]
        )
        confusions = confusion_words(app)
        details.append(
            f"- {name}: per-class accuracy on drawings "
            + " ".join(f"{d}: {a:.1%}" for d, a in enumerate(app.per_class_accuracy))
            + f"; most frequent confusions (true→read): {confusions}."
        )
        style_confusions = confusion_words(styles)
        details.append(
            "  Writing styles: per digit "
            + " ".join(f"{d}: {a:.0%}" for d, a in enumerate(styles.per_class_accuracy))
            + f"; confusions {style_confusions or 'none'}."
        )
        details.append("  Per style: " + ", ".join(f"{style} {a:.0%}" for style, a in each_style) + ".")
        if real_words:
            details.append(real_words)
        details.append(
            "  Same first drawings by brush: " + ", ".join(f"{name} {a:.2%}" for name, a in brushes.items()) + "."
        )
        if args.note_card and number == 0:
            misreads = (
                f"On legible canvas drawings of MNIST test digits (bench/drawn_digits.py) it reads "
                f"{app.accuracy:.1%}, its weakest digit the {drawn_digit} at {drawn_low:.1%}; its most frequent "
                f"mistakes there: {confusions.replace('→', ' read as ')}. "
                f"Its weakest writing style (bench/digit_styles.py) is the {weakest[0]} at {weakest[1]:.1%}. "
                + "Read by brush: "
                + ", ".join(f"{name} {a:.1%}" for name, a in brushes.items())
                + "."
            )
            if judge is not None:
                misreads += (
                    f" Real writers it never trained on (bench/real_writers.py: {len(real_labels):,} digits by "
                    f"{judge.writers} DigiLeTs writers drawn on the canvas): {real.accuracy:.1%}, its weakest digit "
                    f"the {real_digit} at {real_low:.1%}; its mistakes there: "
                    f"{confusion_words(real, 6).replace('→', ' read as ')}. UNIPEN's judge writers: "
                    f"{unipen.accuracy:.1%}, its weakest digit the {unipen_digit} at {unipen_low:.1%}. "
                    f"ARDIS test: {ardis.accuracy:.1%}."
                )
            note_card(path, misreads)
        print(
            f"{path}: drawn (app path) {app.accuracy:.2%} (weakest {drawn_digit} {drawn_low:.1%}), "
            f"drawn (naive) {naive.accuracy:.2%}, styles {styles.accuracy:.2%} (weakest {weakest[0]} "
            f"{weakest[1]:.1%}), real writers {' / '.join(real_cells)}, "
            f"brushes {' / '.join(f'{a:.2%}' for a in brushes.values())}, "
            f"MNIST test {mnist.accuracy:.2%}; {confusions}; "
            f"styles: {style_confusions}"
        )

    if args.misread_picture:
        chosen = np.flatnonzero(misread_by_all)
        misread_picture(args.misread_picture, app_inputs[chosen], labels[chosen], first_reads[chosen])
        print(f"{len(chosen)} drawings misread by every network given: {args.misread_picture}")

    if args.write:
        command = "python -m bench.accuracy " + shlex.join(sys.argv[1:] if argv is None else argv)
        markdown = "\n\n".join(
            [
                "## Reading drawings: the drawn-digit benchmark and the real-writer judge",
                f"{len(labels):,} canvas drawings redrawn legibly from the strokes of MNIST **test** digits "
                f"(`bench/drawn_digits.py`, seed {args.seed}: their skeletons with junctions and loops kept, "
                "filled loops reopened, and a brush too wide for a drawing's loops narrowed or the drawing "
                f"enlarged), and {len(style_labels):,} drawings of "
                "25 writing styles MNIST has few of (`bench/digit_styles.py`: a 1 with flag and base, a "
                "crossed 7, an open 4, a looped 2, …), both through the same hand: 280×280 canvas, digit "
                "35–85% of it, anywhere on it, brush 8–30 px, slant, rotation and wobble. "
                + (
                    f"**The real-writer judge:** {describe(judge)}. "
                    if judge is not None
                    else "The real-writer judge was not prepared for this run. "
                )
                + "Same drawings for every row.",
                "**Kept apart from training.** A network trained with `--redraw` (model/training/extras/styles.py) "
                "sees MNIST **training** digits redrawn from their skeletons with random brushes, and "
                "flags and bases on 1s, bars across 7s, curled tails on 9s and open-topped 4s grown from "
                "them with random lengths, angles and places. It never sees this benchmark's fixed style "
                "templates, its hand model (size, slant, rotation, wobble), or any MNIST test digit: the "
                "training code cannot import `bench/`, and the styles here are one author's templates "
                "drawn through a different hand. A network trained with `--extra-real` sees other real "
                "writers (model/training/extras/real.py: UNIPEN's writers not in its judge, and, for a network "
                "not shipped, the DigiLeTs writers not in the judge and ARDIS's training split; HwD-1000), never "
                "the judges' writers, whose file the training code refuses.",
                table(
                    [
                        "network",
                        "MNIST strokes redrawn: app path (`to_mnist`)",
                        "weakest digit",
                        "same drawings: naive path (canvas → 28×28)",
                        "writing styles: app path",
                        "weakest style",
                        "real writers (DigiLeTs judge)",
                        "weakest digit",
                        "UNIPEN judge",
                        "weakest digit",
                        "ARDIS test",
                        f"first {args.brush_count:,} drawings, brush " + " / ".join(BRUSHES),
                        "MNIST test set",
                    ],
                    rows,
                ),
                "\n".join(details),
                f"Command: `{command.strip()}` · {machine()}",
            ]
        )
        replace_section("accuracy", markdown)
        print("BENCHMARKS.md updated.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
