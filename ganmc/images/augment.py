"""Style augmentation: the same shape in another hand.

Other people write the same digits at another slant, size, width and pen: measured on other
writers' digits (``python -m benchmarks.shape``), a model that learnt only the training
digits' style flagged a quarter of them. :func:`style` draws each image of a batch again in a
random hand: a small turn, a slant (shear), a change of size and of aspect, a shift of a
pixel or two, a wobble (a smooth random displacement of up to :data:`WOBBLE` pixels, an
elastic distortion: a hand is not an affine map) and, for some, a pen one pixel wider or
narrower (a 2 x 2 dilation or erosion). The shape network (:class:`ganmc.nets.gan.GAN`) sees
its digits and its outliers (:mod:`ganmc.images.outliers`) through it; the GAN itself sees
the digits as they are.
"""

from __future__ import annotations

import keras
import tensorflow as tf

#: The ranges of the random hand: turn (radians), slant (shear), log size, log aspect
#: (width against height), shift (pixels), and the share of images whose pen is made one
#: pixel wider and, as many, one pixel narrower.
TURN = 0.21
SLANT = 0.35
SIZE = (-0.12, 0.08)
ASPECT = 0.12
SHIFT = 1.5
PEN = 0.25
#: How far (pixels, at most, in each direction) a wobbling hand moves a point of the stroke:
#: a smooth random displacement over the image (an elastic distortion), 0 for none.
#: ``python -m research.shape_probe --wobble W`` compares reaches (docs/benchmarks.md, "Pen
#: and wobble").
WOBBLE = 2.0
#: The wobble's grid: a random displacement at each of these many points a side,
#: interpolated linearly in between.
WOBBLE_GRID = 4


def _interpolation(side: int, points: int) -> tf.Tensor:
    """(side, points) weights that interpolate values at ``points`` evenly spread points
    linearly over ``side`` pixels."""
    at = tf.linspace(0.0, float(points - 1), side)
    lo = tf.clip_by_value(tf.floor(at), 0.0, float(points - 2))
    frac = at - lo
    lo = tf.cast(lo, tf.int32)
    return (tf.one_hot(lo, points) * (1.0 - frac)[:, None]
            + tf.one_hot(lo + 1, points) * frac[:, None])


def _uniform(n, lo: float, hi: float, seed):
    return keras.random.uniform((n,), lo, hi, seed=seed)


def _warp(x: tf.Tensor, inverse: tf.Tensor, wobble: tf.Tensor | None = None) -> tf.Tensor:
    """Each image of ``x`` (N, 28, 28, 1) resampled bilinearly at the points the affine maps
    ``inverse`` (N, 6: a00, a01, b0, a10, a11, b1; output pixel -> input point) give, with
    background (0) outside. Gathers only, so XLA compiles it (TensorFlow's own
    ``ImageProjectiveTransform`` it does not)."""
    n = tf.shape(x)[0]
    side = x.shape[1]
    grid = tf.cast(tf.range(side), tf.float32)
    gy, gx = tf.meshgrid(grid, grid, indexing="ij")
    gx, gy = tf.reshape(gx, [1, -1]), tf.reshape(gy, [1, -1])
    a = [inverse[:, i:i + 1] for i in range(6)]
    sx = a[0] * gx + a[1] * gy + a[2]
    sy = a[3] * gx + a[4] * gy + a[5]
    if wobble is not None:  # (N, side * side, 2): a displacement of each output pixel
        sx, sy = sx + wobble[..., 0], sy + wobble[..., 1]
    x0, y0 = tf.floor(sx), tf.floor(sy)
    flat = tf.reshape(x, [-1])
    base = tf.reshape(tf.range(n) * side * side, [-1, 1])
    out = tf.zeros_like(sx)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        px, py = x0 + dx, y0 + dy
        weight = (1.0 - tf.abs(sx - px)) * (1.0 - tf.abs(sy - py))
        inside = (px >= 0) & (px <= side - 1) & (py >= 0) & (py <= side - 1)
        index = base + tf.cast(tf.clip_by_value(py, 0, side - 1) * side
                               + tf.clip_by_value(px, 0, side - 1), tf.int32)
        out += tf.where(inside, weight * tf.gather(flat, index), 0.0)
    return tf.reshape(out, [n, side, side, 1])


def style(images: tf.Tensor, seed: keras.random.SeedGenerator) -> tf.Tensor:
    """Each image of a batch (N, 28, 28, 1), ink in [-1, 1], drawn again in a random hand
    (the module's text); same shape and range."""
    x = (tf.cast(images, tf.float32) + 1.0) / 2.0  # background 0, so padding is background
    n = tf.shape(x)[0]
    turn = _uniform(n, -TURN, TURN, seed)
    slant = _uniform(n, -SLANT, SLANT, seed)
    size = tf.exp(_uniform(n, *SIZE, seed))
    aspect = tf.exp(_uniform(n, -ASPECT, ASPECT, seed))
    dx, dy = _uniform(n, -SHIFT, SHIFT, seed), _uniform(n, -SHIFT, SHIFT, seed)
    cos, sin = tf.cos(turn), tf.sin(turn)
    sx, sy = size * aspect, size / aspect
    # the forward map: turn x slant x scale; the transform op takes the inverse (output ->
    # input), about the image's centre
    a00, a01 = cos * sx, (cos * slant - sin) * sy
    a10, a11 = sin * sx, (sin * slant + cos) * sy
    det = a00 * a11 - a01 * a10
    i00, i01, i10, i11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    c = 13.5
    ox = c - (i00 * (c + dx) + i01 * (c + dy))
    oy = c - (i10 * (c + dx) + i11 * (c + dy))
    wobble = None
    if WOBBLE:
        side = x.shape[1]
        coarse = keras.random.uniform((n, WOBBLE_GRID, WOBBLE_GRID, 2), -WOBBLE, WOBBLE,
                                      seed=seed)
        m = _interpolation(side, WOBBLE_GRID)
        fine = tf.einsum("yi,nijc,xj->nyxc", m, coarse, m)
        wobble = tf.reshape(fine, [n, side * side, 2])
    y = _warp(x, tf.stack([i00, i01, ox, i10, i11, oy], axis=1), wobble)
    pen = keras.random.uniform((n, 1, 1, 1), seed=seed)
    wider = tf.nn.max_pool2d(y, 2, 1, "SAME")
    narrower = -tf.nn.max_pool2d(-y, 2, 1, "SAME")
    y = tf.where(pen < PEN, wider, tf.where(pen < 2 * PEN, narrower, y))
    return tf.cast(y * 2.0 - 1.0, images.dtype)
