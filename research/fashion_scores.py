"""Other scores on Fashion-MNIST one-class: ``python -m research.fashion_scores --classes
6,2,0,4 [--steps 2000] [--set rotation_weight=1] [--preset thorough]``.

The search behind the choice of score for the user's own pictures (``benchmarks.fashion``
measures the product's). For each class k: G and D trained (no encoder) on the training
images of k less the hold-out share, as ``ganmc train --data train/k --framing whole`` would
(a 28 x 28 grey picture is its own whole-image framing), then the AUROC on the 10,000 test
images (the class's normal, the rest anomalous) of:

- ``mahalanobis`` and ``strokes 0.5`` (the product's ``mahalanobis`` and, as
  ``benchmarks.oneclass`` computes it, ``mahalanobis-strokes``), ``discriminator``;
- ``layer0`` / ``layer1``: a Gaussian over D's first (second) convolution, ``two layers`` /
  ``three layers``: them and ``mahalanobis`` standardised on the held-out images and added
  (Lee et al.'s feature ensemble); ``maha+disc`` the same with the discriminator;
- ``knn5`` / ``knn5 white``: the mean squared distance to the 5 nearest training images in
  D's features, raw or whitened in the Gaussian's axes; ``pixels`` / ``pixels knn5``: a
  Gaussian (256 axes) and the 5 nearest neighbours on the pixels themselves;
- with ``rotation_weight``: ``rotation`` (the GeoTrans score of D's rotation head) and
  ``maha+rot``.

Prints one JSON row a class; writes nothing.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

FASHION = "/usr/share/datasets/fashion-mnist/"


def _z(t: np.ndarray, h: np.ndarray) -> np.ndarray:
    return (t - h.mean()) / (h.std() + 1e-12)


def _knn(train: np.ndarray, test: np.ndarray, k: int = 5) -> np.ndarray:
    out, tn = [], (train ** 2).sum(1)
    for i in range(0, len(test), 1000):
        t = test[i:i + 1000]
        d = (t ** 2).sum(1)[:, None] + tn[None] - 2 * t @ train.T
        out.append(np.sort(np.maximum(d, 0), axis=1)[:, :k].mean(1))
    return np.concatenate(out)


def run(k: int, settings: dict) -> dict:
    import keras

    from benchmarks.oneclass import rotation_scores
    from ganmc.core.config import TrainConfig
    from ganmc.images.arrays import read_idx
    from ganmc.images.data import holdout_indices
    from ganmc.images.preprocess import to_model_input
    from ganmc.nets.density import FeatureGaussian, features_of, fit_density, stroke_length
    from ganmc.nets.networks import Networks
    from ganmc.nets.train import fit_networks
    from ganmc.thresholds.metrics import auroc

    xtr = read_idx(FASHION + "train-images-idx3-ubyte.gz")
    ytr = read_idx(FASHION + "train-labels-idx1-ubyte.gz")
    xte = read_idx(FASHION + "t10k-images-idx3-ubyte.gz")
    yte = read_idx(FASHION + "t10k-labels-idx1-ubyte.gz")
    cfg = TrainConfig(digits=(0,), seed=0, encoder_steps=0, **settings)
    x = xtr[ytr == k]
    i_tr, i_h = holdout_indices(len(x), cfg.calibration_fraction, cfg.seed)
    train, held = x[i_tr], x[i_h]
    start = time.perf_counter()
    res = fit_networks(train, cfg)
    seconds = time.perf_counter() - start
    nets = Networks(res.generator, res.discriminator, None)
    g = fit_density(nets, train, cfg.feature_components)
    normal = yte == k
    ft, fh = features_of(nets.features, xte), features_of(nets.features, held)
    m_t, m_h = np.asarray(g.distance(ft)), np.asarray(g.distance(fh))
    sc = {"mahalanobis": m_t}
    layers = [n for n in ("d_act0", "d_act1") if n != "d_act1" or cfg.arch == "dcgan-deep"]
    ensemble = _z(m_t, m_h)
    for i, name in enumerate(layers):
        model = keras.Model(nets.discriminator.inputs[0],
                            [nets.discriminator.get_layer(name).output,
                             nets.discriminator.outputs[0]])
        gl = FeatureGaussian.fit(features_of(model, train), cfg.feature_components)
        l_t = np.asarray(gl.distance(features_of(model, xte)))
        l_h = np.asarray(gl.distance(features_of(model, held)))
        sc[f"layer{i}"] = l_t
        ensemble = ensemble + _z(l_t, l_h)
        sc[("two", "three")[i] + " layers"] = ensemble
    lt = np.asarray(stroke_length(to_model_input(xte)), np.float64)
    lh = np.asarray(stroke_length(to_model_input(held)), np.float64)
    sc["strokes 0.5"] = _z(m_t, m_h) + 0.5 * np.maximum(0, -_z(lt, lh))

    def logit(a):
        return np.concatenate([np.asarray(nets.discriminator(to_model_input(a[i:i + 1024]),
                                                             training=False)).ravel()
                               for i in range(0, len(a), 1024)])

    d_t, d_h = -logit(xte), -logit(held)
    sc["discriminator"] = d_t
    sc["maha+disc"] = _z(m_t, m_h) + _z(d_t, d_h)
    f_tr = features_of(nets.features, train).reshape(len(train), -1).astype(np.float32)
    f_te = ft.reshape(len(ft), -1).astype(np.float32)
    sc["knn5"] = _knn(f_tr, f_te)

    def white(f):
        return (((f - g.mean) @ g.components.T) / np.sqrt(g.variances)).astype(np.float32)

    sc["knn5 white"] = _knn(white(f_tr), white(f_te))
    px_tr = train.reshape(len(train), -1).astype(np.float32) / 255
    px_te = xte.reshape(len(xte), -1).astype(np.float32) / 255
    sc["pixels"] = np.asarray(FeatureGaussian.fit(px_tr, 256).distance(px_te))
    sc["pixels knn5"] = _knn(px_tr, px_te)
    if res.rotation_head is not None:
        r_t = rotation_scores(nets.features, res.rotation_head, xte)
        r_h = rotation_scores(nets.features, res.rotation_head, held)
        sc["rotation"] = r_t
        sc["maha+rot"] = _z(m_t, m_h) + _z(r_t, r_h)
    return {"class": k, "settings": settings, "train_s": round(seconds, 1),
            "auroc": {n: round(float(auroc(s[normal], s[~normal])), 4) for n, s in sc.items()}}


def main() -> None:
    from benchmarks.oneclass import _value

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--classes", default="6,2,0,4", help="Fashion-MNIST classes, e.g. 6,2")
    p.add_argument("--preset", default="standard")
    p.add_argument("--steps", type=int, help="GAN steps (default: the preset's)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a TrainConfig setting, e.g. rotation_weight=1 (repeatable)")
    args = p.parse_args()
    settings = {"preset": args.preset, **({"steps": args.steps} if args.steps else {})}
    for item in args.set:
        name, _, value = item.partition("=")
        settings[name.strip()] = _value(value.strip())
    for k in (int(c) for c in args.classes.split(",")):
        print(json.dumps(run(k, settings)), flush=True)


if __name__ == "__main__":
    main()
