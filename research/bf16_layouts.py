"""Where a bfloat16 Monte Carlo spends its time on a CPU, layout by layout:
``python -m research.bf16_layouts [--rounds R]``.

Hand-written graphs of the same arithmetic, timed in one process, in alternating rounds
(median samples/s of each):

- the ``mlp``'s G and D (untrained, batch 16,384), each dense layer as: float32; bfloat16
  throughout; a bfloat16 product with its bias and activation as separate float32 ops; the
  same with the bias and activation in one XLA-compiled pass that gives bfloat16 (the
  product's layout, ``ganmc.nets.networks.BFloat16Dense``); and the product's own compiled
  Monte Carlo function beside them;
- the shipped model's two convolutions of D (batch 8,192), each with its bias and
  LeakyReLU: float32; a bfloat16 convolution and bias with a float32 LeakyReLU; a bfloat16
  convolution with an XLA-compiled float32 epilogue; bfloat16 throughout (the product's
  layout: oneDNN fuses the three).

Prints; writes nothing (the figures are quoted in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import time


def _rates(fns: dict, call, batch: int, rounds: int, reps: int) -> dict[str, float]:
    import numpy as np

    for fn in fns.values():
        call(fn, 0)
    seen: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            for i in range(reps):
                call(fn, i)
            seen[name].append(reps * batch / (time.perf_counter() - t))
    return {k: float(np.median(v)) for k, v in seen.items()}


def dense_layouts(rounds: int) -> dict[str, float]:
    import tensorflow as tf

    from ganmc.nets.networks import Networks, build_discriminator, build_generator
    from ganmc.scores import scoring

    g, d = build_generator("mlp", 100), build_discriminator("mlp")
    layers = [x for m in (g, d) for x in m.layers if hasattr(x, "kernel")]
    weights = [(tf.Variable(x.kernel.numpy()), tf.Variable(x.bias.numpy())) for x in layers]
    generator_layers, batch = 4, 16_384

    def epilogue(slope: float | None, tanh: bool, out):
        @tf.function(jit_compile=True, autograph=False)
        def finish(y, b):
            y = tf.nn.bias_add(tf.cast(y, tf.float32), b)
            y = tf.tanh(y) if tanh else tf.nn.leaky_relu(y, slope)
            return tf.cast(y, out)
        return finish

    fused = {t: epilogue(0.2, t, tf.bfloat16) for t in (False, True)}

    def graph(layout: str):
        low = tf.float32 if layout == "float32" else tf.bfloat16

        @tf.function(autograph=False)
        def fn(seed):
            h = tf.cast(tf.random.stateless_normal([batch, 100], seed=seed), low)
            for i, (k, b) in enumerate(weights):
                if i == generator_layers:
                    h = tf.reshape(h, [batch, 784])
                y = tf.matmul(h, tf.cast(k, low))
                if i == len(weights) - 1:
                    return tf.nn.bias_add(tf.cast(y, tf.float32), b)
                tanh = i == generator_layers - 1
                if layout == "folded, XLA":
                    h = fused[tanh](y, b)
                    continue
                if layout == "bfloat16":
                    y = tf.nn.bias_add(y, tf.cast(b, low))
                else:
                    y = tf.nn.bias_add(tf.cast(y, tf.float32), b)
                h = tf.cast(tf.tanh(y) if tanh else tf.nn.leaky_relu(y, 0.2), low)
        return fn

    fns = {name: graph(name) for name in
           ("float32", "bfloat16", "bfloat16 product, float32 ops", "folded, XLA")}
    compiled = scoring.CompiledScorers(Networks(g, d))
    product = compiled.samples("discriminator", "bfloat16", 100, 1.0, 1)
    fns["the product's Monte Carlo"] = lambda seed: product(tf.constant(batch), seed)
    return _rates(fns, lambda fn, i: fn(tf.constant([i, 1])).numpy(), batch, rounds, 4)


def convolution_layouts(rounds: int) -> dict[str, float]:
    import tensorflow as tf

    from ganmc import load_model

    d = load_model().networks_.discriminator
    convs = [(x.kernel.value, x.bias.value) for x in d.layers if "conv" in x.name]
    batch = 8192
    x = tf.random.uniform([batch, 28, 28, 1], -1, 1, seed=0)

    @tf.function(jit_compile=True, autograph=False)
    def finish(y, b):
        return tf.cast(tf.nn.leaky_relu(tf.nn.bias_add(tf.cast(y, tf.float32), b), 0.2),
                       tf.bfloat16)

    def graph(layout: str):
        @tf.function(autograph=False)
        def fn(h):
            for k, b in convs:
                if layout == "float32":
                    h = tf.nn.leaky_relu(tf.nn.bias_add(tf.nn.conv2d(h, k, 2, "SAME"), b), 0.2)
                    continue
                y = tf.nn.conv2d(tf.cast(h, tf.bfloat16), tf.cast(k, tf.bfloat16), 2, "SAME")
                if layout == "XLA epilogue":
                    h = finish(y, b)
                elif layout == "float32 LeakyReLU":
                    y = tf.nn.bias_add(y, tf.cast(b, tf.bfloat16))
                    h = tf.nn.leaky_relu(tf.cast(y, tf.float32), 0.2)
                else:
                    h = tf.nn.leaky_relu(tf.nn.bias_add(y, tf.cast(b, tf.bfloat16)), 0.2)
            return tf.cast(h, tf.float32)
        return fn

    fns = {name: graph(name) for name in
           ("float32", "float32 LeakyReLU", "XLA epilogue", "bfloat16")}
    return _rates(fns, lambda fn, i: fn(x).numpy(), batch, rounds, 3)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    args = p.parse_args()
    from ganmc.core.runtime import quiet_tensorflow

    quiet_tensorflow()
    print("mlp, G and D, batch 16,384 (samples/s):")
    for name, rate in dense_layouts(args.rounds).items():
        print(f"  {name:32s} {rate:10,.0f}")
    print("shipped model, D's convolutions, batch 8,192 (images/s):")
    for name, rate in convolution_layouts(args.rounds).items():
        print(f"  {name:32s} {rate:10,.0f}")


if __name__ == "__main__":
    main()
