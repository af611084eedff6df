"""Turn a drawing into the 28×28 image the network reads, the way MNIST made its digits.

MNIST's digits were not simply shrunk: each was cropped to its ink, scaled so
that its longer side is 20 px (aspect ratio kept, anti-aliased), and placed in
a 28×28 frame with its centre of mass at the centre. A network trained on them
expects exactly that, so a drawing must go through the same steps; resizing
the whole canvas instead gives a small, off-centre digit the network has never
seen (see BENCHMARKS.md for what that costs).

`to_mnist` accepts what the app and the tools have at hand:
- RGBA uint8 (H, W, 4), as `streamlit-drawable-canvas` returns it, with any
  ink colour on any background, transparent included (RGB (H, W, 3) too);
- grayscale (H, W), light ink on a dark background as in MNIST, uint8 0-255
  or float 0-1.
It returns None when there is no digit to read (an empty canvas, a few stray
pixels), so that the caller can say so instead of predicting on noise.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

FRAME = 28  # side of the image the network takes
BOX = 20  # MNIST scaled every digit so that its longer side is this many pixels
# Where the centre of mass goes, in pixel indices (row and column). MNIST
# shifted each digit by whole pixels to put it at pixel 14 (measured on the
# training set: mean 13.997, 14.006, spread ±0.29), while the frame's geometric
# centre is 13.5; 13.75 sits within a quarter pixel of both, well inside the
# spread the network was trained on.
CENTRE = 13.75
INK = 64  # a pixel this far (0-255) from the background counts as ink
MAX_SIDE = 4096  # larger inputs are refused rather than processed for seconds


class DrawingError(ValueError):
    """A drawing that cannot be read; the message says why in a sentence."""


def read_png(data: bytes, max_side: int, max_bytes: int = 2 << 20) -> np.ndarray:
    """A drawing sent as a PNG (the canvas's image) → RGBA uint8 (H, W, 4), checked before it is decoded.

    Pillow reads only the header when it opens an image, so the size is
    checked before a single pixel is decompressed: a small message that would
    unpack to a huge image is refused at no cost.
    """
    if len(data) > max_bytes:
        raise DrawingError(f"The drawing arrived as {len(data) >> 10} kB; a canvas image is far smaller.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                raise DrawingError("The drawing did not arrive as a PNG image.")
            width, height = image.size
            if not (8 <= width <= max_side and 8 <= height <= max_side):
                raise DrawingError(f"The drawing is {width}×{height} px; the canvas is at most {max_side} px a side.")
            return np.asarray(image if image.mode == "RGBA" else image.convert("RGBA"))
    except DrawingError:
        raise
    except Image.DecompressionBombError:  # refused by Pillow's own limit, from the header too
        raise DrawingError(f"The drawing is far larger than the canvas ({max_side} px a side at most).") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise DrawingError(f"The drawing could not be read ({type(error).__name__}).") from None


def ink_map(image: np.ndarray) -> np.ndarray:
    """Ink per pixel as uint8 (H, W): 0 where the background is, 255 for full ink.

    The background is the median colour of the image's border, so any ink
    colour on any background works. For a transparent background (the canvas's
    default) the alpha channel alone is the ink coverage, anti-aliasing included.
    """
    arr = _validated(image)
    if arr.ndim == 3 and arr.shape[2] == 4 and not _alpha_on_border(arr):
        return np.ascontiguousarray(arr[:, :, 3])  # the canvas's own case, without a median of the border
    if arr.ndim == 2:
        arr = arr[:, :, None]
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    background = np.median(border, axis=0)
    if arr.shape[2] == 4 and background[3] == 0:
        return np.ascontiguousarray(arr[:, :, 3])
    diff = np.abs(arr.astype(np.int16) - background.astype(np.int16)).max(axis=2)
    return diff.astype(np.uint8)


def _alpha_on_border(rgba: np.ndarray) -> bool:
    alpha = rgba[:, :, 3]
    return bool(alpha[0].any() or alpha[-1].any() or alpha[:, 0].any() or alpha[:, -1].any())


def to_mnist(image: np.ndarray) -> np.ndarray | None:
    """The drawing as MNIST would have stored it: (28, 28) float32 in [0, 1], ink bright.

    Steps, each for a reason:
    1. Find the ink (`ink_map`): canvases come in any colours, the network
       wants ink = 1 on background = 0.
    2. Stretch the contrast so the darkest ink is full intensity: a light
       colour must read the same as black.
    3. Crop to the ink's bounding box: where and how large the digit was drawn
       must not matter.
    4. Scale the crop so that its longer side is 20 px, keeping the aspect
       ratio, anti-aliased (grey edges, like MNIST's): a thin "1" stays thin
       instead of being stretched into a block.
    5. Place it in the 28×28 frame so that its centre of mass lands on the
       centre (sub-pixel, done in the same resampling as step 4, so the image
       is filtered once).
    Returns None when there is no digit: no ink, or only a few stray pixels (`_ink_box`).
    """
    ink = ink_map(image)
    box = _ink_box(ink)
    if box is None:
        return None
    top, bottom, left, right = box
    crop = ink[top:bottom, left:right]

    peak = int(crop.max())
    if peak < 255:
        crop = (crop.astype(np.float32) * (255.0 / peak)).astype(np.uint8)

    height, width = crop.shape
    scale = BOX / max(height, width)
    rows = crop.sum(axis=1, dtype=np.float64)
    cols = crop.sum(axis=0, dtype=np.float64)
    mass = rows.sum()
    # Centre of mass in continuous coordinates (pixel i spans [i, i + 1)).
    com_y = (rows @ np.arange(height)) / mass + 0.5
    com_x = (cols @ np.arange(width)) / mass + 0.5

    # The source window that maps onto the 28×28 frame: FRAME / scale pixels
    # wide, placed so that the centre of mass lands on CENTRE.
    span = FRAME / scale
    y0 = com_y - (CENTRE + 0.5) / scale
    x0 = com_x - (CENTRE + 0.5) / scale
    # Pad the crop so the window lies inside it (PIL samples only inside).
    pad_top = int(np.ceil(max(0.0, -y0))) + 1
    pad_left = int(np.ceil(max(0.0, -x0))) + 1
    pad_bottom = int(np.ceil(max(0.0, y0 + span - height))) + 1
    pad_right = int(np.ceil(max(0.0, x0 + span - width))) + 1
    padded = np.zeros((pad_top + height + pad_bottom, pad_left + width + pad_right), np.uint8)
    padded[pad_top : pad_top + height, pad_left : pad_left + width] = crop  # np.pad did this 3× slower
    window = (x0 + pad_left, y0 + pad_top, x0 + pad_left + span, y0 + pad_top + span)

    # Pillow's bicubic filter widens with the reduction (anti-aliased) and
    # weighs fractional positions exactly (its box filter snaps the window to
    # whole source pixels, moving the centre of mass by up to 0.1 px). It is
    # also sharper than bilinear: measured on drawings, the share of ink pixels
    # at full intensity is closer to MNIST's (BENCHMARKS.md, "What the network is given").
    small = Image.fromarray(padded).resize((FRAME, FRAME), Image.BICUBIC, box=window)
    return np.asarray(small, dtype=np.float32) / 255.0


def _ink_box(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the ink, or None when there is too little of it.

    "Too little" scales with the canvas: fewer inked pixels than 1/2500 of its
    area (31 on a 280×280 canvas, at least 4), or a mark whose longer side is
    under 3% of the canvas's, is a slip of the mouse, not a digit.
    """
    mask = ink >= INK
    count = int(np.count_nonzero(mask))
    height, width = ink.shape
    if count < max(4, height * width // 2500):
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if max(bottom - top, right - left) < 0.03 * max(height, width):
        return None
    return int(top), int(bottom), int(left), int(right)


def _validated(image: np.ndarray) -> np.ndarray:
    """The image as a uint8 array (H, W) or (H, W, 3|4), or a ValueError saying what is wrong."""
    arr = np.asarray(image)
    shape_ok = arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))
    if not shape_ok:
        raise ValueError(f"Expected a grayscale (H, W) or RGB/RGBA (H, W, 3|4) image, got shape {arr.shape}.")
    if min(arr.shape[:2]) < 8 or max(arr.shape[:2]) > MAX_SIDE:
        raise ValueError(f"Image of {arr.shape[1]}×{arr.shape[0]} px: each side must be 8 to {MAX_SIDE} px.")
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0:
            raise ValueError("A float image must hold finite values in [0, 1].")
        return np.rint(arr * 255.0).astype(np.uint8)
    raise ValueError(f"Pixels must be uint8 0-255 or float 0-1, got {arr.dtype}.")
