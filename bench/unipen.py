"""UNIPEN's isolated digits (train_r01_v07, category 1a) read as pen strokes, with who wrote them.

UNIPEN (Guyon et al., 1994) collected on-line handwriting from about 40
sites; its category 1a holds 15,953 isolated digits by a few hundred
writers, among them Germans and Spaniards who write the long-flagged 1 and
the crossed 7 that MNIST's American writers did not. It was published on
Zenodo under CC BY 4.0 (doi:10.5281/zenodo.1195803), which allows passing
on what a network learns from it, with attribution (`CITATION`).

The format: each file of `data/1a/<site>/…` names the data files it reads
(`.INCLUDE`) and labels pieces of them (`.SEGMENT CHARACTER 73-74 ? "5"`).
A data file is a run of pen blocks (`.PEN_DOWN`, `.PEN_UP`, each followed
by its `x y` points); a segment's numbers count those blocks from 0 across
the included files, a number may name a point inside a block (`12:7`).
Two things differ by site, and were found by drawing every site's digits
and reading them with the shipped network (each convention read at 86-99%,
the others at 0-50%):

- the blocks counted: the pen-down blocks alone at every site but `pri`,
  where the pen-up blocks count too (`COUNTS_PEN_UP`);
- three sites are left out (`SKIPPED`): `tos` (Toshiba), where under every
  numbering and orientation tried the segments cut pieces out of strokes
  (a 0 as its lower half) and the shipped network read under a fifth of
  them; and `cea` and `ceb` (13 digits), of which it read 1.

y points up at every site; the strokes are returned with y down, as the
canvas has it. A writer is one file of `data/1a` (the unit UNIPEN
distributes; a person who wrote for two sites would count twice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CATEGORY = "data/1a"
COUNTS_PEN_UP = frozenset({"pri"})
SKIPPED = {
    "tos": "its segments cut pieces out of strokes under every numbering and orientation tried",
    "cea": "its segments do not read as their digits (0 of 7)",
    "ceb": "its segments do not read as their digits (1 of 6)",
}
CITATION = (
    'I. Guyon, L. Schomaker, R. Plamondon, M. Liberman and S. Janet, "UNIPEN project of on-line data exchange '
    'and recognizer benchmarks", Proc. 12th ICPR, 1994, pp. 29-33; and Consortium (1999), Unipen data set of '
    "on-line (vectorial) handwriting - train_r01_v07 [Data set], Zenodo, https://doi.org/10.5281/zenodo.1195803"
)
_SEGMENT = re.compile(r'^\.SEGMENT\s+CHARACTER\s+(\S+)\s+\S+\s+"(.)"')


@dataclass(frozen=True)
class Block:
    pen_down: bool
    points: np.ndarray  # (K, 2) x, y as the file has them


def read_blocks(path: Path) -> list[Block]:
    """Every `.PEN_DOWN` and `.PEN_UP` block of a data file, in order, with its points."""
    blocks: list[Block] = []
    points: list[tuple[float, float]] | None = None
    pen_down = False

    def close():
        if points is not None:
            blocks.append(Block(pen_down, np.array(points, np.float64).reshape(-1, 2)))

    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("."):
            close()
            word = line.split(maxsplit=1)[0]
            points = [] if word in (".PEN_DOWN", ".PEN_UP") else None
            pen_down = word == ".PEN_DOWN"
        elif points is not None:
            values = line.split()
            if len(values) >= 2:
                try:
                    points.append((float(values[0]), float(values[1])))
                except ValueError:
                    pass
    close()
    return blocks


def parse_reference(text: str) -> tuple[int, int | None]:
    """`12` or `12:7` (block 12, from or up to its point 7)."""
    block, _, point = text.partition(":")
    return int(block), int(point) if point else None


def segment_strokes(spec: str, blocks: list[Block], count_pen_up: bool) -> list[np.ndarray] | None:
    """The pen-down strokes a segment (`3`, `3-4`, `3,5`, `3:2-4:9`) names; None when it names blocks not there."""
    numbered = blocks if count_pen_up else [b for b in blocks if b.pen_down]
    strokes = []
    for part in spec.split(","):
        first_text, _, last_text = part.partition("-")
        (first, from_point), (last, to_point) = parse_reference(first_text), parse_reference(last_text or first_text)
        if not 0 <= first <= last < len(numbered):
            return None
        for k in range(first, last + 1):
            block = numbered[k]
            if not block.pen_down:
                continue
            start = from_point if k == first and from_point is not None else 0
            stop = to_point + 1 if k == last and to_point is not None else len(block.points)
            if stop - start > 0:
                strokes.append(block.points[start:stop])
    return strokes or None


@dataclass(frozen=True)
class Digit:
    label: int
    writer: str  # the file of data/1a it was listed in, e.g. "aga/amywldrp"
    strokes: list[np.ndarray]  # (K, 2) x, y each, y down


def read_writer(index: Path, root: Path) -> tuple[list[Digit], int]:
    """A writer's digits from their file of `data/1a`, and how many of its segments named nothing readable."""
    site = index.relative_to(root / CATEGORY).parts[0]
    writer = str(index.relative_to(root / CATEGORY).with_suffix(""))
    blocks: list[Block] = []
    labelled = []
    for line in index.read_text(errors="replace").splitlines():
        if line.startswith(".INCLUDE"):
            included = root / "include" / line.split()[1]
            if included.suffix == ".dat":
                blocks += read_blocks(included)
        elif (match := _SEGMENT.match(line)) and match.group(2).isdigit():
            labelled.append((match.group(1), int(match.group(2))))
    digits, unreadable = [], 0
    for spec, label in labelled:
        strokes = segment_strokes(spec, blocks, site in COUNTS_PEN_UP)
        if strokes is None:
            unreadable += 1
            continue
        digits.append(Digit(label, writer, [s * (1.0, -1.0) for s in strokes]))  # y up → y down
    return digits, unreadable


def writer_files(root: Path, skip: bool = True) -> list[Path]:
    """Every writer's file of category 1a, sorted; with `skip`, the skipped sites left out."""
    files = sorted((root / CATEGORY).rglob("*.dat"))
    return [p for p in files if not (skip and p.relative_to(root / CATEGORY).parts[0] in SKIPPED)]


def used_files(root: Path) -> list[Path]:
    """Category 1a's files and the data files they include (the skipped sites' too), for the sha256."""
    files = set(writer_files(root, skip=False))
    for index in list(files):
        for line in index.read_text(errors="replace").splitlines():
            if line.startswith(".INCLUDE") and line.split()[1].endswith(".dat"):
                files.add(root / "include" / line.split()[1])
    return sorted(f for f in files if f.is_file())


def read_unipen(root: Path) -> tuple[list[Digit], int]:
    """Every digit of category 1a (the skipped sites left out), and how many segments named nothing readable."""
    digits, unreadable = [], 0
    for index in writer_files(root):
        found, missed = read_writer(index, root)
        digits += found
        unreadable += missed
    return digits, unreadable
