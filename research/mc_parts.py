"""Where a Monte Carlo's time goes, part by part: ``python -m research.mc_parts [--rounds R]
[--precision P]``.

Timed in one process, in alternating rounds (medians):

- the ``mlp`` (untrained G and D, batch 16,384, the ``discriminator`` score): its matrix
  products alone, the products with each batch's latent draws, ganmc's compiled sampler
  (one batch), and a whole ``run_monte_carlo`` of 200,000 samples (the histogram, the
  batches' split and the rest of the loop besides);
- the shipped model (batch 8,192, its default score): the latent draws, G, D, the shape
  network, the shape Gaussian's distances and the tones count (one 5 x 5 window as it was
  written first, by rows then columns, and XLA-compiled as the samplers run it), each
  alone on a batch of G's images, then the whole compiled sampler of every view.

Prints; writes nothing (the figures are quoted in docs/benchmarks.md, "How the Monte Carlo
reaches these rates").
"""

from __future__ import annotations

import argparse
import time


def _medians(parts: dict, rounds: int) -> dict[str, float]:
    """Median samples/s of each ``name -> rate`` (a function that measures it once) over
    alternating rounds."""
    import numpy as np

    seen: dict[str, list[float]] = {k: [] for k in parts}
    for _ in range(rounds):
        for name, rate in parts.items():
            seen[name].append(rate())
    return {k: float(np.median(v)) for k, v in seen.items()}


def _timed(call, reps: int, n: int):
    """A rate function of ``call(i)`` (n samples a call): warmed once, then ``reps`` calls."""
    call(0)

    def rate() -> float:
        t = time.perf_counter()
        for i in range(reps):
            call(i + 1)
        return reps * n / (time.perf_counter() - t)

    return rate


def _wait(x):
    """Block until a result is computed (a dict of tensors, a tensor or an array)."""
    import numpy as np

    for v in (x.values() if isinstance(x, dict) else x if isinstance(x, list | tuple) else [x]):
        np.asarray(v)


def mlp_parts(rounds: int, precision: str) -> dict[str, float]:
    from benchmarks.speed import matmul_ceiling
    from ganmc import Detector
    from ganmc.nets.networks import Networks, build_discriminator, build_generator

    batch, n = 16_384, 200_000
    g, d = build_generator("mlp", 100), build_discriminator("mlp")
    det = Detector(arch="mlp", latent_dim=100, epochs=1, encoder_epochs=0, mc_samples=0)
    det._attach(Networks(g, d))

    def run(i):
        det.run_monte_carlo(n, seed=i, batch_size=batch, scorer="discriminator",
                            precision=precision)

    parts = {"matrix products alone": lambda: matmul_ceiling(g, d, precision, batch),
             "products and latent draws": lambda: matmul_ceiling(g, d, precision, batch,
                                                                 draws=True),
             "ganmc's compiled sampler, one batch": _timed(
                 lambda i: det.sample_scores(batch, 3, i, "discriminator", precision), 8,
                 batch),
             "run_monte_carlo, 200,000 samples": _timed(run, 1, n)}
    return _medians(parts, rounds)


def shipped_parts(rounds: int, precision: str) -> dict[str, float]:
    import tensorflow as tf

    from ganmc import load_model
    from ganmc.scores import scoring
    from ganmc.scores.combined import GREY_BAND, INK, STROKE_REACH

    batch = 8192
    det = load_model()
    inference = det._inference
    nets = inference.compiled.cast(precision)
    latent = det.config.latent_dim
    z = tf.random.stateless_normal([batch, latent], seed=[0, 1])
    x = tf.cast(nets.generator(z, training=False), tf.float32)
    f_shape = nets.shape(x, training=False)[0]

    @tf.function(autograph=False)
    def one_window(x):  # the tones count as first written: one 5 x 5 window of full ink
        ink = (x + 1.0) / 2.0
        grey = tf.logical_and(ink > GREY_BAND[0], ink < GREY_BAND[1])
        reach = 2 * STROKE_REACH + 1
        near = tf.nn.max_pool2d(tf.cast(ink >= INK, tf.float32), reach, 1, "SAME") > 0
        lone = tf.logical_and(grey, tf.logical_not(near))
        return tf.reduce_sum(tf.cast(tf.reshape(lone, [tf.shape(x)[0], -1]), tf.float32), 1)

    def graph(fn, arg=x):
        compiled = tf.function(fn, autograph=False)
        return _timed(lambda i: _wait(compiled(arg)), 4, batch)

    def timed(call):
        return _timed(call, 4, batch)

    views = inference._views_fn(det.combination_.views, precision)
    draws = tf.function(lambda s: tf.random.stateless_normal([batch, latent], seed=s))
    parts = {
        "latent draws": timed(lambda i: _wait(draws(tf.constant([2, i])))),
        "G": graph(lambda z: nets.generator(z, training=False), z),
        "D": graph(lambda x: nets.discriminator(x, training=False)),
        "shape network": graph(lambda x: nets.shape(x, training=False)),
        "shape Gaussian's distances": graph(nets.shape_density.distance, f_shape),
        "tones count, one 5 x 5 window": timed(lambda i: _wait(one_window(x))),
        "tones count, rows then columns": graph(scoring.tones_count),
        "tones count, XLA-compiled": timed(
            lambda i: _wait(scoring.tones_count(x, compiled=True))),
        "the compiled sampler of every view": timed(
            lambda i: _wait(views(tf.constant(batch), tf.constant([0, i])))),
    }
    return _medians(parts, rounds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    p.add_argument("--precision", default="bfloat16", choices=("float32", "bfloat16"))
    args = p.parse_args()
    from ganmc.core.runtime import quiet_tensorflow

    quiet_tensorflow()
    print(f"mlp, batch 16,384, {args.precision} (samples/s):")
    for name, rate in mlp_parts(args.rounds, args.precision).items():
        print(f"  {name:40s} {rate:10,.0f}")
    print(f"shipped model, batch 8,192, {args.precision} (images/s; ms a batch):")
    for name, rate in shipped_parts(args.rounds, args.precision).items():
        print(f"  {name:40s} {rate:10,.0f}  {8192 / rate * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
