"""Other scores on networks the one-class loop kept: ``python -m benchmarks.oneclass_scores DIR
[--digits 8,2,3]``.

``python -m benchmarks.oneclass --keep DIR`` saves each digit's trained networks in
``DIR/digitK`` with their settings; this script loads D, rebuilds the split they were trained
on (the settings' seed and hold-out share) and gives the one-class AUROC (%) on the bundled
split's 2,000 test digits of scores that need no training:

- ``mahalanobis`` (the product's score: a Gaussian over D's features, 512 principal axes) and
  the same Gaussian with fewer or more axes (16, 64, 128, 1,024, 2,048 where D has as many);
- the layer below the features too (Lee et al.'s feature ensemble): both layers in one
  Gaussian (512 or 1,024 axes), or a Gaussian of its own added to ``mahalanobis`` (each
  standardised on the held-out normals);
- ``c clusters, shrink s``: a mixture, the training features cut into c k-means clusters (in
  the Gaussian's 64 leading whitened axes), a Gaussian per cluster with its covariance shrunk
  by s towards the pooled one, the distance to the nearest (for digits written in several
  styles);
- ``k-NN cosine k``: the mean cosine distance to the k nearest training images' features (the
  DN2 / PANDA score), and ``whitened k-NN k``: the squared distance to the k nearest in the
  Gaussian's whitened axes;
- ``shifted x5``: ``mahalanobis`` added over the image and its four one-pixel shifts;
- ``turn r``: a Gaussian over the features of the training images turned by r quarter turns,
  scoring the test images turned the same way; ``turns 0-3`` / ``turns 0,2``: those distances,
  each standardised on the held-out normals, added.

``--strokes`` gives instead the product's ``mahalanobis-strokes`` (``ganmc.nets.density``: the
Gaussian's stroke figures from out-of-fold distances of the training images, as training
fits them) beside ``mahalanobis``, at the default weight and at others, and the means over
the digits asked for, and for each of the two the AUROC against each other digit alone.

``--ensemble OTHER`` adds two networks' votes: ``DIR`` and another ``--keep`` folder trained
on the same images (another preset or seed), each network's ``mahalanobis-strokes`` distance
standardised by its own out-of-fold figures; the two averaged (or added) with the stroke
term once (``ensemble``, ``ensemble sum``), and the two plain distances added (``ensemble
mahalanobis``), beside each network alone (``DIR``, ``OTHER``).

Prints one line per digit; writes nothing (the figures are quoted in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def kmeans(x: np.ndarray, c: int, seed: int, rounds: int = 50) -> np.ndarray:
    """Lloyd's k-means of the rows of x into c clusters (k-means++ start): the labels."""
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(len(x))]]
    for _ in range(c - 1):
        d = np.min([((x - m) ** 2).sum(1) for m in centres], axis=0)
        centres.append(x[rng.choice(len(x), p=d / d.sum())])
    centres = np.stack(centres)
    for _ in range(rounds):
        labels = np.argmin(((x[:, None] - centres[None]) ** 2).sum(2), axis=1)
        centres = np.stack([x[labels == j].mean(0) if np.any(labels == j) else centres[j]
                            for j in range(c)])
    return labels


def scores_for(folder, k: int) -> dict[str, float]:
    import keras

    from benchmarks.oneclass import digit_split, standardised
    from ganmc.core.config import DEFAULT_FEATURE_COMPONENTS, TrainConfig
    from ganmc.nets.density import FeatureGaussian, features_of
    from ganmc.nets.networks import feature_model
    from ganmc.thresholds.metrics import auroc

    config = TrainConfig.from_dict(json.loads((folder / f"digit{k}" / "config.json").read_text()))
    splits, x, held = digit_split(k, config)
    test = splits.x_test
    feats = feature_model(keras.models.load_model(folder / f"digit{k}" / "discriminator.keras",
                                                  compile=False))
    normal = splits.test_is_normal
    f_train, f_test = features_of(feats, x), features_of(feats, test)
    out: dict[str, np.ndarray] = {}
    gauss = FeatureGaussian.fit(f_train, DEFAULT_FEATURE_COMPONENTS)
    out["mahalanobis"] = np.asarray(gauss.distance(f_test))
    for axes in (16, 64, 128, 1024, 2048):
        if axes <= f_train.shape[1]:
            out[f"{axes} axes"] = np.asarray(FeatureGaussian.fit(f_train, axes).distance(f_test))
    # the layer before the features too (Lee et al.'s feature ensemble, one layer down):
    # concatenated into one Gaussian, and as a Gaussian of its own added to the product's
    d = feats.inputs[0]
    layer_names = [layer.name for layer in feats.layers if layer.name.startswith("d_act")]
    below = keras.Model(d, [feats.get_layer(layer_names[-2]).output, feats.outputs[1]])
    b_train, b_test, b_held = (features_of(below, i) for i in (x, test, held))
    both_train = np.concatenate([f_train, b_train], axis=1)
    both_test = np.concatenate([f_test, b_test], axis=1)
    for axes in (512, 1024):
        out[f"{layer_names[-2]}+features, {axes} axes"] = np.asarray(
            FeatureGaussian.fit(both_train, axes).distance(both_test))
    g_below = FeatureGaussian.fit(b_train, DEFAULT_FEATURE_COMPONENTS)
    f_held = features_of(feats, held)
    out[f"{layer_names[-2]} + features, added"] = (
        standardised(out["mahalanobis"], np.asarray(gauss.distance(f_held)))
        + standardised(np.asarray(g_below.distance(b_test)),
                       np.asarray(g_below.distance(b_held))))

    def whiten(f):
        return (f - gauss.mean) @ gauss.components.T / np.sqrt(gauss.variances)

    w_train, w_test = whiten(f_train), whiten(f_test)
    # a mixture: the training features cut into c clusters (k-means in the Gaussian's leading
    # 64 whitened axes), a Gaussian per cluster shrunk towards the pooled one, the nearest
    for c in (2, 3, 5):
        labels = kmeans(w_train[:, :64], c, seed=config.seed)
        for shrink in (0.05, 0.5):
            out[f"{c} clusters, shrink {shrink}"] = np.asarray(FeatureGaussian.fit(
                f_train, DEFAULT_FEATURE_COMPONENTS, labels, shrink).distance(f_test))
    a = f_train / np.linalg.norm(f_train, axis=1, keepdims=True)
    b = f_test / np.linalg.norm(f_test, axis=1, keepdims=True)
    nearest = np.sort(b @ a.T, axis=1)
    for n in (1, 5, 20):
        out[f"k-NN cosine {n}"] = -nearest[:, -n:].mean(1)

    d2 = (w_test ** 2).sum(1)[:, None] + (w_train ** 2).sum(1)[None] - 2 * w_test @ w_train.T
    for n in (1, 5):
        out[f"whitened k-NN {n}"] = np.sort(d2, axis=1)[:, :n].mean(1)
    shifted = np.zeros(len(test))
    for dx, dy in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
        moved = np.roll(np.roll(test, dx, axis=2), dy, axis=1)
        shifted += np.asarray(gauss.distance(features_of(feats, moved)))
    out["shifted x5"] = shifted
    turns = {}
    for r in range(4):
        def turn(images, r=r):
            return np.ascontiguousarray(np.rot90(images, r, axes=(1, 2)))

        g = FeatureGaussian.fit(features_of(feats, turn(x)), DEFAULT_FEATURE_COMPONENTS)
        s, s_held = (np.asarray(g.distance(features_of(feats, turn(i)))) for i in (test, held))
        turns[r] = standardised(s, s_held)
        out[f"turn {r}"] = s
    out["turns 0-3"] = sum(turns.values())
    out["turns 0,2"] = turns[0] + turns[2]
    return {name: round(100 * auroc(s[normal], s[~normal]), 2) for name, s in out.items()}


#: Weights of the stroke-length correction ``--strokes`` tries besides the default.
STROKE_WEIGHTS = (0.25, 0.5, 0.75, 1.0)


def strokes_for(folder, k: int) -> dict[str, float]:
    """AUROC (%) of ``mahalanobis`` and the product's ``mahalanobis-strokes`` at each weight."""
    import keras

    from benchmarks.oneclass import digit_split
    from ganmc.core.config import TrainConfig
    from ganmc.images.preprocess import to_model_input
    from ganmc.nets.density import features_of, fit_density, stroke_length
    from ganmc.nets.networks import Networks
    from ganmc.scores.scoring import in_batches, score_graph
    from ganmc.thresholds.metrics import auroc

    config = TrainConfig.from_dict(json.loads((folder / f"digit{k}" / "config.json").read_text()))
    splits, x, _ = digit_split(k, config)
    nets = Networks(*(keras.models.load_model(folder / f"digit{k}" / f"{n}.keras",
                                              compile=False)
                      for n in ("generator", "discriminator")))
    nets.density = fit_density(nets, x, config.feature_components)
    test, normal = to_model_input(splits.x_test), splits.test_is_normal
    out = {name: in_batches(lambda b, name=name: score_graph(name, nets, b), test)
           for name in ("mahalanobis", "mahalanobis-strokes")}
    f_x = features_of(nets.features, x)
    f_test = features_of(nets.features, splits.x_test)
    lengths = np.asarray(stroke_length(to_model_input(x)))
    for w in STROKE_WEIGHTS:
        g = nets.density.with_strokes(f_x, lengths, config.feature_components, weight=w)
        out[f"strokes {w:g}"] = np.asarray(g.corrected(f_test, stroke_length(test)))
    result = {name: round(100 * auroc(s[normal], s[~normal]), 2) for name, s in out.items()}
    for name in ("mahalanobis", "mahalanobis-strokes"):  # which digits pass for k
        s = out[name]
        result[f"{name} by digit"] = {
            int(c): round(100 * auroc(s[normal], s[splits.y_test == c]), 1)
            for c in range(10) if c != k}
    return result


def _strokes_parts(folder, k: int):
    """A kept network's ``mahalanobis-strokes`` parts on the test digits: the standardised
    distance and the stroke term (before its weight), the split and the training images."""
    import keras

    from benchmarks.oneclass import digit_split
    from ganmc.core.config import TrainConfig
    from ganmc.images.preprocess import to_model_input
    from ganmc.nets.density import features_of, fit_density, stroke_length
    from ganmc.nets.networks import Networks

    config = TrainConfig.from_dict(json.loads((folder / f"digit{k}" / "config.json").read_text()))
    splits, x, _ = digit_split(k, config)
    nets = Networks(*(keras.models.load_model(folder / f"digit{k}" / f"{n}.keras",
                                              compile=False)
                      for n in ("generator", "discriminator")))
    g = fit_density(nets, x, config.feature_components)
    d = np.asarray(g.distance(features_of(nets.features, splits.x_test)), np.float64)
    mean_d, spread_d, mean_len, spread_len = g.strokes[0]
    lengths = np.asarray(stroke_length(to_model_input(splits.x_test)), np.float64)
    return ((d - mean_d) / spread_d, np.maximum(0.0, (mean_len - lengths) / spread_len),
            splits, x)


def ensemble_for(folder, other, k: int) -> dict[str, float]:
    """AUROC (%) of two kept networks' ``mahalanobis-strokes`` alone and together."""
    from ganmc.core.config import DEFAULT_STROKE_WEIGHT as w
    from ganmc.thresholds.metrics import auroc

    za, short, splits, x = _strokes_parts(folder, k)
    zb, short_b, _, x_b = _strokes_parts(other, k)
    if not np.array_equal(x, x_b):
        raise SystemExit(f"digit {k}: the two folders' networks were trained on other images")
    scores = {folder.name: za + w * short, other.name: zb + w * short_b,
              "ensemble": (za + zb) / 2 + w * short, "ensemble sum": za + zb + w * short,
              "ensemble mahalanobis": za + zb}
    normal = splits.test_is_normal
    return {name: round(100 * auroc(s[normal], s[~normal]), 2) for name, s in scores.items()}


def main() -> None:
    from pathlib import Path

    from ganmc.core.runtime import quiet_tensorflow

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="the --keep folder of benchmarks.oneclass")
    p.add_argument("--digits", default="8,2,3")
    p.add_argument("--strokes", action="store_true",
                   help="only mahalanobis and the product's mahalanobis-strokes")
    p.add_argument("--ensemble", type=Path, metavar="OTHER",
                   help="another --keep folder of networks trained on the same images: the "
                        "two networks' mahalanobis-strokes alone and together")
    args = p.parse_args()
    quiet_tensorflow()
    rows = {}
    for k in (int(d) for d in args.digits.split(",")):
        if args.ensemble:
            rows[k] = ensemble_for(args.folder, args.ensemble, k)
        else:
            rows[k] = (strokes_for if args.strokes else scores_for)(args.folder, k)
        print(f"digit {k}: {rows[k]}", flush=True)
    if args.strokes or args.ensemble:
        means = {name: round(float(np.mean([r[name] for r in rows.values()])), 2)
                 for name in next(iter(rows.values())) if "by digit" not in name}
        print(f"mean of {len(rows)}: {means}")


if __name__ == "__main__":
    main()
