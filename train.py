"""Train the MNIST ANN from the command line and save it with its model card.

    python train.py --hidden 128 64 --epochs 10 --batch-size 128 --dropout 0.2 \\
        --learning-rate 0.001 --seed 0 [--augment] --data PATH --out model/mnist_ann.keras [--publish]

Every argument is checked before anything is loaded or trained; a bad one
ends the run with a one-line error and exit status 2, and nothing is written.
The same seed and arguments on the same machine give the same network.
It writes the file it is asked to write; `--publish` also makes the network
the default every visitor of the app gets (`model.store.defaults`).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

from model.config import CLI_LIMITS, OPTIONS, Option, TrainConfig
from model.store.atomic import check_writable
from model.store.card import card_path
from model.store.data import MnistUnavailable, load_mnist, mnist_source, provenance
from model.store.network_file import SHIPPED

# model.training.extras.real's SOURCES and SHIPPABLE, named here so that --help needs no import.
REAL_SOURCES = ("unipen", "digilets", "ardis", "hwd")
SHIPPABLE_SOURCES = ("unipen", "hwd")
SHARED = "shared"  # --extra shared: the handwriting visitors shared with the owner


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a mistake costs one line, not the whole usage text."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_option(parser: argparse.ArgumentParser, option: Option) -> None:
    """A training option (model.config.OPTIONS) as a flag: its type from its default, its bounds in its help."""
    default = option.default
    text = option.help
    if option.low is not None:
        text += f"; {option.allowed(CLI_LIMITS)}"
    if isinstance(default, bool):
        text += f" (default: {'on' if default else 'off'})"
        parser.add_argument(option.flag, action=argparse.BooleanOptionalAction, default=default, help=text)
    elif isinstance(default, tuple):
        text += (
            f" (default: {' '.join(map(str, default))}); 1 to {CLI_LIMITS.max_layers} layers of 1 to "
            f"{CLI_LIMITS.max_units} units"
        )
        parser.add_argument(option.flag, type=int, nargs="+", default=default, metavar="UNITS", help=text)
    else:
        text += f" (default: {default})"
        parser.add_argument(option.flag, type=type(default), default=default, help=text)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = OneLineParser(
        prog="train.py",
        description="Train a Flatten → Dense(ReLU)… → Dense(softmax) network on MNIST and save it "
        "with a JSON model card beside it.",
    )
    add = parser.add_argument
    for option in OPTIONS:
        add_option(parser, option)
    add(
        "--data",
        metavar="PATH",
        default=None,
        help="mnist.npz with x_train, y_train, x_test, y_test (default: $MNIST_PATH, else Keras downloads MNIST)",
    )
    add(
        "--extra",
        metavar="COLLECTION",
        default=None,
        help="your own labelled samples saved by the app, from its database: 'local' (this machine's) or the "
        "code of a private link (?samples=...); a fixed fifth is held out and scored, the rest is added to the "
        "training data, repeated to about a sixth of it. 'shared': instead, retrain the shipped network on the "
        "handwriting visitors shared with the owner, as the page's owner does (the other training options "
        "are not used then)",
    )
    add(
        "--extra-real",
        metavar="PATH",
        default=None,
        help="real writers' digits to add to the training part: the training writers' file that "
        "`python -m bench.real_writers prepare` writes (data/real_writers/train.npz, or its folder); never the judge's",
    )
    add(
        "--real-renderings",
        type=int,
        default=6,
        metavar="N",
        help="with --extra-real: times each DigiLeTs digit is drawn, with random brushes (1 to 20; default: 6)",
    )
    add(
        "--real-sources",
        nargs="+",
        default=list(REAL_SOURCES),
        choices=REAL_SOURCES,
        help="with --extra-real: which parts of the file to train on (default: all)",
    )
    add(
        "--teacher",
        metavar="PATH",
        nargs="+",
        default=None,
        help="a stronger network (.keras, e.g. `python -m bench.judge train`'s CNN) to distil, or several, "
        "averaged: the network also learns their softened answers (model/training/extras/distill.py)",
    )
    add("--temperature", type=float, default=4.0, help="with --teacher: the softening temperature (default: 4)")
    add(
        "--teacher-share",
        type=float,
        default=0.7,
        help="with --teacher: the share of the loss on the teacher's answers (default: 0.7)",
    )
    add(
        "--start",
        metavar="PATH",
        default=None,
        help="train on from this network (.keras, with its card) instead of new weights: its hidden sizes must "
        "be --hidden's; the card names it, and the command that made it",
    )
    add(
        "--out",
        metavar="PATH",
        default="model/mnist_ann.keras",
        help="where to write the model; its card goes beside it as .json (default: model/mnist_ann.keras, the "
        "network shipped with the app)",
    )
    add(
        "--publish",
        action="store_true",
        help="also make the network the default every new visitor of the app gets (in the app's database, "
        "SAMPLES_DATABASE_URL); the one it replaces is kept for a rollback",
    )
    args = parser.parse_args(argv)

    given = {option.field: getattr(args, option.field) for option in OPTIONS}
    args.config = TrainConfig(**{field: tuple(v) if isinstance(v, list) else v for field, v in given.items()})
    problems = args.config.problems(CLI_LIMITS)
    if problems:
        parser.error(" ".join(problems))
    if not args.out.endswith(".keras"):
        parser.error(f"--out must end in .keras (got {args.out}).")
    unwritable = check_writable(args.out)
    if unwritable:
        parser.error(f"cannot save to {args.out}: {unwritable}.")
    if args.extra_real is not None:
        from model.training.extras.real import MAX_RENDERINGS, check

        if not 1 <= args.real_renderings <= MAX_RENDERINGS:
            parser.error(f"--real-renderings must be 1 to {MAX_RENDERINGS} (got {args.real_renderings}).")
        if problem := check(args.extra_real):
            parser.error(f"--extra-real: {problem}")
        unshippable = [source for source in args.real_sources if source not in SHIPPABLE_SOURCES]
        if unshippable and Path(args.out).resolve() == SHIPPED.resolve():
            parser.error(
                f"--out {args.out} is the network this repository ships, and {', '.join(unshippable)} may not "
                "teach it (their licences do not allow passing on what is learnt); write elsewhere, or use "
                f"--real-sources {' '.join(SHIPPABLE_SOURCES)}."
            )
    if args.start is not None:
        from model.reading.network import ModelFileError
        from model.store.network_file import read_network_file

        try:
            args.start_network = read_network_file(args.start)
        except ModelFileError as error:
            parser.error(f"--start: {error}")
        if args.start_network.net.hidden != args.config.hidden:
            parser.error(
                f"--start {args.start} has hidden layers {' '.join(map(str, args.start_network.net.hidden))}, "
                f"not --hidden {' '.join(map(str, args.config.hidden))}."
            )
    if args.teacher is not None:
        from model.training.extras.distill import Distillation

        for path in args.teacher:
            if not (path.endswith(".keras") and Path(path).is_file()):
                parser.error(f"--teacher {path} is not a .keras file.")
        args.distillation = Distillation(args.temperature, args.teacher_share)
        if problems := args.distillation.problems():
            parser.error(" ".join(problems))
    if args.extra == SHARED:
        from model.store.db import StoreUnavailable
        from model.store.sharing import contributor_counts

        try:
            if not contributor_counts():
                parser.error("--extra shared: nobody shares their handwriting in this app's database yet.")
        except StoreUnavailable as error:
            parser.error(f"--extra shared: {error}")
    elif args.extra is not None:
        from model.store.collection import CollectionError, named_store
        from model.store.db import StoreUnavailable

        try:
            if not named_store(args.extra).used()[0]:
                parser.error(f"--extra {args.extra} holds no samples.")
        except (CollectionError, StoreUnavailable) as error:
            parser.error(f"--extra: {error}")
    return args


def print_progress(p) -> None:
    if p.epoch_done:
        logs = p.logs
        print(
            f"\repoch {p.epoch:>3}/{p.epochs}  loss {logs.get('loss', 0):.4f}  "
            f"accuracy {logs.get('accuracy', 0):.2%}  val_loss {logs.get('val_loss', 0):.4f}  "
            f"val_accuracy {logs.get('val_accuracy', 0):.2%}",
            flush=True,
        )
    elif sys.stdout.isatty() and (p.batch % 20 == 0 or p.batch == p.batches):
        print(f"\repoch {p.epoch:>3}/{p.epochs}  batch {p.batch}/{p.batches}", end="", flush=True)


def print_result(network, started: float) -> None:
    test = network.card.test
    print(
        f"Test accuracy {test.accuracy:.2%} (loss {test.loss:.4f}) on {test.count} images; "
        f"{network.net.parameter_count:,} parameters; {time.perf_counter() - started:.1f} s."
    )


def in_card(collection: str) -> str:
    """How a collection is named in the card, which every visitor may read: a private link's code never is."""
    from model.store.collection import LOCAL

    return collection if collection == LOCAL else "CODE-OF-A-PRIVATE-LINK"


def own_samples(collection: str, mnist) -> dict:
    """A person's samples: the held-out fifth aside, the rest mixed into MNIST's training split."""
    from model.store.collection import named_store
    from model.store.holdout import split_samples
    from model.training.finetune import training_mix

    images, labels, ids = named_store(collection).arrays()
    (own_x, own_y), (held_x, held_y) = split_samples(images, labels, ids)
    (x_train, y_train), test = mnist
    mixed = training_mix(x_train, y_train, own_x, own_y, mnist_subset=len(x_train))
    print(f"Adding {len(own_x)} of your {len(images)} samples from {collection} ({len(held_x)} held out).")
    return {
        "mnist": (mixed, test),
        "collection": in_card(collection),
        "trained_on": len(own_x),
        "held_x": held_x,
        "held_y": held_y,
    }


def score_held_out(net, extra: dict) -> dict:
    from model.reading.metrics import evaluate

    held = {"collection": extra["collection"], "trained_on": extra["trained_on"], "held_out": len(extra["held_y"])}
    if len(extra["held_y"]):
        held["held_out_accuracy"] = evaluate(net.probabilities(extra["held_x"] / 255.0), extra["held_y"]).accuracy
        print(f"Your held-out samples: {held['held_out_accuracy']:.2%} of {held['held_out']} read right.")
    return held


def train_on_cluster(args) -> int:
    """With DASK_SCHEDULER_ADDRESS: the same run as a task on that cluster, its workers' own MNIST."""
    from model.jobs.cluster import ClusterUnavailable, scheduler_address
    from model.jobs.service import JobService, Kind, TrainSpec

    if args.data or args.extra or args.extra_real or args.teacher or args.start:
        print(
            "train.py: error: with DASK_SCHEDULER_ADDRESS set, the workers read their own MNIST_PATH: "
            "--data, --extra, --extra-real, --teacher and --start work only without it (unset "
            "DASK_SCHEDULER_ADDRESS).",
            file=sys.stderr,
        )
        return 2
    service = JobService(abandon_after_s=float("inf"))
    config = args.config
    command = config.command(out=args.out)
    print(f"Training {config.hidden} for {config.epochs} epochs on the cluster at {scheduler_address()} …", flush=True)
    started = time.perf_counter()
    job = None
    try:
        # the command line's own run: no per-run time limit, which is for the page's shared queue
        job = service.submit("train.py", Kind.TRAIN, TrainSpec(config, command, limit_s=float("inf")))
        shown = 0
        while not job.finished:
            time.sleep(0.25)
            for point in [p for p in job.curve if p.split == "validation"][shown:]:
                shown += 1
                print(
                    f"epoch {shown:>3}/{config.epochs}  val_loss {point.loss:.4f}  val_accuracy {point.accuracy:.2%}",
                    flush=True,
                )
        if job.state != "done":
            print(f"train.py: error: the run {job.state}: {job.error}", file=sys.stderr)
            return 1
        print_result(job.result, started)
        from model.training.ann import keras_bytes, to_keras

        model = to_keras(job.result.net, dropout=config.dropout)
        return save(args, keras_bytes(model), job.result.card)
    except ClusterUnavailable as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if job is not None:
            job.stop()
        print("\ntrain.py: interrupted; the run was stopped and nothing was written.", file=sys.stderr)
        return 130


def save(args, keras_bytes: bytes, card) -> int:
    """Write the network where `--out` says, and with `--publish` make it the app's default."""
    from model.store.network_file import write_network_file

    try:
        network = write_network_file(args.out, keras_bytes, card)
    except OSError as error:
        print(f"train.py: error: could not save {args.out}: {error}", file=sys.stderr)
        return 1
    print(f"Saved {args.out} and its card {card_path(args.out)}.")
    if args.publish:
        from model.store.db import StoreUnavailable, database_url, describe
        from model.store.defaults import publish

        try:
            name = publish(network)
        except StoreUnavailable as error:
            print(f"train.py: error: the network was saved but not published: {error}", file=sys.stderr)
            return 1
        print(f"Published it as the app's default ({name}, in {describe(database_url())}).")
    return 0


def retrain_with_shared(args, mnist) -> int:
    """--extra shared: what the page's owner does with "Retrain the default with shared handwriting", here."""
    from model.reading.cnn import NumpyCNN
    from model.reading.flags import flag_reasons
    from model.reading.network import ModelFileError
    from model.settings import SHARED_PER_CONTRIBUTOR
    from model.store.defaults import current_default
    from model.store.network_file import SECOND_OPINION, read_network_file, shipped_path
    from model.store.sharing import shared_pool, split_pool
    from model.training.ann import keras_bytes, to_keras
    from model.training.shared import retrain_with_shared as retrain

    pool = shared_pool()
    default, _ = current_default()
    try:
        second = NumpyCNN.load(SECOND_OPINION)
    except ModelFileError:
        second = default.net
    images = pool.images / 255.0
    reasons = flag_reasons(pool.images, pool.labels, default.net.probabilities(images), second.probabilities(images))
    shared = split_pool(pool, reasons, SHARED_PER_CONTRIBUTOR)
    print(
        f"Retraining the shipped network on {len(shared.train_y):,} shared samples of "
        f"{len(set(shared.train_contributors.tolist()))} contributors ({shared.flagged_out} flagged, "
        f"{shared.removed} removed, {shared.capped_out} past a contributor's cap); judged on {len(shared.held_y):,} "
        f"of {len(set(shared.held_contributors.tolist()))} held-out contributors …",
        flush=True,
    )
    started = time.perf_counter()
    try:
        network = retrain(read_network_file(shipped_path(), "Shipped"), mnist, shared, on_progress=print_progress)
    except (ValueError, ModelFileError) as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        return 1
    report = network.card.other["shared"]
    for key in report["after"]:
        if not key.endswith("per_digit"):
            print(f"{key}: {report['before'][key]:.2%} before, {report['after'][key]:.2%} after")
    print_result(network, started)
    card = replace(network.card, command=shlex.join(["python", "train.py", "--extra", SHARED, "--out", args.out]))
    return save(args, keras_bytes(to_keras(network.net, dropout=network.card.dropout)), card)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from model.jobs.cluster import scheduler_address

    if scheduler_address():
        return train_on_cluster(args)
    from model.training.download import download_mnist

    try:
        mnist = load_mnist(args.data, download=download_mnist)
    except MnistUnavailable as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        return 1
    if args.extra == SHARED:
        return retrain_with_shared(args, mnist)
    source = mnist_source(args.data)
    data_info = provenance(source)

    extra = own_samples(args.extra, mnist) if args.extra else None
    if extra:
        mnist = extra["mnist"]

    real = None
    if args.extra_real:
        from model.training.extras.real import real_training_digits

        images, labels, info = real_training_digits(
            args.extra_real, args.real_renderings, args.config.seed, tuple(args.real_sources)
        )
        print(f"Adding {len(labels):,} real writers' digits from {info['file']} ({', '.join(info['used'])}).")

    # TensorFlow is imported only now: argument errors and --help stay instant.
    from model.training.ann import fit_network, keras_bytes
    from model.training.extras.distill import Teacher
    from model.training.extras.real import RealExtra

    if args.extra_real:
        real = RealExtra(images, labels, info)
    teacher = Teacher(tuple(args.teacher), args.distillation) if args.teacher else None
    config = args.config
    command = config.command(out=args.out, data=str(source) if source else None)
    if extra:
        command += " " + shlex.join(["--extra", in_card(args.extra)])
    if real:
        words = ["--extra-real", args.extra_real, "--real-renderings", str(args.real_renderings)]
        if tuple(args.real_sources) != REAL_SOURCES:
            words += ["--real-sources", *args.real_sources]
        command += " " + shlex.join(words)
    if teacher:
        distil = ["--temperature", repr(args.temperature), "--teacher-share", repr(args.teacher_share)]
        command += " " + shlex.join(["--teacher", *args.teacher, *distil])
    if args.start:
        command += " " + shlex.join(["--start", args.start])
    print(f"Training {config.hidden} on {len(mnist[0][0])} images for {config.epochs} epochs …", flush=True)
    started = time.perf_counter()
    try:
        model, network = fit_network(
            config,
            mnist,
            data_info,
            command=command,
            on_progress=print_progress,
            extra=real,
            teacher=teacher,
            start=args.start_network if args.start else None,
        )
        card = network.card
        if extra:
            card = replace(card, extra_samples=score_held_out(network.net, extra))
        print_result(network, started)
        data = keras_bytes(model)
    except KeyboardInterrupt:
        print("\ntrain.py: interrupted; nothing was written.", file=sys.stderr)
        return 130
    return save(args, data, card)


if __name__ == "__main__":
    sys.exit(main())
