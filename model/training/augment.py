"""Random, label-preserving distortions of MNIST digits, made fresh for every batch while training.

A network that has only seen MNIST's 60,000 digits reads MNIST well and
people's drawings less well: drawings are slanted, rotated, thicker or
thinner, wobblier. Showing the network a differently distorted copy of each
digit in every epoch teaches it that none of this changes the digit:

- rotation (±15°), shear (slant, ±0.3), scale (0.85-1.15 per axis) and a
  translation (±1.5 px), as one affine map;
- an elastic distortion (Simard et al., 2003): a smooth random displacement
  field, here random vectors on a 4×4 grid spread over the image by
  Gaussian bumps (a matrix product), up to about 3 px;
- stroke thickness: blended towards a 3×3 dilation (up to +2 px) or erosion.

All of it is TensorFlow ops on whole batches inside the `tf.data` pipeline,
so it runs on the fly beside training instead of storing a larger dataset.
The randomness is stateless: the same seed gives the same distortions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

SIDE = 28
CENTRE = (SIDE - 1) / 2.0


@dataclass(frozen=True)
class Distortion:
    rotation_degrees: float = 15.0
    shear: float = 0.3
    scale: tuple[float, float] = (0.85, 1.15)
    translate: float = 1.5
    elastic_pixels: float = 3.0
    elastic_grid: int = 4
    thicken: float = 1.0  # up to a full 3×3 dilation
    thin: float = 0.8  # up to 80% of the way to a 3×3 erosion (more erases thin strokes)


DEFAULT = Distortion()


def augment(images: tf.Tensor, seed: tf.Tensor, distortion: Distortion = DEFAULT) -> tf.Tensor:
    """Distort a batch of (B, 28, 28) float images in [0, 1]; `seed` is a shape-(2,) int tensor."""
    images = tf.convert_to_tensor(images, tf.float32)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=3)
    warped = warp(images, sampling_grid(tf.shape(images)[0], seeds[0], seeds[1], distortion))
    return change_thickness(warped, seeds[2], distortion)


def sampling_grid(batch: tf.Tensor, affine_seed, elastic_seed, d: Distortion) -> tf.Tensor:
    """For each output pixel of each image, the (row, col) to sample in the source: (B, 28, 28, 2)."""
    u = tf.random.stateless_uniform((batch, 6), affine_seed, -1.0, 1.0)
    angle = u[:, 0] * math.radians(d.rotation_degrees)
    shear = u[:, 1] * d.shear
    low, high = d.scale
    scale_y = low + (u[:, 2] + 1) / 2 * (high - low)
    scale_x = low + (u[:, 3] + 1) / 2 * (high - low)
    shift = u[:, 4:6] * d.translate

    # The map from output to source offsets, (row, col) → (row, col):
    # rotate · slant · unscale, where the slant moves columns in proportion
    # to the row, as italic handwriting does. (Sampling the source through
    # the inverse of a random distortion is itself a random distortion.)
    cos, sin = tf.cos(angle), tf.sin(angle)
    a = (cos - sin * shear) / scale_y
    b = -sin / scale_x
    c = (sin + cos * shear) / scale_y
    e = cos / scale_x

    # The elastic field: (B, 2, g, g) random control vectors spread smoothly
    # over 28×28 by one matrix on each side (a separable Gaussian).
    grid = tf.random.stateless_uniform((batch, 2, d.elastic_grid, d.elastic_grid), elastic_seed, -1.0, 1.0)
    spread = tf.constant(smooth_basis(d.elastic_grid))
    field = tf.matmul(tf.matmul(spread, grid), spread, transpose_b=True) * d.elastic_pixels

    per_image = lambda v: v[:, None, None]  # noqa: E731 - broadcast a (B,) value over the pixels
    rows, cols = _OFFSETS[None, :, None], _OFFSETS[None, None, :]
    src_rows = per_image(a) * rows + per_image(b) * cols + per_image(CENTRE - shift[:, 0]) + field[:, 0]
    src_cols = per_image(c) * rows + per_image(e) * cols + per_image(CENTRE - shift[:, 1]) + field[:, 1]
    return tf.stack([src_rows, src_cols], axis=-1)


_OFFSETS = np.arange(SIDE, dtype=np.float32) - CENTRE  # each pixel's offset from the centre


def smooth_basis(points: int) -> np.ndarray:
    """(28, points) weights that spread `points` evenly spaced control values smoothly over 28 pixels."""
    centres = np.linspace(0, SIDE - 1, points)
    width = (SIDE - 1) / (points - 1) * 0.7
    weights = np.exp(-0.5 * ((np.arange(SIDE)[:, None] - centres[None, :]) / width) ** 2)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def warp(images: tf.Tensor, grid: tf.Tensor) -> tf.Tensor:
    """Bilinear sampling of each image at its grid's (row, col) points; zero outside the image."""
    batch = tf.shape(images)[0]
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1]])  # a zero border to sample outside from
    flat = tf.reshape(padded, (batch, (SIDE + 2) ** 2))
    rows = tf.clip_by_value(grid[..., 0] + 1.0, 0.0, SIDE + 1.0)
    cols = tf.clip_by_value(grid[..., 1] + 1.0, 0.0, SIDE + 1.0)
    r0, c0 = tf.floor(rows), tf.floor(cols)
    fr, fc = rows - r0, cols - c0
    r0 = tf.cast(r0, tf.int32)
    c0 = tf.cast(c0, tf.int32)
    r1 = tf.minimum(r0 + 1, SIDE + 1)
    c1 = tf.minimum(c0 + 1, SIDE + 1)

    def at(r, c):
        index = tf.reshape(r * (SIDE + 2) + c, (batch, SIDE * SIDE))
        return tf.reshape(tf.gather(flat, index, batch_dims=1), (batch, SIDE, SIDE))

    top = at(r0, c0) * (1 - fc) + at(r0, c1) * fc
    bottom = at(r1, c0) * (1 - fc) + at(r1, c1) * fc
    return top * (1 - fr) + bottom * fr


def change_thickness(images: tf.Tensor, seed, d: Distortion) -> tf.Tensor:
    """Blend each image towards its dilation (t > 0) or erosion (t < 0), t random per image."""
    t = tf.random.stateless_uniform((tf.shape(images)[0], 1, 1), seed, -d.thin, d.thicken)
    thicker = images + tf.maximum(t, 0.0) * (spread_3x3(images, tf.maximum, 0.0) - images)
    return thicker + tf.minimum(t, 0.0) * (images - spread_3x3(images, tf.minimum, 1.0))


def spread_3x3(images: tf.Tensor, pick, outside: float) -> tf.Tensor:
    """The max (dilation) or min (erosion) over each pixel's 3×3 neighbourhood.

    Done as a 3-row then a 3-column pass over shifted slices: on the CPU this
    is faster than `max_pool2d` on one-channel images. `outside` pads the
    border with a value that never wins.
    """
    p = tf.pad(images, [[0, 0], [1, 1], [1, 1]], constant_values=outside)
    rows = pick(pick(p[:, :-2], p[:, 1:-1]), p[:, 2:])
    return pick(pick(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])
