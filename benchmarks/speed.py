"""Speed benchmark: ``python -m benchmarks.speed [--quick | --mc-only]``.

Side by side, in one run on one machine:

- training images/s of a plain seed-style loop (``train_on_batch`` + ``generator.predict``,
  written here for comparison) against ganmc's compiled training, for the seed's ``mlp``
  architecture, and ganmc's own figure for ``dcgan``;
- Monte Carlo samples/s: seed-style (``predict`` of G, then ``predict`` of D) against ganmc's
  fused, compiled generate-and-score in float32 and bfloat16, and how the bfloat16 threshold
  differs from the float32 one;
- peak resident memory of ``ganmc simulate`` at N = 10^5, 10^6, 10^7 (fresh processes);
- latency of one verdict (median and p95 over 200 single images, the shipped model);
- samples/s against batch size;
- Monte Carlo samples/s of the shipped model's default score (``auto``: ``combined`` for the
  shipped ten-digit model) in float32 and bfloat16, fused, against the same work
  unfused (``G.predict``, then the compiled per-image scorer that ``score_samples`` uses).

Every Monte Carlo row names its model and score on the terminal. ``--mc-only`` runs the Monte
Carlo rows alone (about ten minutes on a 2-core CPU; the mlp trains one epoch so its scores
mean something).

Prints the tables and writes the speed section of docs/benchmarks.md (and JSON beside it,
whose ``product`` figure ``tests/unit/test_benchmark_figures.py`` checks against
``ganmc.core.presets``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import DOC, machine, product_lines, table, write_section
from ganmc.thresholds.distribution import Level
from ganmc.thresholds.montecarlo import even_batch

BATCH = 128
#: Rounds of the mlp's Monte Carlo rows (seed-style, float32, bfloat16 in turn); each row is
#: the median of its rounds, and the ratios are of those medians.
ROUNDS = 5
#: Rounds of the shipped model's Monte Carlo rows (float32, bfloat16 and their ceilings).
SHIPPED_ROUNDS = 3
#: The level the threshold rows compare at.
P95 = Level.from_percentile(95)


def seed_style_training(x: np.ndarray, steps: int) -> float:
    """The seed notebook's loop: predict fakes, train D twice, train the stacked model."""
    import keras

    from ganmc.nets.networks import build_discriminator, build_generator

    g, d = build_generator("mlp", 100), build_discriminator("mlp")
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    d.trainable = False
    z_in = keras.Input((100,))
    stacked = keras.Model(z_in, d(g(z_in)))
    stacked.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), bce)
    ones, zeros = np.ones((BATCH, 1), np.float32), np.zeros((BATCH, 1), np.float32)
    rng = np.random.default_rng(0)
    stacked.train_on_batch(rng.normal(size=(BATCH, 100)).astype(np.float32), ones)
    d.trainable = True
    d.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), bce)

    def step() -> None:
        real = x[rng.integers(0, len(x), BATCH)]
        fake = g.predict(rng.normal(size=(BATCH, 100)).astype(np.float32), verbose=0)
        d.train_on_batch(real, ones)
        d.train_on_batch(fake, zeros)
        stacked.train_on_batch(rng.normal(size=(BATCH, 100)).astype(np.float32), ones)

    step()  # tracing
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * BATCH / (time.perf_counter() - t)


def ganmc_training(x_uint8: np.ndarray, arch: str, epochs: int) -> tuple[float, object]:
    from ganmc.core.config import TrainConfig
    from ganmc.nets.train import fit_networks

    result = fit_networks(x_uint8, TrainConfig(arch=arch, epochs=epochs, encoder_epochs=0,
                                               batch_size=BATCH, latent_dim=100 if arch == "mlp"
                                               else None))
    return result.images_per_s, result


def seed_style_simulation(g, d, n: int) -> float:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n, 100)).astype(np.float32)
    g.predict(z[:64], verbose=0)
    d.predict(np.zeros((64, 28, 28, 1), np.float32), verbose=0)
    t = time.perf_counter()
    -d.predict(g.predict(z, verbose=0), verbose=0)  # default batch size, as the seed did
    return n / (time.perf_counter() - t)


def ganmc_simulation(det, n: int, precision: str, batch: int, scorer: str):
    det.sample_scores(batch, 99, 0, scorer, precision)  # trace and warm up
    t = time.perf_counter()
    result = det.run_monte_carlo(n, seed=0, batch_size=batch, scorer=scorer,
                                 precision=precision)
    return n / (time.perf_counter() - t), result


def unfused_simulation(det, n: int, scorer: str) -> float:
    """The shipped model's score of n generated images in two steps, as a script using the
    public pieces would: ``G.predict`` (default batch size), then what
    ``Detector.score_samples`` does with the float images (the compiled per-image scorers,
    in slices of 1,024)."""
    g = det.networks_.generator
    z = np.random.default_rng(0).normal(size=(n, det.config.latent_dim)).astype(np.float32)

    def score(x):
        return det._inference.scores(x, scorer, det.combination_)

    score(g.predict(z[:64], verbose=0))
    t = time.perf_counter()
    score(g.predict(z, verbose=0))
    return n / (time.perf_counter() - t)


def shipped_monte_carlo(r: dict, quick: bool, gpu: bool) -> object:
    """The shipped model's default score: fused float32 and bfloat16 against unfused, and
    the ceiling of its products, in alternated rounds (medians, as the mlp's)."""
    from ganmc import load_model
    from ganmc.scores.scoring import default_batch_size

    shipped = load_model()
    name = shipped.scorer_
    density = shipped.networks_.density
    r["shipped_scorer"] = name
    r["shipped_model"] = (f"{shipped.path_}: {shipped.config.arch}, digits "
                          f"{''.join(map(str, shipped.config.digits))}, default score {name}"
                          + (" (per-digit Gaussians)" if density is not None
                             and density.per_digit else ""))
    print(f"Monte Carlo of the shipped model: {r['shipped_model']}")
    m = 5_000 if quick else 40_000
    batch = 65_536 if gpu else None
    r["mc_unfused_shipped_default"] = unfused_simulation(shipped, m // 4, name)
    ceiling = shipped.networks_.shape_density is not None
    rounds: dict[str, list[float]] = {}
    for _ in range(1 if quick else SHIPPED_ROUNDS):
        for prec in ("float32", "bfloat16"):
            rate, res = ganmc_simulation(shipped, m, prec, batch or default_batch_size(name),
                                         name)
            rounds.setdefault(prec, []).append(rate)
            r[f"shipped_threshold_{prec}"] = res.threshold(P95)
            span = res.distribution.max - res.distribution.min
            if ceiling:
                rounds.setdefault(f"ceiling_{prec}", []).append(shipped_ceiling(shipped, prec))
    r["mc_rounds_shipped"] = rounds
    for prec in ("float32", "bfloat16"):
        r[f"mc_ganmc_shipped_default_{prec}"] = float(np.median(rounds[prec]))
        if ceiling:
            r[f"mc_ceiling_shipped_{prec}"] = float(np.median(rounds[f"ceiling_{prec}"]))
    r["shipped_bf16_gap_of_range"] = abs(r["shipped_threshold_float32"] -
                                         r["shipped_threshold_bfloat16"]) / span
    return shipped


def matmul_ceiling(g, d, dtype: str, batch: int = 16_384, reps: int = 8,
                   draws: bool = False) -> float:
    """Samples/s of the MLP's matrix products alone (no bias, activation, cast or score).

    G's and D's dense kernels chained in one compiled function: the arithmetic every
    implementation of this architecture must do, at this CPU's oneDNN speed. It bounds what
    any Monte Carlo loop over the ``mlp`` can reach on this machine. ``draws`` adds what every
    Monte Carlo must also do: draw each sample's latent vector (TensorFlow's stateless
    normal, as ganmc's sampler draws it), a new batch each time.
    """
    import tensorflow as tf

    kernels = [tf.cast(layer.kernel, dtype) for model in (g, d) for layer in model.layers
               if hasattr(layer, "kernel")]
    width = kernels[0].shape[0]
    fixed = tf.cast(tf.random.stateless_normal((batch, width), (0, 0)), dtype)

    @tf.function
    def chain(seed):
        h = (tf.cast(tf.random.stateless_normal((batch, width), seed), dtype) if draws
             else fixed)
        for k in kernels:
            h = tf.matmul(h, k)
        return h

    chain(tf.constant([0, 0])).numpy()
    t = time.perf_counter()
    for i in range(reps):
        chain(tf.constant([1, i])).numpy()
    return reps * batch / (time.perf_counter() - t)


def product_layers(model) -> list[tuple[object, tuple[int, ...]]]:
    """A network's layers that multiply by a kernel (dense, convolution, transposed
    convolution), each with its input's shape less the batch."""
    return [(layer, tuple(layer.input.shape[1:])) for layer in model.layers
            if getattr(layer, "kernel", None) is not None]


def shipped_ceiling(det, dtype: str, batch: int = 4096, reps: int = 4) -> float:
    """Samples/s of the shipped model's default score's products alone: G's, D's and the
    shape network's dense and convolution kernels, and the shape Gaussian's projection and
    per-digit whitening, each on an input of its shape, in one compiled function; no bias,
    activation, normalisation, cast, random draw or score. The arithmetic a Monte Carlo
    sample of this model's ``combined`` score must do, at this CPU's oneDNN speed."""
    import keras
    import tensorflow as tf

    nets = det.networks_
    gauss = nets.shape_density
    kernels, inputs = [], []
    for model in (nets.generator, nets.discriminator, nets.shape):
        for layer, shape in product_layers(model):
            kernels.append((layer, tf.cast(layer.kernel, dtype)))
            inputs.append(tf.cast(tf.random.stateless_normal((batch, *shape), (0, 1)), dtype))
    matrices = [tf.constant(gauss.components, dtype),
                *(tf.constant(w, dtype) for w in gauss.whiteners)]
    features = tf.cast(tf.random.stateless_normal((batch, matrices[0].shape[1]), (0, 2)), dtype)

    @tf.function
    def products():
        total = []
        for (layer, k), h in zip(kernels, inputs):
            if isinstance(layer, keras.layers.Conv2DTranspose):
                out = (batch, *layer.output.shape[1:])
                y = tf.nn.conv2d_transpose(h, k, out, layer.strides, layer.padding.upper())
            elif isinstance(layer, keras.layers.Conv2D):
                y = tf.nn.conv2d(h, k, layer.strides, layer.padding.upper())
            else:
                y = tf.matmul(tf.reshape(h, (batch, -1)), k)
            total.append(tf.reduce_sum(tf.cast(y[:, :1], tf.float32)))
        for m in matrices:
            total.append(tf.reduce_sum(tf.cast(
                tf.matmul(features, m, transpose_b=True)[:, :1], tf.float32)))
        return tf.add_n(total)

    products().numpy()
    t = time.perf_counter()
    for _ in range(reps):
        products().numpy()
    return reps * batch / (time.perf_counter() - t)


def peak_rss(model: Path, n: int, scorer: str) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of `ganmc simulate` in a fresh process.

    The peak is the process's VmHWM: ``ru_maxrss`` would not do, since Linux carries it over
    from the (large) benchmark process through fork and exec.
    """
    code = ("import sys, time; from ganmc.cli import main; t = time.time(); "
            f"rc = main(['simulate', '--model', r'{model}', '--samples', '{n}', '--scorer', "
            f"'{scorer}']); hwm = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]; "
            "print('RSS', hwm, time.time() - t); sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=3600, env={"GANMC_OFFLINE": "1", **__import__("os").environ})
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("RSS"))
    _, kb, secs = line.split()
    return int(kb) / 1024, float(secs)


def verdict_latency(det, x: np.ndarray, n: int = 200) -> tuple[float, float]:
    times = []
    for i in range(n):
        img = x[i % len(x)][None]
        t = time.perf_counter()
        det.verdicts(img)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000), float(np.percentile(times, 95) * 1000)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small smoke run; writes no docs")
    p.add_argument("--max-rss-samples", type=int, default=10_000_000)
    p.add_argument("--gpu", action="store_true",
                   help="GPU run (benchmarks/gpu_check.sh): larger batches, writes no docs")
    p.add_argument("--json", metavar="FILE", help="also write the figures here")
    p.add_argument("--mc-only", action="store_true",
                   help="the Monte Carlo rows alone (about ten minutes on a 2-core CPU); "
                        "writes no docs")
    args = p.parse_args()

    from ganmc import Detector
    from ganmc.core.runtime import quiet_tensorflow
    from ganmc.images.data import load_mnist
    from ganmc.images.preprocess import to_model_input

    quiet_tensorflow()
    quick = args.quick
    r: dict = {"machine": machine()}
    splits = load_mnist("bundled")
    x = splits.x_train

    mc_only = args.mc_only
    if not mc_only:
        print("training ...")
        r["train_seed_mlp"] = seed_style_training(to_model_input(x), 40 if quick else 600)
    r["train_ganmc_mlp"], mlp_result = ganmc_training(x, "mlp", 1 if quick or mc_only else 10)
    if not mc_only:
        r["train_ganmc_dcgan"], _ = ganmc_training(x[:2048] if quick else x, "dcgan",
                                                   1 if quick else 2)
        print(json.dumps({k: round(v) for k, v in r.items() if k.startswith("train")}))

    print("Monte Carlo of the mlp (the seed's architecture), discriminator score ...")
    mlp = Detector(arch="mlp", latent_dim=100, epochs=1, encoder_epochs=0, mc_samples=0)
    from ganmc.nets.networks import Networks

    mlp._attach(Networks(mlp_result.generator, mlp_result.discriminator))
    n = 20_000 if quick else 200_000
    batch = 262_144 if args.gpu else 16_384
    r["mlp_run"] = (f"{n:,} samples in {-(-n // even_batch(n, batch))} batches of "
                    f"{even_batch(n, batch):,}")
    rounds: dict[str, list[float]] = {}
    results = {}
    for _ in range(1 if quick else ROUNDS):  # alternated: a change of load hits them all
        rounds.setdefault("seed", []).append(seed_style_simulation(
            mlp_result.generator, mlp_result.discriminator, n // 4))
        for prec in ("float32", "bfloat16"):
            rate, res = ganmc_simulation(mlp, n, prec, batch, "discriminator")
            rounds.setdefault(prec, []).append(rate)
            results[prec] = res
            for draws in (False, True):
                rounds.setdefault(f"{'drawn' if draws else 'ceiling'}_{prec}", []).append(
                    matmul_ceiling(mlp_result.generator, mlp_result.discriminator, prec,
                                   batch, draws=draws))
    r["mc_rounds_mlp"] = rounds
    r["mc_seed_mlp"] = float(np.median(rounds["seed"]))
    r["mc_ganmc_mlp_fp32"] = float(np.median(rounds["float32"]))
    r["mc_ganmc_mlp_bf16"] = float(np.median(rounds["bfloat16"]))
    for prec in ("float32", "bfloat16"):
        r[f"mc_ceiling_mlp_{prec}"] = float(np.median(rounds[f"ceiling_{prec}"]))
        r[f"mc_drawn_mlp_{prec}"] = float(np.median(rounds[f"drawn_{prec}"]))
    a, b = results["float32"], results["bfloat16"]
    span = a.distribution.max - a.distribution.min
    r["bf16_threshold_gap_of_range"] = abs(a.threshold(P95) - b.threshold(P95)) / span
    shipped = shipped_monte_carlo(r, quick, args.gpu)
    m = 5_000 if quick else 40_000
    print("Monte Carlo of the shipped model, fanogan score ...")
    for prec in ("float32", "bfloat16"):
        r[f"mc_ganmc_dcgan_fanogan_{prec}"], res = ganmc_simulation(
            shipped, m, prec, 65_536 if args.gpu else 8192, "fanogan")
        r[f"dcgan_threshold_{prec}"] = res.threshold(P95)
        span_d = res.distribution.max - res.distribution.min
    r["dcgan_bf16_gap_of_range"] = abs(r["dcgan_threshold_float32"] -
                                       r["dcgan_threshold_bfloat16"]) / span_d
    if mc_only:
        print(json.dumps({k: v for k, v in r.items() if k.startswith("mc")}, default=str))
        print(render_monte_carlo(r))
        if args.json:
            Path(args.json).write_text(json.dumps(r, indent=2, default=str))
        return
    r["batch_scaling"] = {}
    for bs in ([1024, 4096] if quick else [256, 1024, 4096, 16_384, 65_536]):
        r["batch_scaling"][bs] = {prec: ganmc_simulation(mlp, max(n // 2, 4 * bs), prec, bs,
                                                         "discriminator")[0]
                                  for prec in ("float32", "bfloat16")}
    print(json.dumps({k: v for k, v in r.items() if k.startswith("mc")}, default=round))

    print("latency ...")
    r["verdict_ms_median"], r["verdict_ms_p95"] = verdict_latency(shipped, splits.x_test)

    print("memory ...")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "mlp"
        mlp.metadata_ = {"data_source": "bundled"}
        mlp.save(model_dir)
        sizes = [10**5, 10**6] if quick else [10**5, 10**6, args.max_rss_samples]
        r["rss"] = {n_: peak_rss(model_dir, n_, "discriminator") for n_ in sizes}
    print(json.dumps(r["rss"]))
    r["product"] = {} if quick or args.gpu else product_figures(r)
    text = render(r)
    print(text)
    print(product_lines(r["product"]))
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=2, default=str))
    if not quick and not args.gpu:  # and not mc_only: that one returned above
        write_section("speed", text)
        DOC.with_name("benchmarks-speed.json").write_text(json.dumps(r, indent=2, default=str))
        print(f"wrote {DOC}")


def render_monte_carlo(r: dict) -> str:
    """The Monte Carlo table: the mlp against the seed-style loop, then the shipped model."""
    seed = r["mc_seed_mlp"]
    lines = ["### Monte Carlo (samples/s)", "",
             table(["what", "samples/s", "vs seed-style"], [
                 ["seed-style, mlp: `G.predict` then `D.predict`", r["mc_seed_mlp"], 1.0],
                 [f"ganmc, mlp, fused, float32 ({r['mlp_run']})", r["mc_ganmc_mlp_fp32"],
                  r["mc_ganmc_mlp_fp32"] / seed],
                 [f"ganmc, mlp, fused, bfloat16 ({r['mlp_run']})", r["mc_ganmc_mlp_bf16"],
                  r["mc_ganmc_mlp_bf16"] / seed],
                 *([f"ceiling: the mlp's matrix products alone, {prec}",
                    r[f"mc_ceiling_mlp_{prec}"], r[f"mc_ceiling_mlp_{prec}"] / seed]
                   for prec in ("float32", "bfloat16")),
                 *([f"ceiling: the mlp's matrix products and latent draws, {prec}",
                    r[f"mc_drawn_mlp_{prec}"], r[f"mc_drawn_mlp_{prec}"] / seed]
                   for prec in ("float32", "bfloat16")),
                 ["shipped model, default score, unfused: `G.predict`, then the per-image "
                  "scorer", r["mc_unfused_shipped_default"],
                  r["mc_unfused_shipped_default"] / seed],
                 ["shipped model, default score, fused, float32",
                  r["mc_ganmc_shipped_default_float32"],
                  r["mc_ganmc_shipped_default_float32"] / seed],
                 ["shipped model, default score, fused, bfloat16",
                  r["mc_ganmc_shipped_default_bfloat16"],
                  r["mc_ganmc_shipped_default_bfloat16"] / seed],
                 *([[f"ceiling: the shipped model's products alone, {prec}",
                     r[f"mc_ceiling_shipped_{prec}"], r[f"mc_ceiling_shipped_{prec}"] / seed]
                    for prec in ("float32", "bfloat16")]
                   if "mc_ceiling_shipped_float32" in r else []),
                 ["ganmc, dcgan + fanogan score, float32", r["mc_ganmc_dcgan_fanogan_float32"],
                  ""],
                 ["ganmc, dcgan + fanogan score, bfloat16", r["mc_ganmc_dcgan_fanogan_bfloat16"],
                  ""],
             ]), "",
             f"bfloat16 vs float32 threshold (95th percentile), as a share of the score range: "
             f"mlp {100 * r['bf16_threshold_gap_of_range']:.3f} %, dcgan/fanogan "
             f"{100 * r['dcgan_bf16_gap_of_range']:.3f} %.", "",
             f"Shipped model: {r['shipped_model']}; its bfloat16 threshold is "
             f"{100 * r['shipped_bf16_gap_of_range']:.3f} % of the score range from float32's.",
             "",
             round_ratios(r), "",
             ceiling_shares(r), "",
             "The ceiling rows time G's and D's dense kernels multiplied in a chain, nothing "
             "else: the arithmetic any implementation of the seed's MLP must do, at this CPU's "
             "oneDNN speed; no Monte Carlo loop over this architecture can beat them here. "
             "The rows with the latent draws add what every Monte Carlo must also do: draw "
             "each sample's 100 normal numbers (TensorFlow's stateless normal, as ganmc's "
             "sampler draws them). In bfloat16 the draws take about a tenth of the products' "
             "time, so a loop at 90 % of the products alone would have to do its biases, "
             "activations, scores and histogram in no time at all. The "
             "shipped model's rows do several times the mlp's arithmetic per sample (two "
             "transposed convolutions, two convolutions and the distance to ten Gaussians); "
             "their ratio column is against the same mlp seed-style loop. Their ceiling rows "
             "time the products alone in the same way: G's, D's and the shape network's dense "
             "and convolution kernels, each on an input of its shape, and the shape "
             "Gaussian's projection and per-digit whitening (batch 4,096)."]
    return "\n".join(lines)


def round_ratios(r: dict) -> str:
    """How the mlp rows' medians were taken, and each round's ratio to its own seed-style
    run (the spread says how much the machine's load moved them)."""
    rounds = r.get("mc_rounds_mlp")
    if not rounds:
        return ""
    spread = []
    for prec in ("float32", "bfloat16"):
        ratios = [f / s for f, s in zip(rounds[prec], rounds["seed"], strict=True)]
        spread.append(f"{prec} {min(ratios):.1f}-{max(ratios):.1f}x")
    shipped = r.get("mc_rounds_shipped", {}).get("float32", [])
    return (f"The mlp rows are medians of {len(rounds['seed'])} rounds, each running the "
            f"seed-style loop, float32 and bfloat16 and their ceilings in turn; each round's "
            f"own ratio: {', '.join(spread)}. The shipped model's fused rows and ceilings are "
            f"medians of {len(shipped)} rounds in the same way.")


def ceiling_shares(r: dict) -> str:
    """ganmc's Monte Carlo as a share of each ceiling, by precision."""
    parts = []
    for prec, key in (("float32", "fp32"), ("bfloat16", "bf16")):
        rate = r[f"mc_ganmc_mlp_{key}"]
        parts.append(f"mlp {prec} {rate / r[f'mc_ceiling_mlp_{prec}']:.0%} of its products' "
                     f"ceiling ({rate / r[f'mc_drawn_mlp_{prec}']:.0%} of products and draws)")
    for prec in ("float32", "bfloat16"):
        if f"mc_ceiling_shipped_{prec}" in r:
            share = r[f"mc_ganmc_shipped_default_{prec}"] / r[f"mc_ceiling_shipped_{prec}"]
            parts.append(f"shipped model {prec} {share:.0%} of its products' ceiling")
    return "Share of the ceiling (medians of the rounds): " + "; ".join(parts) + "."


def product_figures(r: dict) -> dict[str, float]:
    """The product constant this benchmark measures: mlp's training speed against dcgan's
    (``ganmc.core.presets.RELATIVE_TRAIN_SPEED``), to one decimal."""
    return {"ganmc.core.presets:RELATIVE_TRAIN_SPEED['mlp']":
            round(r["train_ganmc_mlp"] / r["train_ganmc_dcgan"], 1)}


def render(r: dict) -> str:
    lines = ["## Speed", "", f"`python -m benchmarks.speed` — {r['machine']}.", "",
             "### Training (images/s, batch 128)", "",
             table(["what", "images/s", "vs seed-style"], [
                 ["seed-style loop, mlp (`train_on_batch` + `predict`)", r["train_seed_mlp"], 1.0],
                 ["ganmc, mlp (compiled `train_step` x8 per call, tf.data, XLA)",
                  r["train_ganmc_mlp"],
                  r["train_ganmc_mlp"] / r["train_seed_mlp"]],
                 ["ganmc, dcgan (compiled `train_step` x8 per call, tf.data)",
                  r["train_ganmc_dcgan"], ""],
             ]), "",
             render_monte_carlo(r), "",
             "Samples/s against batch size (mlp, discriminator score):", "",
             table(["batch", "float32", "bfloat16"],
                   [[f"{int(bs):,}", v["float32"], v["bfloat16"]]
                    for bs, v in r["batch_scaling"].items()]), "",
             "### Memory of `ganmc simulate` (fresh process, mlp model)", "",
             table(["samples", "peak RSS (MB)", "seconds"],
                   [[f"{int(n):,}", mb, s] for n, (mb, s) in r["rss"].items()]), "",
             f"### One verdict (shipped model, {r['shipped_scorer']} score, 200 single images)",
             "",
             f"median {r['verdict_ms_median']:.1f} ms, p95 {r['verdict_ms_p95']:.1f} ms.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
