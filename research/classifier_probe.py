"""Does a supervised digit classifier's feature space catch the drawn letters better?

``python -m research.classifier_probe [--epochs N] [--seed S]``

The Mahalanobis detector of Lee et al. (2018) on a small CNN classifier (conv 32 -> conv 64
-> dense 128 -> 10 logits) trained with labels on the bundled digits, against the product's
``combined`` score (letters AUROC 0.9445, 62.4 % caught, drawn digits flagged 10.1 %). A
seeded fifth of the bundled training digits is held out (the normals the thresholds come
from); the classifier and the Gaussians are fitted on the rest. Two classifiers are trained:
one plain, one with random shifts of up to 2 pixels. For each:

- ``max softmax``: minus the largest class probability (Hendrycks and Gimpel, 2017);
- ``energy``: minus the log-sum-exp of the logits (Liu et al., 2020);
- ``maha dense, shared cov``: the distance to the nearest class Gaussian over the 128-d
  penultimate features, class means with one shared covariance (Lee et al.);
- ``maha dense, shrink S``: each class's own covariance shrunk by S towards the shared one
  (S = 0.05 is the product's ``DEFAULT_DIGIT_SHRINKAGE``);
- ``maha conv1`` / ``maha conv2``: the shared-covariance Gaussian over the channel means of
  the earlier layers' activations;
- ``ensemble``: the three layers' distances, each standardised by the held-out normals' mean
  and spread (overall, or per digit taken for), added (Lee et al.'s feature ensemble, equal
  weights: no anomalies are seen to fit weights).

The digit an image is taken for (whose held-out normals' 95th percentile is its threshold) is
the nearest class Gaussian for the distances, the arg-max logit for the softmax and energy
scores, and the penultimate layer's nearest for the ensemble. Each line (``report`` of
``research.letters_probes``): the AUROC of the drawn letters and of the drawn digits against
the 2,000 unseen test digits, and the share of letters, drawn digits and test digits flagged.
Prints only; a few minutes on two CPU cores.
"""

from __future__ import annotations

import argparse

import numpy as np

#: Held-out share of the bundled training digits (the normals the thresholds come from).
HELD_FRACTION = 0.2
#: Each class's covariance shrunk by this much towards the shared one (1 = shared only).
SHRINKAGES = (1.0, 0.5, 0.05)


def build(augment: bool, seed: int):
    """The classifier (logits) and a model giving its [conv1 mean, conv2 mean, dense, logits]."""
    import keras
    from keras import layers

    inp = keras.Input((28, 28, 1))
    h = inp
    if augment:  # shifts of up to 2 px, the blank border filled with the background (-1)
        h = layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant", fill_value=-1.0,
                                     seed=seed)(h)
    c1 = layers.Conv2D(32, 3, activation="relu")(h)
    c2 = layers.Conv2D(64, 3, activation="relu")(layers.MaxPooling2D()(c1))
    flat = layers.Flatten()(layers.MaxPooling2D()(c2))
    dense = layers.Dense(128, activation="relu")(flat)
    logits = layers.Dense(10)(layers.Dropout(0.3, seed=seed)(dense))
    model = keras.Model(inp, logits)
    feats = keras.Model(inp, [layers.GlobalAveragePooling2D()(c1),
                              layers.GlobalAveragePooling2D()(c2), dense, logits])
    return model, feats


def train(x: np.ndarray, y: np.ndarray, augment: bool, epochs: int, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    model, feats = build(augment, seed)
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0, shuffle=True)
    return feats


def outputs(feats, x: np.ndarray) -> list[np.ndarray]:
    """[conv1 mean, conv2 mean, dense, logits] of float images, in batches."""
    parts = [feats(x[i:i + 1000], training=False) for i in range(0, len(x), 1000)]
    return [np.concatenate([np.asarray(p[j], np.float64) for p in parts]) for j in range(4)]


def probe(name: str, data: dict, labels: np.ndarray, x_tr: np.ndarray, y_tr: np.ndarray,
          augment: bool, epochs: int, seed: int) -> None:
    import time

    from ganmc.nets.density import FeatureGaussian
    from research.letters_probes import report, standardised

    t = time.perf_counter()
    feats = train(x_tr, y_tr, augment, epochs, seed)
    out = {k: outputs(feats, v) for k, v in data.items()}
    train_out = outputs(feats, x_tr)
    acc = float(np.mean(out["test"][3].argmax(1) == labels))
    print(f"\n== {name}: trained and read in {time.perf_counter() - t:.1f} s, test digits "
          f"accuracy {acc:.4f}", flush=True)

    logits = {k: o[3] for k, o in out.items()}
    arg = {k: v.argmax(1) for k, v in logits.items()}
    prob = {k: np.exp(v - v.max(1, keepdims=True)) for k, v in logits.items()}
    report("max softmax", {k: -(p.max(1) / p.sum(1)) for k, p in prob.items()}, arg)
    report("energy", {k: -(v.max(1) + np.log(np.exp(v - v.max(1, keepdims=True)).sum(1)))
                      for k, v in logits.items()}, arg)

    def gaussian(layer: int, shrinkage: float) -> tuple[dict, dict]:
        g = FeatureGaussian.fit(train_out[layer], 512, y_tr, shrinkage)
        d = {k: np.asarray(g.distances(o[layer].astype(np.float32)), np.float64)
             for k, o in out.items()}
        return ({k: v.min(1) for k, v in d.items()},
                {k: g.digits[v.argmin(1)] for k, v in d.items()})

    dense = {}
    for s in SHRINKAGES:
        dense[s] = gaussian(2, s)
        report("maha dense, " + ("shared cov" if s == 1.0 else f"shrink {s}"), *dense[s])
    layer = {"dense": dense[1.0]}
    for i, lname in ((0, "conv1"), (1, "conv2")):
        layer[lname] = gaussian(i, 1.0)
        report(f"maha {lname}, shared cov", *layer[lname])
    near = dense[1.0][1]
    for how, by in (("overall", False), ("per digit", True)):
        z = [standardised(s, n if by else None) for s, n in layer.values()]
        report(f"ensemble, std {how}", {k: sum(zi[k] for zi in z) for k in out}, near)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8, help="training epochs (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and training")
    args = p.parse_args()

    import time

    from ganmc.core.runtime import quiet_tensorflow

    quiet_tensorflow()
    from ganmc.images.data import holdout_indices, load_mnist
    from ganmc.images.preprocess import to_model_input
    from research.letters_probes import sets

    t = time.perf_counter()
    splits = load_mnist("bundled")
    i_tr, i_h = holdout_indices(len(splits.x_train), HELD_FRACTION, args.seed)
    x_tr, y_tr = to_model_input(splits.x_train[i_tr]), splits.y_train[i_tr].astype(np.int64)
    data = {k: to_model_input(v) for k, v in sets(splits.x_train[i_h], splits.x_test).items()}
    print(f"training {len(x_tr)}, held {len(i_h)}, test {len(splits.x_test)}, letters "
          f"{len(data['letters'])}, drawn digits {len(data['digits'])}", flush=True)
    for name, augment in (("plain", False), ("shifts <= 2 px", True)):
        probe(name, data, splits.y_test, x_tr, y_tr, augment, args.epochs, args.seed)
    print(f"\ntotal {time.perf_counter() - t:.1f} s", flush=True)


if __name__ == "__main__":
    main()
