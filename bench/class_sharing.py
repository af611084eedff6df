"""A class shares its handwriting and the owner retrains the default on it: what it gains, what one poisoner costs.

    python -m bench.class_sharing [--write]

A class simulated from real writers: DigiLeTs's training writers (German
students, pen on a tablet; never a judge's writer). Each contributor draws
every one of their digits twice on the 280×280 canvas (random size, place
and brush, their own strokes: `bench.drawn_digits.draw_strokes`), and saves
and shares them through the page's own functions (`SampleStore.add`,
`model.store.sharing.share`): 10 samples of each digit, 100 each. The
owner's retrain is the page's (`flag_reasons` by the default and the second
opinion, `split_pool`, `retrain_with_shared`).

- **The curve**: 5, 10 and 30 contributors (a fifth of them held out, as
  the page holds them out); the other writers of the same source are the
  DigiLeTs judge's 39, which no network trains on: their error before (the
  shipped network) and after, and MNIST's test set.
- **Poisoning**: the same 30 and one more contributor who shares 300 1s
  labelled 7 (UNIPEN training writers' 1s), against the same retrain
  without them: MNIST test, and each digit of the held-out contributors.
- **Time**: the owner's retrain as a job on a local training cluster (as
  the page sends it: submit to result), against a plain `model.fit` of the
  same network on the same mix for the same epochs, in the same run.

Needs `python -m bench.real_writers prepare` (DigiLeTs is used locally
only: a default trained on it is never shipped) and MNIST_PATH.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.drawn_digits import CANVAS, draw_strokes
from bench.report import machine, replace_section, table
from model.reading.preprocess import to_mnist

SEED = 26
SIZES = (5, 10, 30)
POISON = 300


def drawn(strokes, seed) -> np.ndarray | None:
    image = to_mnist(draw_strokes(strokes, np.random.default_rng(seed), CANVAS))
    return None if image is None else np.rint(image * 255).astype(np.uint8)


def build_class(url: str, writers_of, pens, unipen) -> tuple[list[int], int]:
    """30 contributors' collections, shared, then the poisoner's (not shared yet); (honest numbers, poisoner)."""
    from model.store.collection import new_token, visitor_store
    from model.store.sharing import held_out_contributor, share

    honest = []
    for n, writer in enumerate(writers_of[: max(SIZES)]):
        store = visitor_store(new_token(), url)
        for i in np.flatnonzero(pens.writer == writer):
            for k in range(2):
                image = drawn(pens.strokes(i), [SEED, int(writer), int(i), k])
                if image is not None:
                    store.add(image, int(pens.label[i]))
        share(store)
        honest.append(n + 1)
    number = len(honest) + 1
    while held_out_contributor(number):  # the poisoner is one the retrain trains on: a collection that is
        visitor_store(new_token(), url).add(np.zeros((28, 28), np.uint8), 0)  # never shared takes the number
        number += 1
    poisoner = visitor_store(new_token(), url)
    ones = np.flatnonzero(unipen.label == 1)[:POISON]
    for i in ones:
        image = drawn(unipen.strokes(i), [SEED, 999, int(i)])
        if image is not None:
            poisoner.add(image, 7)
    return honest, poisoner


def contributor_number(url: str, store) -> int:
    """A collection's contributor number, as the owner sees it once it is shared."""
    from sqlalchemy import select

    from model.store.db import reading
    from model.store.schema import collections

    with reading("find the collection", url) as db:
        return db.execute(select(collections.c.id).where(collections.c.key == store.key)).scalar()


def retrain(pool, base, second, mnist, judges):
    from model.reading.flags import flag_reasons
    from model.settings import SHARED_PER_CONTRIBUTOR
    from model.store.sharing import split_pool
    from model.training.shared import retrain_with_shared

    x = pool.images / 255.0
    reasons = flag_reasons(pool.images, pool.labels, base.net.probabilities(x), second.probabilities(x))
    shared = split_pool(pool, reasons, SHARED_PER_CONTRIBUTOR)
    started = time.perf_counter()
    network = retrain_with_shared(base, mnist, shared, judges)
    return network.card.other["shared"], shared, time.perf_counter() - started


def timed_job(base, shared, mnist_path: str, prepared: str) -> float:
    """Seconds from submit to the network, through the page's job service on a local training cluster."""
    from distributed import Client

    from model.jobs.cluster import local_cluster
    from model.jobs.service import JobService, Kind, SharedSpec
    from model.jobs.tasks import warm_up

    cluster = local_cluster(env={"MNIST_PATH": mnist_path, "REAL_WRITERS_PREPARED": prepared})
    client = Client(cluster, set_as_default=False)
    try:
        client.submit(warm_up, pure=False).result(timeout=300)
        service = JobService(client_factory=lambda: client, abandon_after_s=float("inf"))
        started = time.perf_counter()
        job = service.submit("owner", Kind.SHARED, SharedSpec(base, shared, limit_s=float("inf")))
        job.ended.wait(timeout=1800)
        seconds = time.perf_counter() - started
        if job.state != "done":
            raise RuntimeError(f"the retrain job {job.state}: {job.error}")
        return seconds
    finally:
        client.close()
        cluster.close()


def plain_fit_seconds(base, shared, mnist) -> float:
    """A plain `model.fit` of the same network on the same mix, the same epochs and batch size."""
    import keras

    from model.training.ann import to_keras
    from model.training.finetune import training_mix
    from model.training.shared import EPOCHS, LEARNING_RATE

    (x_train, y_train), _ = mnist
    x, y = training_mix(x_train, y_train, shared.train_x, shared.train_y, 0, mnist_subset=len(x_train))
    model = to_keras(base.net, dropout=base.card.dropout)
    model.compile(keras.optimizers.Adam(LEARNING_RATE), "sparse_categorical_crossentropy", metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(x / 255.0, y, epochs=EPOCHS, batch_size=128, validation_split=0.05, verbose=0)
    return time.perf_counter() - started


def run(prepared: str, base_path: str | None = None) -> dict:
    from model.reading.cnn import NumpyCNN
    from model.reading.network import ModelFileError
    from model.store.data import load_mnist, mnist_source
    from model.store.network_file import SECOND_OPINION, SHIPPED, read_network_file
    from model.store.sharing import share, shared_pool
    from model.training.extras.real import load_real
    from model.training.shared import judge_arrays

    mnist = load_mnist()
    real = load_real(prepared)
    pens = real.pens["digilets"]
    writers = np.random.default_rng(SEED).permutation(np.unique(pens.writer))
    judges = judge_arrays(prepared)
    base = read_network_file(base_path or SHIPPED, "Shipped")
    try:
        second = NumpyCNN.load(SECOND_OPINION)
    except ModelFileError:
        second = base.net
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='class-')) / 'samples.sqlite3'}"
    _, poisoner = build_class(url, writers, pens, real.pens["unipen"])
    pool = shared_pool(url)
    poisoner_number = contributor_number(url, poisoner)
    curve = []
    for size in SIZES:
        report, shared, seconds = retrain(pool.where(pool.contributors <= size), base, second, mnist, judges)
        curve.append({"size": size, "report": report, "seconds": seconds})
        print(f"{size} contributors: {report['before']} -> {report['after']}", flush=True)
    share(poisoner)
    poisoned, poisoned_set, _ = retrain(shared_pool(url), base, second, mnist, judges)
    print(f"poisoned: {poisoned['after']}", flush=True)
    job_s = timed_job(base, shared, str(mnist_source()), prepared)
    fit_s = plain_fit_seconds(base, shared, mnist)
    return {
        "curve": curve,
        "clean": curve[-1]["report"],
        "poisoned": poisoned,
        "poison_flagged": poisoned_set.flagged_out,
        "poison_trained": int((poisoned_set.train_contributors == poisoner_number).sum()),
        "job_s": job_s,
        "fit_s": fit_s,
        "judges": sorted(judges),
    }


def markdown(r: dict, command: str, base: str | None = None) -> str:
    def error(report, key):
        return 1 - report[key]

    rows = []
    for point in r["curve"]:
        rep = point["report"]
        before, after = error(rep["before"], "DigiLeTs judge"), error(rep["after"], "DigiLeTs judge")
        rows.append(
            [
                f"{point['size']} ({rep['contributors']} trained on, {rep['held_out_contributors']} held out)",
                f"{rep['trained_on']:,}",
                f"{before:.2%} → {after:.2%} (**{after / before:.2f}×**)",
                f"{rep['before']['UNIPEN judge']:.2%} → {rep['after']['UNIPEN judge']:.2%}",
                f"{rep['before'].get('held_out', float('nan')):.2%} → {rep['after'].get('held_out', float('nan')):.2%}",
                f"{rep['before']['mnist']:.2%} → {rep['after']['mnist']:.2%}",
            ]
        )
    clean, poisoned = r["clean"]["after"], r["poisoned"]["after"]
    drops = [
        (d, c - p)
        for d, (c, p) in enumerate(zip(clean["held_out_per_digit"], poisoned["held_out_per_digit"]))
        if c is not None and p is not None
    ]
    worst = max(drops, key=lambda item: item[1])
    return "\n".join(
        [
            f"### The same class, retraining {base} instead of the shipped network"
            if base
            else "## Learning from the class: shared handwriting (issue 26)",
            "",
            f"`{command}` — {machine()}." + ("" if base else " " + " ".join(__doc__.split("\n\n")[2].split())),
            "",
            table(
                [
                    "contributors",
                    "samples trained on",
                    "DigiLeTs judge error, before → retrained (ratio)",
                    "UNIPEN judge",
                    "held-out contributors",
                    "MNIST test",
                ],
                rows,
            ),
            "",
            f"**Poisoning**: one more contributor shares {POISON} 1s labelled 7. {r['poison_flagged']} of the "
            f"pool's samples are flagged (both networks read them confidently as another digit) and stay out; "
            f"{r['poison_trained']} of the poisoner's are trained on. Against the same retrain without them: "
            f"MNIST test {clean['mnist']:.2%} → {poisoned['mnist']:.2%} "
            f"({(poisoned['mnist'] - clean['mnist']) * 100:+.2f} points; target: no drop over 0.1), the held-out "
            f"contributors' largest drop for one digit {worst[1] * 100:+.1f} points on the {worst[0]} "
            "(target: at most 1).",
            "",
            f"**Time**: the owner's retrain as a job on a local training cluster, submit to network "
            f"{r['job_s']:.1f} s (it scores MNIST, the held-out contributors and both judges before and after); "
            f"a plain `model.fit` of the same network on the same mix for the same epochs "
            f"{r['fit_s']:.1f} s: **{r['job_s'] / r['fit_s']:.2f}×** (target: at most 2×).",
        ]
    )


def main(argv=None) -> int:
    import shlex
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", default=str(Path(__file__).resolve().parent.parent / "data" / "real_writers"))
    parser.add_argument(
        "--base", help="retrain this network instead of the shipped one (e.g. an earlier shipped network)"
    )
    parser.add_argument("--write", action="store_true", help="rewrite the class-sharing section of BENCHMARKS.md")
    args = parser.parse_args(argv)
    result = run(args.prepared, args.base)
    text = markdown(result, shlex.join(["python", "-m", "bench.class_sharing", *(argv or sys.argv[1:])]), args.base)
    print(text)
    if args.write:
        replace_section("class_sharing" if args.base is None else f"class_sharing_{Path(args.base).stem}", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
