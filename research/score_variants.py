"""Which residual separates best? ``python -m research.score_variants [EPOCHS] [DIGITS] [KAPPA]``.

An ablation on the one-class protocol (train dcgan on digit k of the bundled split, test on
all 2,000 test digits): AUROC (%) of the f-AnoGAN score and of its parts and neighbours,
computed from the same trained networks — pixel residual, discriminator-feature residual,
the discriminator, the latent norm ||E(x)||^2, and z-scored sums. Prints one line per digit
and the means; writes nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def variants(det, x_uint8: np.ndarray) -> dict[str, np.ndarray]:
    import keras
    import tensorflow as tf

    from ganmc.images.preprocess import to_model_input

    nets = det.networks_
    x = to_model_input(x_uint8)
    z = nets.encoder(x, training=False)
    rec = nets.generator(z, training=False)
    f_x, logit = nets.features(x, training=False)
    f_r, _ = nets.features(rec, training=False)
    pixel = tf.reduce_mean(tf.square(tf.reshape(x - rec, [len(x), -1])), 1).numpy()
    feature = tf.reduce_mean(tf.square(f_x - f_r), 1).numpy()
    first = keras.Model(nets.discriminator.inputs, nets.discriminator.get_layer("d_act0").output)
    feature0 = tf.reduce_mean(tf.square(tf.reshape(first(x) - first(rec), [len(x), -1])),
                              1).numpy()
    return {"fanogan": pixel + det.config.kappa * feature, "pixel": pixel, "feature": feature,
            "first-layer feature": feature0,
            "discriminator": -tf.reshape(logit, [-1]).numpy(),
            "-latent norm": -tf.reduce_sum(tf.square(z), 1).numpy(),
            "latent atypicality": np.abs(tf.reduce_sum(tf.square(z), 1).numpy() - z.shape[1])}


def _z(v: dict, ref: dict, name: str) -> np.ndarray:
    """Scores standardised by their mean and spread on normal reference images."""
    return (v[name] - ref[name].mean()) / (ref[name].std() + 1e-12)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("epochs", nargs="?", type=int, default=30, help="GAN and encoder epochs")
    p.add_argument("digits", nargs="?", default="0,1,2,3,4,5,6,7,8,9", help="e.g. 8,2")
    p.add_argument("kappa", nargs="?", type=float, default=None,
                   help="the score's kappa (default: the Detector's)")
    args = p.parse_args()
    epochs, kappa = args.epochs, args.kappa
    digits = [int(d) for d in args.digits.split(",")]

    from ganmc import Detector
    from ganmc.images.data import load_mnist
    from ganmc.thresholds.metrics import auroc

    table: dict[str, list[float]] = {}
    for k in digits:
        splits = load_mnist("bundled", (k,))
        t = time.perf_counter()
        det = Detector(digits=(k,), epochs=epochs, batch_size=64, mc_samples=0,
                       **({} if kappa is None else {"kappa": kappa}))
        det.fit(splits.x_train)
        v = variants(det, splits.x_test)
        ref = variants(det, splits.x_train[:200])  # normal training images, for z-scores
        v["fanogan + discriminator"] = (_z(v, ref, "fanogan") + _z(v, ref, "discriminator"))
        v["feature + discriminator"] = (_z(v, ref, "feature") + _z(v, ref, "discriminator"))
        for weight in (3, 10):
            v[f"kappa {weight}"] = v["pixel"] + weight * v["feature"]
        v["both feature layers"] = (_z(v, ref, "feature") + _z(v, ref, "first-layer feature"))
        normal = splits.test_is_normal
        row = {name: 100 * auroc(s[normal], s[~normal]) for name, s in v.items()}
        for name, a in row.items():
            table.setdefault(name, []).append(a)
        print(f"digit {k} ({time.perf_counter() - t:.0f} s): "
              + ", ".join(f"{n} {a:.1f}" for n, a in row.items()), flush=True)
    print("mean: " + ", ".join(f"{n} {np.mean(a):.1f}" for n, a in table.items()))


if __name__ == "__main__":
    main()
