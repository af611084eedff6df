"""The drawn-digit benchmark's generator: deterministic, canvas-like, legible, and what it claims to be."""

import numpy as np
import pytest
from scipy import ndimage

from bench.drawn_digits import (
    CANVAS,
    THINNEST,
    drawn_digits,
    holes,
    indices,
    ink_shape,
    loops,
    on_canvas,
    open_blobs,
    prune_spurs,
    skeleton_points,
)
from testkit.canvas import render_points
from tests.synthetic import synthetic_digits


@pytest.fixture(scope="module")
def digits():
    return synthetic_digits(40, seed=11)  # MNIST-format stand-ins: the tests need no MNIST


def ring(side=28, outer=10.0, inner=6.0, centre=(14, 14)):
    yy, xx = np.mgrid[:side, :side]
    r = np.hypot(yy - centre[0], xx - centre[1])
    return (r < outer) & (r > inner)


def test_a_faint_thin_digit_keeps_every_stroke_and_its_loops():
    """The old cut at a fixed grey level erased faint strokes: a thin 8 became a few dots."""
    eight = np.zeros((28, 28), np.uint8)
    eight[ring(outer=5.5, inner=4.2, centre=(9, 14))] = 110  # faint: well under half of full ink
    eight[ring(outer=6.5, inner=5.2, centre=(19, 14))] = 110
    shape = ink_shape(eight)
    assert ndimage.label(shape, structure=np.ones((3, 3)))[1] == 1, "one connected stroke"
    assert holes(shape) == 2, "both loops"


def test_a_filled_loop_is_reopened_for_a_digit_that_has_one():
    """A 9 whose loop the pen filled: its skeleton must be a loop, not a stick."""
    nine = np.zeros((112, 112), bool)
    yy, xx = np.mgrid[:112, :112]
    nine[np.hypot(yy - 36, xx - 56) < 26] = True  # the filled head
    nine[36:100, 74:82] = True  # a thin stem
    assert holes(open_blobs(nine, 9)) == 1
    assert holes(open_blobs(nine, 1)) == 0, "a 1 has no loop to reopen"
    stem = np.zeros((112, 112), bool)
    stem[10:100, 50:60] = True
    assert (open_blobs(stem, 9) == stem).all(), "plain strokes are never punched"


def test_a_solid_blob_that_is_no_loop_stays_solid():
    """A bold 4 whose triangle the pen filled: its skeleton alone is a cross; the blob's core is kept as ink."""
    four = np.zeros((28, 28), np.uint8)
    rows, cols = np.mgrid[:28, :28]
    four[np.hypot(rows - 12, cols - 12) <= 5] = 255  # the filled part, 10 px across
    four[4:25, 16:18] = 255  # the stem, 2 px wide
    points = skeleton_points(four, label=7)  # a digit with no loop: nothing is punched
    drawn = np.zeros((28, 28), bool)
    drawn[points[:, 1].astype(int), points[:, 0].astype(int)] = True
    assert drawn[11:14, 11:14].all(), "the blob's middle is drawn, not just a line through it"
    assert not drawn[4:25, 18:].any(), "the thin stem is still a line"


def test_a_gap_the_smoothing_closed_is_opened_again():
    """An open 4 whose top nearly closes: at 28×28 it has no loop, and neither may its shape."""
    four = np.zeros((28, 28), np.uint8)
    four[5:17, 8:10] = 255  # the left stroke
    four[15:17, 8:22] = 255  # the bar
    four[4:25, 11:13] = 200  # the stem, one faint pixel from the left stroke
    four[4:6, 10] = 40
    assert holes(four >= 96) == 0
    assert holes(ink_shape(four)) == 0


def test_spurs_are_pruned_and_short_strokes_kept():
    skeleton = np.zeros((40, 40), bool)
    skeleton[5:35, 20] = True  # a stem
    skeleton[20, 21:24] = True  # a 3-px spur off it
    skeleton[5, 30:33] = True  # a short stroke of its own
    pruned = prune_spurs(skeleton, longest=6)
    assert pruned[5:35, 20].all() and not pruned[20, 22:24].any(), "the spur goes, up to where it meets the stem"
    assert pruned[5, 30:33].all()


def test_skeleton_keeps_a_loop_and_its_junction():
    six = np.zeros((28, 28), np.uint8)
    six[ring(outer=6, inner=3.5, centre=(18, 14))] = 255
    six[3:16, 8:10] = 255  # the stem, joining the loop
    points = skeleton_points(six, label=6)
    image = np.zeros((112, 112), bool)
    image[(points[:, 1] * 4).astype(int), (points[:, 0] * 4).astype(int)] = True
    assert ndimage.label(image, structure=np.ones((3, 3)))[1] == 1, "stem and loop in one piece"
    assert holes(image) == 1


def test_a_brush_too_wide_for_the_loops_is_narrowed():
    """Legible drawing: a small 0 with a thick brush would be a blob; the hand draws it thinner or larger."""
    t = np.linspace(0, 2 * np.pi, 200)
    zero = np.stack([10 + 1.2 * np.cos(t), 10 + 5 * np.sin(t)], axis=1)  # a narrow 0

    def render(scale, offset, width, size):
        return render_points(zero * scale + offset, width, (size, size))

    seeds = [np.random.default_rng(k) for k in range(20)]
    careless = [loops(on_canvas(zero, render, rng, brush=None, legible=False)) for rng in seeds]
    seeds = [np.random.default_rng(k) for k in range(20)]
    careful = [loops(on_canvas(zero, render, rng, brush=None, legible=True)) for rng in seeds]
    assert min(careless) == 0, "some random brushes fill the loop"
    assert careful == [1] * 20
    thick = on_canvas(zero, render, np.random.default_rng(0), brush=40, legible=True)
    assert loops(thick) == 1, "a fixed brush stays, the digit grows"
    assert THINNEST == 6


def test_skeleton_points_lie_on_the_digit(digits):
    image = digits[0][0]
    points = skeleton_points(image, label=int(digits[1][0]))
    assert len(points) > 20
    rows, cols = points[:, 1].astype(int), points[:, 0].astype(int)
    assert (ndimage.maximum_filter(image, 3)[rows, cols] > 0).all()


def test_same_seed_same_drawings_and_any_slice_alone(digits):
    x, y = digits
    first = list(drawn_digits(x, y, count=6, seed=5))
    again = list(drawn_digits(x, y, count=6, seed=5))
    for (a, la), (b, lb) in zip(first, again):
        np.testing.assert_array_equal(a, b)
        assert la == lb
    tail = list(drawn_digits(x, y, count=6, seed=5, start=4))
    np.testing.assert_array_equal(tail[0][0], first[4][0])
    other = next(drawn_digits(x, y, count=1, seed=6))[0]
    assert not np.array_equal(other, first[0][0])


def test_drawings_look_like_the_apps_canvas(digits):
    x, y = digits
    for canvas, label in drawn_digits(x, y, count=20, seed=1):
        assert canvas.shape == (CANVAS, CANVAS, 4) and canvas.dtype == np.uint8
        alpha = canvas[:, :, 3]
        ink = alpha > 0
        assert (canvas[:, :, :3][ink] == 0).all(), "black ink, as the page's brush"
        assert (alpha == 0).mean() > 0.5, "on a transparent background"
        assert ((alpha > 0) & (alpha < 255)).any() and (alpha == 255).any(), "anti-aliased edges, solid strokes"
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        longer = max(rows[-1] - rows[0], cols[-1] - cols[0])
        assert 0.3 * CANVAS <= longer <= 0.97 * CANVAS, "a digit 35-85% of the canvas (+ brush)"
        assert 0 <= label <= 9


def test_labels_follow_the_chosen_test_digits(digits):
    x, y = digits
    chosen = indices(len(x), 10, seed=3)
    assert len(set(chosen)) == 10 and chosen.max() < len(x)
    assert [label for _, label in drawn_digits(x, y, count=10, seed=3)] == [int(y[i]) for i in chosen]


def test_the_misread_picture_shows_each_drawing_in_its_place_with_a_caption(tmp_path):
    from PIL import Image

    from bench.accuracy import misread_picture

    images = np.zeros((12, 28, 28), np.float32)
    images[3, 10:18, 10:18] = 1.0
    path = tmp_path / "misread.png"
    misread_picture(str(path), images, np.arange(12) % 10, np.full(12, 7), columns=5)
    sheet = np.asarray(Image.open(path))
    width, height = 28 * 4, 28 * 4 + 14
    assert sheet.shape == (3 * height, 5 * width)
    tile = sheet[:height, 3 * width : 4 * width]
    assert tile[14 * 4, 14 * 4] == 255 and tile[2, 2] == 0, "drawing 3 in the fourth place of the first row"
    assert sheet[:height, :width][28 * 4 :].max() > 128, "a caption under the first drawing"
    assert sheet[2 * height :, 2 * width :].max() == 0, "nothing after the last drawing"
