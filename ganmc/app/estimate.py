"""How long a training run should take on this machine, before it starts.

A shared machine's speed moves from day to day, so fixed minutes cannot be the estimate
(docs/benchmarks.md, "Time estimates against real runs", has what they missed by). The
figures below were all measured in one sitting, together with :func:`machine_speed`; an
estimate times the same computation now and scales them by how much faster or slower this
machine is at that moment."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from ganmc.storage import bundle

# What ``python -m benchmarks.estimates`` measured in one sitting (docs/benchmarks-estimates.json;
# tests/unit/test_benchmark_figures.py checks that each equals its figure there), every one of
# them at the machine speed GAUGE_REFERENCE:
#: :func:`machine_speed` when the figures below were measured (steps a second).
GAUGE_REFERENCE = 46.0
#: Seconds a GAN step of ``dcgan`` takes (REFERENCE_BATCH images, no extra task), by the wall
#: clock of a quick run of one digit once its rounds have settled: what each round costs
#: besides its steps (the sample grid, the quality probe, the checkpoint) included.
GAN_STEP_S = 0.0248
#: The images a step of the benchmark's runs (the quick preset's batch); a step of another
#: batch size is taken to cost in proportion to its images (a CPU's products are
#: throughput-bound), which was not measured.
REFERENCE_BATCH = 64
#: Seconds of training besides the steps at that pace: building and compiling the networks,
#: the first round's extras.
TRAIN_START_S = 1.5
#: Seconds a run of one digit takes besides its training: data, the Gaussian, calibration, the
#: simulations, the quality card.
ESTIMATE_AFTER_TRAINING_S = 12.0
#: Seconds each further digit adds besides training (its training and held-out images are
#: scored and calibrated too, through the shape network's views): from the quick runs of one
#: digit and of ten.
ESTIMATE_AFTER_TRAINING_S_PER_DIGIT = 7.4
#: The fewest GAN steps a saved model must have run for its training speed to be the basis of
#: an estimate (a run stopped after a few steps timed mostly the compilation).
ESTIMATE_MIN_STEPS = 100
#: Timed blocks and steps a block of :func:`machine_speed` (with the compiling call, under a
#: second on the 2-core CPU).
GAUGE_BLOCKS, GAUGE_STEPS = 5, 4


def machine_speed() -> float:
    """How fast this machine trains now, in steps a second of a fixed computation like a
    training step (two strided convolutions of 64 digit-sized images, forwards and back, on
    the CPU): the median of a few short timed blocks after one compiling call. The
    estimates scale their figures by this over :data:`GAUGE_REFERENCE`."""
    import tensorflow as tf

    with tf.device("/CPU:0"):
        x = tf.random.stateless_uniform((64, 28, 28, 1), (0, 1))
        k1 = tf.random.stateless_normal((5, 5, 1, 64), (0, 2)) * 0.1
        k2 = tf.random.stateless_normal((5, 5, 64, 128), (0, 3)) * 0.02

        @tf.function
        def step(k1, k2):
            with tf.GradientTape() as tape:
                tape.watch([k1, k2])
                h = tf.nn.leaky_relu(tf.nn.conv2d(x, k1, 2, "SAME"), 0.2)
                h = tf.nn.leaky_relu(tf.nn.conv2d(h, k2, 2, "SAME"), 0.2)
                loss = tf.reduce_mean(tf.square(h))
            g1, g2 = tape.gradient(loss, [k1, k2])
            return k1 - 0.01 * g1, k2 - 0.01 * g2

        k1, k2 = step(k1, k2)
        k1.numpy()
        times = []
        for _ in range(GAUGE_BLOCKS):
            start = time.perf_counter()
            for _ in range(GAUGE_STEPS):
                k1, k2 = step(k1, k2)
            k1.numpy()
            times.append(time.perf_counter() - start)
    return GAUGE_STEPS / max(statistics.median(times), 1e-9)


def training_seconds(gan_steps: int, encoder_steps: int, arch: str, slowdown: float,
                     batch_size: int = REFERENCE_BATCH) -> float:
    """Seconds of training at the reference speed: the start, then the GAN steps of this
    network (:data:`ganmc.core.presets.RELATIVE_TRAIN_SPEED`) and batch size slowed by its
    extra tasks, and the encoder steps (:data:`ganmc.core.presets.ENCODER_STEP_COST`)."""
    from ganmc.core.presets import ENCODER_STEP_COST, RELATIVE_TRAIN_SPEED

    step = GAN_STEP_S / RELATIVE_TRAIN_SPEED[arch] * batch_size / REFERENCE_BATCH
    return TRAIN_START_S + gan_steps * step * slowdown + encoder_steps * step * ENCODER_STEP_COST


def time_estimate(settings: dict[str, Any], models_dir: Path | str | None = None, *,
                  speed: float | None = None) -> tuple[float, str]:
    """Seconds a training run with these :class:`Detector` settings should take on this
    machine before it starts, and what the figure rests on.

    The training itself: at the pace of the latest model in ``models_dir`` trained the same
    way (network, batch size, device, which extra tasks), scaled on a CPU by this machine's
    speed now against its card's (``machine_speed``, which :func:`ganmc.app.service.train`
    records); else from the figures measured at :data:`GAUGE_REFERENCE`, for the network, the
    batch size, the steps and the extra tasks, scaled by the speed now. What follows the
    training (calibration, the simulations, the quality card; more for more digits) is
    always the measured figures, scaled the same way. ``speed``: this machine's speed now
    (:func:`machine_speed`, timed when not given). Once training runs, its progress reports
    give the ETA from the steps so far.
    """
    from ganmc.core.config import TrainConfig
    from ganmc.core.presets import ENCODER_STEP_COST, TASKS
    from ganmc.nets.devices import describe_device

    fields = TrainConfig.__dataclass_fields__
    config = TrainConfig.of({k: v for k, v in settings.items() if k in fields})
    n = 700 * len(config.digits)  # about the training images of these digits in the bundle
    gan_steps = config.gan_steps(n)
    encoder_steps = config.encoder_steps_for(n) if config.has_encoder else 0
    speed = machine_speed() if speed is None else speed
    slower = GAUGE_REFERENCE / max(speed, 1e-9)  # seconds now for a second of the figures
    after = slower * (ESTIMATE_AFTER_TRAINING_S
                      + ESTIMATE_AFTER_TRAINING_S_PER_DIGIT * (len(config.digits) - 1))
    device = describe_device()
    on_cpu = not device.startswith("GPU")
    for card in (_cards(Path(models_dir)) if models_dir is not None else []):
        m, c = card.get("metadata", {}), card.get("config", {})
        if (c.get("arch") == config.arch and m.get("batch_size") == config.batch_size
                and m.get("device") == device and _positive(m.get("train_seconds"))
                and (m.get("gan_steps_done") or 0) >= ESTIMATE_MIN_STEPS
                and all(bool(c.get(t)) == bool(getattr(config, t)) for t in TASKS)):
            then = m.get("machine_speed")
            scaled = on_cpu and _positive(then)
            then_slower = GAUGE_REFERENCE / then if scaled else slower
            done = m["gan_steps_done"] + ENCODER_STEP_COST * (m.get("encoder_steps_done") or 0)
            # seconds a GAN step (its tasks included) took then, the run's start left out
            step = max(m["train_seconds"] - TRAIN_START_S * then_slower, 0.0) / done
            step *= slower / then_slower  # 1 when not scaled
            train = TRAIN_START_S * slower + (gan_steps + ENCODER_STEP_COST * encoder_steps) * step
            return train + after, (
                f"from the training speed of {card['_name']} on this machine"
                + (f", which runs at {then_slower / slower:.1f}× its speed then" if scaled
                   else ""))
    train = slower * training_seconds(gan_steps, encoder_steps, config.arch,
                                      config.slowdown(gan_steps), config.batch_size)
    return train + after, (
        f"from reference runs; this machine runs at {1 / slower:.1f}× their speed now"
        + ("; the GPU should be faster" if not on_cpu else ""))


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _cards(models_dir: Path) -> list[dict[str, Any]]:
    """The model cards in a folder, the latest trained first."""
    cards = []
    for folder in sorted(models_dir.glob("*"))[:200]:
        try:
            cards.append({**bundle.read_card(folder), "_name": folder.name})
        except Exception:  # a folder that is no model: not a basis for an estimate
            continue
    return sorted(cards, key=lambda c: str(c.get("metadata", {}).get("trained_at", "")),
                  reverse=True)
