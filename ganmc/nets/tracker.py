"""Training progress as Keras sees it: reports, stop requests, the NaN guard, checkpoints.

:class:`Tracker` is the callback :func:`ganmc.nets.train.fit_networks` hands to Keras; it turns
Keras' hooks into :class:`TrainProgress` reports that the CLI and the dashboard both consume.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from ganmc.core import files
from ganmc.core.errors import TrainingError
from ganmc.core.presets import ENCODER_STEP_COST
from ganmc.images.preprocess import from_model_output

#: Points of the live quality curve in a run, about (see :meth:`Tracker._probe_due`).
PROBE_POINTS = 10
#: The checkpoint's state file (phase, steps done, history, quality curve, settings, timing).
STATE = "state.json"
#: What the state's ``timing`` holds: :meth:`Tracker.timing`.
TIMING = ("seconds", "images", "busy_s", "traced_images", "traced_s")


def eta_text(seconds: float) -> str:
    """Seconds left in words: "3 min 05 s", "42 s", or "estimating…" before the first rate."""
    if not math.isfinite(seconds):
        return "estimating…"
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} h {m:02d} min"
    return f"{m} min {s:02d} s" if m else f"{s} s"


#: What the CLI and the Train page say once the steps are done and the model is calibrated.
CALIBRATING = ("Trained. Calibrating on the held-out digits (the latent-search score takes "
               "longest) and running the Monte Carlo simulation…")


def describe(p: TrainProgress) -> str:
    """One line of progress: phase, step, throughput, ETA and the running losses."""
    losses = ", ".join(f"{k} {v:.3f}" for k, v in p.logs.items()
                       if k in ("d_loss", "g_loss", "e_loss"))
    return (f"{p.phase} step {p.step:,}/{p.steps:,} — {p.images_per_s:,.0f} images/s — "
            f"ETA {eta_text(p.eta_s)} — {losses}")


def quality_text(q: dict[str, float]) -> str:
    """The live quality figures in one line: "quality (AUROC): other digits 0.93, …"."""
    return "quality (AUROC): " + ", ".join(f"{k} {v:.3f}" for k, v in q.items()
                                           if k != "step")


@dataclass
class TrainProgress:
    """One progress report.

    Attributes:
        phase: ``"gan"`` or ``"encoder"``.
        step: Steps done in the phase.
        steps: Steps of the phase.
        logs: Running losses of this round (``d_loss``, ``g_loss``, ... or ``e_loss``).
        images_per_s: Training throughput of this phase so far, by the wall clock since its
            first (compiling) call: what each round costs besides its steps included.
        eta_s: Estimated seconds until both phases are done.
        fraction: Share of the whole run that is done, 0-1.
        samples: At the end of a GAN round, generated images uint8 (16, 28, 28) from a fixed z.
        round_end: Whether this report closes a round (a checkpoint was written).
        quality: At the end of a GAN round, the live quality figures (AUROC by set, and the
            step), see :class:`ganmc.thresholds.quality.LiveProbe`.
    """

    phase: str
    step: int
    steps: int
    logs: dict[str, float]
    images_per_s: float
    eta_s: float
    fraction: float
    samples: np.ndarray | None = None
    round_end: bool = False
    quality: dict[str, float] | None = None


class Tracker(keras.callbacks.Callback):
    """Progress reports, stop requests, NaN guard, per-round checkpoints and quality probes.

    Args:
        config: The run's settings (written into each checkpoint).
        totals: Steps of the GAN and of the encoder phase.
        batch_size: Images per step.
        progress: The progress callback, or None.
        stop_event: Set to stop after the current compiled call.
        state: The checkpoint state (``phase``, ``step``, ``history``, ``quality``), updated.
        checkpoint: Folder of the checkpoint, or None.
        nets: ``{"generator", "discriminator", "encoder"}``.
        sample_z: Latent vectors of the sample grid.
        device: Named in the checkpoint.
        probe: A :class:`ganmc.thresholds.quality.LiveProbe` run after each GAN round, or None.
    """

    def __init__(self, config, totals, batch_size, progress, stop_event, state, checkpoint,
                 nets, sample_z, device, probe=None):
        super().__init__()
        self.config, self.totals, self.batch_size = config, totals, batch_size
        self.progress, self.stop_event, self.state = progress, stop_event, state
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.nets = nets
        self.sample_z, self.device, self.probe = sample_z, device, probe
        self.stopped = False
        self.diverged: str | None = None
        self.steps_done = 0  # in this run, both phases
        self.images = 0
        self.busy_s = 0.0
        self.traced_images, self.traced_s = 0, 0.0  # every call, tracing included
        # The time and images of the runs this one resumes (in the checkpoint's state).
        self.before = {k: float(v) for k, v in (state.get("timing") or {}).items()
                       if k in TIMING and isinstance(v, (int, float))}
        self.started = time.perf_counter()
        self._last_report = 0.0
        self._traced = False
        self.last_step = 0

    # -- phase bookkeeping -------------------------------------------------
    def begin_phase(self, phase: str) -> None:
        self.phase = phase
        self.phase_total = self.totals[0] if phase == "gan" else self.totals[1]
        self.phase_images = 0
        self._t_phase: float | None = None  # when the phase's first (tracing) call ended
        # When the phase's first round ended, its extras done (time, images), and the whole
        # rounds since (seconds, images): the pace of rounds that compile nothing.
        self._settled: tuple[float, int] | None = None
        self._whole: tuple[float, int] = (0.0, 0)
        self._next_probe = 0.0
        self._traced = False  # the phase's first call includes tracing: not timed

    def begin_rounds(self, size: int) -> None:
        """Called before a ``fit`` of rounds (epochs) of ``size`` steps each."""
        self.round_size = size

    def timing(self) -> dict[str, float]:
        """Seconds, images and busy seconds of the whole run so far, the runs it resumes
        included (kept in each checkpoint, so a resumed run that had nothing left to train
        still says how long its training took)."""
        now = {"seconds": time.perf_counter() - self.started, "images": self.images,
               "busy_s": self.busy_s, "traced_images": self.traced_images,
               "traced_s": self.traced_s}
        return {k: self.before.get(k, 0.0) + v for k, v in now.items()}

    def overall_rate(self) -> float:
        """Images a second, compiled calls only, the resumed runs' included; a run too short
        to have any but the first (tracing) calls is timed with them rather than reported
        as 0."""
        t = self.timing()
        if t["busy_s"] > 0:
            return t["images"] / t["busy_s"]
        return t["traced_images"] / t["traced_s"] if t["traced_s"] > 0 else 0.0

    def _remaining(self, step: int) -> float:
        """Steps left at this phase's pace: in the GAN phase the encoder's steps count at
        :data:`ENCODER_STEP_COST` of a plain GAN step, and the GAN's pace includes its extra
        tasks (``TrainConfig.slowdown``), which the encoder does not train."""
        left = self.phase_total - step
        if self.phase == "gan":
            tasks = self.config.slowdown(self.totals[0]) if self.config is not None else 1.0
            left += self.totals[1] * ENCODER_STEP_COST / tasks
        return max(left, 0)

    def _fraction(self, step: int) -> float:
        before = 0 if self.phase == "gan" else self.totals[0]
        return min(1.0, (before + step) / max(sum(self.totals), 1))

    # -- Keras hooks ---------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        self.round_start = self.state["step"]  # the round (epoch) starts where the last ended
        self._t_batch = time.perf_counter()
        self._steps_seen = 0

    def on_train_batch_end(self, batch, logs=None):
        # ``batch`` is the index of the last step of this compiled call (STEPS_PER_CALL steps).
        now = time.perf_counter()
        images = (batch + 1 - self._steps_seen) * self.batch_size
        self._steps_seen = batch + 1
        self.last_step = self.round_start + batch + 1  # the steps the weights have had
        self.traced_images += images
        self.traced_s += now - self._t_batch
        if self._traced:
            self.phase_images += images
            self.busy_s += now - self._t_batch
            self.images += images
        else:
            self._t_phase = now
        self._traced = True
        self._t_batch = now
        if self.stop_event is not None and self.stop_event.is_set():
            self.stopped = True
            self.model.stop_training = True
        # Reading the losses waits for the device; do it a few times a second, not every step,
        # so a GPU keeps its queue of steps full. NaN is caught within a quarter second.
        if now - self._last_report <= 0.25 and batch + 1 != self.round_size:
            return
        self._last_report = now
        logs = {k: float(v) for k, v in (logs or {}).items()}
        bad = [k for k, v in logs.items() if not math.isfinite(v)]
        step = self.round_start + batch + 1
        if bad:
            self.diverged = f"{', '.join(bad)} became NaN/inf at {self.phase} step {step:,}"
            self.model.stop_training = True
            return
        if self.progress is not None:
            self._report(step, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.diverged:
            return
        logs = {k: float(v) for k, v in (logs or {}).items()}
        for k, v in logs.items():
            self.state["history"].setdefault(k, []).append(v)
        if self.stopped:  # a partial round: keep the last whole one as the checkpoint
            return
        step = self.round_start + self.round_size
        self.state.update(phase=self.phase, step=step, timing=self.timing())
        self.steps_done += self.round_size
        samples = quality = None
        if self.phase == "gan":
            samples = from_model_output(self.nets["generator"](self.sample_z, training=False))
            if self.probe is not None and self._probe_due(step):
                quality = {"step": step, **self.probe(self.nets["discriminator"])}
                self.state.setdefault("quality", []).append(quality)
        if self.checkpoint is not None:
            self._save_checkpoint()
        now = time.perf_counter()
        if self._settled is None:
            self._settled = (now, self.phase_images)
        else:
            self._whole = (now - self._settled[0], self.phase_images - self._settled[1])
        if self.progress is not None:
            self._report(step, logs, samples=samples, round_end=True, quality=quality)

    def _probe_due(self, step: int) -> bool:
        """About ``PROBE_POINTS`` points of the live quality curve a phase (each costs about
        half a second of a 2-core CPU), the last round's always among them."""
        if step < self._next_probe and step < self.phase_total:
            return False
        self._next_probe = step + self.phase_total / PROBE_POINTS
        return True

    def rate(self) -> float:
        """Images a second of the phase by the wall clock, what a round costs besides its
        steps (the sample grid, the live quality probe, the checkpoint) included, as the
        user's clock counts it: over the whole rounds after the first once there is one (the
        first round's end also compiles the probe and the sample grid, once), else since the
        phase's first (compiling) call."""
        seconds, images = self._whole
        if images and seconds > 0:
            return images / seconds
        wall = time.perf_counter() - self._t_phase if self._t_phase is not None else 0.0
        return self.phase_images / wall if wall > 0 and self.phase_images else 0.0

    def _report(self, step, logs, samples=None, round_end=False, quality=None):
        rate = self.rate()
        eta = self._remaining(step) * self.batch_size / rate if rate > 0 else float("nan")
        self.progress(TrainProgress(
            phase=self.phase, step=step, steps=self.phase_total, logs=logs,
            images_per_s=rate, eta_s=eta, fraction=self._fraction(step), samples=samples,
            round_end=round_end, quality=quality))

    def _save_checkpoint(self) -> None:
        with files.atomic_dir(self.checkpoint) as tmp:
            for name, net in self.nets.items():
                if net is not None and (name != "encoder" or self.phase == "encoder"):
                    net.save_weights(tmp / f"{name}.weights.h5")
            files.write_json_file(tmp / STATE, {**self.state, "config": self.config.to_dict(),
                                        "device": self.device})

    def raise_if_diverged(self) -> None:
        if self.diverged:
            where = f"; the last good checkpoint is kept in {self.checkpoint}" if self.checkpoint \
                else ""
            raise TrainingError(f"training diverged: {self.diverged}{where}")
