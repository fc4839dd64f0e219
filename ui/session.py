"""Session state of the dashboard: the defaults and keys every page shares.

Everything here lives in ``st.session_state`` (one browser session): the active model, the
threshold settings, the images judged on the Detect page, and the helpers that keep a
widget's value when the user visits another page and comes back.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import streamlit as st

from ganmc.core.config import AUTO, DEFAULT_MC_SAMPLES, DEFAULT_PAC_DELTA, DEFAULT_PERCENTILE
from ganmc.storage import bundle
from ganmc.thresholds.decision import Choice
from ganmc.thresholds.distribution import Level

#: Where models trained in the dashboard are saved; ``GANMC_MODELS`` overrides it.
MODELS_DIR = Path(os.environ.get("GANMC_MODELS", "models"))
SHIPPED = str(bundle.DEFAULT_MODEL)
PERCENTILE_RANGE = (50.0, 99.9)
DEFAULTS = {
    "model": SHIPPED,
    "scorer": AUTO,
    "calibration": AUTO,
    "percentile": DEFAULT_PERCENTILE,
    "pac_confidence": round(100 * (1 - DEFAULT_PAC_DELTA), 6),
    "mc_samples": DEFAULT_MC_SAMPLES,
    "mc_seed": 0,
    "mc_precision": AUTO,
    "canvas_version": 0,
    "scored": [],  # (name, uint8 28x28) of the images judged on the Detect page
    "drawing_json": None,  # the canvas's drawing (Fabric.js JSON) behind the "drawing" image
    "canvas_initial": None,  # the drawing the canvas was opened with on this visit of Detect
}
#: The name the canvas's drawing is judged under.
DRAWING = "drawing"


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


def choice_quiet() -> Choice:
    """The session's choice, without the page message :func:`ui.controls.choice` may show."""
    return Choice(st.session_state["scorer"], st.session_state["calibration"], level(),
                          pac_delta=round(1 - st.session_state["pac_confidence"] / 100, 12))


def level() -> Level:
    return Level.from_percentile(st.session_state["percentile"])


def reuse(name: str, key, build):
    """What ``build()`` made on this session's last call with the same ``key`` (one value kept
    per name), else a fresh one: for a poll that would otherwise redo the same work."""
    held = st.session_state.get(f"reuse_{name}")
    if held is None or held[0] != key:
        held = (key, build())
        st.session_state[f"reuse_{name}"] = held
    return held[1]


def throttled(name: str, key, every_s: float, build):
    """Like :func:`reuse`, but a changed ``key`` builds afresh only when ``every_s`` seconds
    have passed since the last build (a live view that need not follow every batch)."""
    held = st.session_state.get(f"throttled_{name}")
    now = time.monotonic()
    if held is None or (held[0] != key and now - held[1] >= every_s):
        held = (key, now, build())
        st.session_state[f"throttled_{name}"] = held
    return held[2]


def remember_images(new: list) -> list:
    """The session's judged images with ``new`` ones added: a new drawing replaces the last
    one, an image already there (same name and pixels) is not added twice. They stay until the
    user clears them, whatever pages are visited meanwhile."""
    images = [(n, img) for n, img in st.session_state["scored"]
              if not (n == DRAWING and any(m == DRAWING for m, _ in new))]
    seen = {(n, img.tobytes()) for n, img in images}
    for name, img in new:
        if (name, img.tobytes()) not in seen:
            images.append((name, img))
            seen.add((name, img.tobytes()))
    st.session_state["scored"] = images
    return images


def forget_removed_uploads(uploaded: list, uploader: str) -> None:
    """Take out of the session's judged images those the uploader (its widget key
    ``uploader``) held on this visit's previous run and no longer holds (its × on a file):
    its verdict goes with it. On a fresh visit, or with a new uploader (the canvas's Clear
    starts one), the uploader starts empty and the images judged before stay."""
    now = {(n, img.tobytes()) for n, img in uploaded}
    same = not opened_afresh() and st.session_state.get("uploads_key") == uploader
    before = st.session_state.get("uploads_held", set()) if same else set()
    gone = before - now
    if gone:
        st.session_state["scored"] = [(n, img) for n, img in st.session_state["scored"]
                                      if (n, img.tobytes()) not in gone]
    st.session_state["uploads_held"], st.session_state["uploads_key"] = now, uploader


def forget_drawing() -> None:
    """Take the canvas's drawing out of the session's judged images (the canvas is empty: its
    verdict goes with it; uploaded images stay). The canvas is then opened empty."""
    st.session_state["scored"] = [(n, img) for n, img in st.session_state["scored"]
                                  if n != DRAWING]
    st.session_state["drawing_json"] = st.session_state["canvas_initial"] = None


def entered(page: str) -> None:
    """Note that ``page`` runs now, and whether it was opened afresh (another page ran last):
    a page opened again starts its widgets anew, so the Detect page hands its canvas the
    drawing it had (see :func:`opened_afresh`)."""
    st.session_state["page_afresh"] = st.session_state.get("page_shown") != page
    st.session_state["page_shown"] = page


def opened_afresh() -> bool:
    """Whether this run is the first of a visit to its page (see :func:`entered`)."""
    return st.session_state.get("page_afresh", True)


def canvas_drawing() -> dict | None:
    """The drawing to open the canvas with: on the first run of a visit to Detect, the one it
    had when the user left it (its verdict stays meanwhile), then the same one for the whole
    visit: a canvas handed a new drawing redraws itself and loses its undo history."""
    if opened_afresh():
        st.session_state["canvas_initial"] = st.session_state["drawing_json"]
    return st.session_state["canvas_initial"]


def kept(widget, name: str, label: str, default=None, *, page: str = "", **kwargs):
    """A widget whose value the session keeps in ``st.session_state[name]``: the same value
    on every page that draws it, and again when the user comes back from another page.

    Streamlit forgets the state of a widget that a run does not draw, so the widget has a key
    of its own (``w_<page>_<name>``, ``w_<name>`` without ``page``: a control that several
    pages draw passes each page's name) that is set from the kept value whenever it is
    missing, and every change is copied back. ``default``: the value before the user sets one
    (a key of :data:`DEFAULTS` has its default already).
    """
    if name not in st.session_state:
        st.session_state[name] = default
    key = f"w_{page}_{name}" if page else f"w_{name}"
    if key not in st.session_state:
        st.session_state[key] = st.session_state[name]

    def copy() -> None:
        st.session_state[name] = st.session_state[key]

    value = widget(label, key=key, on_change=copy, **kwargs)
    st.session_state[name] = value
    return value
