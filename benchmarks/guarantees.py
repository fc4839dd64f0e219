"""Guarantees benchmark: ``python -m benchmarks.guarantees [--model DIR] [--quick]``.

On a model (the one at ``assets/model`` unless ``--model``), with the score and threshold
``auto`` picks for it at 5 % (whatever that score is), seeded:

1. **Drift alarm, false alarms**: the bundled digits' 2,000 test digits are scored once;
   1,000 streams of 500 of them in shuffled order go through the drift alarm
   (``Detector.drift_of``, delta = 1 %): the share that ever sets it off (Ville's inequality
   bounds it by delta).
2. **Drift alarm, detection**: streams of other images, each measured at the threshold (the
   share the verdicts flag: the promise is broken when it is 3x the nominal rate or more) and
   through the alarm (the image at which it goes off: median, 90th percentile, share of
   streams within 50 and within 10 images): other writers' digits (EMNIST, from
   ``/work/shared/data/handwriting-dev.npz``, put into the MNIST format as an upload is),
   test digits turned by 30-40 degrees, test digits with thickened strokes (a grey dilation
   over 4 x 4, 3 x 3 and 2 x 2 pixels before the MNIST framing), uniform noise,
   other writers' capital letters (without O, I, L, S and Z, which are written like 0, 1, 1,
   5 and 2) and drawn letters (``benchmarks.drawn``). Measuring only: nothing is trained on
   these.
3. **PAC threshold**: 2,000 calibration draws of the model's own size (and per digit, each
   digit's size) from the real normal scores (held-out and test digits pooled, taken as the
   population): the share of draws whose false-alarm rate on that population exceeds
   epsilon, for the PAC threshold and for the conformal one.
4. **Batch false discovery rate**: 1,000 batches of 300 test digits and 100 capital letters
   (as in 2.): Benjamini-Hochberg at q = 5 % (:func:`ganmc.app.service.guarantees`, as ``ganmc
   score --fdr`` judges a batch), against per-image verdicts at 5 %: the share of normal
   images among those flagged.
5. **Monte Carlo against real**: for each score with a stored simulation and held-out
   images, the two-sample Kolmogorov-Smirnov test and the false-alarm rate of the Monte Carlo
   threshold on the held-out real digits.

Prints the tables and writes the guarantees section of docs/benchmarks.md (and
``docs/benchmarks-guarantees.json``); ``--quick`` runs fewer streams and draws and writes
nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.common import DOC, machine, table, write_section

HANDWRITING = Path("/work/shared/data/handwriting-dev.npz")
#: Capitals written like digits (O, I, L, S, Z: like 0, 1, 1, 5, 2), left out of the letters.
DIGIT_LIKE = {"O", "I", "L", "S", "Z"}
#: How many images of each stream set are scored.
SET_SIZE = 2000


def _mnist_frame(images: np.ndarray) -> np.ndarray:
    """Images framed the EMNIST way (the character fills the square) put into the MNIST
    format as an upload is (:func:`ganmc.images.preprocess.to_mnist`)."""
    from ganmc.images.preprocess import to_mnist

    return np.stack([to_mnist(im) for im in images])


def rotated(x: np.ndarray, seed: int) -> np.ndarray:
    """Each digit turned by 30-40 degrees either way, then framed as an upload is."""
    from PIL import Image

    from ganmc.images.preprocess import to_mnist

    rng = np.random.default_rng(seed)
    out = []
    for im in x:
        angle = rng.uniform(30, 40) * rng.choice([-1, 1])
        turned = Image.fromarray(im).rotate(angle, resample=Image.BILINEAR, expand=True)
        out.append(to_mnist(np.asarray(turned)))
    return np.stack(out)


def thickened(x: np.ndarray, size: int = 3) -> np.ndarray:
    """Each digit's strokes thickened (a grey dilation over size x size pixels), then framed
    as an upload is."""
    from scipy import ndimage

    from ganmc.images.preprocess import to_mnist

    return np.stack([to_mnist(ndimage.grey_dilation(im, size=(size, size))) for im in x])


def stream_sets(x_test: np.ndarray, quick: bool) -> dict[str, np.ndarray]:
    """The image sets the alarm is measured on, by name (see the module's text)."""
    from benchmarks.drawn import drawn_letters

    rng = np.random.default_rng(0)
    n = 500 if quick else SET_SIZE
    sets: dict[str, np.ndarray] = {}
    if HANDWRITING.exists():
        z = np.load(HANDWRITING)
        digits = z["digits"][rng.choice(len(z["digits"]), n, replace=False)]
        sets["other writers' digits"] = _mnist_frame(digits)
        letters = [chr(ord("A") + int(k)) for k in z["capital_labels"]]
        keep = np.flatnonzero([c not in DIGIT_LIKE for c in letters])
        caps = z["capitals"][rng.choice(keep, n, replace=False)]
        sets["other writers' capitals (no O I L S Z)"] = _mnist_frame(caps)
    else:
        print(f"! {HANDWRITING} missing: the other writers' streams are left out")
    sets["test digits turned 30-40 degrees"] = rotated(x_test[:n], seed=1)
    for size in (4, 3, 2):
        sets[f"test digits, strokes thickened ({size}x{size})"] = thickened(x_test[:n], size)
    sets["uniform noise"] = rng.integers(0, 256, (min(n, 500), 28, 28)).astype(np.uint8)
    sets["drawn letters"] = drawn_letters(min(n, 500), seed=0)[0]
    return sets


def first_alarms(det, decision, verdicts: list, streams: int, length: int, seed: int
                 ) -> np.ndarray:
    """The image at which the alarm first goes off in each of ``streams`` shuffled streams
    of ``length`` of the verdicts (0: it never did)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(streams, int)
    for i in range(streams):
        order = rng.permutation(len(verdicts))[:length]
        alarm = det.drift_of([verdicts[j] for j in order], decision.scorer, decision.threshold)
        out[i] = alarm.alarm_at or 0
    return out


def pac_draws(population: np.ndarray, n: int, level, delta: float, draws: int, seed: int
              ) -> dict[str, float]:
    """Calibration draws of n scores from a population of real normal scores (with
    replacement): the share whose false-alarm rate on the population (strictly above the
    threshold) exceeds epsilon, for the PAC and the conformal thresholds."""
    from ganmc.thresholds.calibration import choose

    rng = np.random.default_rng(seed)
    population = np.sort(population)
    over = {"pac": 0, "holdout": 0}
    for _ in range(draws):
        cal = rng.choice(population, n, replace=True)
        for source in over:
            t = choose(source, level, holdout=cal, delta=delta).value
            rate = 1.0 - np.searchsorted(population, t, "right") / len(population)
            over[source] += rate > level.alpha
    return {k: v / draws for k, v in over.items()}


def _shown(path) -> str:
    """A model folder as the docs name it: relative to the repository when inside it."""
    from benchmarks.common import ROOT

    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", metavar="DIR", help="model folder (default: the shipped one)")
    p.add_argument("--quick", action="store_true",
                   help="fewer streams and draws; print only, write nothing")
    args = p.parse_args()

    from ganmc.app import service
    from ganmc.core.config import DEFAULT_DRIFT_DELTA, DEFAULT_PAC_DELTA
    from ganmc.images.data import load_mnist
    from ganmc.thresholds.decision import Choice, decide
    from ganmc.thresholds.distribution import Level
    from ganmc.thresholds.ranks import conformal_rank, pac_min_images, pac_rank

    start = time.perf_counter()
    level, delta, q = Level(0.05), DEFAULT_DRIFT_DELTA, 0.05
    det = service.load_model(args.model)
    decision = decide(det, Choice(level=level))
    print(f"model {det.path_}: score {decision.scorer}, {decision.threshold.source} threshold")
    x_test = load_mnist("bundled").x_test
    test = service.score(det, x_test, decision)
    r: dict = {"model": _shown(det.path_), "scorer": decision.scorer,
               "threshold": decision.threshold.source, "alpha": level.alpha,
               "drift_delta": delta, "machine": machine()}

    # 1. false alarms
    n_streams = 200 if args.quick else 1000
    fa = first_alarms(det, decision, test, n_streams, 500, seed=0)
    test_rate = float(np.mean([v.is_anomaly for v in test]))
    r["false_alarms"] = {"streams": n_streams, "length": 500, "test_digits": len(test),
                         "flagged_at_threshold": test_rate,
                         "share_alarmed": float(np.mean(fa > 0))}
    print(f"false alarms: {np.mean(fa > 0):.4f} of {n_streams} streams of 500 test digits "
          f"(flagged {test_rate:.3f})")

    # 2. detection
    sets = stream_sets(x_test, args.quick)
    r["detection"] = {}
    scored = {}
    for name, x in sets.items():
        v = service.score(det, x, decision)
        scored[name] = v
        rate = float(np.mean([u.is_anomaly for u in v]))
        firsts = first_alarms(det, decision, v, 100 if args.quick else 300,
                              min(200, len(v)), seed=1)
        never = firsts == 0
        at = np.where(never, np.inf, firsts)
        r["detection"][name] = {
            "images": len(v), "flagged_at_threshold": rate, "times_nominal": rate / level.alpha,
            "streams": len(firsts), "length": min(200, len(v)),
            "median_alarm_at": float(np.quantile(at, 0.5, method="inverted_cdf")),
            "p90_alarm_at": float(np.quantile(at, 0.9, method="inverted_cdf")),
            "within_10": float(np.mean(at <= 10)), "within_50": float(np.mean(at <= 50)),
            "never": float(np.mean(never))}
        d = r["detection"][name]
        print(f"{name}: flagged {rate:.3f}, alarm median {d['median_alarm_at']}, 90 % "
              f"{d['p90_alarm_at']}, within 50 {d['within_50']:.2f}, within 10 "
              f"{d['within_10']:.2f}")

    # 3. PAC
    draws = 400 if args.quick else 2000
    pac_delta = DEFAULT_PAC_DELTA
    held = det.holdout_scores_[decision.scorer]
    population = np.concatenate([held, [v.score for v in test]])
    n_cal = len(held)
    r["pac"] = {"delta": pac_delta, "draws": draws, "n": n_cal,
                "rank": pac_rank(n_cal, level, pac_delta),
                "conformal_rank": conformal_rank(n_cal, level),
                "min_images": pac_min_images(level, pac_delta),
                "pooled": pac_draws(population, n_cal, level, pac_delta, draws, seed=2),
                "per_digit": {}}
    held_digits = det.holdout_digits_.get(decision.scorer)
    if held_digits is not None:
        digits = np.concatenate([held_digits, [v.digit for v in test]])
        for d in np.unique(held_digits):
            n_d = int(np.sum(held_digits == d))
            if n_d >= pac_min_images(level, pac_delta):
                r["pac"]["per_digit"][str(int(d))] = {
                    "n": n_d, **pac_draws(population[digits == d], n_d, level, pac_delta,
                                          draws, seed=3 + int(d))}
    print("PAC:", json.dumps(r["pac"]["pooled"]), "per digit max",
          max((v["pac"] for v in r["pac"]["per_digit"].values()), default=None))

    # 4. batch FDR, as `ganmc score --fdr` and the Detect page judge a batch
    letters = next((v for k, v in scored.items() if "capitals" in k),
                   scored["drawn letters"])
    rng = np.random.default_rng(4)
    batches = 200 if args.quick else 1000
    fdp, fdp_one, found, found_one = [], [], [], []
    for _ in range(batches):
        batch = ([test[i] for i in rng.choice(len(test), 300, replace=False)]
                 + [letters[i] for i in rng.choice(len(letters), 100, replace=False)])
        bh = service.guarantees(det, decision, batch, fdr=q).fdr.flagged
        one = np.array([v.is_anomaly for v in batch])
        for flags, shares, counts in ((bh, fdp, found), (one, fdp_one, found_one)):
            shares.append(flags[:300].sum() / max(flags.sum(), 1))
            counts.append((int(flags.sum()), int(flags[:300].sum())))
    r["fdr"] = {"q": q, "batches": batches, "normal": 300, "anomalies": 100,
                "anomaly_set": next((k for k in scored if "capitals" in k), "drawn letters"),
                "bh_fdr": float(np.mean(fdp)), "per_image_fdr": float(np.mean(fdp_one)),
                "bh_flagged_mean": float(np.mean([c[0] for c in found])),
                "bh_normal_flagged_mean": float(np.mean([c[1] for c in found])),
                "per_image_flagged_mean": float(np.mean([c[0] for c in found_one])),
                "per_image_normal_flagged_mean": float(np.mean([c[1] for c in found_one]))}
    print("FDR:", json.dumps(r["fdr"]))

    # 5. Monte Carlo against real
    r["monte_carlo"] = {}
    for name, run in det.monte_carlo_.items():
        reading = service.monte_carlo_against_real(det, run, level)
        if reading is not None:
            r["monte_carlo"][name] = reading.summary()
            print(f"{name}: {reading.words()}")
    r["seconds"] = time.perf_counter() - start
    print(f"{r['seconds']:.0f} s")
    if args.quick:
        return
    write_section("guarantees", report(r))
    DOC.with_name("benchmarks-guarantees.json").write_text(json.dumps(r, indent=2))
    print(f"wrote {DOC} (guarantees) and benchmarks-guarantees.json")


def report(r: dict) -> str:
    """The docs section."""
    a = r["alpha"]
    fa = r["false_alarms"]
    lines = [
        "## Guarantees: drift alarm, PAC threshold, batch FDR, Monte Carlo against real",
        "",
        f"`python -m benchmarks.guarantees` — {r['machine']}; model `{r['model']}`, score "
        f"`{r['scorer']}`, `{r['threshold']}` threshold at {100 * a:g} %, drift alarm at "
        f"delta = {r['drift_delta']:g} (it goes off at {1 / r['drift_delta']:,.0f} to 1).",
        "",
        "### Drift alarm",
        "",
        f"False alarms: **{100 * fa['share_alarmed']:.1f} %** of {fa['streams']:,} shuffled "
        f"streams of {fa['length']} of the {fa['test_digits']:,} bundled test digits ever set "
        f"it off (Ville's inequality: at most {100 * r['drift_delta']:g} %); the threshold "
        f"flags {100 * fa['flagged_at_threshold']:.2f} % of those digits.",
        "",
        "Detection, on shuffled streams of each set (the image at which the alarm first goes "
        "off; a stream that never sets it off counts as never):",
        "",
    ]
    rows = []
    for name, d in r["detection"].items():
        def at(v):
            return "never" if not np.isfinite(v) else f"{v:.0f}"
        rows.append([name, f"{100 * d['flagged_at_threshold']:.1f} %",
                     f"{d['times_nominal']:.1f}x", f"{d['streams']} x {d['length']}",
                     at(d["median_alarm_at"]), at(d["p90_alarm_at"]),
                     f"{100 * d['within_10']:.0f} %", f"{100 * d['within_50']:.0f} %",
                     f"{100 * d['never']:.0f} %"])
    lines += [table(["stream", "flagged at the threshold", "vs nominal", "streams x images",
                     "alarm at (median)", "90 % of streams by", "within 10", "within 50",
                     "never"], rows), ""]
    p = r["pac"]
    per = p["per_digit"]
    lines += [
        "### PAC threshold",
        "",
        f"n = {p['n']:,} held-out images, epsilon = {100 * a:g} %, delta = {p['delta']:g}: "
        f"rank **{p['rank']:,}** (the conformal rank is {p['conformal_rank']:,}); fewer than "
        f"{p['min_images']} images give no finite PAC threshold. Over {p['draws']:,} "
        f"calibration draws of {p['n']:,} from the real normal scores (held-out and test "
        f"digits pooled, the population the rate is measured on), the false-alarm rate "
        f"exceeds {100 * a:g} % in **{100 * p['pooled']['pac']:.1f} %** of the draws with "
        f"the PAC threshold (at most {100 * p['delta']:g} % promised) and in "
        f"{100 * p['pooled']['holdout']:.1f} % with the conformal one (whose promise is on "
        f"average)."
        + (f" Per digit (each digit's own size, {min(v['n'] for v in per.values())}-"
           f"{max(v['n'] for v in per.values())}): PAC "
           f"{100 * min(v['pac'] for v in per.values()):.1f}-"
           f"{100 * max(v['pac'] for v in per.values()):.1f} %, conformal "
           f"{100 * min(v['holdout'] for v in per.values()):.1f}-"
           f"{100 * max(v['holdout'] for v in per.values()):.1f} %." if per else ""),
        "",
    ]
    f = r["fdr"]
    lines += [
        "### Batch false discovery rate",
        "",
        f"{f['batches']:,} batches of {f['normal']} test digits and {f['anomalies']} "
        f"{f['anomaly_set']}: Benjamini-Hochberg at q = {100 * f['q']:g} % flagged "
        f"{f['bh_flagged_mean']:.1f} images a batch on average, {f['bh_normal_flagged_mean']:.1f} "
        f"of them normal: a false discovery rate of **{100 * f['bh_fdr']:.2f} %** (at most "
        f"{100 * f['q']:g} %). Per-image verdicts at {100 * a:g} % flagged "
        f"{f['per_image_flagged_mean']:.1f}, {f['per_image_normal_flagged_mean']:.1f} of them "
        f"normal ({100 * f['per_image_fdr']:.2f} %).",
        "",
        "### Monte Carlo against real",
        "",
    ]
    rows = [[name, f"{m['n_generated']:,}", f"{m['n_real']:,}", f"{m['statistic']:.3f}",
             f"{m['p_value']:.2g}",
             f"{100 * m['false_alarm_rate_on_holdout']:.2f} %"]
            for name, m in r["monte_carlo"].items()]
    lines += [table(["score", "generated", "held-out real", "KS D", "p-value",
                     f"held-out flagged at the {100 - 100 * a:g}th percentile"], rows), "",
              f"Took {r['seconds'] / 60:.1f} min."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
