"""Monte Carlo estimate of the score distribution of normal instances.

Draw N latent vectors, generate N synthetic images with the trained generator, score each,
and collect the scores; the threshold is a percentile of them. Scores stream in batches into
a fixed-bin histogram (memory independent of N) and, up to ``keep_limit`` samples, into an
exact list; each batch yields a partial result so a UI can draw the histogram as it grows.
Changing the percentile afterwards needs no new simulation.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ganmc.core import limits
from ganmc.core.errors import ConfigError
from ganmc.thresholds.distribution import Level, ScoreDistribution, quantile_interval

MAX_SAMPLES = 100_000_000
MAX_SIMULATION_BATCH = 262_144
#: Up to this many samples every score is kept, so quantiles are exact (8 bytes each).
KEEP_LIMIT = 2_000_000
FINE_BINS = 4096


class Sampler(Protocol):
    """Anything that can generate and score a batch: a :class:`ganmc.Detector`."""

    def sample_scores(self, n: int, seed: int, index: int, scorer: str | None = None,
                      precision: str = "float32") -> np.ndarray: ...


class StreamingHistogram:
    """Fixed-bin histogram plus running moments, fed batch by batch.

    The bin range is set from the first batch, widened generously (scores of later batches
    outside it are counted as under/over-flow and still enter min, max, mean and std).
    """

    def __init__(self, bins: int = FINE_BINS):
        self.bins = bins
        self.edges: np.ndarray | None = None
        self.counts = np.zeros(bins, np.int64)
        self.under = self.over = self.n = 0
        self.total = self.total_sq = 0.0
        self.min, self.max = math.inf, -math.inf

    def add(self, scores: np.ndarray) -> None:
        s = np.asarray(scores, np.float64)
        if self.edges is None:
            lo, hi = float(s.min()), float(s.max())
            span = max(hi - lo, 1e-6)
            self.edges = np.linspace(lo - 0.5 * span, hi + 1.0 * span, self.bins + 1)
        idx = np.searchsorted(self.edges, s, side="right") - 1
        self.under += int((idx < 0).sum())
        self.over += int((idx >= self.bins).sum())
        inside = idx[(idx >= 0) & (idx < self.bins)]
        self.counts += np.bincount(inside, minlength=self.bins)
        self.n += s.size
        self.total += float(s.sum())
        self.total_sq += float(np.square(s).sum())
        self.min, self.max = min(self.min, float(s.min())), max(self.max, float(s.max()))

    def distribution(self) -> ScoreDistribution:
        return ScoreDistribution.from_histogram(
            self.edges, self.counts, under=self.under, over=self.over, minimum=self.min,
            maximum=self.max, total=self.total, total_sq=self.total_sq)


@dataclass
class MonteCarloResult:
    """Scores of generated images and what follows from them.

    Attributes:
        n: Samples simulated so far.
        n_target: Samples asked for.
        seed: Seed of the latent draws.
        scorer: Scorer used.
        seconds: Time spent.
        distribution: The scores (exact up to the keep limit, else a histogram).
        done: Whether all samples are in.
        first_batch: Samples and seconds of the first batch, which compiles the sampler on
            a process's first run of a score (:attr:`pace` leaves it out).
    """

    n: int
    n_target: int
    seed: int
    scorer: str
    seconds: float
    distribution: ScoreDistribution
    done: bool = True
    extra: dict = field(default_factory=dict)
    first_batch: tuple[int, float] = (0, 0.0)

    @property
    def samples_per_s(self) -> float:
        return self.n / self.seconds if self.seconds > 0 else 0.0

    @property
    def pace(self) -> float:
        """Samples a second after the first batch: the pace the rest of this run, and the
        next run of the same score, go at (the first batch compiled the sampler: counted in,
        its seconds made a short run's rate, and the estimate of a longer run from it, too
        slow); the overall rate while there is one batch only."""
        n0, s0 = self.first_batch
        if self.n > n0 > 0 and self.seconds > s0:
            return (self.n - n0) / (self.seconds - s0)
        return self.samples_per_s

    def threshold(self, level: Level) -> float:
        """The (1 - alpha) quantile of the simulated scores (what ``calibration.choose``'s
        ``monte-carlo`` threshold is)."""
        return self.distribution.at_level(level)

    def threshold_interval(self, level: Level, confidence: float = 0.95):
        """Order-statistic confidence interval of that quantile."""
        return quantile_interval(self.distribution, 1.0 - level.alpha, confidence)

    def summary(self, level: Level) -> dict:
        """Threshold, its interval, mean, std, min, max and a plain-words reading."""
        t = self.threshold(level)
        lo, hi = self.threshold_interval(level)
        d = self.distribution
        return {
            "samples": self.n, "scorer": self.scorer, "seed": self.seed,
            "percentile": level.percentile, "threshold": t, "threshold_ci95": [lo, hi],
            "mean": d.mean, "std": d.std, "min": d.min, "max": d.max,
            "exact": d.exact, "seconds": self.seconds, "samples_per_s": self.samples_per_s,
            "precision": self.extra.get("precision", "float32"),
            "interpretation": interpret(t, level, self.n),
        }


def interpret(threshold: float, level: Level, n: int) -> str:
    """Say in plain words what the threshold means."""
    return (f"Of {n:,} images drawn from the trained generator (stand-ins for normal digits), "
            f"{level.percentile:g}% score at or below {threshold:.4g}. An image scoring above "
            f"{threshold:.4g} is called an ANOMALY; at or below, NORMAL. If generated images "
            f"were exactly like real normal ones, about {level.percent} of normal "
            f"images would be flagged by mistake.")


def even_batch(n_samples: int, batch_size: int) -> int:
    """The size every batch of a run is drawn at: the run split evenly into as few batches as
    ``batch_size`` allows (200,000 samples in batches of up to 16,384: 13 of 15,385). The last
    batch is drawn at that size too and cut to what is left (here 5 samples thrown away): a
    batch of a new size would compile the sampler's XLA passes again (the bfloat16
    epilogues, the tones count: 0.1-0.5 s), and a last batch drawn at its own size would.
    The scores kept are those of a draw of what is left: a latent batch's first m rows are
    the draw of m rows."""
    return -(-n_samples // -(-n_samples // batch_size))


def simulate_iter(sampler: Sampler, n_samples: int, *, seed: int = 0, batch_size: int = 4096,
                  scorer: str | None = None, keep_limit: int = KEEP_LIMIT,
                  precision: str = "float32") -> Iterator[MonteCarloResult]:
    """Simulate in batches, yielding the partial result after each batch.

    Args:
        sampler: Generates and scores a batch (a :class:`ganmc.Detector`).
        n_samples: Total number of generated images.
        seed: Seed; batch i uses the stateless seed (seed, i), so results do not depend on
            how the run is split into calls.
        batch_size: Images per batch, at most (:func:`even_batch`).
        scorer: Scorer name; ``None`` takes the sampler's current one.
        keep_limit: Keep every score (exact quantiles) while n <= this.
        precision: ``float32``, ``bfloat16`` or ``auto``, passed to the sampler.

    Yields:
        :class:`MonteCarloResult` after each batch; the last has ``done=True``.
    """
    if not 1 <= n_samples <= MAX_SAMPLES:
        raise ConfigError(f"samples must be from 1 to {MAX_SAMPLES:,}, not {n_samples:,}")
    if not 1 <= batch_size <= MAX_SIMULATION_BATCH:
        raise ConfigError(f"batch_size must be from 1 to {MAX_SIMULATION_BATCH:,}")
    limits.check_fits(f"a simulation of {n_samples:,} samples in batches of {batch_size:,}",
                      limits.simulation_bytes(batch_size, min(n_samples, keep_limit)
                                              if n_samples <= keep_limit else 0))
    hist = StreamingHistogram()
    kept: list[np.ndarray] | None = [] if n_samples <= keep_limit else None
    start = time.perf_counter()
    done = index = 0
    name = scorer or getattr(sampler, "scorer", "unknown")
    size = even_batch(n_samples, batch_size)
    while done < n_samples:
        m = min(size, n_samples - done)
        scores = np.asarray(sampler.sample_scores(size, seed, index, scorer, precision)[:m],
                            np.float64)
        if not np.isfinite(scores).all():
            raise ConfigError("the generator produced images with NaN scores; retrain the model")
        hist.add(scores)
        if kept is not None:
            kept.append(scores)
        done += m
        index += 1
        if index == 1:
            first = (m, time.perf_counter() - start)
        # Partial results read the histogram (cheap); the final one is exact when kept.
        finished = done == n_samples
        dist = (ScoreDistribution.from_scores(np.concatenate(kept)) if kept is not None
                and finished else hist.distribution())
        yield MonteCarloResult(done, n_samples, seed, name, time.perf_counter() - start, dist,
                               done=finished, extra={"precision": precision},
                               first_batch=first)


def simulate(sampler: Sampler, n_samples: int, *, seed: int = 0, batch_size: int = 4096,
             scorer: str | None = None, keep_limit: int = KEEP_LIMIT, precision: str = "float32",
             progress: Callable[[MonteCarloResult], None] | None = None,
             stop_event: threading.Event | None = None) -> MonteCarloResult:
    """Run a whole simulation; ``progress`` sees each partial result. See :func:`simulate_iter`.

    A set ``stop_event`` ends it after the current batch; the partial result (``done`` False)
    is returned.
    """
    result = None
    for result in simulate_iter(sampler, n_samples, seed=seed, batch_size=batch_size,
                                scorer=scorer, keep_limit=keep_limit, precision=precision):
        if progress is not None:
            progress(result)
        if stop_event is not None and stop_event.is_set():
            break
    return result
