"""Session state, cached models and results, and the shared job registry of the dashboard.

Pages call into here for everything that outlives one script run: the detector (one loaded
copy per model folder, shared by every session and never mutated by a page), the background
jobs, and the Monte Carlo results (kept per model, scorer, sample count and seed, so moving
the percentile slider never re-simulates).
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import streamlit as st

from ganmc import bundle
from ganmc.errors import GanmcError
from ganmc.jobs import JobRegistry

#: Where models trained in the dashboard are saved; ``GANMC_MODELS`` overrides it.
MODELS_DIR = Path(os.environ.get("GANMC_MODELS", "models"))
SHIPPED = str(bundle.DEFAULT_MODEL)
PERCENTILE_RANGE = (50.0, 99.9)
DEFAULTS = {
    "model": SHIPPED,
    "scorer": "auto",
    "calibration": "auto",
    "percentile": 95.0,
    "mc_samples": 100_000,
    "mc_seed": 0,
    "mc_precision": "auto",
    "canvas_version": 0,
    "scored": [],  # (name, uint8 28x28) of the images judged on the Detect page
}


def keep_keras_state() -> None:
    """Stop Streamlit from clearing Keras' global state at the end of every script run.

    Streamlit calls ``keras.backend.clear_session()`` after each run. That swaps out Keras'
    per-thread state for every thread at once, so a training or Monte Carlo job running in
    the background loses it mid-computation (a mixed-precision layer lost its autocast scope
    and met a float32 kernel with bfloat16 inputs). The dashboard builds models only once per
    model (``st.cache_resource``) and inside jobs, so the clearing would free nothing here.
    """
    import keras

    keras.backend.clear_session = _keep_session


def _keep_session(*args, **kwargs) -> None:
    """Stands in for ``keras.backend.clear_session`` in the dashboard: see above."""


def init() -> None:
    """Set every session default once per browser session."""
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = list(value) if isinstance(value, list) else value
    if "session_id" not in st.session_state:
        st.session_state["session_id"] = uuid.uuid4().hex[:12]


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
def _load(path: str, stamp: float):
    from ganmc.detector import load_model

    return load_model(path)


def detector():
    """The active detector, or an in-page error and a stop if it cannot be loaded."""
    path = st.session_state["model"]
    try:
        return _load(path, model_stamp(path))
    except GanmcError as exc:
        st.error(f"The model could not be loaded: {exc}")
        st.info("Pick another model on the Overview page, or train one on the Train page.")
        st.stop()


def available_models() -> dict[str, str]:
    """Label -> folder of every model to offer: the shipped one, those in MODELS_DIR, and
    the session's active one wherever it lives."""
    found = {"pretrained (shipped)": SHIPPED}
    if MODELS_DIR.is_dir():
        for folder in sorted(MODELS_DIR.iterdir()):
            if (folder / bundle.CARD).is_file() and not folder.name.startswith("."):
                found[folder.name] = str(folder)
    active = st.session_state.get("model")
    if active and active not in found.values():
        found[f"{Path(active).name} ({Path(active).parent})"] = active
    return found


def model_label(path: str) -> str:
    return next((k for k, v in available_models().items() if v == path), Path(path).name)


def scorer_name(det) -> str:
    """The session's scorer, if the model has it, else the model's default."""
    chosen = st.session_state["scorer"]
    return chosen if chosen in det.scorers_ else det.scorers_[0]


def mc_key(det_path: str, scorer: str, samples: int, seed: int, precision: str = "auto"
           ) -> tuple:
    return (det_path, model_stamp(det_path), scorer, int(samples), int(seed), precision)


def current_monte_carlo(det):
    """The session's latest Monte Carlo result for this model and scorer, else the model's."""
    scorer = scorer_name(det)
    key = mc_key(st.session_state["model"], scorer, st.session_state["mc_samples"],
                 st.session_state["mc_seed"], st.session_state["mc_precision"])
    return results().get(key) or det.monte_carlo_.get(scorer)


def calibration(det, monte_carlo=None):
    """The Calibration for the session's scorer and source ('auto' prefers hold-out)."""
    scorer = scorer_name(det)
    source = st.session_state["calibration"]
    if source == "monte-carlo" or (source == "auto" and scorer not in det.holdout_scores_):
        mc = monte_carlo or current_monte_carlo(det)
        if mc is not None:
            return mc.calibration()
    try:
        return det.calibration_for(scorer, "holdout" if source == "auto" else source)
    except GanmcError as exc:  # e.g. no Monte Carlo run of the slow latent-search score yet
        if scorer not in det.holdout_scores_:
            st.info(f"{exc}.")
            st.stop()
        st.warning(f"{exc}: the holdout threshold is used meanwhile (the Monte Carlo page "
                   f"runs a simulation).")
        return det.calibration_for(scorer, "holdout")


def page_setup(page: str):
    """The common head of the Detect and Report pages: the detector, the threshold controls,
    and the session's scorer, Monte Carlo result and calibration."""
    det = detector()
    threshold_controls(det, page)
    mc = current_monte_carlo(det)
    return det, scorer_name(det), mc, calibration(det, mc)


def alpha() -> float:
    return 1.0 - st.session_state["percentile"] / 100.0


def synced(widget, name: str, page: str, label: str, **kwargs):
    """A widget whose value lives in ``st.session_state[name]`` across pages.

    Streamlit forgets a widget's state when a page without it runs, so each page's widget
    has its own key and copies its value into the shared, non-widget key.
    """
    key = f"w_{page}_{name}"
    if key not in st.session_state:
        st.session_state[key] = st.session_state[name]

    def copy() -> None:
        st.session_state[name] = st.session_state[key]

    value = widget(label, key=key, on_change=copy, **kwargs)
    st.session_state[name] = value
    return value


def threshold_controls(det, page: str) -> None:
    """Scorer, calibration source and percentile, shared by every page."""
    c1, c2, c3 = st.columns([1, 1, 2])
    with c1:
        synced(st.selectbox, "scorer", page, "Anomaly score", options=["auto", *det.scorers_],
               help="fanogan: how badly G(E(x)) reconstructs the image. mahalanobis: how "
                    "far the discriminator's features of the image lie from those of the "
                    "training digits. discriminator: the seed's score, minus D's logit. "
                    "latent-search: AnoGAN's, how badly the best G(z) found by optimising z "
                    "reconstructs it (about 100 times slower). auto: fanogan when the model "
                    "has an encoder, else mahalanobis.")
    with c2:
        synced(st.selectbox, "calibration", page, "Threshold from",
               options=["auto", "holdout", "monte-carlo"],
               help="holdout: conformal threshold on real normal digits never trained on "
                    "(guaranteed false-alarm rate). monte-carlo: percentile of the scores of "
                    "generated images (the seed's method). auto: holdout when available.")
    with c3:
        synced(st.slider, "percentile", page, "Percentile (threshold level)",
               min_value=PERCENTILE_RANGE[0], max_value=PERCENTILE_RANGE[1], step=0.1,
               help="P% of normal scores fall at or below the threshold: about (100 - P)% "
                    "false alarms.")
