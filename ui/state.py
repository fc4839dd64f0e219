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
from dataclasses import dataclass, replace
from pathlib import Path

import streamlit as st

from ganmc import bundle, scoring, service
from ganmc.calibration import AUTO_SOURCE_RULE, Level
from ganmc.config import AUTO, AUTO_RULE, CALIBRATIONS, DEFAULT_MC_SAMPLES, DEFAULT_PERCENTILE
from ganmc.errors import GanmcError
from ganmc.jobs import JobRegistry

#: Where models trained in the dashboard are saved; ``GANMC_MODELS`` overrides it.
MODELS_DIR = Path(os.environ.get("GANMC_MODELS", "models"))
SHIPPED = str(bundle.DEFAULT_MODEL)
PERCENTILE_RANGE = (50.0, 99.9)
DEFAULTS = {
    "model": SHIPPED,
    "scorer": AUTO,
    "calibration": AUTO,
    "percentile": DEFAULT_PERCENTILE,
    "mc_samples": DEFAULT_MC_SAMPLES,
    "mc_seed": 0,
    "mc_precision": AUTO,
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
    return service.load_model(path)


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


#: The ending of the folder a model calibrated on a session's own images is saved as.
OWN_SUFFIX = "-own-images"


def calibration_target(model: str) -> tuple[Path, bool]:
    """Where calibrating ``model`` on the session's own images writes, and whether that is the
    model itself: a copy in MODELS_DIR called ``<model>-own-images`` (the shipped model and
    every other model stay as they were), or the model itself when it already is such a copy."""
    path = Path(model)
    if path.name.endswith(OWN_SUFFIX) and path.parent.resolve() == MODELS_DIR.resolve():
        return path, True
    base = "pretrained" if model == SHIPPED else path.name
    return MODELS_DIR / bundle.safe_name(base + OWN_SUFFIX), False


def use_model(path: str) -> None:
    """Make ``path`` the session's model; a rewritten folder is loaded afresh (its card's time
    is part of every cache key: the loaded detector, the examples, the report, Monte Carlo)."""
    st.session_state["model"] = str(path)


def model_label(path: str) -> str:
    return next((k for k, v in available_models().items() if v == path), Path(path).name)


@dataclass(frozen=True)
class McKey:
    """Which Monte Carlo run a session means: results are kept per key, across sessions."""

    model: str
    stamp: float
    scorer: str
    samples: int
    seed: int
    precision: str


def choice(det) -> service.Choice:
    """The session's score, threshold source and level as a :class:`ganmc.service.Choice`.

    A score the active model lacks is not replaced silently: the page says so and uses auto.
    """
    chosen = choice_quiet()
    if chosen.scorer != AUTO and chosen.scorer not in det.scorers_:
        st.info(f"This model has no {chosen.scorer} score; showing auto ({det.scorers_[0]}).")
        return replace(chosen, scorer=AUTO)
    return chosen


def mc_key(det) -> McKey:
    """The key of the session's Monte Carlo settings for the active model."""
    model = st.session_state["model"]
    scorer = scoring.resolve_scorer(choice(det).scorer, det.scorers_)
    return McKey(model, model_stamp(model), scorer, int(st.session_state["mc_samples"]),
                 int(st.session_state["mc_seed"]), st.session_state["mc_precision"])


def current_monte_carlo(det):
    """The session's run for its settings (None when not run yet)."""
    return results().get(mc_key(det))


def decision(det, monte_carlo=None):
    """The session's :class:`ganmc.service.Decision`, or an in-page message and a stop."""
    chosen = choice(det)
    try:
        return service.decide(det, chosen, monte_carlo)
    except GanmcError as exc:  # e.g. no Monte Carlo run of the slow latent-search score yet
        holdout = replace(chosen, source="holdout")
        if chosen.source == "monte-carlo" and _decides(det, holdout):
            st.warning(f"{exc}: the holdout threshold is used meanwhile (the Monte Carlo page "
                       f"runs a simulation).")
            return service.decide(det, holdout)
        st.info(f"{exc}. The Monte Carlo page runs a simulation.")
        st.stop()


def _decides(det, chosen) -> bool:
    try:
        service.decide(det, chosen)
        return True
    except GanmcError:
        return False


def decision_key(d, monte_carlo=None) -> tuple:
    """What a cached page result depends on: the score, the calibration's scores (another
    seed gives other scores) and the level."""
    dist = d.calibration.distribution
    mc = (monte_carlo.n, monte_carlo.seed, monte_carlo.scorer, monte_carlo.seconds,
          monte_carlo.extra.get("precision")) if monte_carlo else None
    return (d.scorer, d.calibration.source, d.level.alpha, dist.n, dist.mean, dist.std,
            dist.max, d.notes, mc)


def page_setup(page: str):
    """The common head of the Detect and Report pages: the detector, the threshold controls,
    the session's Monte Carlo run (else the model's stored one) and the decision."""
    det = detector()
    threshold_controls(det, page)
    mc = current_monte_carlo(det) or det.monte_carlo_.get(mc_key(det).scorer)
    d = decision(det, mc)
    for note in det.notes_:
        st.caption(f"Note: {note}")
    return det, d, mc


def sidebar_summary() -> str:
    """The session's threshold settings in words, with what ``auto`` chose for the model."""
    text = f"Threshold: {level()}"
    try:
        model = st.session_state["model"]
        d = service.decide(_load(model, model_stamp(model)), choice_quiet())
    except GanmcError:
        return text + f"; {st.session_state['calibration']} threshold source, " \
                      f"{st.session_state['scorer']} score"
    def picked(asked: str, got: str) -> str:
        return got if asked != AUTO else f"{got} (auto)"

    return (text + f"; score {picked(st.session_state['scorer'], d.scorer)}, threshold from "
            f"{picked(st.session_state['calibration'], d.calibration.source)}")


def choice_quiet() -> service.Choice:
    """The session's choice, without the page message :func:`choice` may show."""
    return service.Choice(st.session_state["scorer"], st.session_state["calibration"], level())


def level() -> Level:
    return Level.from_percentile(st.session_state["percentile"])


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


def reuse(name: str, key, build):
    """What ``build()`` made on this session's last call with the same ``key`` (one value kept
    per name), else a fresh one: for a poll that would otherwise redo the same work."""
    held = st.session_state.get(f"reuse_{name}")
    if held is None or held[0] != key:
        held = (key, build())
        st.session_state[f"reuse_{name}"] = held
    return held[1]


def remember_images(new: list) -> list:
    """The session's judged images with ``new`` ones added: a new drawing replaces the last
    one, an image already there (same name and pixels) is not added twice. They stay until the
    user clears them, whatever pages are visited meanwhile."""
    images = [(n, img) for n, img in st.session_state["scored"]
              if not (n == "drawing" and any(m == "drawing" for m, _ in new))]
    seen = {(n, img.tobytes()) for n, img in images}
    for name, img in new:
        if (name, img.tobytes()) not in seen:
            images.append((name, img))
            seen.add((name, img.tobytes()))
    st.session_state["scored"] = images
    return images


def forget_drawing() -> None:
    """Take the canvas's drawing out of the session's judged images (the canvas was cleared:
    its verdict goes with it; uploaded images stay)."""
    st.session_state["scored"] = [(n, img) for n, img in st.session_state["scored"]
                                  if n != "drawing"]


def kept(widget, key: str, label: str, default, **kwargs):
    """A widget whose value the session keeps when the user visits another page and back.

    Streamlit forgets the state of widgets that a run does not draw; the value is copied to
    ``kept_<key>`` after each run and put back before the widget is drawn again.
    """
    store = f"kept_{key}"
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(store, default)
    value = widget(label, key=key, **kwargs)
    st.session_state[store] = value
    return value


def threshold_controls(det, page: str) -> None:
    """Scorer, calibration source and percentile, shared by every page."""
    chosen = st.session_state["scorer"]
    if chosen != AUTO and chosen not in det.scorers_:
        st.info(f"This model has no {chosen} score; showing auto ({det.scorers_[0]}) instead.")
        st.session_state["scorer"] = AUTO
        st.session_state.pop(f"w_{page}_scorer", None)
    c1, c2, c3 = st.columns([1, 1, 2])
    with c1:
        synced(st.selectbox, "scorer", page, "Anomaly score", options=[AUTO, *det.scorers_],
               help="fanogan: how badly the model redraws the image (it encodes the image and "
                    "generates it back: G(E(x))). mahalanobis: how far the discriminator's "
                    "view of the image lies from its view of the training digits. "
                    "mahalanobis-strokes: the same, also counting drawing less than the "
                    "training digits do as strange (so a 1 is not taken for part of an 8). "
                    "discriminator: the original method, how fake the discriminator finds the "
                    "image (minus its logit). latent-search: AnoGAN's, how badly the best "
                    "redrawing found by searching the generator's inputs fits (about 100 "
                    f"times slower). auto: {AUTO_RULE}; the sidebar says which.")
    with c2:
        synced(st.selectbox, "calibration", page, "Threshold from",
               options=[AUTO, *CALIBRATIONS],
               help="per-digit: a conformal threshold for each digit, on the real normal "
                    "digits never trained on that are taken for it (the false-alarm rate holds "
                    "for every digit). holdout: one conformal threshold on those digits "
                    "(guaranteed on average over digits). monte-carlo: percentile of the "
                    "scores of generated images (the original method). "
                    f"auto: {AUTO_SOURCE_RULE}; the sidebar says which.")
    with c3:
        synced(st.slider, "percentile", page, "Percentile (threshold level)",
               min_value=PERCENTILE_RANGE[0], max_value=PERCENTILE_RANGE[1], step=0.1,
               help="P% of normal scores fall at or below the threshold: about (100 - P)% "
                    "false alarms.")
