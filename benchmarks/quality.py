"""Detection quality benchmark: ``python -m benchmarks.quality [--quick]``.

Measures, on the bundled digits' fixed split (8,000 train / 2,000 test), seeded:

1. Out-of-distribution: all ten digits normal (the shipped model, or ``--retrain``), test
   digits against Fashion-MNIST, uniform noise, inverted digits and random pen strokes:
   AUROC per scorer, and the false-alarm rate on the unseen test digits at alpha = 1, 5, 10 %
   for the hold-out (conformal) and the Monte Carlo thresholds.
2. The seed notebook's method on the same splits: the MLP GAN trained 1,000 steps, the
   discriminator's output as the score, the 5th percentile of generated images' scores.
3. The one-class protocol: for each digit k, train on k alone, test on every test digit
   (the other nine anomalous): AUROC per digit and the mean.

Prints the tables and writes them into docs/benchmarks.md (and JSON beside it).
Needs Fashion-MNIST: ``apt-get install -y dataset-fashion-mnist``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from benchmarks.common import (
    DOC,
    FASHION,
    machine,
    random_strokes,
    table,
    write_section,
)
from ganmc.thresholds.distribution import Level

ANCHORS = {"AnoGAN": 93.7, "Deep SVDD": 94.8, "OCGAN": 97.5, "GeoTrans": 98.0}
ALPHAS = (0.01, 0.05, 0.10)
#: Monte Carlo samples for scorers the model has no simulation of (``latent-search``: slow).
LATENT_MC_SAMPLES = 5000
#: The random-stroke images the default scorer finds most normal, as a picture.
STROKES_PNG = DOC.with_name("benchmarks-strokes.png")


def anomaly_sets(x_test: np.ndarray, n: int
                 ) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The anomaly sets by name; for the random strokes, how many strokes each image has and
    whether it is one straight stroke."""
    from ganmc.images.arrays import read_idx

    rng = np.random.default_rng(1)
    strokes, stroke_counts, straight = random_strokes(n, seed=2)
    sets = {"uniform noise": rng.integers(0, 256, (n, 28, 28)).astype(np.uint8),
            "inverted digits": 255 - x_test[:n],
            "random strokes": strokes}
    if FASHION.exists():
        sets = {"Fashion-MNIST": read_idx(FASHION)[:n], **sets}
    else:
        print(f"! {FASHION} missing: apt-get install -y dataset-fashion-mnist")
    return sets, (stroke_counts, straight)


def ood(det, splits, n: int, scorers: tuple[str, ...] | None = None) -> dict:
    from ganmc.thresholds.metrics import auroc

    normal = splits.x_test
    sets, (counts, straight) = anomaly_sets(normal, n)
    ones = splits.y_test == 1
    out = {"auroc": {}, "false_alarm": {}, "detection": {}, "strokes_by_count": {},
           "strokes_straight": {}, "images_per_s": {}}
    for scorer in scorers or det.scorers_:
        t = time.perf_counter()
        s_n = det.score_samples(normal, scorer=scorer)
        scores = {name: det.score_samples(x, scorer=scorer) for name, x in sets.items()}
        out["images_per_s"][scorer] = (len(normal) + n * len(sets)) / (time.perf_counter() - t)
        if scorer not in det.monte_carlo_:  # the slow latent search is not simulated at fit
            det.run_monte_carlo(LATENT_MC_SAMPLES, seed=0, scorer=scorer)
        out["auroc"][scorer] = {name: auroc(s_n, s) for name, s in scores.items()}
        out["strokes_by_count"][scorer] = {
            int(c): auroc(s_n, scores["random strokes"][counts == c]) for c in (1, 2, 3)}
        # One straight stroke is a "1": what if the scorer caught every other stroke and
        # scored these as it scores the real test 1s?
        f, ones_auroc = float(straight.mean()), auroc(s_n, s_n[ones])
        out["strokes_straight"][scorer] = {
            "fraction": f, "auroc": auroc(s_n, scores["random strokes"][straight]),
            "real_ones_auroc": ones_auroc, "ceiling": (1 - f) + f * ones_auroc}
        if scorer == det.scorer_:
            out["most_normal_strokes"] = np.argsort(scores["random strokes"])[:36].tolist()
        for source in ("holdout", "monte-carlo"):
            cal = det.calibration_of(scorer, source)
            key = f"{scorer}/{source}"
            out["false_alarm"][key] = {a: float(np.mean(cal.at(Level(a)).flags(s_n)))
                                       for a in ALPHAS}
            t5 = cal.at(Level(0.05))
            out["detection"][key] = {name: float(np.mean(t5.flags(s)))
                                     for name, s in scores.items()}
        if scorer in det.holdout_scores_:
            out.setdefault("resplits", {})[scorer] = conformal_resplits(
                det.holdout_scores_[scorer], s_n)
    return out


def drawn(det, splits, n: int) -> dict:
    """Hand-drawn letters and digits (:mod:`benchmarks.drawn`), printed letters, and the
    false-alarm rate of every digit, for each score and threshold source the model has.

    The per-digit rates are on the 2,000 unseen test digits (one split) and, as a second
    check, over 200 random re-splits of the calibration digits pooled with the test digits
    (Mondrian thresholds recomputed on each): the mean, and the worst digit's mean.
    """
    from benchmarks.drawn import drawn_digits, drawn_letters, photographs, printed_letters
    from ganmc.thresholds.metrics import auroc

    letters, which = drawn_letters(n, seed=3)
    digits, _ = drawn_digits(n // 2, seed=4)
    printed, _ = printed_letters(n // 4, seed=5)
    photos = photographs(n // 10, seed=6)
    normal, y = splits.x_test, splits.y_test
    d_test = det.predict_digit(normal)
    sets = (("letters", letters), ("digits", digits), ("printed", printed), ("photos", photos))
    d_sets = {k: det.predict_digit(x) for k, x in sets}
    out: dict = {"n": n, "auroc": {}, "by_letter": {}, "rates": {}, "resplits": {}}
    sources = [c for c in ("per-digit", "holdout") if c == "holdout" or d_test is not None]
    for scorer in det.scorers_:
        if scorer == "latent-search":
            continue
        s_n = det.score_samples(normal, scorer=scorer)
        s = {k: det.score_samples(x, scorer=scorer) for k, x in sets}
        out["auroc"][scorer] = {"drawn letters": auroc(s_n, s["letters"]),
                                "printed letters": auroc(s_n, s["printed"]),
                                "drawn digits": auroc(s_n, s["digits"])}
        out["by_letter"][scorer] = {k: auroc(s_n, s["letters"][which == k])
                                    for k in sorted(set(which))}
        for source in sources:
            cal = det.calibration_of(scorer, source, level=Level(0.05))
            flag = cal.flags(s_n, d_test)
            row = {"overall": float(flag.mean()),
                   **{str(d): float(flag[y == d].mean()) for d in det.config.digits}}
            for k in s:
                row[k] = float(np.mean(cal.flags(s[k], d_sets[k])))
            out["rates"][f"{scorer}/{source}"] = row
            if scorer in det.holdout_scores_ and scorer in det.holdout_digits_:
                out["resplits"][f"{scorer}/{source}"] = _digit_resplits(
                    det, scorer, source, s_n, d_test, y)
    return out


def _digit_resplits(det, scorer, source, s_test, d_test, y_test, reps: int = 200) -> dict:
    """Per-digit false-alarm rates over re-splits of calibration + test digits. The
    calibration digits' true labels are unknown to the model; their predicted digits are
    stored, and for the rate by true digit only the test part (labels known) is counted."""
    from ganmc.thresholds.calibration import choose

    cal_s, cal_d = det.holdout_scores_[scorer], det.holdout_digits_[scorer]
    pool_s = np.concatenate([cal_s, s_test])
    pool_d = np.concatenate([cal_d, d_test])
    pool_y = np.concatenate([np.full(len(cal_s), -1), y_test])
    rng = np.random.default_rng(7)
    rates = {d: [] for d in det.config.digits}
    overall = []
    for _ in range(reps):
        order = rng.permutation(len(pool_s))
        c, r = order[:len(cal_s)], order[len(cal_s):]
        cal = choose(source, Level(0.05), holdout=pool_s[c], holdout_digits=pool_d[c])
        flag = cal.flags(pool_s[r], pool_d[r])
        overall.append(float(flag.mean()))
        for d in rates:
            known = pool_y[r] == d
            if known.any():
                rates[d].append(float(flag[known].mean()))
    means = {str(d): float(np.mean(v)) for d, v in rates.items()}
    return {"overall": float(np.mean(overall)), **means}


def render_drawn(r: dict, det) -> str:
    sets = ["drawn letters", "printed letters", "drawn digits"]
    lines = ["## Hand-drawn letters and the false-alarm rate of each digit", "",
             f"`python -m benchmarks.quality --drawn-only` — {r['machine']}; "
             f"{r['seconds'] / 60:.1f} min. Model: `{det.path_.name}` "
             f"({', '.join(det.scorers_)}; auto → `{det.scorer_}`, threshold "
             f"{det.calibration_.source if det.calibration_ else '?'}). Sets made by "
             f"`benchmarks/drawn.py`: {r['n']:,} capital letters drawn as strokes with a round "
             f"brush on a 280 × 280 canvas in a random hand (slant, size, wobble, brush 12-22 "
             f"px) and put through `ganmc.images.preprocess`; {r['n'] // 2:,} digits drawn the "
             f"same way (normal); {r['n'] // 4:,} font-rendered letters (DejaVu Sans).", "",
             "AUROC against the 2,000 unseen test digits:", "",
             table(["scorer", *sets], [[s, *[v[k] for k in sets]]
                                       for s, v in r["auroc"].items()]), ""]
    digits = [str(d) for d in det.config.digits]
    rows = [[k, v["overall"], *[v[d] for d in digits], v["letters"], v["printed"], v["digits"],
             v.get("photos", float("nan"))] for k, v in r["rates"].items()]
    lines += ["At alpha = 5 %: the false-alarm rate on the unseen test digits (overall and by "
              "true digit), and the share flagged of the drawn letters, printed letters, "
              f"drawn digits and {r['n'] // 10:,} variants of the example photograph "
              "(`benchmarks.drawn.photographs`: cropped, turned, contrast, noise):", "",
              table(["scorer / threshold", "FAR", *digits, "drawn letters", "printed",
                     "drawn digits", "photos"], rows), ""]
    rows = [[k, v["overall"], *[v[d] for d in digits], min(v[d] for d in digits),
             max(v[d] for d in digits)] for k, v in r["resplits"].items()]
    lines += ["Second check, over 200 random re-splits of the calibration digits pooled with "
              "the test digits (thresholds recomputed on each; a digit's rate counted on the "
              "test digits that land outside the calibration part): mean false-alarm rate, "
              "overall and by digit. The `combined` rows keep the references of the model's "
              "own held-out digits on every re-split, so they check its thresholds, not its "
              "references (`tests/unit/test_combined.py` checks both together):", "",
              table(["scorer / threshold", "FAR", *digits, "lowest", "highest"], rows), ""]
    s = det.scorer_
    lines += [f"Drawn letters, AUROC of `{s}` by letter:", "",
              table(list(r["by_letter"][s]), [list(r["by_letter"][s].values())]), ""]
    return "\n".join(lines)


def conformal_resplits(cal: np.ndarray, test: np.ndarray, reps: int = 2000) -> dict:
    """The holdout threshold's false-alarm rate over random re-splits of the real normals.

    The conformal bound holds on average over calibration sets: with n calibration and 2,000
    test digits, 90 % of single splits land within about 1.6 * sqrt(alpha (1 - alpha)
    (1/n + 1/2000)) of alpha by chance alone. Pooling the model's calibration scores with the
    test digits' and re-drawing the same-sized calibration set ``reps`` times shows the
    distribution a single split is one draw from. Thresholds come from
    :func:`ganmc.thresholds.calibration.choose` (``holdout``).

    Args:
        cal: The model's hold-out (calibration) scores.
        test: The same scorer's scores of the unseen normal test digits.
    """
    from ganmc.thresholds.calibration import choose

    pool = np.concatenate([cal, test])
    rng = np.random.default_rng(0)
    rates = {a: [] for a in ALPHAS}
    for _ in range(reps):
        order = rng.permutation(len(pool))
        held, rest = pool[order[:len(cal)]], pool[order[len(cal):]]
        for a in ALPHAS:
            rates[a].append(float(np.mean(choose("holdout", Level(a), holdout=held)
                                          .flags(rest))))
    return {a: {"mean": float(np.mean(r)), "p5": float(np.percentile(r, 5)),
                "p95": float(np.percentile(r, 95))} for a, r in rates.items()}


def seed_method(splits, n: int, seed: int) -> dict:
    """The seed notebook: MLP GAN, 1,000 steps, D's output, 5th percentile of generated."""
    from ganmc import Detector
    from ganmc.thresholds.metrics import auroc

    batch = 128
    epochs = max(1, round(1000 / (len(splits.x_train) * 0.9 // batch)))
    det = Detector(arch="mlp", epochs=epochs, encoder_epochs=0, batch_size=batch, seed=seed,
                   mc_samples=10_000, calibration="monte-carlo", scorer="discriminator")
    det.fit(splits.x_train)
    sets, _ = anomaly_sets(splits.x_test, n)
    s_n = det.score_samples(splits.x_test)
    t = det.threshold_
    return {"epochs": epochs, "steps": epochs * int(len(splits.x_train) * 0.9 // batch),
            "auroc": {k: auroc(s_n, det.score_samples(x)) for k, x in sets.items()},
            "false_alarm_at_5pct": float(np.mean(s_n > t)),
            "detection_at_5pct": {k: float(np.mean(det.score_samples(x) > t))
                                  for k, x in sets.items()}}


def one_class(epochs: int, seed: int, digits: list[int]) -> dict:
    from ganmc import Detector
    from ganmc.images.data import load_mnist
    from ganmc.thresholds.metrics import auroc

    out: dict[str, dict[int, float]] = {}
    for k in digits:
        splits = load_mnist("bundled", (k,))
        t = time.perf_counter()
        det = Detector(arch="dcgan", digits=(k,), epochs=epochs, batch_size=64, seed=seed,
                       mc_samples=0).fit(splits.x_train)
        normal = splits.test_is_normal
        for scorer in det.scorers_:
            s = det.score_samples(splits.x_test, scorer=scorer)
            out.setdefault(scorer, {})[k] = auroc(s[normal], s[~normal])
        print(f"  digit {k}: " + ", ".join(f"{sc} {v[k]:.4f}" for sc, v in out.items())
              + f" ({time.perf_counter() - t:.0f} s)")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="model folder for the OOD part (default: the shipped one)")
    p.add_argument("--n", type=int, default=2000, help="images per anomaly set")
    p.add_argument("--one-class-epochs", type=int, default=400)
    p.add_argument("--digits", default="0-9", help="digits for the one-class protocol")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reuse-one-class", action="store_true",
                   help="take the one-class table from docs/benchmarks-quality.json instead of "
                        "retraining it (it does not depend on the shipped model)")
    p.add_argument("--quick", action="store_true", help="small smoke run; writes no docs")
    p.add_argument("--drawn-only", action="store_true",
                   help="only the hand-drawn letters and per-digit false alarms (minutes); "
                        "writes its own section")
    p.add_argument("--ood-only", metavar="SCORERS",
                   help="only the out-of-distribution figures of --model for these scorers "
                        "(comma-separated; e.g. mahalanobis,mahalanobis-strokes): AUROC by "
                        "set and random strokes by count; prints only")
    args = p.parse_args()
    if args.drawn_only:
        return drawn_only(args)
    if args.ood_only:
        return ood_only(args)

    from ganmc import load_model
    from ganmc.core.config import parse_digits
    from ganmc.core.runtime import quiet_tensorflow
    from ganmc.images.data import load_mnist

    quiet_tensorflow()
    n = 200 if args.quick else args.n
    digits = list(parse_digits(args.digits))[: 2 if args.quick else 10]
    epochs = 2 if args.quick else args.one_class_epochs
    results: dict = {"machine": machine(), "seed": args.seed, "n": n}

    splits = load_mnist("bundled")
    det = load_model(args.model)
    t = time.perf_counter()
    results["ood"] = ood(det, splits, n)
    results["ood_seconds"] = time.perf_counter() - t
    print(json.dumps(results["ood"]["auroc"], indent=1))

    t = time.perf_counter()
    results["seed_method"] = seed_method(splits, n, args.seed)
    results["seed_seconds"] = time.perf_counter() - t
    print("seed method", json.dumps(results["seed_method"], indent=1))

    if args.reuse_one_class:
        old = json.loads(DOC.with_name("benchmarks-quality.json").read_text())
        epochs = old.get("one_class_epochs", epochs)
        results["one_class"] = {sc: {int(k): v for k, v in per.items()}
                                for sc, per in old["one_class"].items()}
        results["one_class_seconds"] = old["one_class_seconds"]
        results["one_class_reused"] = True
        print(f"one-class table reused ({epochs} epochs)")
    else:
        t = time.perf_counter()
        results["one_class"] = one_class(epochs, args.seed, digits)
        results["one_class_seconds"] = time.perf_counter() - t
    results["one_class_epochs"] = epochs
    results["total_seconds"] = (results["ood_seconds"] + results["seed_seconds"]
                                + results["one_class_seconds"])
    text = render(results, det, epochs)
    print(text)
    if not args.quick:
        write_section("quality", text)
        save_strokes_picture(random_strokes(n, seed=2)[0], results["ood"]["most_normal_strokes"])
        DOC.with_name("benchmarks-quality.json").write_text(json.dumps(results, indent=2))
        print(f"wrote {DOC}")


def ood_only(args) -> None:
    from ganmc import load_model
    from ganmc.core.runtime import quiet_tensorflow
    from ganmc.images.data import load_mnist

    quiet_tensorflow()
    det = load_model(args.model)
    scorers = tuple(args.ood_only.split(","))
    r = ood(det, load_mnist("bundled"), args.n, scorers)
    for scorer in scorers:
        print(scorer, {k: round(v, 4) for k, v in r["auroc"][scorer].items()},
              "by strokes", {k: round(v, 4) for k, v in r["strokes_by_count"][scorer].items()})


def drawn_only(args) -> None:
    from ganmc import load_model
    from ganmc.core.runtime import quiet_tensorflow
    from ganmc.images.data import load_mnist

    quiet_tensorflow()
    t = time.perf_counter()
    det = load_model(args.model)
    r = {"machine": machine(), **drawn(det, load_mnist("bundled"), args.n)}
    r["seconds"] = time.perf_counter() - t
    text = render_drawn(r, det)
    print(text)
    if not args.quick:
        write_section("quality-drawn", text)
        DOC.with_name("benchmarks-drawn.json").write_text(json.dumps(r, indent=2))
        print(f"wrote {DOC}")


def save_strokes_picture(strokes: np.ndarray, order: list[int]) -> None:
    """Write the strokes at ``order`` (most normal first) as one picture, 12 a row."""
    from PIL import Image

    from ganmc.report.style import image_grid

    Image.fromarray(image_grid(strokes[order], cols=12)).save(STROKES_PNG)


def render(r: dict, det, epochs: int) -> str:
    ood_r, seed_r = r["ood"], r["seed_method"]
    sets = list(next(iter(ood_r["auroc"].values())))
    lines = ["## Detection quality", "",
             f"`python -m benchmarks.quality` — {r['machine']}; seed {r['seed']}; "
             f"{r['total_seconds'] / 60:.1f} min in all"
             + (" (the one-class part in an earlier run of the same code, reused with "
                "`--reuse-one-class`)" if r.get("one_class_reused") else "") + ".", "",
             "### Out of distribution (all ten digits normal)", "",
             f"Model: `{det.path_.name}` ({det.config.arch}, {det.config.epochs} epochs, "
             f"calibrated on {det.metadata_.get('n_calibration', '?'):,} held-out digits). "
             f"Normal: the 2,000 unseen bundled test digits; "
             f"{len(next(iter(ood_r['detection'].values())))} anomaly sets of "
             f"{r['n']:,} images each.", ""]
    rows = [[f"ganmc `{s}`", *[ood_r["auroc"][s][k] for k in sets]] for s in ood_r["auroc"]]
    rows.append([f"seed method (MLP, {seed_r['steps']} steps, discriminator)",
                 *[seed_r["auroc"][k] for k in sets]])
    lines += ["AUROC:", "", table(["scorer", *sets], rows), ""]
    if "images_per_s" in ood_r:
        lines += ["Scoring speed here: " + ", ".join(
            f"`{s}` {v:,.0f} images/s" for s, v in ood_r["images_per_s"].items())
            + f" (`latent-search`: {det.config.search_steps} Adam steps per image from E(x); "
              f"its Monte Carlo threshold from {LATENT_MC_SAMPLES:,} samples).", ""]
    straight = ood_r.get("strokes_straight", {})
    rows = [[f"ganmc `{s}`", *v.values(), *([straight[s]["auroc"], straight[s]["ceiling"]]
                                            if s in straight else [])]
            for s, v in ood_r["strokes_by_count"].items()]
    header = ["scorer", "1 stroke", "2 strokes", "3 strokes"]
    lines += ["Random strokes by the number of strokes in the image (AUROC; about a third "
              "each). One stroke of 2-5 points is often a fair \"1\" or \"7\"; "
              "three crossing strokes rarely look like a digit:", ""]
    if straight:
        f = next(iter(straight.values()))["fraction"]
        header += ["1 straight stroke", "ceiling"]
        lines += [f"One straight stroke (a polyline of two points, {f:.1%} of the set) is, in "
                  "MNIST format, a \"1\". *Ceiling*: the set's AUROC if a scorer caught "
                  "every other stroke perfectly and scored the straight ones as it scores the "
                  "real 1s among the test digits. The 36 strokes the default scorer finds "
                  f"most normal: [{STROKES_PNG.name}]({STROKES_PNG.name}).", ""]
    lines += [table(header, rows), ""]
    rows = [[k, *[v[a] for a in ALPHAS]] for k, v in ood_r["false_alarm"].items()]
    rows.append(["seed method / monte-carlo", "", seed_r["false_alarm_at_5pct"], ""])
    lines += ["False-alarm rate on the unseen normal test digits at nominal alpha:", "",
              table(["scorer / threshold", *[f"alpha {a:.0%}" for a in ALPHAS]], rows), ""]
    rows = [[f"{s}/holdout", *[f"{v[a]['mean']:.4f} ({v[a]['p5']:.4f}-{v[a]['p95']:.4f})"
                               for a in ALPHAS]]
            for s, v in ood_r.get("resplits", {}).items()]
    lines += ["The holdout threshold over 2,000 random re-splits of the same real normals "
              "(the model's calibration digits pooled with the test digits, a calibration set "
              "of the same size drawn anew each time): mean false-alarm rate, and the 5th-95th "
              "percentile range one split can land in. The conformal bound is on this mean; "
              "the table above is one such split.", "",
              table(["scorer / threshold", *[f"alpha {a:.0%}" for a in ALPHAS]], rows), ""]
    rows = [[k, *[v[s] for s in sets]] for k, v in ood_r["detection"].items()]
    rows.append(["seed method / monte-carlo", *[seed_r["detection_at_5pct"][s] for s in sets]])
    lines += ["Detection rate at alpha = 5 %:", "",
              table(["scorer / threshold", *sets], rows), ""]
    oc = r["one_class"]
    digits = sorted(next(iter(oc.values())))
    rows = [[f"ganmc `{s}`", *[100 * v[d] for d in digits], 100 * np.mean(list(v.values()))]
            for s, v in oc.items()]
    rows += [[name, *[""] * len(digits), value] for name, value in ANCHORS.items()]
    lines += ["### One-class protocol", "",
              f"Train on one digit (dcgan, {epochs} + {epochs} epochs, batch 64, ~720 images), "
              f"test on all 2,000 test digits; AUROC in %. Published means for reference "
              f"(their own splits and budgets).", "",
              table(["method", *map(str, digits), "mean"], rows), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
