"""The drawn-digit benchmark's generator: deterministic, canvas-like, and what it claims to be."""

import numpy as np
import pytest
from scipy import ndimage

from bench.drawn_digits import CANVAS, drawn_digits, indices, skeleton_points, thin
from tests.synthetic import synthetic_digits


@pytest.fixture(scope="module")
def digits():
    return synthetic_digits(40, seed=11)  # MNIST-format stand-ins: the tests need no MNIST


def test_thinning_leaves_a_one_pixel_wide_connected_line():
    bar = np.zeros((40, 40), bool)
    bar[10:30, 15:22] = True  # a thick vertical bar
    skeleton = thin(bar)
    assert skeleton.any() and (skeleton <= bar).all()
    assert skeleton.sum(axis=1).max() == 1, "one pixel wide"
    assert ndimage.label(skeleton, structure=np.ones((3, 3)))[1] == 1, "still one piece"
    ring = np.zeros((40, 40), bool)
    yy, xx = np.mgrid[:40, :40]
    ring[(np.hypot(yy - 20, xx - 20) < 14) & (np.hypot(yy - 20, xx - 20) > 8)] = True
    assert ndimage.label(~thin(ring))[1] == 2, "a 0 keeps its hole"


def test_skeleton_points_lie_on_the_digit(digits):
    image = digits[0][0]
    points = skeleton_points(image)
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
