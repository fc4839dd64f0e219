"""Probes for the hand-drawn letters (docs/benchmarks.md, "Tried and not kept"):

- ``python -m research.letters_probes rotation WEIGHT``: trains G and D on all ten bundled
  digits with the ``thorough`` preset and the rotation task at WEIGHT (no encoder), fits the
  per-digit Gaussians, and gives the letters' AUROC of ``mahalanobis``, of the rotation head's
  GeoTrans score, and of the two standardised (on the held-out normals, overall or per digit)
  and added;
- ``python -m research.letters_probes margin DIR``: on a saved model of several digits, the
  distance to the nearest digit's Gaussian against scores that also use the second nearest.

Each line: the AUROC of the drawn letters and of the drawn digits against the 2,000 unseen
test digits, and the share flagged at thresholds that are the 95th percentile of the
held-out normals of the digit each image is taken for. Prints only.
"""

from __future__ import annotations

import argparse

import numpy as np


def report(name: str, s: dict, near: dict) -> None:
    from ganmc.thresholds.metrics import auroc

    thr = np.array([np.quantile(s["held"][near["held"] == d], 0.95) for d in range(10)])
    flag = {k: float(np.mean(s[k] > thr[near[k]])) for k in ("test", "letters", "digits")}
    print(f"{name:24s} letters AUROC {auroc(s['test'], s['letters']):.4f}  drawn digits AUROC "
          f"{auroc(s['test'], s['digits']):.4f} | per-digit thresholds: letters "
          f"{flag['letters']:.3f} drawn digits {flag['digits']:.3f} test {flag['test']:.3f}",
          flush=True)


def sets(held: np.ndarray, x_test: np.ndarray) -> dict:
    from benchmarks.drawn import drawn_digits, drawn_letters

    return {"test": x_test, "held": held, "letters": drawn_letters(2000, seed=3)[0],
            "digits": drawn_digits(1000, seed=4)[0]}


def standardised(s: dict, near: dict | None = None) -> dict:
    """Each score in units of the held-out normals' spread (of the digit each is taken for
    when ``near`` is given)."""
    if near is None:
        return {k: (v - s["held"].mean()) / s["held"].std() for k, v in s.items()}
    out = {}
    for k, v in s.items():
        o = np.empty_like(v)
        for d in range(10):
            h, m = s["held"][near["held"] == d], near[k] == d
            o[m] = (v[m] - h.mean()) / (h.std() + 1e-9)
        out[k] = o
    return out


def rotation(weight: float) -> None:
    import time

    from benchmarks.oneclass import rotation_scores
    from ganmc.core.config import TrainConfig
    from ganmc.images.data import holdout_indices, load_mnist
    from ganmc.nets.density import features_of, fit_density
    from ganmc.nets.networks import Networks
    from ganmc.nets.train import fit_networks

    config = TrainConfig(preset="thorough", seed=0, encoder_steps=0, rotation_weight=weight)
    splits = load_mnist("bundled", tuple(range(10)))
    i_tr, i_h = holdout_indices(len(splits.x_train), config.calibration_fraction, config.seed)
    x, y = splits.x_train[i_tr], splits.y_train[i_tr]
    t = time.perf_counter()
    res = fit_networks(x, config)
    print("training s", round(time.perf_counter() - t, 1), flush=True)
    nets = Networks(res.generator, res.discriminator, None)
    g = fit_density(nets, x, config.feature_components, y, config.digit_shrinkage)
    data = sets(splits.x_train[i_h], splits.x_test)
    feats = {k: features_of(nets.features, v) for k, v in data.items()}
    maha = {k: np.asarray(g.distance(f)) for k, f in feats.items()}
    near = {k: np.asarray(g.nearest(f)) for k, f in feats.items()}
    report("mahalanobis", maha, near)
    if res.rotation_head is None:
        return
    rot = {k: rotation_scores(nets.features, res.rotation_head, v) for k, v in data.items()}
    report("rotation", rot, near)
    for name, by in (("overall", None), ("per digit", near)):
        a, b = standardised(maha, by), standardised(rot, by)
        report(f"both, standardised {name}", {k: a[k] + b[k] for k in data}, near)


def margin(folder: str) -> None:
    from ganmc import load_model
    from ganmc.images.data import holdout_indices, load_mnist
    from ganmc.nets.density import features_of

    det = load_model(folder)
    nets = det.networks_
    splits = load_mnist("bundled", tuple(range(10)))
    _, i_h = holdout_indices(len(splits.x_train), det.config.calibration_fraction,
                             det.config.seed)
    feats = {k: features_of(nets.features, v)
             for k, v in sets(splits.x_train[i_h], splits.x_test).items()}
    dist = {k: np.sort(np.asarray(nets.density.distances(f)), 1) for k, f in feats.items()}
    near = {k: np.asarray(nets.density.nearest(f)) for k, f in feats.items()}
    report("nearest", {k: d[:, 0] for k, d in dist.items()}, near)
    for lam in (0.25, 0.5, 1.0, 2.0):
        report(f"d1 - {lam} (d2 - d1)", {k: d[:, 0] - lam * (d[:, 1] - d[:, 0])
                                        for k, d in dist.items()}, near)
    report("d1 / d2", {k: d[:, 0] / d[:, 1] for k, d in dist.items()}, near)


def main() -> None:
    from ganmc.core.runtime import quiet_tensorflow

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="probe", required=True)
    sub.add_parser("rotation").add_argument("weight", type=float)
    sub.add_parser("margin").add_argument("folder")
    args = p.parse_args()
    quiet_tensorflow()
    if args.probe == "rotation":
        rotation(args.weight)
    else:
        margin(args.folder)


if __name__ == "__main__":
    main()
