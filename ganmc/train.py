"""Training loop around :mod:`ganmc.gan`: device choice, tf.data, progress, checkpoints, stop.

The GAN is trained first, then (unless ``encoder_epochs`` is 0) the f-AnoGAN encoder with G
and D frozen. After every epoch a checkpoint is written atomically; ``resume=True`` goes on
from it, so an interrupted run loses at most the epoch it was in. A ``threading.Event`` stops
training between two compiled calls of a few steps. Progress is reported through one callback
that the CLI and the dashboard both consume.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ganmc import files, limits, locks
from ganmc.config import TrainConfig
from ganmc.errors import GanmcError, TrainingError
from ganmc.gan import GAN, EncoderTrainer
from ganmc.networks import Networks, build_discriminator, build_encoder, build_generator
from ganmc.preprocess import to_model_input
from ganmc.tracker import STATE, Tracker, TrainProgress

log = logging.getLogger(__name__)

N_SAMPLES = 16
# Train steps run back to back inside one compiled call (Keras' ``steps_per_execution``):
# Python and the callbacks then run once per this many steps, not after every step.
STEPS_PER_CALL = 8


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
    epochs_done: int = 0
    #: Epochs of each phase finished in all, resumed runs included: what the model had.
    phase_epochs: tuple[int, int] = (0, 0)

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
            "epochs_done": self.epochs_done, "stopped_early": self.stopped,
            "gan_epochs_done": self.phase_epochs[0],
            "encoder_epochs_done": self.phase_epochs[1],
            "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": {"ganmc": __version__, "tensorflow": tf.__version__,
                         "keras": keras.__version__, "numpy": np.__version__,
                         "python": platform.python_version()},
            "history": self.history,
        }


def describe_device() -> str:
    """Name the device TensorFlow will train on, e.g. ``"GPU (1x NVIDIA H200)"`` or ``"CPU"``."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = []
        for g in gpus:
            try:
                names.append(tf.config.experimental.get_device_details(g).get("device_name", "GPU"))
            except Exception:  # details are informative only
                names.append("GPU")
        return f"GPU ({len(gpus)}x {names[0]})"
    return f"CPU ({os.cpu_count()} cores)"


def default_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over every visible GPU when there are several, else the default.

    Several machines: set ``TF_CONFIG`` on each and pass
    ``tf.distribute.MultiWorkerMirroredStrategy()`` as ``strategy`` (see the README).
    """
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([g.name for g in gpus])
    return tf.distribute.get_strategy()


def train_policy(precision: str) -> str | None:
    """The Keras dtype policy to train under: mixed bfloat16 on a GPU (or when asked)."""
    if precision == "bfloat16" or (precision == "auto" and tf.config.list_physical_devices("GPU")):
        return "mixed_bfloat16"
    return None


def checkpoint_dir(out_dir: Path | str) -> Path:
    """Where the checkpoints of a run writing ``out_dir`` live: ``.NAME.ckpt`` beside it, a
    hidden name no model name can take (see :func:`ganmc.locks.checkpoint_path`)."""
    return locks.checkpoint_path(out_dir)


def read_checkpoint(ckpt: Path | str) -> dict | None:
    """The checkpoint's state (config, phase, epochs done, history), or None if there is none."""
    ckpt = Path(ckpt)
    files.recover(ckpt)
    if not (ckpt / STATE).is_file():
        return None
    try:
        state = json.loads((ckpt / STATE).read_text())
        if not (isinstance(state, dict) and state.get("phase") in ("gan", "encoder")
                and isinstance(state.get("epoch"), int) and isinstance(state.get("config"), dict)
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
    progress: Callable[[TrainProgress], None] | None = None,
    stop_event: threading.Event | None = None,
    checkpoint: Path | str | None = None,
    resume: bool = False,
    strategy: tf.distribute.Strategy | None = None,
) -> TrainResult:
    """Train G and D, then E, on normal images.

    Args:
        x_train: Normal images, uint8 (N, 28, 28).
        config: Settings.
        progress: Called every few steps and at each epoch's end.
        stop_event: When set, training stops after the current compiled call (at most
            ``STEPS_PER_CALL`` steps); the result is usable.
        checkpoint: Folder for per-epoch checkpoints; ``None`` writes none.
        resume: Go on from ``checkpoint`` if it holds one.
        strategy: A ``tf.distribute`` strategy; ``None`` mirrors over several GPUs when
            there are, else trains on the one device. The batch size is the global batch.

    Returns:
        The networks and the run's history.

    Raises:
        TrainingError: If the losses become NaN or infinite (the last checkpoint is kept).
    """
    limits.check_fits(f"training on {len(x_train):,} images",
                      limits.training_bytes(len(x_train), config.batch_size))
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
    log.info("Training on %s: %s, %d images, %d + %d epochs, %s, XLA %s", device, config.arch,
             len(x_train), config.epochs, config.encoder_epochs, policy or "float32",
             "on" if jit else "off")
    with strategy.scope():
        generator = build_generator(config.arch, config.latent_dim, policy)
        discriminator = build_discriminator(config.arch, policy)
        encoder = (build_encoder(config.arch, config.latent_dim, policy)
                   if config.encoder_epochs else None)
    state = {"phase": "gan", "epoch": 0, "history": {}}
    if resume and checkpoint is not None:
        saved = read_checkpoint(checkpoint)
        if saved is not None:
            _check_compatible(saved, config)
            state = saved
            _load_weights(Path(checkpoint), generator, discriminator, encoder, saved["phase"])
            log.info("Resuming from %s: phase %s, %d epochs done", checkpoint, saved["phase"],
                     saved["epoch"])
        else:
            log.info("No checkpoint in %s; starting afresh", checkpoint)

    batch_size = min(config.batch_size, len(x_train))
    steps = len(x_train) // batch_size
    # Keras' multi-step loop fails under MirroredStrategy (TF 2.21): one step per call there.
    per_call = 1 if strategy.num_replicas_in_sync > 1 else min(STEPS_PER_CALL, steps)
    data = (
        tf.data.Dataset.from_tensor_slices(to_model_input(x_train))
        .shuffle(len(x_train), seed=config.seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    sample_z = np.random.default_rng(config.seed).standard_normal(
        (N_SAMPLES, config.latent_dim)).astype(np.float32)
    tracker = Tracker(config, steps, batch_size, progress, stop_event, state, checkpoint,
                       generator, discriminator, encoder, sample_z, device)
    start = time.perf_counter()

    if state["phase"] == "gan" and state["epoch"] < config.epochs:
        with strategy.scope():
            gan = GAN(generator, discriminator, config.latent_dim, seed=config.seed)
            gan.compile(
                d_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1),
                g_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1),
                jit_compile=jit, steps_per_execution=per_call)
        tracker.begin_phase("gan")
        gan.fit(data, epochs=config.epochs, initial_epoch=state["epoch"], verbose=0, shuffle=False,
                callbacks=[tracker])
        tracker.raise_if_diverged()
    if encoder is not None and not tracker.stopped:
        if state["phase"] == "gan":
            state.update(phase="encoder", epoch=0)
        if state["epoch"] < config.encoder_epochs:
            with strategy.scope():
                trainer = EncoderTrainer(encoder, generator, discriminator, kappa=config.kappa)
                trainer.compile(keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1),
                                jit_compile=jit, steps_per_execution=per_call)
            tracker.begin_phase("encoder")
            trainer.fit(data, epochs=config.encoder_epochs, initial_epoch=state["epoch"],
                        verbose=0, shuffle=False, callbacks=[tracker])
            tracker.raise_if_diverged()

    if state["phase"] != "encoder":
        encoder = None  # stopped before the encoder was trained: do not offer an untrained one
    if policy is not None:  # models are kept and saved in float32
        nets = Networks(generator, discriminator, encoder).cast("float32")
        generator, discriminator, encoder = nets.generator, nets.discriminator, nets.encoder
    seconds = time.perf_counter() - start
    return TrainResult(generator, discriminator, encoder, state["history"], device, seconds,
                       tracker.overall_rate(), tracker.stopped, tracker.epochs_done,
                       (config.epochs, state["epoch"]) if state["phase"] == "encoder"
                       else (state["epoch"], 0))


def _check_compatible(saved: dict, config: TrainConfig) -> None:
    """A resumed run must train the same networks on the same split (the seed and the
    hold-out share decide which images are held out: a change would train on them)."""
    try:
        old = TrainConfig.from_dict(saved["config"])
    except (TypeError, ValueError, GanmcError) as exc:
        raise TrainingError(f"the checkpoint's settings are unreadable ({exc}); start afresh "
                            f"instead of resuming") from None
    for name in ("arch", "latent_dim", "digits", "seed", "calibration_fraction"):
        if getattr(old, name) != getattr(config, name):
            raise TrainingError(
                f"the checkpoint was made with {name}={getattr(old, name)!r}, not "
                f"{getattr(config, name)!r}; start afresh instead of resuming, or write to "
                f"another folder")


def _load_weights(ckpt: Path, generator, discriminator, encoder, phase: str) -> None:
    try:
        generator.load_weights(ckpt / "generator.weights.h5")
        discriminator.load_weights(ckpt / "discriminator.weights.h5")
        if encoder is not None and phase == "encoder" and (ckpt / "encoder.weights.h5").exists():
            encoder.load_weights(ckpt / "encoder.weights.h5")
    except Exception as exc:  # Keras/h5py raise many kinds on a damaged file
        raise TrainingError(f"{ckpt}: the checkpoint's weights cannot be loaded "
                            f"({type(exc).__name__}); start afresh instead of resuming") from None
