"""Detect: draw or upload digits and get a verdict for each, with what the model saw."""

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from ganmc import service
from ganmc.calibration import min_images
from ganmc.errors import GanmcError
from ganmc.preprocess import IMAGE_SUFFIXES, load_batch, to_mnist
from ganmc.report.style import Mark, verdict_colour
from ganmc.scoring import GAUSSIAN, TABLE
from ui import charts, state

MAX_UPLOADS = 24

st.title("Detect anomalies")
det, decision, mc = state.page_setup("detect")
st.caption(f"Threshold **{decision.threshold:.4g}** — {decision.calibration.source} calibration "
           f"over {decision.calibration.distribution.n:,} scores, {decision.level}, score "
           f"{decision.scorer}. " + " ".join(f"({n})" for n in decision.notes))
rates = service.holdout_rates_by_digit(det, decision)
per_digit = decision.calibration.groups is not None
pooled = sum(r["pooled"] for r in rates.values())  # digits on the pooled threshold
need = min_images(decision.level.alpha)
if not per_digit:
    how = decision.calibration.source
elif not pooled:
    how = "per-digit: each digit its own"
else:
    how = (f"per-digit; {pooled} of the {len(rates)} digits have fewer than {need} images and "
           f"use the pooled threshold")
calibrated = st.session_state.pop("calibrated", None)
if calibrated is not None:  # the previous run calibrated a model on this session's images
    lo, hi = calibrated["band"]
    st.success(f"{calibrated['what']} New threshold **{decision.threshold:.4g}** "
               f"({how}). With {calibrated['n']} images, the "
               f"false-alarm rate at a nominal {100 * calibrated['alpha']:.3g} % lands between "
               f"**{100 * lo:.1f} %** and **{100 * hi:.1f} %** on further images like these "
               f"(in 9 cases out of 10); more images make the range narrower.")
if rates:
    with st.expander(f"False alarms per digit on the real normal images kept out of training, "
                     f"at this threshold ({100 * decision.level.alpha:.3g} % nominal)"):
        st.dataframe([{"digit": d, "normal images": r["n"],
                       "false alarms": "–" if r["false_alarm_rate"] is None
                       else f"{100 * r['false_alarm_rate']:.1f} %",
                       "threshold": round(r["threshold"], 4),
                       "threshold used": ("pooled (too few images)" if r["pooled"] else
                                          "the digit's own") if per_digit else
                       "one for all digits"} for d, r in rates.items()],
                     hide_index=True, key="det_per_digit")
        if decision.calibration.source == "monte-carlo":
            guarantee = ("This threshold comes from the Monte Carlo simulation: nothing "
                         "guarantees these rates (the per-digit and holdout thresholds are set "
                         "on these images, with a guarantee).")
        elif not per_digit:
            guarantee = ("One threshold for all digits: the rate holds on average over digits, "
                         "not for each (choose per-digit in Threshold from).")
        elif not pooled:
            guarantee = ("Each digit has its own threshold, so the false-alarm rate holds for "
                         "every digit, not only on average.")
        else:
            guarantee = (f"A digit gets a threshold of its own from {need} images of it on; "
                         f"below that it uses the pooled one, whose rate holds on average over "
                         f"those digits, not for each.")
        st.caption("These are the real normal images the model was not trained on (its "
                   "held-out share, or your own once you calibrate on them); each is counted "
                   "under the digit the model takes it for. " + guarantee)

left, right = st.columns(2)
with left:
    st.subheader("Draw a digit")
    canvas = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000",
                       height=280, width=280, drawing_mode="freedraw", return_image_data=True,
                       key=f"canvas_{st.session_state['canvas_version']}")
    if st.button("Clear the canvas", key="canvas_clear",
                 help="Wipe the drawing and its verdict (uploaded images stay)."):
        state.forget_drawing()
        st.session_state["canvas_version"] += 1
        st.rerun()
with right:
    st.subheader("…or upload images")
    uploads = st.file_uploader("PNG, JPEG, BMP, GIF, TIFF or WebP", accept_multiple_files=True,
                               type=[s.lstrip(".") for s in IMAGE_SUFFIXES],
                               key=f"uploads_{st.session_state['canvas_version']}")
    if st.button("Clear all images", key="images_clear",
                 help="Forget every image judged in this session (they stay until then, "
                      "across pages)."):
        st.session_state["scored"] = []
        st.session_state["canvas_version"] += 1
        st.rerun()

images: list[tuple[str, np.ndarray]] = []
problems: list[str] = []
data = canvas.image_data if canvas is not None else None
if data is not None and data[..., :3].max() > 0:
    try:
        images.append(("drawing", to_mnist(data[..., :3], name="drawing")))
    except GanmcError as exc:
        problems.append(str(exc))
limit_mb = st.get_option("server.maxUploadSize")
uploads = uploads or []
if len(uploads) > MAX_UPLOADS:
    problems.append(f"{len(uploads)} files uploaded; only the first {MAX_UPLOADS} are judged.")
small = []
for up in uploads[:MAX_UPLOADS]:
    if up.size > limit_mb * 2**20:  # the browser enforces it too; check again here
        problems.append(f"{up.name}: {up.size / 2**20:.1f} MB is over the {limit_mb} MB limit")
        continue
    small.append((up.name, up.getvalue()))
read, refused = load_batch(small)  # the batch's pixels bounded from the headers
images += read
problems += refused
for message in problems:
    st.warning(message)
images = state.remember_images(images)

if not images:
    st.info("Draw a digit on the black canvas, or upload images, to get a verdict.")
else:
    judged = service.judge_images(det, decision, [n for n, _ in images],
                                  np.stack([img for _, img in images]))
    marks = {im.name: Mark.of(im.verdict) for im in judged}
    recon_name = TABLE[decision.scorer].reconstructs
    st.plotly_chart(charts.verdict_histogram(decision, mc, marks), key="det_hist")
    if decision.scorer in GAUSSIAN and judged[0].reconstruction is not None:
        st.caption(f"The {decision.scorer} score measures the discriminator's features, not the "
                   f"reconstruction; {recon_name} is shown for what the model makes of each "
                   f"image.")
    for im in judged:
        cols = st.columns([1, 1, 1, 3])
        cols[0].image(charts.enlarge(im.image), caption=f"{im.name}: as the model sees it "
                                                        f"(28×28)")
        if im.reconstruction is not None:
            residual = np.abs(im.image.astype(np.int16) - im.reconstruction.astype(np.int16))
            cols[1].image(charts.enlarge(im.reconstruction), caption=f"reconstruction "
                                                                     f"{recon_name}")
            cols[2].image(charts.enlarge(residual.astype(np.uint8)),
                          caption=f"residual |x − {recon_name}|")
        v = im.verdict
        cols[3].markdown(
            f"<div class='ganmc-verdict' style='font-size:2.6rem;font-weight:800;"
            f"color:{verdict_colour(v.is_anomaly)}'>{v.label.upper()}</div>",
            unsafe_allow_html=True)
        if v.digit is not None:
            cols[3].markdown(taken_for(v.digit, bold=True),
                             help="The digit whose training images it lies closest to (the "
                                  "nearest per-digit Gaussian); its threshold is that digit's.")
        cols[3].markdown(f"score **{v.score:.4g}** (threshold {v.threshold:.4g})  \n"
                         f"p-value **{v.p_value:.3g}** — percentile rank "
                         f"{v.percentile_rank:.1f}% of normal scores")
    if decision.scorer in GAUSSIAN and "fanogan" in det.scorers_:
        st.caption(f"Photographs and other pictures that are not handwriting: {decision.scorer} "
                   f"measures how the discriminator sees a picture, and a photo squeezed into "
                   f"28×28 can look to it like a digit. For such pictures choose the fanogan "
                   f"score (Anomaly score), which asks whether the model can redraw the "
                   f"picture (the README's \"Which score?\" has an example).")


def calibrate_section() -> None:
    """Use the session's images as the normal ones: the same service call as `ganmc
    calibrate`, on a copy of the model unless the model already is one."""
    st.subheader("Use these images as normal (calibrate)")
    model = st.session_state["model"]
    target, in_place = state.calibration_target(model)
    alpha, n = decision.level.alpha, len(images)
    st.caption(
        f"Makes the {n} image{'s' if n != 1 else ''} above the model's normal examples: the "
        f"threshold is recomputed from their scores with the same conformal rule (per digit "
        f"too). " + (f"This model ({target.name}) is recalibrated in place." if in_place else
                     f"{state.model_label(model)} itself is not changed: a copy calibrated on "
                     f"these images is saved as {target}"
                     + (" (replacing the earlier copy)" if target.exists() else "")
                     + " and becomes the active model.")
        + f" At {100 * alpha:.3g} % false alarms it needs at least {need} images.")
    if st.button("Use these images as normal (calibrate)", key="det_calibrate",
                 disabled=n < need):
        try:
            with st.spinner(f"Scoring {n} images under every score and saving…"):
                if not in_place:
                    service.copy_model(model, target)
                _, bands = service.calibrate_on(
                    target, np.stack([img for _, img in images]), alpha=alpha,
                    name="own images (Detect page)", sources=[name for name, _ in images])
        except GanmcError as exc:
            st.error(f"The model could not be calibrated: {exc}")
            return
        st.session_state["calibrated"] = {
            "what": f"Calibrated {target.name} on your {n} images and switched to it.",
            "n": n, "alpha": alpha, "band": bands["all"]["band"]}
        state.use_model(str(target))
        st.rerun()
    elif n < need:
        st.info(f"{n} image{'s' if n != 1 else ''} so far: {need - n} more to calibrate at "
                f"{100 * alpha:.3g} % (a lower percentile needs fewer).")


if images:
    calibrate_section()


@st.cache_data(show_spinner="Scoring the test split…", max_entries=16)
def examples(_det, _decision, model: str, stamp: float, decision_key: tuple):
    """Cached per model file and decision (its key says everything the result depends on)."""
    return service.test_examples(_det, _decision)


st.subheader("Examples from the test split")
model = st.session_state["model"]
pair = examples(det, decision, model, state.model_stamp(model), state.decision_key(decision))
for col, ex in zip(st.columns(len(pair)), pair):
    col.image(charts.enlarge(ex.image), caption=f"{ex.name} — {ex.note}")
    col.markdown(f"<span style='font-size:1.4rem;font-weight:700;"
                 f"color:{verdict_colour(ex.verdict.is_anomaly)}'>"
                 f"{ex.verdict.label.upper()}</span> score {ex.verdict.score:.4g}, "
                 f"p = {ex.verdict.p_value:.3g}"
                 + (", " + ex.verdict.taken_for if ex.verdict.digit is not None else ""),
                 unsafe_allow_html=True)
