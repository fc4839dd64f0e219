"""What outlives one script run, shared by every session of the server: the loaded models,
the job registry, the Monte Carlo results, and the measured training and simulation speeds.

Cached functions take what they depend on as arguments (the model folder with its card's
time, the score, the precision), so a rewritten model is loaded afresh and nothing stale is
served.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from ganmc.app import estimate, service
from ganmc.app.jobs import JobRegistry
from ganmc.core.errors import GanmcError
from ganmc.storage import bundle


@st.cache_resource
def jobs() -> JobRegistry:
    """The one job registry of this server process."""
    return JobRegistry()


class ResultStore:
    """Thread-safe dict of finished Monte Carlo results, shared across sessions."""

    def __init__(self, limit: int = 32):
        self._lock = threading.Lock()
        self._items: dict[tuple, object] = {}
        self._limit = limit

    def get(self, key: tuple):
        with self._lock:
            return self._items.get(key)

    def put(self, key: tuple, value) -> None:
        with self._lock:
            if len(self._items) >= self._limit:
                self._items.pop(next(iter(self._items)))
            self._items[key] = value


@st.cache_resource
def results() -> ResultStore:
    return ResultStore()


def model_stamp(path: str) -> float:
    """Changes when the model folder is rewritten, so a retrained model is reloaded."""
    try:
        return (Path(path) / bundle.CARD).stat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def load(path: str, stamp: float):
    return service.load_model(path)


def detector():
    """The active detector, or an in-page error and a stop if it cannot be loaded."""
    path = st.session_state["model"]
    try:
        return load(path, model_stamp(path))
    except GanmcError as exc:
        st.error(f"The model could not be loaded: {exc}")
        st.info("Pick another model on the Overview page, or train one on the Train page.")
        st.stop()


@dataclass(frozen=True)
class McKey:
    """Which Monte Carlo run a session means: results are kept per key, across sessions."""

    model: str
    stamp: float
    scorer: str
    samples: int
    seed: int
    precision: str


#: Seconds a measure of this machine's training speed serves the training estimates.
SPEED_TTL_S = 120


@st.cache_data(ttl=SPEED_TTL_S, show_spinner="Timing this machine…")
def machine_speed() -> float:
    """This machine's training speed now (:func:`ganmc.app.estimate.machine_speed`, about a
    second), timed again after :data:`SPEED_TTL_S`: a page rerun does not time it anew."""
    return estimate.machine_speed()


@st.cache_resource(max_entries=16, show_spinner="Measuring this machine's simulation speed…")
def measured_speed(_det, model: str, stamp: float, scorer: str, precision: str) -> float:
    """Samples/s of a short timed batch of the model's sampler on this machine, once per
    model file, score and precision (the process's own figure, not one from another day)."""
    return service.measure_simulation_speed(_det, scorer=scorer, precision=precision)


def decision_key(d, monte_carlo=None) -> tuple:
    """What a cached page result depends on: the score, the calibration's scores (another
    seed gives other scores), the level and the PAC thresholds' delta."""
    dist = d.threshold.distribution
    mc = (monte_carlo.n, monte_carlo.seed, monte_carlo.scorer, monte_carlo.seconds,
          monte_carlo.extra.get("precision")) if monte_carlo else None
    return (d.scorer, d.threshold.source, d.level.alpha, d.threshold.delta, dist.n, dist.mean,
            dist.std, dist.max, d.notes, mc)


@st.cache_data(show_spinner="Preparing the report…", max_entries=8)
def report_data(_det, _decision, _mc, _images, model: str, stamp: float, decision_key: tuple,
                images_key: bytes):
    """What a report shows, without its time (the examples and the verdicts are the slow
    part); cached per model file, decision and images (the keys say all it depends on)."""
    return service.build_report(_det, _decision, monte_carlo=_mc, images=_images)


@st.cache_data(show_spinner="Rendering the report…", max_entries=8)
def report_png(_data, model: str, stamp: float, decision_key: tuple, images_key: bytes,
               created: str) -> bytes:
    """The report's PNG, rendered again when its time stamp (to the minute) changes."""
    return service.report_files(_data, (".png",))[".png"]


@st.cache_data(show_spinner="Exporting the detector (its graph is converted and checked on "
                            "250 images: a few seconds to half a minute)…", max_entries=4)
def export_zip(_det, _decision, fmt: str, model: str, stamp: float, decision_key: tuple
               ) -> tuple[str, bytes]:
    """The export folder of a decision as a zip file (name, bytes), made once per model
    file, decision and format (:func:`ganmc.app.service.export_zip`)."""
    return service.export_zip(_det, _decision, fmt)
