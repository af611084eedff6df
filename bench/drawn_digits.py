"""A reproducible test set of canvas-like drawings, made from the strokes of MNIST's test digits.

MNIST's 98-99% is not what a visitor gets: digits drawn with a mouse are
smoother, thicker or thinner, slanted, off-centre, small or huge. This
generator makes such drawings without a single pixel of MNIST going back in:
each digit of the MNIST **test** split (never the training split) is thinned
to its 1-px skeleton, and the skeleton is redrawn with a round brush on a
280×280 transparent canvas, exactly as the app's canvas returns a drawing:

- size: the digit's longer side is 35-85% of the canvas;
- place: anywhere it fits (corners included);
- brush: 8-30 px wide, whatever the digit's size (a small digit drawn with a
  wide brush is thick, as it is in the app);
- hand: a slight slant (shear ±0.3) and rotation (±8°), and a smooth wobble
  of up to 3% of the digit's size.

Every drawing depends only on (seed, i), so any slice is reproducible on its
own. Only this generator is stored, never the images.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.morphology import skeletonize

from model.reading.preprocess import to_mnist
from testkit.canvas import render_points, render_strokes

CANVAS = 280
SEED = 2024
COUNT = 3000


def holes(binary: np.ndarray) -> int:
    """How many enclosed holes a binary shape has (the background's 4-connected pieces, minus the outside)."""
    return ndimage.label(~np.pad(binary, 1))[1] - 1


def pieces(binary: np.ndarray, smallest: int = 16) -> int:
    """How many 8-connected pieces of ink a shape has, specks under `smallest` pixels not counted."""
    labels, count = ndimage.label(binary, structure=np.ones((3, 3)))
    return int((np.bincount(labels.ravel(), minlength=count + 1)[1:] >= smallest).sum())


CUT = 128  # where ink begins, of the digit's darkest (255)


def ink_shape(digit: np.ndarray, upsample: int = 4) -> np.ndarray:
    """The digit's ink as a bool image `upsample`× larger, with its strokes whole and its loops open.

    The digit is enlarged and its outline lightly smoothed (so the skeleton
    does not grow a spur at every pixel step), scaled so that its darkest ink
    is full (a faint digit is cut at half its own ink, not erased), and cut
    into ink and paper at half intensity. A bold digit's small loops close up
    at that level, and the skeleton of a filled loop is a line: an 8 would be
    redrawn as a 9; and a gap the smoothing closed (a 5's bowl, an open 4's
    top) makes a loop the digit lacks. So the cut is raised until the shape
    has as many holes as the digit shows at 28×28, but never so far that a
    stroke breaks into pieces (which turned thin 8s into a few dots).
    """
    side = 28 * upsample
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.BICUBIC), dtype=np.float32)
    big = ndimage.gaussian_filter(big, sigma=upsample * 0.25)
    big *= 255.0 / max(float(big.max()), 1.0)
    shape = big >= CUT
    wanted, whole = holes(digit >= 96), pieces(shape, upsample**2)
    found = holes(shape)
    if found != wanted:
        for level in range(CUT + 16, 240, 16):
            raised = big >= level
            if pieces(raised, upsample**2) > whole:
                break
            if (holes(raised) >= wanted) if found < wanted else (holes(raised) <= wanted):
                return raised
    return shape


# The loops a writer of each digit meant, even where the ink filled them (4: the closed kind).
LOOPS = {0: 1, 4: 1, 6: 1, 8: 2, 9: 1}


def open_blobs(shape: np.ndarray, label: int | None) -> np.ndarray:
    """The shape with a hole punched in each solid blob that stands for a loop its digit has.

    A writer who fills a 9's or a 6's loop with ink still wrote a loop, and a
    reader sees one; the blob's skeleton, though, is a line (a 9 would be
    redrawn as a 1, an 8 as a 6). While a 0, 4, 6, 8 or 9 has fewer holes
    than its digit's loops, the thickest ink, if it is over twice as thick as
    the digit's thin strokes (the lower quartile along its skeleton), is
    taken to be a filled loop: a disc is taken out of its middle, leaving a
    ring about a stroke and a half wide, whose skeleton is the loop.
    """
    for _ in range(LOOPS.get(label, 0) - holes(shape)):
        depth = ndimage.distance_transform_edt(shape)
        axis = skeletonize(shape)
        if not axis.any():
            break
        stroke = float(np.percentile(depth[axis], 25))  # half a thin stroke's width
        deepest = float(depth.max())
        if deepest < 2.0 * stroke:
            break
        y, x = np.unravel_index(depth.argmax(), depth.shape)
        radius = max(deepest - 1.5 * stroke, 0.5 * stroke)
        rows, cols = np.ogrid[: shape.shape[0], : shape.shape[1]]
        shape = shape & ((rows - y) ** 2 + (cols - x) ** 2 > radius**2)
    return shape


def blob_cores(shape: np.ndarray, depth: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Where the ink is more than twice as deep as along the digit's thin strokes: solid blobs, kept as ink.

    A solid blob that stands for no loop (a bold 4 whose triangle the pen
    filled, a 1 pressed hard) thins to a stick or a cross a reader would not
    recognise; drawn as the blob it is, filled, it reads as it did.
    """
    if not axis.any():
        return np.zeros_like(shape)
    stroke = float(np.percentile(depth[axis], 25))
    return depth > 2.0 * max(stroke, 1.0)


def prune_spurs(skeleton: np.ndarray, longest: int, depth: np.ndarray | None = None) -> np.ndarray:
    """The skeleton less its short side branches: ends that meet a junction within `longest` pixels.

    Thinning grows a short branch at every corner of a thick stroke, and a
    fork at the wide end of a wedge-shaped one (a 1 pressed hard at its
    top); drawn with a brush, each becomes a hook or a "Y" the writer never
    made. So, first, branches up to `longest` pixels go (the corners'
    spurs); then, with `depth` (each ink pixel's distance to the paper),
    where two or more branches no longer than 1.3 times the depth of the ink
    at their junction fork from one place, all but the longest go: they were
    one wide stroke end. A single short branch stays: a bold 2's short base
    is one, and so is the bulge of a stroke, which cannot be told apart.
    """
    skeleton = _prune(skeleton, lambda length, joint: length <= longest, longest, False)
    if depth is None:
        return skeleton
    return _prune(skeleton, lambda length, joint: length <= 1.3 * depth[joint], int(1.3 * depth.max()) + 1, True)


def _prune(skeleton: np.ndarray, short, reach: int, forks_only: bool) -> np.ndarray:
    """`prune_spurs`'s one pass: the branches `short(length, junction)` says are short (with `forks_only`, all
    but the longest of two or more that meet at one junction), their ends within `reach`."""
    skeleton = skeleton.copy()
    neighbours = ndimage.convolve(skeleton.astype(np.uint8), np.ones((3, 3), np.uint8), mode="constant") - 1
    height, width = skeleton.shape
    branches = []  # (path, junction) of each short branch
    for start in map(tuple, np.argwhere(skeleton & (neighbours == 1))):
        path = [start]
        while len(path) <= reach:
            y, x = path[-1]
            ahead = [
                (y + dy, x + dx)
                for dy in (-1, 0, 1)
                for dx in (-1, 0, 1)
                if 0 <= y + dy < height and 0 <= x + dx < width and skeleton[y + dy, x + dx]
            ]
            ahead = [p for p in ahead if p not in path]
            if not ahead:
                break  # a short stroke of its own (a dot, a bar): kept
            if len(ahead) > 1 or neighbours[ahead[0]] >= 3:
                joint = max(ahead, key=lambda p: neighbours[p])
                if short(len(path), joint):
                    branches.append((path, joint))
                break
            path.append(ahead[0])
    for path, joint in branches:
        rivals = [len(p) for p, j in branches if max(abs(j[0] - joint[0]), abs(j[1] - joint[1])) <= 3]
        if forks_only and (len(rivals) < 2 or len(path) == max(rivals)):
            continue
        for y, x in path:
            skeleton[y, x] = False
    return skeleton


def skeleton_points(digit: np.ndarray, upsample: int = 4, label: int | None = None) -> np.ndarray:
    """(N, 2) x, y of the digit's skeleton in 28-px units, traced at `upsample`× resolution.

    The skeleton (scikit-image's, which keeps every junction and every loop
    of the shape it thins) of `ink_shape`, with the blobs that stand for
    `label`'s loops opened (`open_blobs`), less its short spurs, and the
    other blobs' cores (`blob_cores`). Drawn with
    a round brush at each point, it is the digit's strokes, connected
    wherever the digit's were.
    """
    shape = open_blobs(ink_shape(digit, upsample), label)
    depth = ndimage.distance_transform_edt(shape)
    axis = skeletonize(shape)
    skeleton = prune_spurs(axis, int(1.5 * upsample), depth) | blob_cores(shape, depth, axis)
    ys, xs = np.nonzero(skeleton)
    return np.stack([(xs + 0.5) / upsample, (ys + 0.5) / upsample], axis=1)


def draw_digit(
    digit: np.ndarray,
    rng: np.random.Generator,
    canvas: int = CANVAS,
    brush: float | None = None,
    label: int | None = None,
) -> np.ndarray:
    """One MNIST digit (28, 28) uint8 of class `label` redrawn by "hand" on a (canvas, canvas, 4) RGBA canvas."""
    return draw_by_hand(skeleton_points(digit, label=label), rng, canvas, brush, legible=True)


def draw_by_hand(
    points: np.ndarray,
    rng: np.random.Generator,
    canvas: int = CANVAS,
    brush: float | None = None,
    legible: bool = False,
) -> np.ndarray:
    """Dense (N, 2) x, y points of a digit's strokes, drawn at a random size, place, brush, slant and wobble.

    `brush` fixes the brush's width in px (the drawing is otherwise the same
    as with a random one: the random width is still drawn, then replaced).
    `legible`: see `on_canvas`.
    """
    points = points - (points.min(axis=0) + points.max(axis=0)) / 2

    angle = np.deg2rad(rng.uniform(-8, 8))
    shear = rng.uniform(-0.3, 0.3)
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    slant = np.array([[1.0, shear], [0.0, 1.0]])  # x moves with y: italic
    points = points @ (rotate @ slant).T

    extent = (points.max(axis=0) - points.min(axis=0)).max()
    wobble = smooth_wobble(points, rng, amplitude=rng.uniform(0.0, 0.03) * extent)
    points = points + wobble

    def render(scale: float, offset: np.ndarray, width: float, size: int) -> np.ndarray:
        return render_points(points * scale + offset, width, (size, size))

    return on_canvas(points, render, rng, canvas, brush, legible)


def draw_strokes(
    strokes: list[np.ndarray], rng: np.random.Generator, canvas: int = CANVAS, brush: float | None = None
) -> np.ndarray:
    """A writer's own pen strokes ((K, 2) x, y each, y down, any units) drawn on the canvas as polylines.

    Only the size, place and brush are chosen (`on_canvas`, legibly): the
    writer's own slant, proportions and wobble are kept.
    """
    points = np.concatenate(strokes)

    def render(scale: float, offset: np.ndarray, width: float, size: int) -> np.ndarray:
        return render_strokes([stroke * scale + offset for stroke in strokes], width, (size, size))

    return on_canvas(points, render, rng, canvas, brush, legible=True)


# The page's thinnest brush (app.py's slider): a writer whose loops fill up draws no thinner than this.
THINNEST = 6.0
TRIES = 8


def on_canvas(
    points: np.ndarray,
    render,
    rng: np.random.Generator,
    canvas: int = CANVAS,
    brush: float | None = None,
    legible: bool = False,
) -> np.ndarray:
    """A digit drawn at a random size (longer side 35-85% of the canvas), place and brush (8-30 px).

    `points` are all the digit's ink points (for its size and place) and
    `render(scale, offset, width, size)` draws them, scaled by `scale` and
    moved by `offset`, with a brush `width` px wide on a `size`-px canvas.

    With `legible`, the drawing must keep the digit's shape as a reader sees
    it at 28×28: as many loops as the same strokes drawn with a thin pen. A
    brush too wide for the digit's size fills its loops (an 8 becomes a
    blob) or closes its openings (an open 4 becomes a 9); a writer who saw
    that would draw again, thinner or larger, and so does this: the brush
    narrows by a quarter (to the page's thinnest, 6 px, at least; a fixed
    `brush` stays), else the digit grows, until the loops match; if they
    never do, the first drawing stands. The random numbers drawn are the
    same either way.
    """
    low, high = points.min(axis=0), points.max(axis=0)
    extent = max(float((high - low).max()), 1e-6)
    width = rng.uniform(8, 30)
    if brush is not None:
        width = brush
    share = rng.uniform(0.35, 0.85)
    place = rng.uniform(0, 1, 2)

    def draw(share: float, width: float) -> np.ndarray:
        scale = share * canvas / extent
        margin = width / 2 + 1
        free = np.maximum(canvas - (high - low) * scale - 2 * margin, 0)
        return render(scale, margin - low * scale + place * free, width, canvas)

    drawing = draw(share, width)
    if not legible:
        return drawing
    reference, first = loops(thin_pen(points, render)), drawing
    for _ in range(TRIES):
        if loops(drawing) == reference:
            return drawing
        if brush is None and width > THINNEST:
            width = max(THINNEST, width * 0.75)
        elif share * 1.15 * canvas + width + 2 <= canvas:
            share *= 1.15
        else:
            break
        drawing = draw(share, width)
    return drawing if loops(drawing) == reference else first


def thin_pen(points: np.ndarray, render, side: int = 112) -> np.ndarray:
    """The same strokes with a thin pen (8% of the digit's size, as MNIST's), centred on a small canvas."""
    low, high = points.min(axis=0), points.max(axis=0)
    scale = 0.7 * side / max(float((high - low).max()), 1e-6)
    return render(scale, (side - (high - low) * scale) / 2 - low * scale, 0.08 * 0.7 * side, side)


def loops(drawing: np.ndarray) -> int:
    """The loops of a drawing as the network sees it: the holes of `to_mnist`'s 28×28 image at half ink."""
    image = to_mnist(drawing)
    return -1 if image is None else holes(image >= 0.5)


def smooth_wobble(points: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """A smooth random displacement of each point: the unsteadiness of a hand."""
    span = np.ptp(points, axis=0).max() or 1.0
    wobble = np.zeros_like(points)
    for axis in (0, 1):
        frequency = rng.uniform(0.5, 2.0, 2) / span
        phase = rng.uniform(0, 2 * np.pi, 2)
        wobble[:, axis] = np.sin(2 * np.pi * points @ frequency + phase[0]) * amplitude
    return wobble


def indices(n_test: int, count: int = COUNT, seed: int = SEED) -> np.ndarray:
    """Which MNIST test digits are redrawn (a seeded choice without repeats)."""
    return np.random.default_rng(seed).permutation(n_test)[:count]


def drawn_digits(
    x_test: np.ndarray,
    y_test: np.ndarray,
    count: int = COUNT,
    seed: int = SEED,
    start: int = 0,
    brush: float | None = None,
) -> Iterator[tuple[np.ndarray, int]]:
    """Yield (RGBA canvas, label) for drawings start … count-1; drawing i depends on (seed, i) only.

    `brush` draws them all with that brush width (px) instead of a random one.
    """
    chosen = indices(len(x_test), count, seed)
    for i in range(start, count):
        rng = np.random.default_rng([seed, i])
        label = int(y_test[chosen[i]])
        yield draw_digit(x_test[chosen[i]], rng, brush=brush, label=label), label
