"""to_mnist: MNIST's own normalisation applied to drawings of any size, place, colour and format."""

import numpy as np
import pytest

from model.reading.preprocess import CENTRE, ink_map, to_mnist
from tests.synthetic import STROKES, draw_on_canvas, synthetic_digits

ROWS = np.arange(28)


def centre_of_mass(image):
    mass = image.sum()
    return (image.sum(axis=1) @ ROWS) / mass, (image.sum(axis=0) @ ROWS) / mass


def ink_extent(image, level=0.3):
    rows = np.flatnonzero((image > level).any(axis=1))
    cols = np.flatnonzero((image > level).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def l2(a, b):
    return float(np.linalg.norm(a - b))


def test_output_format():
    out = to_mnist(draw_on_canvas(STROKES["seven"]))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() == pytest.approx(1.0, abs=0.02)
    assert out[0].max() == 0 and out[:, 0].max() == 0, "the border stays background, as in MNIST"


@pytest.mark.parametrize("name", ["seven", "one", "zero", "ell"])
@pytest.mark.parametrize("canvas, box", [((280, 280), (40, 40, 200)), ((600, 400), (400, 20, 120))])
def test_centre_of_mass_is_at_the_centre(name, canvas, box):
    out = to_mnist(draw_on_canvas(STROKES[name], canvas, box, width=box[2] // 10))
    cy, cx = centre_of_mass(out)
    assert abs(cy - CENTRE) < 0.1 and abs(cx - CENTRE) < 0.1
    # Within 0.5 px of the frame's centre, whether counted as 13.5 (geometric)
    # or 14 (where MNIST put its digits).
    for centre in (13.5, 14.0):
        assert abs(cy - centre) < 0.5 and abs(cx - centre) < 0.5


@pytest.mark.parametrize("name", ["seven", "zero", "ell"])
def test_longer_side_is_twenty_pixels(name):
    height, width = ink_extent(to_mnist(draw_on_canvas(STROKES[name], box=(30, 30, 220), width=22)))
    assert max(height, width) in (19, 20, 21)


def test_aspect_ratio_is_kept():
    # A "1" is tall and thin: it must stay so, not be stretched into a square.
    height, width = ink_extent(to_mnist(draw_on_canvas(STROKES["one"], box=(40, 40, 200), width=20)))
    assert height >= 19 and width <= 4
    # An L drawn twice as tall as wide keeps that ratio.
    height, width = ink_extent(to_mnist(draw_on_canvas(STROKES["ell"], box=(40, 40, 200), width=20)))
    assert 1.6 < height / width < 2.4


@pytest.mark.parametrize("name", ["seven", "zero"])
def test_size_and_place_do_not_matter(name):
    strokes = STROKES[name]
    large = to_mnist(draw_on_canvas(strokes, (280, 280), (30, 30, 220), width=22))
    small_in_corner = to_mnist(draw_on_canvas(strokes, (280, 280), (4, 200, 70), width=7))
    on_200 = to_mnist(draw_on_canvas(strokes, (200, 200), (10, 10, 150), width=15))
    on_600x400 = to_mnist(draw_on_canvas(strokes, (600, 400), (420, 40, 160), width=16))
    other_digit = to_mnist(draw_on_canvas(STROKES["one"], (280, 280), (30, 30, 220), width=22))
    for variant in (small_in_corner, on_200, on_600x400):
        assert l2(large, variant) < 1.5
    assert l2(large, other_digit) > 6.0, "the threshold above is meaningful: another digit is far"


@pytest.mark.parametrize(
    "ink, background",
    [
        ((0, 0, 0, 255), (0, 0, 0, 0)),  # the canvas's default: black on transparent
        ((255, 255, 255, 255), (0, 0, 0, 0)),  # white on transparent
        ((220, 30, 30, 255), (255, 255, 255, 0)),  # red on transparent white
        ((0, 0, 0, 255), (255, 255, 255, 255)),  # black on opaque white
        ((250, 240, 40, 255), (20, 20, 60, 255)),  # yellow on dark blue
        ((180, 180, 180, 255), (255, 255, 255, 255)),  # light grey on white
    ],
)
def test_any_colours_give_the_same_image(ink, background):
    reference = to_mnist(draw_on_canvas(STROKES["seven"]))
    out = to_mnist(draw_on_canvas(STROKES["seven"], ink=ink, background=background))
    assert l2(reference, out) < 0.5


def test_grayscale_mnist_polarity_and_rgba_agree():
    rgba = draw_on_canvas(STROKES["zero"], ink=(255, 255, 255, 255), background=(0, 0, 0, 255))
    gray = rgba[:, :, 0]  # light ink on a dark background, as MNIST stores digits
    assert l2(to_mnist(rgba), to_mnist(gray)) < 1e-6
    assert l2(to_mnist(gray), to_mnist(gray.astype(np.float32) / 255.0)) < 0.05


def test_an_mnist_format_digit_comes_back_nearly_unchanged():
    images, _ = synthetic_digits(20, seed=3)
    for image in images:
        # Only a sub-pixel shift onto CENTRE: far closer than another digit would be.
        assert l2(to_mnist(image), image / 255.0) < 2.0


def test_transparent_background_uses_alpha_as_ink():
    rgba = draw_on_canvas(STROKES["one"], ink=(0, 0, 0, 255))
    assert np.array_equal(ink_map(rgba), rgba[:, :, 3])


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((280, 280, 4), np.uint8),  # an empty canvas
        np.full((280, 280, 4), 255, np.uint8),  # an opaque white one
        np.zeros((28, 28), np.uint8),
    ],
)
def test_blank_images_are_no_digit(image):
    assert to_mnist(image) is None


def test_a_few_stray_pixels_are_not_a_digit():
    canvas = np.zeros((280, 280, 4), np.uint8)
    for y, x in [(10, 10), (100, 200), (250, 40), (140, 141), (141, 141)]:
        canvas[y, x] = (0, 0, 0, 255)
    assert to_mnist(canvas) is None
    # A tiny scribble in one spot is not a digit either.
    canvas[150:154, 150:156] = (0, 0, 0, 255)
    assert to_mnist(canvas) is None


def test_a_real_digit_is_a_digit():
    assert to_mnist(draw_on_canvas(STROKES["one"], box=(120, 100, 80), width=8)) is not None


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((280, 280, 2), np.uint8), "shape"),
        (np.zeros((280,), np.uint8), "shape"),
        (np.zeros((4, 4), np.uint8), "8 to 4096"),
        (np.zeros((10, 5000), np.uint8), "8 to 4096"),
        (np.full((28, 28), 2.0), "\\[0, 1\\]"),
        (np.full((28, 28), np.nan), "\\[0, 1\\]"),
        (np.zeros((28, 28), np.int64), "uint8"),
    ],
)
def test_bad_input_is_refused_with_a_message(bad, message):
    with pytest.raises(ValueError, match=message):
        to_mnist(bad)


def _png(size, mode="RGBA"):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format="PNG")
    return buffer.getvalue()


def test_read_png_takes_the_canvas_image():
    from model.reading.preprocess import read_png

    assert read_png(_png((280, 280)), 840).shape == (280, 280, 4)
    assert read_png(_png((280, 280), "L"), 840).shape == (280, 280, 4), "other modes are converted"


def test_read_png_refuses_a_huge_image_before_decoding_it():
    import tracemalloc

    from model.reading.preprocess import DrawingError, read_png

    huge = _png((9000, 9000), "1")  # a small message that would decode to 81 million pixels
    assert len(huge) < 1 << 20
    tracemalloc.start()
    with pytest.raises(DrawingError, match="9000×9000|far larger than the canvas"):  # ours, or Pillow's limit
        read_png(huge, 840)
    assert tracemalloc.get_traced_memory()[1] < 8 << 20
    tracemalloc.stop()


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_read_png_refuses_garbage_in_a_sentence(data):
    from model.reading.preprocess import DrawingError, read_png

    with pytest.raises(DrawingError):
        read_png(data, 840)


def test_read_png_refuses_other_formats():
    import io

    from PIL import Image

    from model.reading.preprocess import DrawingError, read_png

    buffer = io.BytesIO()
    Image.new("RGB", (280, 280)).save(buffer, format="GIF")
    with pytest.raises(DrawingError, match="PNG"):
        read_png(buffer.getvalue(), 840)
