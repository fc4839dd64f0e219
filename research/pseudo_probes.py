"""Other pseudo-anomalies in place of the jigsaw: ``python -m research.pseudo_probes KIND
DIGITS [--seed S] [--keep DIR]``.

A probe, not a product setting: it swaps :func:`ganmc.nets.gan.jigsaw` (the pseudo-anomalies D
learns to call fake under ``jigsaw_weight``) for another kind and trains the one-class loop's
networks (``thorough`` preset, ``jigsaw_weight=1``) on each digit, printing the loop's row
(``mahalanobis`` AUROC on the bundled split's test digits). Kinds:

- ``cutout``: a 12 x 12 square of the digit's middle 20 x 20 blanked (a digit with a part
  missing: an 8 with half a loop is a 3 or a 9);
- ``jigcut``: each image of the batch either the jigsaw's or ``cutout``'s, at even odds;
- ``wide``: G's own images from latent draws outside the ones it is trained on (z times a
  factor between ``WIDE``'s two), which G renders as distorted digits: the near misses of
  "seeds unused in fake training generate anomalies" (Mathematics 12(10), 1439, 2024), as
  negatives D learns beside the current fakes.

Writes nothing; the figures are quoted in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json

#: Side of the blanked square of ``cutout`` (pixels).
CUTOUT = 12
#: The range of the factor ``wide`` scales the latent draws by.
WIDE = (1.5, 3.0)


def cutout(images, seed_generator):
    """Each image (N, 28, 28, 1) with a ``CUTOUT``-pixel square blanked, somewhere inside its
    middle 20 x 20 pixels."""
    import keras
    import tensorflow as tf
    from keras import ops

    n = ops.shape(images)[0]
    r = keras.random.randint((n, 1, 1, 1), 4, 24 - CUTOUT + 1, seed=seed_generator)
    c = keras.random.randint((n, 1, 1, 1), 4, 24 - CUTOUT + 1, seed=seed_generator)
    i = tf.reshape(tf.range(28), (1, 28, 1, 1))
    j = tf.reshape(tf.range(28), (1, 1, 28, 1))
    m = tf.cast((i >= r) & (i < r + CUTOUT) & (j >= c) & (j < c + CUTOUT), images.dtype)
    return images * (1 - m) - m


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("kind", choices=("cutout", "jigcut", "wide"))
    p.add_argument("digits", help="e.g. 8,2")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", metavar="DIR",
                   help="save the networks (for python -m benchmarks.oneclass_scores)")
    args = p.parse_args()

    import keras
    import tensorflow as tf

    import ganmc.nets.gan as gan
    from benchmarks.oneclass import run_digit
    from ganmc.core.runtime import quiet_tensorflow

    quiet_tensorflow()
    jigsaw = gan.jigsaw

    def jigcut(images, seed_generator):
        pick = keras.random.randint((keras.ops.shape(images)[0], 1, 1, 1), 0, 2,
                                    seed=seed_generator)
        return tf.where(pick == 0, jigsaw(images, seed_generator),
                        cutout(images, seed_generator))

    trained = []  # the GAN being trained, for ``wide``'s generator
    init = gan.GAN.__init__

    def remember(self, *a, **kw):
        init(self, *a, **kw)
        trained[:] = [self]

    gan.GAN.__init__ = remember

    def wide(images, seed_generator):
        model = trained[0]
        n = keras.ops.shape(images)[0]
        z = keras.random.normal((n, model.latent_dim), seed=seed_generator)
        factor = keras.random.uniform((n, 1), *WIDE, seed=seed_generator)
        return keras.ops.stop_gradient(model.generator(z * factor, training=False))

    gan.jigsaw = {"cutout": cutout, "jigcut": jigcut, "wide": wide}[args.kind]
    for k in (int(d) for d in args.digits.split(",")):
        row = run_digit(k, {"preset": "thorough", "jigsaw_weight": 1}, args.seed, args.keep)
        print(json.dumps({"kind": args.kind, **row}), flush=True)


if __name__ == "__main__":
    main()
