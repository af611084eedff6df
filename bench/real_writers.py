"""Real writers: a judge made of real people's handwriting from beyond MNIST, and data to learn from.

The project's own synthetic styles (bench/digit_styles.py) judge the
project's style synthesis, not people. This benchmark's digits were written
by real people who never wrote for MNIST or NIST:

- **DigiLeTs** (github.com/CognitiveModeling/DigiLeTs at 477ca92): 77
  German writers, each writing every digit five times on a Wacom tablet; for
  each, the pen's strokes (x, y, pressure, pen down, time) and who wrote
  them. Its repository has no licence, so it is used here, locally, only as
  a judge and for training, and never redistributed.
- **ARDIS IV** (github.com/ARDISDataset/ARDIS at da61a5f): 7,600 digits
  from Swedish church records of 1895-1970, 28×28, no writer ids; "for
  research purposes only, no redistribution".
- **HwD-1000** (github.com/niklashenning/hwd-1000-dataset at 93b3ba9, MIT):
  1,000 digits drawn by one person on a 28×28 digital canvas.
- **UNIPEN** train_r01_v07, category 1a (github.com/GreenCappuccino/train_r01_v07
  at 552a4d4, CC BY 4.0, doi:10.5281/zenodo.1195803): 15,387 isolated
  digits as pen strokes by the writers of 521 files from 13 sites
  (`bench/unipen.py` reads them, and says which site is left out and why).

Only UNIPEN and HwD-1000 (with MNIST and the project's own synthesis) may
teach a network this repository ships (`model.training.extras.real.SHIPPABLE`);
DigiLeTs and ARDIS judge, and train only an operator's own network.

**The judges**: the DigiLeTs writers of `JUDGE_WRITERS`, every other one of
its 77 complete writers in id order (39 writers, 1,950 digits); and a fixed
fifth of UNIPEN's writers (`unipen_judge`: those whose name's sha256 ends in
a multiple of 5: 89 writers, 1,691 digits). Each digit's
own pen strokes are drawn onto the page's 280×280 canvas as a person draws
there: at a random size (the longer side 35-85% of the canvas), place and
brush (8-30 px), legibly (`bench.drawn_digits.on_canvas`), and read through
`to_mnist`; the writer's own slant and wobble are kept, none added. Digit i
depends only on (seed, i). Nothing in this project may train on these
writers: `prepare` writes them to a file of their own, which the training
code refuses.

**Training data** (`prepare`'s other file, for `train.py --extra-real`): the
other 38 complete DigiLeTs writers and its 34 "corrupted" ones less the
instances its `info` file lists as missing, mislabelled or unrecognisable
(72 writers), and UNIPEN's other writers, as strokes; ARDIS's training
split and HwD-1000 as images in MNIST's format (through `to_mnist`). ARDIS's test split is kept apart as a
second check (its writers may also be in its training split).

The data is never committed: `prepare` reads a fetched copy of each source
(`--source`, default $REAL_WRITERS_PATH or data/real_writers_sources/, laid out as
`digilets/data/raw/`, `ardis/`, `hwd1000/`, `unipen/`), checks every file's sha256
against the copy this benchmark was made from, and writes
`data/real_writers/{judge,train}.npz` (git-ignored). The layout, from a
clone of each repository at the commit named above: `digilets/` is
DigiLeTs's repository as it is; `ardis/` holds the four `ARDIS_*_2828.csv`
and `ARDIS_*_labels.csv` files of ARDIS IV, which its repository ships in a
RAR archive (unpack it with Debian's `unar` or libarchive's `bsdtar`);
`hwd1000/` is HwD-1000's repository as it is (`dataset.csv`, `img/`);
`unipen/` is train_r01_v07's repository as it is (`data/1a/`, `include/`,
its `LICENSE`).

    python -m bench.real_writers prepare [--source DIR] [--out data/real_writers]
    python -m bench.real_writers score [--model model/mnist_ann.keras ...]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from bench import unipen
from bench.drawn_digits import CANVAS, draw_strokes
from model.reading.preprocess import to_mnist
from model.training.extras.real import StrokeSet, content_sha256

ENV_VAR = "REAL_WRITERS_PATH"
PREPARED = Path(__file__).resolve().parent.parent / "data" / "real_writers"
DEFAULT_SOURCE = str(PREPARED.parent / "real_writers_sources")  # git-ignored, like everything under data/
SEED = 20
JUDGE, TRAIN = "judge.npz", "train.npz"

SOURCES = {
    "DigiLeTs": {
        "url": "https://github.com/CognitiveModeling/DigiLeTs",
        "commit": "477ca92",
        "licence": "none given (all rights reserved): used locally as a judge and for training, never redistributed",
        "what": "online pen strokes of 77 German writers (university participants), 5 of each digit per writer",
    },
    "ARDIS IV": {
        "url": "https://github.com/ARDISDataset/ARDIS",
        "commit": "da61a5f",
        "licence": "research purposes only, no redistribution",
        "what": "28×28 digits from Swedish church records (1895-1970), 6,600 training and 1,000 test, no writer ids",
    },
    "HwD-1000": {
        "url": "https://github.com/niklashenning/hwd-1000-dataset",
        "commit": "93b3ba9",
        "licence": "MIT",
        "what": "1,000 digits drawn by one person on a 28×28 digital canvas, black on white",
    },
    "UNIPEN": {
        "url": "https://github.com/GreenCappuccino/train_r01_v07",
        "commit": "552a4d4",
        "licence": "CC BY 4.0 (Zenodo, doi:10.5281/zenodo.1195803)",
        "what": "train_r01_v07 category 1a: isolated digits as pen strokes by writers of about 15 sites",
        "attribution": unipen.CITATION,
    },
}

# sha256 of the fetched copies this benchmark was made from. DigiLeTs and
# HwD-1000 are many files: their digest is the sha256 of the lines
# "<path relative to the folder> <sha256>\n" of every file, sorted by path.
EXPECTED_SHA256 = {
    "digilets/data/raw": "2e938db138d092a312d767933f1c10b1491a29d35993f3a025f3d0cc5f835d0c",
    "ardis/ARDIS_train_2828.csv": "4f5d3896305ada7d4c56c9b754d7b075c009de6ba834ba4445333f2434baf024",
    "ardis/ARDIS_train_labels.csv": "de9f1835bee385791bb246ecd99feb3e7d4191621c305ff05791b38e689dd31d",
    "ardis/ARDIS_test_2828.csv": "c85a2b4e951029a6d81b16daddf5b6c603f9fb45d07fdaad9803f0539fdc37ad",
    "ardis/ARDIS_test_labels.csv": "22c13e54f57fc7cefeaec79a856e4bba387af57043e5dfe2b5a40743c839c3be",
    "hwd1000": "ff54813bd63a6c704fb48239f1686123b39425959b954acf63d0528335bb072c",
    "unipen": "efe4853e5e84b52759839eaddefcd05553e7937d057a8b98c4dad7263bb11582",
}

# DigiLeTs's complete writers (its README), and the judge: every other one in id order, from the first.
COMPLETE_WRITERS = tuple(
    int(w)
    for w in (
        "002 004 005 007 008 010 012 013 018 019 020 022 025 026 030 031 032 033 036 038 040 041 043 045 049 "
        "051 053 054 055 056 057 058 060 062 064 065 066 067 068 069 070 071 072 074 075 076 077 078 079 080 "
        "081 082 083 084 085 086 087 088 089 090 091 092 093 094 095 096 098 099 100 102 103 104 105 106 107 "
        "110 111"
    ).split()
)
JUDGE_WRITERS = COMPLETE_WRITERS[0::2]
SYMBOLS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class RealWritersUnavailable(Exception):
    """The fetched copies or the prepared files are missing or not the expected ones; the message says why."""


# ---------------------------------------------------------------- strokes


def digilets_strokes(values: list[str]) -> list[np.ndarray]:
    """One DigiLeTs instance's line of numbers → its strokes, (K, 2) x, y each, y pointing down.

    Each point is x, y, pressure, pen down, time; a stroke starts where the
    pen went down. Points with no pressure and no pen-down are the pen's
    button pressed in the air (DigiLeTs's own cleaning drops them too), and
    points outside the writing square (the unit box) are the pen on the
    screen's buttons, not the digit: both are dropped.
    """
    rows = np.asarray(values, dtype=np.float64).reshape(-1, 5)
    strokes, current = [], []
    for x, y, pressure, down, _ in rows:
        if down == 1 and current:
            strokes.append(np.array(current))
            current = []
        if (pressure == 0 and down == 0) or not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            continue
        current.append((x, 1.0 - y))  # the tablet's y points up
    if current:
        strokes.append(np.array(current))
    return strokes


def digilets_file(path: Path) -> list[tuple[int, int, list[np.ndarray]]]:
    """(digit, instance, strokes) of every digit in one participant's raw file."""
    lines = path.read_text().splitlines()
    seen: dict[int, int] = {}
    digits = []
    for k in range(0, len(lines) - 1, 2):
        symbol = int(np.asarray(lines[k + 1].split(), dtype=np.float64).argmax())
        if symbol >= 10:
            continue
        instance = seen.get(symbol, 0)
        seen[symbol] = instance + 1
        digits.append((symbol, instance, digilets_strokes(lines[k].split())))
    return digits


def digilets_exclusions(info: Path) -> set[tuple[int, int, int]]:
    """(writer, digit, instance) of the digits DigiLeTs's `corrupted/info` lists (missing, another symbol, …)."""
    excluded, writer = set(), None
    for line in info.read_text().splitlines():
        if match := re.match(r"^ {4}- (\d{3})\b", line):
            writer = int(match.group(1))
        elif (match := re.match(r"^ {8}- (\S) (\d)\b", line)) and writer is not None and match.group(1).isdigit():
            excluded.add((writer, int(match.group(1)), int(match.group(2))))
    return excluded


def read_digilets(raw: Path) -> tuple[StrokeSet, StrokeSet, int]:
    """(judge, training writers, digits excluded) from DigiLeTs's `data/raw` folder."""
    excluded = digilets_exclusions(raw / "corrupted" / "info")
    judge, train, dropped = [], [], 0
    for folder in ("complete", "corrupted"):
        for path in sorted((raw / folder).iterdir()):
            if path.name == "info" or path.name.endswith("_info"):
                continue
            writer = int(path.name[:3])
            for digit, instance, strokes in digilets_file(path):
                if (writer, digit, instance) in excluded or not strokes:
                    dropped += 1
                    continue
                (judge if writer in JUDGE_WRITERS else train).append((digit, writer, strokes))
    return StrokeSet.from_digits(judge), StrokeSet.from_digits(train), dropped


def unipen_judge(writer: str) -> bool:
    """Whether a UNIPEN writer (their file's name, e.g. "aga/amywldrp") is a judge's: a fixed fifth."""
    return int(hashlib.sha256(writer.encode()).hexdigest(), 16) % 5 == 0


def read_unipen(root: Path) -> tuple[StrokeSet, StrokeSet, list[str], int]:
    """(judge, training writers, every writer's name (the StrokeSets' `writer` indexes it), segments unreadable)."""
    digits, unreadable = unipen.read_unipen(root)
    names = sorted({d.writer for d in digits})
    number = {name: k for k, name in enumerate(names)}
    judge = [(d.label, number[d.writer], d.strokes) for d in digits if unipen_judge(d.writer)]
    train = [(d.label, number[d.writer], d.strokes) for d in digits if not unipen_judge(d.writer)]
    return StrokeSet.from_digits(judge), StrokeSet.from_digits(train), names, unreadable


# ---------------------------------------------------------------- images


def mnist_format(images: np.ndarray) -> np.ndarray:
    """(N, H, W) uint8 images of any ink and background → (N, 28, 28) uint8 as `to_mnist` makes them."""
    out = np.zeros((len(images), 28, 28), np.uint8)
    for i, image in enumerate(images):
        read = to_mnist(image)
        if read is not None:
            out[i] = np.rint(read * 255)
    return out


def read_ardis(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """ARDIS IV's `train` or `test` CSVs → (images (N, 28, 28) uint8, white ink on black; labels (N,))."""
    pixels = np.loadtxt(folder / f"ARDIS_{split}_2828.csv", dtype=np.float32)
    labels = np.loadtxt(folder / f"ARDIS_{split}_labels.csv", dtype=np.float32).argmax(axis=1)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.uint8)


def read_hwd(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """HwD-1000's PNGs (black on white) as listed in its dataset.csv → (images (N, 28, 28) uint8, labels)."""
    images, labels = [], []
    with open(folder / "dataset.csv", newline="") as f:
        for row in csv.DictReader(f):
            with Image.open(folder / row["image"]) as image:
                images.append(np.asarray(image.convert("L")))
            labels.append(int(row["label"]))
    return np.stack(images), np.array(labels, np.uint8)


# ---------------------------------------------------------------- prepare


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_sha256(folder: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(f"{path.relative_to(folder)} {file_sha256(path)}\n".encode())
    return digest.hexdigest()


def source_hashes(source: Path) -> dict[str, str]:
    """The sha256 of each fetched copy, keyed as `EXPECTED_SHA256`; a missing file is a sentence."""
    hashes = {}
    for key in EXPECTED_SHA256:
        path = source / key
        if key == "digilets/data/raw":
            files = [p for p in path.glob("*/*") if p.is_file()] if path.is_dir() else []
        elif key == "hwd1000":
            files = [*path.glob("img/*.png"), path / "dataset.csv"] if path.is_dir() else []
        elif key == "unipen":
            files = [*unipen.used_files(path), path / "LICENSE"] if (path / "LICENSE").is_file() else []
        else:
            files = [path] if path.is_file() else []
        if not files:
            raise RealWritersUnavailable(
                f"{path} is missing: fetch the sources into {source} (see bench/real_writers.py) "
                f"or point --source / ${ENV_VAR} at their copies."
            )
        hashes[key] = file_sha256(path) if path.is_file() else tree_sha256(path, files)
    return hashes


def prepare(source: Path, out: Path, accept_other: bool = False) -> dict:
    """Read and check the fetched copies; write `out/judge.npz` and `out/train.npz`; return what was written."""
    hashes = source_hashes(source)
    wrong = [key for key, value in hashes.items() if value != EXPECTED_SHA256[key]]
    if wrong and not accept_other:
        raise RealWritersUnavailable(
            f"{', '.join(wrong)} under {source} differ from the copies this benchmark was made from "
            "(sha256 in bench/real_writers.py); --accept-other uses them anyway, and the figures will differ."
        )
    judge, train, dropped = read_digilets(source / "digilets" / "data" / "raw")
    unipen_judged, unipen_train, unipen_names, unreadable = read_unipen(source / "unipen")
    ardis_x, ardis_y = read_ardis(source / "ardis", "train")
    ardis_test_x, ardis_test_y = read_ardis(source / "ardis", "test")
    hwd_x, hwd_y = read_hwd(source / "hwd1000")
    common = {"sources": SOURCES, "sha256": hashes, "unipen_names": unipen_names}
    judge_meta = {
        **common,
        "role": "judge",
        "digilets_writers": sorted({int(w) for w in judge.writer}),
        "digits": len(judge),
        "unipen_writers": sorted({int(w) for w in unipen_judged.writer}),
        "unipen_digits": len(unipen_judged),
    }
    train_meta = {
        **common,
        "role": "train",
        "digilets_writers": sorted({int(w) for w in train.writer}),
        "digilets_digits": len(train),
        "digilets_excluded": dropped,
        "unipen_writers": sorted({int(w) for w in unipen_train.writer}),
        "unipen_digits": len(unipen_train),
        "unipen_unreadable": unreadable,
        "ardis_train": len(ardis_y),
        "hwd": len(hwd_y),
    }
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out / JUDGE,
        meta=np.array(json.dumps(judge_meta)),
        ardis_test_x=mnist_format(ardis_test_x),
        ardis_test_y=ardis_test_y,
        **judge.arrays("digilets"),
        **unipen_judged.arrays("unipen"),
        # What the network is given for each judge digit, so that code without this benchmark (the owner's
        # retrain with shared handwriting, model.training.shared) can score the judges too.
        digilets_inputs=as_uint8(judge_inputs(judge)[0]),
        unipen_inputs=as_uint8(judge_inputs(unipen_judged)[0]),
    )
    np.savez_compressed(
        out / TRAIN,
        meta=np.array(json.dumps(train_meta)),
        ardis_x=mnist_format(ardis_x),
        ardis_y=ardis_y,
        hwd_x=mnist_format(hwd_x),
        hwd_y=hwd_y,
        **train.arrays("digilets"),
        **unipen_train.arrays("unipen"),
    )
    return {"judge": judge_meta, "train": train_meta}


# ---------------------------------------------------------------- the judge


@dataclass(frozen=True)
class Judge:
    """The prepared judges: DigiLeTs's and UNIPEN's judge writers as strokes, and ARDIS's test split as images."""

    digits: StrokeSet
    unipen: StrokeSet
    ardis_x: np.ndarray
    ardis_y: np.ndarray
    meta: dict
    sha256: str  # of the prepared arrays (model.training.extras.real.content_sha256)

    @property
    def writers(self) -> int:
        return len(set(self.digits.writer.tolist()))


def load_judge(folder: str | os.PathLike | None = None) -> Judge:
    """The judge prepared by `prepare`; a sentence that says how to make it when it is missing."""
    path = Path(folder or PREPARED) / JUDGE
    if not path.is_file():
        raise RealWritersUnavailable(
            f"No real-writer judge at {path}: run `python -m bench.real_writers prepare` "
            f"(it reads the fetched copies under ${ENV_VAR}, default {DEFAULT_SOURCE})."
        )
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        if meta.get("role") != "judge":
            raise RealWritersUnavailable(f"{path} is not the real-writer judge (its role is {meta.get('role')}).")
        return Judge(
            StrokeSet.from_arrays(npz, "digilets"),
            StrokeSet.from_arrays(npz, "unipen"),
            npz["ardis_test_x"],
            npz["ardis_test_y"],
            meta,
            content_sha256(npz),
        )


def judge_drawings(digits: StrokeSet, seed: int = SEED, brush: float | None = None) -> Iterator[tuple]:
    """(RGBA canvas, label, writer) of each judge digit drawn on the canvas; digit i depends on (seed, i) only."""
    for i in range(len(digits)):
        canvas = draw_strokes(digits.strokes(i), np.random.default_rng([seed, i]), CANVAS, brush)
        yield canvas, int(digits.label[i]), int(digits.writer[i])


def judge_inputs(digits: StrokeSet, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the network is given for each judge digit (through `to_mnist`), its label and its writer."""
    inputs, labels, writers = [], [], []
    for canvas, label, writer in judge_drawings(digits, seed):
        inputs.append(to_mnist(canvas))
        labels.append(label)
        writers.append(writer)
    if not inputs:
        return np.zeros((0, 28, 28), np.float32), np.zeros(0, np.uint8), np.zeros(0, np.int16)
    return np.stack(inputs), np.array(labels), np.array(writers)


def as_uint8(images: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(images) * 255).astype(np.uint8).reshape(-1, 28, 28)


def describe(judge: Judge) -> str:
    """Which source, how many digits and writers: a sentence for the benchmark's report."""
    return (
        f"{len(judge.digits):,} digits by {judge.writers} DigiLeTs writers (German, pen on a tablet; "
        f"{SOURCES['DigiLeTs']['url']} at {SOURCES['DigiLeTs']['commit']}, licence: none given, used locally, "
        f"never committed), drawn from their own strokes on the 280×280 canvas at a random size, place and "
        f"brush and read through `to_mnist` (bench/real_writers.py, seed {SEED}); the judge's writers are "
        f"{', '.join(f'{w:03d}' for w in JUDGE_WRITERS)} (every other complete writer), trained on by no network. "
        f"UNIPEN's judge: {len(judge.unipen):,} digits by {len(set(judge.unipen.writer.tolist()))} writers of "
        f"train_r01_v07 category 1a (CC BY 4.0; a fixed fifth of its writers, `unipen_judge`), drawn the same way. "
        f"Also {len(judge.ardis_y):,} ARDIS IV test digits (Swedish church records; research use only), "
        "a second check whose writers may also be in ARDIS's training split"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("prepare", help="check the fetched copies and write the prepared files")
    make.add_argument("--source", default=os.environ.get(ENV_VAR) or DEFAULT_SOURCE)
    make.add_argument("--out", default=str(PREPARED))
    make.add_argument("--accept-other", action="store_true", help="use copies whose sha256 differ")
    score = commands.add_parser("score", help="read the judge with networks (NumPy)")
    score.add_argument("--model", nargs="+", default=["model/mnist_ann.keras"])
    score.add_argument("--prepared", default=str(PREPARED))
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            written = prepare(Path(args.source), Path(args.out), args.accept_other)
            judge, train = written["judge"], written["train"]
            print(
                f"{args.out}/{JUDGE}: {judge['digits']} DigiLeTs digits by {len(judge['digilets_writers'])} writers, "
                f"{judge['unipen_digits']} UNIPEN digits by {len(judge['unipen_writers'])} writers.\n"
                f"{args.out}/{TRAIN}: {train['digilets_digits']} DigiLeTs digits by "
                f"{len(train['digilets_writers'])} writers ({train['digilets_excluded']} excluded), "
                f"{train['unipen_digits']} UNIPEN digits by {len(train['unipen_writers'])} writers "
                f"({train['unipen_unreadable']} segments unreadable), "
                f"{train['ardis_train']} ARDIS, {train['hwd']} HwD-1000."
            )
            return 0
        return score_networks(args.model, load_judge(args.prepared))
    except RealWritersUnavailable as error:
        print(f"bench.real_writers: {error}", file=sys.stderr)
        return 1


def judge_line(name: str, probabilities: np.ndarray, labels: np.ndarray, writers: np.ndarray) -> str:
    """One judge's figures for one network: overall, per digit, its confusions, its weakest writer."""
    from model.reading.metrics import evaluate, top_confusions

    result = evaluate(probabilities, labels)
    reads = probabilities.argmax(axis=1)
    per_writer = [(reads[writers == w] == labels[writers == w]).mean() for w in sorted(set(writers.tolist()))]
    return (
        f"{name} {result.accuracy:.2%} ({round((1 - result.accuracy) * result.count)} wrong of {result.count}); "
        "per digit "
        + " ".join(f"{d}: {a:.1%}" for d, a in enumerate(result.per_class_accuracy))
        + "; confusions "
        + ", ".join(f"{t}→{p} ({n})" for t, p, n in top_confusions(result.confusion, 10))
        + f"; weakest writer {min(per_writer):.0%}"
    )


def score_networks(paths: list[str], judge: Judge) -> int:
    from model.reading.cnn import NumpyCNN
    from model.reading.metrics import evaluate
    from model.reading.network import ModelFileError, NumpyNetwork

    judges = [("DigiLeTs judge", *judge_inputs(judge.digits))]
    if len(judge.unipen):
        judges.append(("UNIPEN judge", *judge_inputs(judge.unipen)))
    ardis = judge.ardis_x.astype(np.float32) / 255.0
    for path in paths:
        try:
            net = NumpyNetwork.load(path)
        except ModelFileError:
            net = NumpyCNN.load(path)
        lines = [judge_line(name, net.probabilities(x), y, w) for name, x, y, w in judges]
        ardis_result = evaluate(net.probabilities(ardis), judge.ardis_y)
        print(f"{path}:\n  " + "\n  ".join(lines) + f"\n  ARDIS test {ardis_result.accuracy:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
