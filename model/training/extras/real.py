"""Real people's handwriting to train on, beside MNIST: the training writers `bench/real_writers.py` prepared.

MNIST's writers were Americans of the 1990s; many visitors write a 1 with a
long up-stroke, cross their 7s and curl their 9s' tails, and a network that
saw none of that reads their 1s as 7s. Synthetic styles (`styles`) help
with the styles someone thought of; real writers bring the rest.

`python -m bench.real_writers prepare` writes two files from fetched copies
of public collections: the judges' writers, which no network may train on,
and everyone else (`train.npz`), which this module reads, in parts:

- `unipen`: UNIPEN's training writers (CC BY 4.0), as pen strokes;
- `digilets`: DigiLeTs's training writers (72 German writers; no licence:
  local use only), as pen strokes;
- `ardis`: ARDIS IV's training split (Swedish church records; research
  only, no redistribution), as images in MNIST's format;
- `hwd`: HwD-1000 (one person on a 28×28 canvas; MIT), as images.

Each pen digit is drawn `renderings` times as the page's canvas would draw
it: a round brush of random width (3-32% of the digit's size, log-uniform,
as `styles` draws), anti-aliased, then read by `to_mnist`.

Only `SHIPPABLE` parts may teach a network this repository ships: their
licences allow passing on what is learnt from them. The others may train an
operator's own network on their own machine, and its card says so.

The file names its role; a file whose role is not "train" (the judge) is
refused, so the judge's writers cannot reach training by a wrong path.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from model.reading.preprocess import to_mnist

ROLE = "train"
FILE_NAME = "train.npz"
MAX_RENDERINGS = 20
BRUSH = (0.03, 0.32)  # of the digit's longer side, log-uniform (as model/training/extras/styles.py)
CANVAS, DIGIT_SIDE, SUPERSAMPLE = 140, 100, 2
SOURCES = ("unipen", "digilets", "ardis", "hwd")  # the parts of the file, by the name `train.py --real-sources` takes
PEN_PARTS = ("unipen", "digilets")  # drawn from strokes; the others are images
SHIPPABLE = ("unipen", "hwd")  # licences that allow passing on what a network learns from them
# The file's source names → parts, and each part's sha256 keys in the file's meta.
PARTS = {"UNIPEN": "unipen", "DigiLeTs": "digilets", "ARDIS IV": "ardis", "HwD-1000": "hwd"}
HASH_PREFIX = {"unipen": "unipen", "digilets": "digilets", "ardis": "ardis", "hwd": "hwd1000"}


class RealDataError(ValueError):
    """The prepared file is missing, damaged or not the training writers' file; the message says why."""


@dataclass(frozen=True)
class StrokeSet:
    """Digits as pen strokes: `points` (P, 2) x, y (y down); digit i's strokes are strokes
    `digit_start[i]` … `digit_start[i + 1]` - 1, stroke j its points `stroke_start[j]` … ."""

    points: np.ndarray
    stroke_start: np.ndarray
    digit_start: np.ndarray
    label: np.ndarray
    writer: np.ndarray

    def __len__(self) -> int:
        return len(self.label)

    def strokes(self, i: int) -> list[np.ndarray]:
        first, last = self.digit_start[i], self.digit_start[i + 1]
        return [self.points[self.stroke_start[j] : self.stroke_start[j + 1]] for j in range(first, last)]

    @classmethod
    def from_digits(cls, digits: list[tuple[int, int, list[np.ndarray]]]) -> StrokeSet:
        """From (label, writer, strokes) triples."""
        strokes = [s for _, _, digit in digits for s in digit]
        return cls(
            points=np.concatenate(strokes).astype(np.float32) if strokes else np.zeros((0, 2), np.float32),
            stroke_start=np.cumsum([0] + [len(s) for s in strokes]).astype(np.int64),
            digit_start=np.cumsum([0] + [len(digit) for _, _, digit in digits]).astype(np.int64),
            label=np.array([label for label, _, _ in digits], np.uint8),
            writer=np.array([writer for _, writer, _ in digits], np.int16),
        )

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}_{name}": getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_arrays(cls, npz, prefix: str) -> StrokeSet:
        return cls(**{name: npz[f"{prefix}_{name}"] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class RealWriters:
    """The training writers' file, read: pen digits by part (`PEN_PARTS`) and images in MNIST's format."""

    pens: dict[str, StrokeSet]
    ardis_x: np.ndarray
    ardis_y: np.ndarray
    hwd_x: np.ndarray
    hwd_y: np.ndarray
    meta: dict
    path: str
    sha256: str


def resolve(path: str | os.PathLike) -> Path:
    """A prepared folder or its `train.npz` → the file's path."""
    path = Path(path)
    return path / FILE_NAME if path.is_dir() else path


def check(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be trained on, as a sentence, or None: read before anything heavy starts."""
    try:
        load_real(path)
    except RealDataError as error:
        return str(error)
    return None


def load_real(path: str | os.PathLike) -> RealWriters:
    """Read and check the training writers' file (`bench/real_writers.py prepare` writes it)."""
    file = resolve(path)
    if not file.is_file():
        raise RealDataError(f"{file} does not exist: make it with `python -m bench.real_writers prepare`.")
    try:
        with np.load(file, allow_pickle=False) as npz:
            digest = content_sha256(npz)
            meta = json.loads(str(npz["meta"]))
            if meta.get("role") != ROLE:
                raise RealDataError(
                    f"{file} holds the {meta.get('role')!r} writers; only the training writers' file "
                    f"({FILE_NAME}) may be trained on."
                )
            arrays = {name: npz[name] for name in ("ardis_x", "ardis_y", "hwd_x", "hwd_y")}
            pens = {part: StrokeSet.from_arrays(npz, part) for part in PEN_PARTS}
    except RealDataError:
        raise
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as error:
        raise RealDataError(f"{file} is not a prepared real-writers file ({type(error).__name__}).") from None
    for x, y in (("ardis_x", "ardis_y"), ("hwd_x", "hwd_y")):
        if arrays[x].shape[1:] != (28, 28) or len(arrays[x]) != len(arrays[y]) or arrays[x].dtype != np.uint8:
            raise RealDataError(f"{file}: {x} is not uint8 (N, 28, 28) images with one label each.")
    return RealWriters(pens, **arrays, meta=meta, path=str(file), sha256=digest)


def content_sha256(npz) -> str:
    """The sha256 of a prepared file's arrays (names, shapes, types and bytes, in name order).

    Not of the file itself: a zip records when it was written, so the same
    data prepared twice would get two hashes.
    """
    digest = hashlib.sha256()
    for name in sorted(npz.files):
        array = np.ascontiguousarray(npz[name])
        digest.update(f"{name} {array.dtype.str} {array.shape}\n".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def render(strokes: list[np.ndarray], brush: float) -> np.ndarray | None:
    """Pen strokes drawn as the canvas draws them (a round brush `brush` × the digit's size wide), read by
    `to_mnist`: (28, 28) uint8, or None when there is no ink."""
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = DIGIT_SIDE / max(float((high - low).max()), 1e-6)
    s = SUPERSAMPLE
    mask = Image.new("L", (CANVAS * s, CANVAS * s), 0)
    draw = ImageDraw.Draw(mask)
    width = max(1.0, brush * DIGIT_SIDE * s)
    r = width / 2
    for stroke in strokes:
        xy = [tuple(p) for p in ((stroke - (low + high) / 2) * scale + CANVAS / 2) * s]
        if len(xy) > 1:
            draw.line(xy, fill=255, width=round(width))
        for x, y in xy:  # round caps and joins
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    small = to_mnist(np.asarray(mask.resize((CANVAS, CANVAS), Image.BOX)))
    return None if small is None else np.rint(small * 255).astype(np.uint8)


def real_training_digits(
    path: str | os.PathLike, renderings: int = 6, seed: int = 0, sources: tuple[str, ...] = SOURCES
) -> tuple[np.ndarray, np.ndarray, dict]:
    """The training writers' digits as (images (N, 28, 28) uint8, labels (N,) uint8, provenance for the card).

    Each pen digit is drawn `renderings` times with random brushes (drawing
    k of digit i of a part depends on (seed, part, i, k) only); ARDIS's and
    HwD-1000's images are taken once each. `sources` picks the parts.
    """
    if not 1 <= renderings <= MAX_RENDERINGS:
        raise RealDataError(f"Draw each real digit 1 to {MAX_RENDERINGS} times (asked for {renderings}).")
    unknown = set(sources) - set(SOURCES)
    if unknown or not sources:
        raise RealDataError(f"Real sources are some of {', '.join(SOURCES)} (got {', '.join(sources) or 'none'}).")
    real = load_real(path)
    images, labels = [], []
    low, high = np.log(BRUSH)
    for number, part in enumerate(PEN_PARTS):
        if part not in sources:
            continue
        pens = real.pens[part]
        for i, label in enumerate(pens.label):
            strokes = pens.strokes(i)
            for k in range(renderings):
                rng = np.random.default_rng([seed, number, i, k])
                image = render(strokes, float(np.exp(rng.uniform(low, high))))
                if image is not None:
                    images.append(image)
                    labels.append(label)
    x = np.array(images, np.uint8).reshape(-1, 28, 28)
    y = np.array(labels, np.uint8)
    for name in ("ardis", "hwd"):
        if name in sources:
            x = np.concatenate([x, getattr(real, f"{name}_x")])
            y = np.concatenate([y, getattr(real, f"{name}_y").astype(np.uint8)])
    meta = real.meta
    used = [part for part in SOURCES if part in sources]
    info = {
        "file": real.path,
        "sha256": real.sha256,
        "sources": {
            name: {**about, "sha256": {k: v for k, v in meta.get("sha256", {}).items() if k.startswith(prefix)}}
            for name, about in meta.get("sources", {}).items()
            if (part := PARTS.get(name)) in sources
            for prefix in (HASH_PREFIX[part],)
        },
        "used": used,
        "shippable": all(part in SHIPPABLE for part in used),
        "renderings": renderings if set(PEN_PARTS) & set(sources) else 0,
        "images": int(len(y)),
    }
    for part in PEN_PARTS:
        info[f"{part}_writers"] = len(meta.get(f"{part}_writers", [])) if part in sources else 0
        info[f"{part}_digits"] = int(len(real.pens[part])) if part in sources else 0
    info["ardis_train"] = int(len(real.ardis_y)) if "ardis" in sources else 0
    info["hwd"] = int(len(real.hwd_y)) if "hwd" in sources else 0
    return x, y, info


def in_words(info: dict) -> str:
    """What the real training data was, with each source's licence, for the card's notes."""
    parts = []
    if info.get("unipen_digits"):
        parts.append(
            f"{info['unipen_digits']:,} digits by {info['unipen_writers']} UNIPEN writers (pen strokes from many "
            f"countries; CC BY 4.0, doi:10.5281/zenodo.1195803), each drawn {info['renderings']} times with canvas "
            "brushes"
        )
    if info.get("digilets_digits"):
        parts.append(
            f"{info['digilets_digits']:,} digits by {info['digilets_writers']} DigiLeTs writers (German, pen "
            f"strokes; no licence given, used locally), each drawn {info['renderings']} times with canvas brushes"
        )
    if info.get("ardis_train"):
        parts.append(f"{info['ardis_train']:,} ARDIS IV training digits (Swedish church records; research use only)")
    if info.get("hwd"):
        parts.append(f"{info['hwd']:,} HwD-1000 digits (one writer on a digital canvas; MIT)")
    return "real handwriting from beyond MNIST: " + "; ".join(parts) + f" (prepared data sha256 {info['sha256']})"


@dataclass(frozen=True)
class RealExtra:
    """Real writers' digits to add to the training part (`real_training_digits`), and where they came from."""

    images: np.ndarray
    labels: np.ndarray
    info: dict

    def in_words(self) -> str:
        return in_words(self.info)
