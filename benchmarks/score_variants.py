"""Which residual separates best? ``python -m benchmarks.score_variants [EPOCHS] [DIGITS] [KAPPA]``.

An ablation on the one-class protocol (train dcgan on digit k of the bundled split, test on
all 2,000 test digits): AUROC (%) of the f-AnoGAN score and of its parts and neighbours,
computed from the same trained networks — pixel residual, discriminator-feature residual,
the discriminator, the latent norm ||E(x)||^2, and z-scored sums. Prints one line per digit
and the means; writes nothing.
"""

from __future__ import annotations

import sys
import time

import keras
import numpy as np
import tensorflow as tf

from ganmc import Detector
from ganmc.data import load_mnist
from ganmc.metrics import auroc
from ganmc.preprocess import to_model_input


def variants(det, x_uint8: np.ndarray) -> dict[str, np.ndarray]:
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
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    digits = [int(d) for d in (sys.argv[2] if len(sys.argv) > 2 else "0,1,2,3,4,5,6,7,8,9")
              .split(",")]
    kappa = float(sys.argv[3]) if len(sys.argv) > 3 else None  # None: the Detector's default
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
