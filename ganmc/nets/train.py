"""Training loop around :mod:`ganmc.nets.gan`: tf.data, progress, checkpoints, stop.

The GAN is trained first, then (when the settings have encoder steps) the f-AnoGAN encoder
with G and D frozen, each for a budget of optimiser steps (:meth:`TrainConfig.gan_steps`).
The steps run in rounds of a few hundred (:func:`plan_rounds`); after every round a
checkpoint is written atomically and the live quality probe runs; ``resume=True`` goes on
from the checkpoint, so an interrupted run loses at most the round it was in. A
``threading.Event`` stops training between two compiled calls of a few steps. Progress goes
through one callback that the CLI and the dashboard both consume (the device and the
distribution strategy: :mod:`ganmc.nets.devices`).
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ganmc.core import files, limits, locks
from ganmc.core.config import TrainConfig
from ganmc.core.errors import GanmcError, TrainingError
from ganmc.core.presets import TASKS, shape_every
from ganmc.images.outliers import MAX_OUTLIERS, training_outliers
from ganmc.images.preprocess import to_model_input
from ganmc.nets.devices import default_strategy, describe_device, train_policy
from ganmc.nets.gan import GAN, EncoderTrainer
from ganmc.nets.networks import (
    Networks,
    build_discriminator,
    build_encoder,
    build_generator,
    build_shape,
    rotation_head,
)
from ganmc.nets.tracker import STATE, Tracker, TrainProgress

log = logging.getLogger(__name__)

N_SAMPLES = 16
#: Train steps back to back inside one compiled call (Keras' ``steps_per_execution``): Python
#: and the callbacks run once per this many steps; step budgets are rounded up to a multiple.
STEPS_PER_CALL = 8
#: Adam's step size for the shape network (a classifier: the GAN's 2e-4 is for the
#: adversarial game).
SHAPE_LEARNING_RATE = 1e-3
#: A round is the stretch of steps between two checkpoints (and two points of the live quality
#: curve): about a twentieth of the phase, between these bounds.
ROUND_STEPS = (96, 256)


def plan_rounds(total: int, per_call: int = STEPS_PER_CALL) -> list[int]:
    """Split ``total`` steps into rounds of whole compiled calls (sizes differ by at most one
    call); the total is rounded up to a multiple of ``per_call``."""
    calls = -(-total // per_call)
    lo, hi = (r // per_call for r in ROUND_STEPS)
    per_round = max(lo, min(hi, -(-calls // 20)))
    n = max(1, -(-calls // per_round))
    return [per_call * (calls // n + (i < calls % n)) for i in range(n)]


@dataclass
class TrainResult:
    """The trained networks and what happened."""

    generator: keras.Model
    discriminator: keras.Model
    encoder: keras.Model | None
    history: dict[str, list[float]] = field(default_factory=dict)
    device: str = "CPU"
    seconds: float = 0.0
    images_per_s: float = 0.0
    stopped: bool = False
    #: Steps of each phase finished in all, resumed runs included: what the model had.
    phase_steps: tuple[int, int] = (0, 0)
    #: Steps of each phase the settings asked for (rounded up to whole compiled calls).
    planned_steps: tuple[int, int] = (0, 0)
    #: Images per pass over the training data, to say the steps as passes too.
    n_train: int = 0
    batch_size: int = 0
    #: The live quality curve: one dict of AUROC by set (and the step) per GAN round.
    quality_curve: list[dict[str, float]] = field(default_factory=list)
    #: The self-supervised rotation head on D's features (``config.rotation_weight``).
    rotation_head: keras.Model | None = None
    #: The shape network (``config.shape_weight``), trained beside the GAN.
    shape: keras.Model | None = None

    def metadata(self, data_source: str, n_train: int, n_calibration: int) -> dict:
        """The model card's account of this run."""
        import datetime as dt
        import platform

        from ganmc import __version__

        return {
            "data_source": data_source, "n_train": int(n_train),
            "n_calibration": int(n_calibration), "device": self.device,
            "train_seconds": round(self.seconds, 2),
            "train_images_per_s": round(self.images_per_s, 1),
            "stopped_early": self.stopped,
            "gan_steps_done": self.phase_steps[0],
            "encoder_steps_done": self.phase_steps[1],
            "steps_planned": list(self.planned_steps),
            "batch_size": self.batch_size,
            "passes_done": [round(s * self.batch_size / max(self.n_train, 1), 1)
                            for s in self.phase_steps],
            "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": {"ganmc": __version__, "tensorflow": tf.__version__,
                         "keras": keras.__version__, "numpy": np.__version__,
                         "python": platform.python_version()},
            "history": self.history, "quality_curve": self.quality_curve,
        }


def checkpoint_dir(out_dir: Path | str) -> Path:
    """Where the checkpoints of a run writing ``out_dir`` live: ``.NAME.ckpt`` beside it, a
    hidden name no model name can take (see :func:`ganmc.core.locks.checkpoint_path`)."""
    return locks.checkpoint_path(out_dir)


def read_checkpoint(ckpt: Path | str) -> dict | None:
    """The checkpoint's state (config, phase, steps done, history), or None if there is none."""
    ckpt = Path(ckpt)
    files.recover(ckpt)
    if not (ckpt / STATE).is_file():
        return None
    try:
        state = json.loads((ckpt / STATE).read_text())
        if not (isinstance(state, dict) and state.get("phase") in ("gan", "encoder")
                and isinstance(state.get("step"), int) and isinstance(state.get("config"), dict)
                and isinstance(state.get("history", {}), dict)):
            raise ValueError("missing or malformed fields")
        return state
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TrainingError(f"{ckpt}: the checkpoint is unreadable ({exc}); start afresh "
                            f"instead of resuming") from None


def fit_networks(
    x_train: np.ndarray,
    config: TrainConfig,
    *,
    classes: np.ndarray | None = None,
    progress: Callable[[TrainProgress], None] | None = None,
    stop_event: threading.Event | None = None,
    checkpoint: Path | str | None = None,
    resume: bool = False,
    strategy: tf.distribute.Strategy | None = None,
    probe: Callable | None = None,
) -> TrainResult:
    """Train G and D (and the shape network beside them), then E, on normal images, for the
    steps ``config`` gives.

    Args:
        x_train: Normal images, uint8 (N, 28, 28).
        config: Settings.
        classes: Each image's class for the shape network, int (N,) from 0 (the index of
            its digit among the digits the images have); None: one class for all.
        progress: Called every few steps and at each round's end.
        stop_event: When set, training stops after the current compiled call (at most
            ``STEPS_PER_CALL`` steps); the result is usable.
        checkpoint: Folder for the per-round checkpoints; ``None`` writes none.
        resume: Go on from ``checkpoint`` if it holds one.
        strategy: A ``tf.distribute`` strategy; ``None`` mirrors over several GPUs when
            there are, else trains on the one device. The batch size is the global batch.
        probe: Called with D after each GAN round; returns the live quality figures
            (:class:`ganmc.thresholds.quality.LiveProbe`).

    Returns:
        The networks and the run's history.

    Raises:
        TrainingError: If the losses become NaN or infinite (the last checkpoint is kept).
    """
    limits.check_fits(f"training on {len(x_train):,} images",
                      limits.training_bytes(len(x_train), config.batch_size,
                                            MAX_OUTLIERS if config.shape_weight else 0))
    keras.utils.set_random_seed(config.seed)
    strategy = strategy or default_strategy()
    policy = train_policy(config.precision)
    gpu = bool(tf.config.list_physical_devices("GPU"))
    # XLA: measured faster for the MLP on a CPU and usual on GPUs; slower for the DCGAN on a
    # CPU; and it cannot compile the seeded latent draws across mirrored replicas.
    jit = config.jit_compile
    if jit is None:
        jit = (gpu or config.arch == "mlp") and strategy.num_replicas_in_sync == 1
    device = describe_device()
    if strategy.num_replicas_in_sync > 1:
        device += f", {strategy.num_replicas_in_sync} replicas"
    # Keras' multi-step loop fails under MirroredStrategy (TF 2.21): one step per call there.
    per_call = 1 if strategy.num_replicas_in_sync > 1 else STEPS_PER_CALL
    batch_size = min(config.batch_size, len(x_train))
    gan_plan = plan_rounds(config.gan_steps(len(x_train)), per_call)
    enc_plan = plan_rounds(config.encoder_steps_for(len(x_train)), per_call) \
        if config.has_encoder else []
    totals = (sum(gan_plan), sum(enc_plan))
    log.info("Training on %s: %s, %d images, %d + %d steps of %d, %s, XLA %s", device,
             config.arch, len(x_train), *totals, batch_size, policy or "float32",
             "on" if jit else "off")
    with strategy.scope():
        generator = build_generator(config.arch, config.latent_dim, policy)
        discriminator = build_discriminator(config.arch, policy)
        encoder = (build_encoder(config.arch, config.latent_dim, policy)
                   if enc_plan else None)
        head = rotation_head(discriminator) if config.rotation_weight else None
        n_classes = 1 if classes is None else int(np.max(classes)) + 1
        shape = build_shape(n_classes, policy) if config.shape_weight else None
    state = {"phase": "gan", "step": 0, "history": {}, "quality": []}
    if resume and checkpoint is not None:
        saved = read_checkpoint(checkpoint)
        if saved is not None:
            _check_compatible(saved, config)
            state = {"quality": [], **saved}
            _load_weights(Path(checkpoint), generator, discriminator, encoder, saved["phase"],
                          head, shape)
            log.info("Resuming from %s: phase %s, %d steps done", checkpoint, saved["phase"],
                     saved["step"])
        else:
            log.info("No checkpoint in %s; starting afresh", checkpoint)

    # tf.data's autotuning is off: the end of a ``fit`` (its iterator's) waited for the
    # autotuning thread's next wake-up, 0 to 10 s a call and up to ~45 s in a standard run on
    # the 2-core CPU. The images are in memory already: a fixed prefetch of a few batches gave
    # the same images/s there (measured on the CPU only; docs/benchmarks.md, "Training
    # presets").
    options = tf.data.Options()
    options.autotune.enabled = False
    images = _dataset(x_train, batch_size, config.seed).prefetch(2).with_options(options)
    data = images  # the encoder's (images alone), and the GAN's without a shape network
    every = shape_every(totals[0])  # the shape network's cadence on one device
    if shape is not None:  # ((images, classes), outliers): see ganmc.nets.gan.GAN
        outliers = training_outliers(totals[0] // every * batch_size, config.seed)
        data = tf.data.Dataset.zip((
            _dataset(x_train, batch_size, config.seed, _classes(classes, len(x_train))),
            _dataset(outliers, batch_size, config.seed + 1))).prefetch(2).with_options(options)
    sample_z = np.random.default_rng(config.seed).standard_normal(
        (N_SAMPLES, config.latent_dim)).astype(np.float32)
    nets = {"generator": generator, "discriminator": discriminator, "encoder": encoder,
            "rotation": head, "shape": shape}
    tracker = Tracker(config, totals, batch_size, progress, stop_event, state, checkpoint,
                      nets, sample_z, device, probe)

    def adam():
        return keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1)

    if state["phase"] == "gan" and state["step"] < totals[0]:
        if shape is not None and every > 1 and strategy.num_replicas_in_sync > 1:
            log.info("Shape network: it learns on every GAN step under %d replicas (on one "
                     "device every %d, so %d times the updates, over the same outliers): "
                     "tf.distribute cannot update it inside a condition",
                     strategy.num_replicas_in_sync, every, every)
            every = 1
        with strategy.scope():
            gan = GAN(generator, discriminator, config.latent_dim, seed=config.seed,
                      rotation_weight=config.rotation_weight, rotation_head=head,
                      jigsaw_weight=config.jigsaw_weight, shape=shape,
                      shape_weight=config.shape_weight, shape_every=every)
            gan.compile(d_optimizer=adam(), g_optimizer=adam(),
                        s_optimizer=keras.optimizers.Adam(SHAPE_LEARNING_RATE),
                        jit_compile=jit, steps_per_execution=per_call)
        tracker.begin_phase("gan")
        _run_rounds(gan, data, gan_plan, state, tracker)
    if encoder is not None and not tracker.stopped:
        if state["phase"] == "gan":
            state.update(phase="encoder", step=0)
        if state["step"] < totals[1]:
            with strategy.scope():
                trainer = EncoderTrainer(encoder, generator, discriminator, kappa=config.kappa)
                trainer.compile(adam(), jit_compile=jit, steps_per_execution=per_call)
            tracker.begin_phase("encoder")
            _run_rounds(trainer, images, enc_plan, state, tracker)

    if state["phase"] != "encoder":
        encoder = None  # stopped before the encoder was trained: do not offer an untrained one
    if policy is not None:  # models are kept and saved in float32
        cast = Networks(generator, discriminator, encoder, shape=shape).cast("float32")
        generator, discriminator, encoder, shape = (cast.generator, cast.discriminator,
                                                    cast.encoder, cast.shape)
    seconds = tracker.timing()["seconds"]  # the resumed runs' included
    # A stop mid-round leaves the weights a few steps past the round's checkpoint: say those.
    steps = tracker.last_step if tracker.stopped else state["step"]
    done = (totals[0], steps) if state["phase"] == "encoder" else (steps, 0)
    return TrainResult(generator, discriminator, encoder, state["history"], device, seconds,
                       tracker.overall_rate(), tracker.stopped, done, totals, len(x_train),
                       batch_size, state.get("quality", []), head, shape)


def _classes(classes: np.ndarray | None, n: int) -> np.ndarray:
    """The shape network's class of each training image: ``classes``, or 0 for all."""
    return np.zeros(n, np.int32) if classes is None else np.asarray(classes, np.int32)


def _dataset(x: np.ndarray, batch_size: int, seed: int, classes: np.ndarray | None = None
             ) -> tf.data.Dataset:
    """Shuffled batches of uint8 images as model input, for ever (with their classes when
    given)."""
    images = to_model_input(x)
    return (tf.data.Dataset.from_tensor_slices(images if classes is None else (images, classes))
            .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size, drop_remainder=True)
            .repeat())


def _run_rounds(model: keras.Model, data: tf.data.Dataset, plan: list[int], state: dict,
                tracker: Tracker) -> None:
    """Train ``model`` round after round of ``plan`` from the state's step (rounds may differ
    in size by one compiled call; a resume inside a round runs its rest first).

    One Keras epoch is one round, and one ``fit`` runs every round of one size in a row: each
    ``fit`` builds and tears down a data iterator, and the tear-down used to wait seconds for
    tf.data's autotuning thread (now off, see :func:`fit_networks`); with a ``fit`` a round
    that was about a fifth of a standard run (docs/benchmarks.md, "Training presets")."""
    todo, end = [], 0  # (round, steps) still to run
    for r, size in enumerate(plan):
        end += size
        if end > state["step"]:
            todo.append((r, min(size, end - state["step"])))
    for size, same in itertools.groupby(todo, key=lambda rs: rs[1]):
        rounds = [r for r, _ in same]
        tracker.begin_rounds(size)
        model.fit(data, epochs=rounds[-1] + 1, initial_epoch=rounds[0], steps_per_epoch=size,
                  verbose=0, shuffle=False, callbacks=[tracker])
        tracker.raise_if_diverged()
        if tracker.stopped:
            return


def _check_compatible(saved: dict, config: TrainConfig) -> None:
    """A resumed run must train the same networks on the same split (the seed and the
    hold-out share decide which images are held out: a change would train on them)."""
    try:
        old = TrainConfig.from_dict(saved["config"])
    except (TypeError, ValueError, GanmcError) as exc:
        raise TrainingError(f"the checkpoint's settings are unreadable ({exc}); start afresh "
                            f"instead of resuming") from None
    for name, task in TASKS.items():  # a task's head would be dropped or start afresh, and
        was, now = getattr(old, name), getattr(config, name)  # the card would not tell
        if bool(was) != bool(now):
            raise TrainingError(
                f"the checkpoint was made {'with' if was else 'without'} the {task.words} "
                f"({name}={was:g}), this run is {'with' if now else 'without'} them; start "
                f"afresh instead of resuming, or write to another folder")
    for name in ("arch", "latent_dim", "digits", "seed", "calibration_fraction"):
        if getattr(old, name) != getattr(config, name):
            raise TrainingError(
                f"the checkpoint was made with {name}={getattr(old, name)!r}, not "
                f"{getattr(config, name)!r}; start afresh instead of resuming, or write to "
                f"another folder")


def _load_weights(ckpt: Path, generator, discriminator, encoder, phase: str,
                  head=None, shape=None) -> None:
    try:
        generator.load_weights(ckpt / "generator.weights.h5")
        discriminator.load_weights(ckpt / "discriminator.weights.h5")
        if head is not None:  # a checkpoint of a run with the task has it (checked above)
            head.load_weights(ckpt / "rotation.weights.h5")
        if shape is not None:  # likewise
            shape.load_weights(ckpt / "shape.weights.h5")
        if encoder is not None and phase == "encoder" and (ckpt / "encoder.weights.h5").exists():
            encoder.load_weights(ckpt / "encoder.weights.h5")
    except Exception as exc:  # Keras/h5py raise many kinds on a damaged file
        raise TrainingError(f"{ckpt}: the checkpoint's weights cannot be loaded "
                            f"({type(exc).__name__}); start afresh instead of resuming") from None
