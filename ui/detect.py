"""What the Detect page shows: the canvas's drawing, each image's verdict, the false alarms
per digit, calibration on the session's images and the test examples."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ganmc.app import service
from ganmc.core.config import DIGITS
from ganmc.core.errors import GanmcError
from ganmc.core.naming import Names
from ganmc.images.preprocess import frame
from ganmc.report import style
from ganmc.thresholds.distribution import Level, percent
from ganmc.thresholds.guarantees import WAY_OUT
from ganmc.thresholds.ranks import min_images, pac_words
from ganmc.thresholds.verdict import taken_for
from ui import caches, charts, session


def drawing(canvas, problems: list[str], framing: str = DIGITS
            ) -> list[tuple[str, np.ndarray]]:
    """The canvas's drawing as the one image to judge, in the model's ``framing``. A canvas
    opened again with the session's drawing (:func:`ui.session.canvas_drawing`) sends no
    picture until it is drawn on: the drawing judged before keeps its verdict. An empty canvas
    (its own trash icon) takes the drawing's verdict away, as the Clear button does."""
    json_data = canvas.json_data if canvas is not None else None
    objects = (json_data or {}).get("objects")
    data = canvas.image_data if canvas is not None and objects else None
    kept = st.session_state["drawing_json"]
    if (data is None and objects and kept is not None and objects == kept.get("objects")
            and any(n == session.DRAWING for n, _ in st.session_state["scored"])):
        return []  # the drawing restored on the canvas: judged already, still in the session
    if data is None or not data[..., :3].max() > 0:
        session.forget_drawing()
        return []
    try:
        image = frame(data[..., :3], framing, name=session.DRAWING)
    except GanmcError as exc:
        problems.append(str(exc))
        return []
    st.session_state["drawing_json"] = json_data
    return [(session.DRAWING, image)]


def threshold_text(v, decision) -> str:
    """The threshold a verdict used, said as what it is and where it comes from."""
    return decision.threshold.judged_by(v.threshold, v.digit, v.name)


def big_verdict(place, v, size: str = "2.6rem", css: str = "ganmc-verdict") -> None:
    place.markdown(f"<div class='{css}' style='font-size:{size};font-weight:800;"
                   f"color:{style.verdict_colour(v.is_anomaly)}'>{v.label.upper()}</div>",
                   unsafe_allow_html=True)


def near_canvas(place, judged, decision) -> None:
    """The drawing's verdict right under the canvas (on a phone the rows below are far)."""
    im = next((im for im in judged if im.name == session.DRAWING), None)
    if im is not None:
        with place.container():
            big_verdict(st, im.verdict, "1.8rem", "ganmc-canvas-verdict")
            st.caption(f"score {im.verdict.score:.4g}, p-value {im.verdict.p_value:.3g}, "
                       f"{threshold_text(im.verdict, decision)}"
                       + (f"; {im.verdict.taken_for}" if im.verdict.digit is not None else "")
                       + (f"; why: {im.verdict.reason}" if im.verdict.reason else ""))


def verdict_row(im, decision, recon_name: str, fdr_flagged: bool | None = None,
                names: Names | None = None) -> None:
    """One image's row: what the model saw, its reconstruction and residual, the verdict
    and its figures (``fdr_flagged``: whether the batch's false discovery rate flags it,
    None when the session has fewer than two images; ``names``: what the classes are
    called). Each image has a card of its own: on a phone the columns stack, and the card's
    border says where one image's verdict ends and the next image begins."""
    with st.container(border=True):
        _verdict_columns(im, decision, recon_name, fdr_flagged, names)


def _verdict_columns(im, decision, recon_name, fdr_flagged, names) -> None:
    cols = st.columns([1, 1, 1, 3])
    cols[0].image(style.enlarge(im.image), caption=f"{im.name}: as the model sees it (28×28)")
    if im.reconstruction is not None:
        residual = np.abs(im.image.astype(np.int16) - im.reconstruction.astype(np.int16))
        cols[1].image(style.enlarge(im.reconstruction), caption=f"reconstruction {recon_name}")
        cols[2].image(style.enlarge(residual.astype(np.uint8)),
                      caption=f"residual |x − {recon_name}|")
    v = im.verdict
    big_verdict(cols[3], v)
    if v.digit is not None:
        noun = (names or Names()).noun
        cols[3].markdown(taken_for(v.digit, bold=True, names=names),
                         help=f"The {noun} the model takes it for (the shape network's "
                              f"likeliest {noun}, or the nearest per-{noun} Gaussian); its "
                              f"threshold is that {noun}'s.")
    cols[3].markdown(f"score **{v.score:.4g}** ({threshold_text(v, decision)})  \n"
                     f"p-value **{v.p_value:.3g}** — percentile rank "
                     f"{v.percentile_rank:.1f}% of normal scores"
                     + ("" if fdr_flagged is None else
                        "  \nin the batch: " + ("**flagged** at the false discovery rate"
                                                if fdr_flagged else
                                                "not flagged at the false discovery rate")))
    if v.reason:
        cols[3].markdown(f"Why: {v.reason}.")


def drift_alarm(drift, decision, images) -> None:
    """The drift alarm over the session's images: when it has gone off, the reason in plain
    words with the one-click way out (calibrate on these images); else one quiet line (its
    curve: :func:`drift_curve`)."""
    if drift is None:
        st.caption("No drift check: the model has no real normal images set aside for this "
                   "score to compare with.")
        return
    if drift.fired:
        with st.container(border=True, key="det_drift_alarm"):
            st.error(f"**{drift.headline()}** {drift.details()}", icon=":material/warning:")
            st.markdown(WAY_OUT)
            calibrate_button(decision, images, key="det_drift_calibrate",
                             label="Calibrate on these images (they are normal for me)",
                             explain=False)
    else:
        st.caption(f"Drift check: {drift.details()}")


def drift_curve(drift) -> None:
    """The drift alarm's martingale over the session's images."""
    if drift is not None:
        st.plotly_chart(charts.drift_curve(drift), key="det_drift_curve")


def batch_fdr(fdr) -> None:
    """Benjamini-Hochberg over the session's images, beside their one-by-one verdicts."""
    if fdr is not None:
        st.info(f"**As a batch**: {fdr.words()}", icon=":material/fact_check:")


def threshold_caption(decision, names: Names | None = None) -> None:
    """The page's threshold in a line: one number, or under per-digit thresholds what they
    are (each image's own is on its verdict)."""
    rule = decision.threshold
    what = rule.headline((names or Names()).noun)
    dist = rule.distribution
    st.caption(f"{what}; over {dist.n:,} scores, {decision.level}, score {decision.scorer}. "
               + " ".join(f"({n})" for n in decision.notes))


def per_digit(det, decision) -> str:
    """The table of false alarms per digit on the held-out images (when the model has
    per-digit Gaussians); returns how the thresholds are set, in words."""
    rates = service.holdout_rates_by_digit(det, decision)
    grouped = decision.threshold.per_digit
    pooled = sum(r["pooled"] for r in rates.values()) if grouped else 0  # on the pooled one
    need = min_images(decision.level)
    names = det.names
    n, ns = names.noun, names.plural
    how = (decision.threshold.source if not grouped else f"per-{n}: each {n} its own"
           if not pooled else f"per-{n}; {pooled} of the {len(rates)} {ns} have fewer "
                              f"than {need} images and use the pooled threshold")
    if not rates:
        return how
    with st.expander(f"False alarms per {n} on the real normal images kept out of training, "
                     f"at this threshold ({decision.level.percent} nominal)"):
        st.dataframe([{n: names.name(d), "normal images": r["n"],
                       "false alarms": "–" if r["false_alarm_rate"] is None
                       else f"{percent(r['false_alarm_rate'], '.1f')}",
                       "threshold": None if r["threshold"] is None else round(r["threshold"], 4),
                       "threshold used": ("pooled (too few images)" if r["pooled"] else
                                          f"the {n}'s own") if grouped else
                       f"one for all {ns}"} for d, r in rates.items()],
                     hide_index=True, key="det_per_digit")
        if not decision.threshold.promises:
            guarantee = (f"This threshold comes from the Monte Carlo simulation: nothing "
                         f"guarantees these rates (the per-{n} and holdout thresholds are set "
                         f"on these images, with a guarantee).")
        elif not grouped:
            guarantee = (f"One threshold for all {ns}: the rate holds on average over {ns}, "
                         f"not for each (choose per-digit in Threshold from).")
        elif not pooled:
            guarantee = (f"Each {n} has its own threshold, so the false-alarm rate holds for "
                         f"every {n}, not only on average.")
        else:
            guarantee = (f"A {n} gets a threshold of its own from {need} images of it on; "
                         f"below that it uses the pooled one, whose rate holds on average over "
                         f"those {ns}, not for each.")
        st.caption("These are the real normal images the model was not trained on (its "
                   "held-out share, or your own once you calibrate on them); each is counted "
                   f"under the {n} the model takes it for. " + guarantee)
    return how


def calibrated(decision, how: str) -> None:
    """What the previous run's calibration on the session's images came to."""
    done = st.session_state.pop("calibrated", None)
    if done is None:
        return
    lo, hi = done["band"]
    rule = decision.threshold
    own = rule.per_digit and len(rule.fallbacks()) < len(rule.groups)  # some digit has its own
    new = (f"New thresholds ({how}; each verdict says its own)" if own
           else f"New threshold **{rule.value:.4g}** ({how})")
    st.success(f"{done['what']} {new}. With {done['n']} images, the false-alarm rate at a "
               f"nominal {percent(done['alpha'])} lands between **{percent(lo, '.1f')}** and "
               f"**{percent(hi, '.1f')}** on further images like these (in 9 cases out of 10); "
               f"more images make the range narrower. {done.get('pac', '')}")


def calibrate_section(decision, images) -> None:
    """Use the session's images as the normal ones: the same service call as `ganmc
    calibrate`, on a copy of the model unless the model already is one."""
    st.subheader("Use these images as normal (calibrate)")
    model = st.session_state["model"]
    target, in_place = session.calibration_target(model)
    alpha, n, need = decision.level.alpha, len(images), min_images(decision.level)
    st.caption(
        f"Makes the {n} image{'s' if n != 1 else ''} above the model's normal examples: the "
        f"threshold is recomputed from their scores with the same conformal rule (per digit "
        f"too). " + (f"This model ({target.name}) is recalibrated in place." if in_place else
                     f"{session.model_label(model)} itself is not changed: a copy calibrated "
                     f"on these images is saved as {target}"
                     + (" (replacing the earlier copy)" if target.exists() else "")
                     + " and becomes the active model.")
        + f" At {percent(alpha)} false alarms it needs at least {need} images.")
    calibrate_button(decision, images)


def calibrate_button(decision, images, key: str = "det_calibrate",
                     label: str = "Use these images as normal (calibrate)",
                     explain: bool = True) -> None:
    """The button that calibrates the model (a copy of it) on the session's images and
    switches to it; below the level's minimum it is disabled, and says (``explain``: below
    it, else in its tooltip) how many more images it needs."""
    model = st.session_state["model"]
    target, _ = session.calibration_target(model)
    alpha, n, need = decision.level.alpha, len(images), min_images(decision.level)
    more = (f"{n} image{'s' if n != 1 else ''} so far: {need - n} more to calibrate at "
            f"{percent(alpha)} (a lower percentile needs fewer).")
    if st.button(label, key=key, disabled=n < need, help=more if n < need else None):
        try:
            with st.spinner(f"Scoring {n} images and saving…"):
                det, bands = service.calibrate_on(
                    model, np.stack([img for _, img in images]), level=decision.level,
                    name="own images (Detect page)", sources=[name for name, _ in images],
                    out=target)
        except GanmcError as exc:
            st.error(f"The model could not be calibrated: {exc}")
            return
        st.session_state["calibrated"] = {
            "what": f"Calibrated {target.name} on your {n} images and switched to it.",
            "n": n, "alpha": alpha, "band": bands["all"]["band"],
            "pac": pac_words(n, Level(alpha), decision.threshold.delta or det.pac_delta)}
        session.use_model(str(target))
        st.rerun()
    elif n < need and explain:
        st.info(more)


@st.cache_data(show_spinner="Scoring the test split…", max_entries=16)
def _examples(_det, _decision, model: str, stamp: float, decision_key: tuple):
    """Cached per model file and decision (its key says everything the result depends on)."""
    return service.test_examples(_det, _decision)


def examples(det, decision) -> None:
    st.subheader("Examples: the model's own held-out pictures" if det.own_images
                 else "Examples from the test split")
    model = st.session_state["model"]
    pair = _examples(det, decision, model, caches.model_stamp(model),
                     caches.decision_key(decision))
    if not pair:
        st.caption("This model kept no pictures of its own to show.")
        return
    for col, ex in zip(st.columns(len(pair)), pair):
        col.image(style.enlarge(ex.image), caption=f"{ex.name} — {ex.note}")
        v = ex.verdict
        col.markdown(f"<span style='font-size:1.4rem;font-weight:700;"
                     f"color:{style.verdict_colour(v.is_anomaly)}'>{v.label.upper()}</span> score "
                     f"{v.score:.4g}, p = {v.p_value:.3g}"
                     + (f", {v.taken_for}" if v.digit is not None else ""),
                     unsafe_allow_html=True)
