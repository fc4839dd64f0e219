"""The shape network on its own: ``python -m research.shape_probe [--steps N] [--batch B]
[--convs 16,32,64] [--digit-like SHARE] [--printed-only] [--wobble W] [--weight X]
[--hand N] [--seed S]``.

Trains a shape network (:func:`ganmc.nets.networks.build_shape`'s layout, with the given
convolutions) as :class:`ganmc.nets.gan.GAN` trains it, but alone (no GAN beside it): 6,000 of the
bundled digits (the shipped model's split) in a random hand (:func:`ganmc.images.augment.style`)
against the outliers of :mod:`ganmc.images.outliers`, each step a batch of digits and one of
outliers. Then it scores the sets of ``python -m benchmarks.shape`` (quick sizes) by three
scores, each thresholded per digit at 5 % on the 2,000 held-out digits: ``margin`` (the
``shape`` score), ``distance`` (the per-digit Gaussian over its features,
``shape-distance``) and ``both`` (the larger of the two ranks, as ``combined`` takes them).

``--digit-like SHARE`` adds glyphs of characters written like digits (O, I, l, S, Z, b, g,
q, ...) rendered from the machine's fonts as that share of the outliers: the shipped
glyphs leave them out, and this measures why. ``--printed-only`` leaves out the pen-drawn
glyphs (:func:`ganmc.images.outliers.pen_drawn`), ``--wobble`` sets the hand's wobble
(:data:`ganmc.images.augment.WOBBLE`; 0: none), ``--weight`` the outliers' loss weight;
``--hand`` is how many of other writers' digits and capitals it measures (the first ones of
each). Figures in docs/benchmarks.md ("The shape network's size and budget", "Pen and
wobble").
"""

from __future__ import annotations

import argparse
import time

import numpy as np

DIGIT_LIKE = "OILSZolszbgqiΟοΙιЗзБбЧч|!()[]{}/\\"


def digit_like_glyphs() -> np.ndarray:
    from research.render_glyphs import fonts, render

    out = [im for p in fonts() for im in render(p, DIGIT_LIKE).values()]
    return np.stack(out)


def train(x, classes, outliers, convs, steps, batch, seed=0, weight=1.0):
    import keras
    import tensorflow as tf

    from ganmc.images.augment import style
    from ganmc.images.preprocess import to_model_input
    from ganmc.nets import networks

    keras.utils.set_random_seed(seed)
    net = networks.build_shape(int(classes.max()) + 1, convs=convs)
    opt = keras.optimizers.Adam(1e-3)
    sg = keras.random.SeedGenerator(seed)
    digits = (tf.data.Dataset.from_tensor_slices((to_model_input(x), classes.astype("int32")))
              .shuffle(len(x), seed=seed).repeat().batch(batch, drop_remainder=True))
    others = (tf.data.Dataset.from_tensor_slices(to_model_input(outliers))
              .shuffle(len(outliers), seed=seed + 1).repeat().batch(batch, drop_remainder=True))
    other = int(classes.max()) + 1

    @tf.function
    def step(xd, yd, xo):
        shown = tf.concat([style(xd, sg), style(xo, sg)], 0)
        with tf.GradientTape() as tape:
            _, logits = net(shown, training=True)
            loss = (tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                yd, logits[:batch], from_logits=True))
                + weight * tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                    tf.fill([batch], other), logits[batch:], from_logits=True)))
        grads = tape.gradient(loss, net.trainable_weights)
        opt.apply_gradients(zip(grads, net.trainable_weights))
        return loss

    for (xd, yd), xo in tf.data.Dataset.zip((digits, others)).take(steps):
        step(xd, yd, xo)
    return net


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2500)
    p.add_argument("--batch", type=int, default=64, help="digits and as many outliers a step")
    p.add_argument("--convs", default="16,32,64", help="the convolutions' filters")
    p.add_argument("--digit-like", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--printed-only", action="store_true",
                   help="the glyphs as printed only, none pen-drawn")
    p.add_argument("--wobble", type=float, default=None, help="the hand's wobble (pixels)")
    p.add_argument("--weight", type=float, default=1.0, help="the outliers' loss weight")
    p.add_argument("--hand", type=int, default=1000, help="other writers' images measured")
    args = p.parse_args()
    if args.wobble is not None:
        from ganmc.images import augment
        augment.WOBBLE = args.wobble

    from benchmarks.shape import HANDWRITING, sets_for
    from ganmc.images.data import holdout_indices, load_mnist
    from ganmc.images.outliers import training_outliers
    from ganmc.images.preprocess import to_model_input
    from ganmc.nets.density import FeatureGaussian, features_of
    from ganmc.scores.scoring import shape_margin
    from ganmc.thresholds import handwriting
    from ganmc.thresholds.calibration import choose
    from ganmc.thresholds.distribution import Level
    from ganmc.thresholds.metrics import auroc

    s = load_mnist("bundled")
    i_train, i_cal = holdout_indices(len(s.x_train), 0.25, 0)
    x, y, x_cal = s.x_train[i_train], s.y_train[i_train], s.x_train[i_cal]
    outliers = training_outliers(args.steps * args.batch, args.seed, pen=not args.printed_only)
    if args.digit_like:
        g = digit_like_glyphs()
        k = int(len(outliers) * args.digit_like / (1 - args.digit_like))
        outliers = np.concatenate([outliers, g[np.random.default_rng(5).integers(0, len(g), k)]])
    t = time.perf_counter()
    net = train(x, y, outliers, tuple(int(c) for c in args.convs.split(",")), args.steps,
                args.batch, args.seed, args.weight)
    seconds = time.perf_counter() - t
    gauss = FeatureGaussian.fit(features_of(net, x), net.outputs[0].shape[-1], y, 0.05)

    def scores(images):
        f, logits = net(to_model_input(images), training=False)
        return {"margin": shape_margin(logits).numpy(),
                "distance": gauss.distance(f).numpy()}, logits.numpy()[:, :-1].argmax(1)

    framed, _ = sets_for(True)
    sets = {k: x for k, (x, _) in framed.items()}
    hand = handwriting.read(HANDWRITING, args.hand)
    sets["other digits"] = handwriting.framed(hand["digits"])[0]
    sets["other capitals"] = handwriting.framed(hand["capitals"])[0]
    cal, cal_d = scores(x_cal)
    got = {k: scores(v) for k, v in sets.items()}
    ref = {k: np.sort(v) for k, v in cal.items()}

    def both(sc):
        return np.max([np.searchsorted(ref[k], sc[k], side="right") for k in ref], axis=0)

    cal["both"] = both(cal)
    for sc, _ in got.values():
        sc["both"] = both(sc)
    letter = np.asarray(list(handwriting.LETTERS))[hand["capital_labels"]]
    plain = ~np.isin(letter, list(handwriting.DIGIT_LIKE))
    print(f"convs {args.convs}, {args.steps} steps of {args.batch} + {args.batch}, "
          f"digit-like {args.digit_like:.0%}: trained in {seconds:.0f} s")
    for name in ("margin", "distance", "both"):
        rule = choose("per-digit", Level(0.05), holdout=cal[name], holdout_digits=cal_d)
        f = {k: rule.flags(sc[name], d) for k, (sc, d) in got.items()}
        sc = {k: v[0][name] for k, v in got.items()}
        print(f"{name:8s} MNIST test {f['mnist test'].mean():.1%}, other digits "
              f"{f['other digits'].mean():.1%}, capitals {f['other capitals'].mean():.1%} / "
              f"{f['other capitals'][plain].mean():.1%} without OILSZ (AUROC "
              f"{auroc(sc['other digits'], sc['other capitals'][plain]):.3f}, all "
              f"{auroc(sc['other digits'], sc['other capitals']):.3f}), canvas "
              f"capitals {f['canvas capitals'].mean():.1%}, canvas digits "
              f"{f['canvas digits'].mean():.1%}, photographs NORMAL "
              f"{int((~f['photographs']).sum())} of {len(f['photographs'])}")


if __name__ == "__main__":
    main()
