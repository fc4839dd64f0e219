"""Detect: draw or upload digits and get a verdict for each, with what the model saw."""

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from ganmc.errors import GanmcError
from ganmc.preprocess import IMAGE_SUFFIXES, load_image, to_mnist
from ganmc.report import test_split_examples
from ui import charts, state

st.title("Detect anomalies")
det, scorer, mc, calibration = state.page_setup("detect")
alpha = state.alpha()
threshold = calibration.threshold(alpha)
st.caption(f"Threshold **{threshold:.4g}** — {calibration.source} calibration over "
           f"{calibration.distribution.n:,} scores, {st.session_state['percentile']:g}th "
           f"percentile, score {scorer}.")

left, right = st.columns(2)
with left:
    st.subheader("Draw a digit")
    canvas = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000",
                       height=280, width=280, drawing_mode="freedraw", return_image_data=True,
                       key=f"canvas_{st.session_state['canvas_version']}")
    if st.button("Clear the canvas", key="canvas_clear"):
        st.session_state["canvas_version"] += 1
        st.rerun()
with right:
    st.subheader("…or upload images")
    uploads = st.file_uploader("PNG, JPEG, BMP, GIF, TIFF or WebP", accept_multiple_files=True,
                               type=[s.lstrip(".") for s in IMAGE_SUFFIXES], key="uploads")

images: list[tuple[str, np.ndarray]] = []
problems: list[str] = []
data = canvas.image_data if canvas is not None else None
if data is not None and data[..., :3].max() > 0:
    try:
        images.append(("drawing", to_mnist(data[..., :3], name="drawing")))
    except GanmcError as exc:
        problems.append(str(exc))
MAX_UPLOADS = 24
limit_mb = st.get_option("server.maxUploadSize")
uploads = uploads or []
if len(uploads) > MAX_UPLOADS:
    problems.append(f"{len(uploads)} files uploaded; only the first {MAX_UPLOADS} are judged.")
for up in uploads[:MAX_UPLOADS]:
    if up.size > limit_mb * 2**20:  # the browser enforces it too; check again here
        problems.append(f"{up.name}: {up.size / 2**20:.1f} MB is over the {limit_mb} MB limit")
        continue
    try:
        images.append((up.name, load_image(up.getvalue(), name=up.name)))
    except GanmcError as exc:
        problems.append(str(exc))
for message in problems:
    st.warning(message)
st.session_state["scored"] = images

if not images:
    st.info("Draw a digit on the black canvas, or upload images, to get a verdict.")
else:
    x = np.stack([img for _, img in images])
    verdicts = det.verdicts(x, scorer=scorer, calibration=calibration, alpha=alpha)
    recons = det.reconstruct(x, scorer=scorer) if det.can_reconstruct(scorer) else None
    recon_name = "G(z*)" if scorer == "latent-search" else "G(E(x))"
    marks = {n: v.score for (n, _), v in zip(images, verdicts)}
    if mc is not None:  # the Monte Carlo histogram, with the hold-out scores drawn over it
        overlay = calibration.distribution if calibration.source == "holdout" else None
        fig = charts.histogram(mc.distribution, threshold, marks=marks, overlay=overlay,
                               overlay_name="held-out real normal digits (scaled)",
                               title=f"Your images on the Monte Carlo histogram ({mc.n:,} "
                                     f"generated images; {calibration.source} threshold)")
    else:
        fig = charts.histogram(calibration.distribution, threshold, marks=marks,
                               title=f"Your images on the {calibration.source} scores")
    st.plotly_chart(fig, key="det_hist")
    if scorer == "mahalanobis" and recons is not None:
        st.caption("The mahalanobis score measures the discriminator's features, not the "
                   "reconstruction; G(E(x)) is shown for what the model makes of each image.")
    for i, ((name, img), v) in enumerate(zip(images, verdicts)):
        cols = st.columns([1, 1, 1, 3])
        cols[0].image(charts.enlarge(img), caption=f"{name}: as the model sees it (28×28)")
        if recons is not None:
            residual = np.abs(img.astype(np.int16) - recons[i].astype(np.int16)).astype(np.uint8)
            cols[1].image(charts.enlarge(recons[i]), caption=f"reconstruction {recon_name}")
            cols[2].image(charts.enlarge(residual), caption=f"residual |x − {recon_name}|")
        colour = "#d62728" if v.is_anomaly else "#2ca02c"
        cols[3].markdown(
            f"<div class='ganmc-verdict' style='font-size:2.6rem;font-weight:800;"
            f"color:{colour}'>"
            f"{v.label.upper()}</div>", unsafe_allow_html=True)
        cols[3].markdown(f"score **{v.score:.4g}** (threshold {v.threshold:.4g})  \n"
                         f"p-value **{v.p_value:.3g}** — percentile rank "
                         f"{v.percentile_rank:.1f}% of normal scores")


@st.cache_data(show_spinner="Scoring the test split…", max_entries=16)
def examples(model: str, stamp: float, scorer: str, source: str, n_calibration: int,
             percentile: float):
    return test_split_examples(det, scorer=scorer, calibration=calibration,
                               alpha=1 - percentile / 100)


st.subheader("Examples from the test split")
model = st.session_state["model"]
pair = examples(model, state.model_stamp(model), scorer, calibration.source,
                calibration.distribution.n, st.session_state["percentile"])
cols = st.columns(len(pair))
for col, ex in zip(cols, pair):
    col.image(charts.enlarge(ex.image), caption=f"{ex.name} — {ex.note}")
    colour = "#d62728" if ex.verdict.is_anomaly else "#2ca02c"
    col.markdown(f"<span style='font-size:1.4rem;font-weight:700;color:{colour}'>"
                 f"{ex.verdict.label.upper()}</span> score {ex.verdict.score:.4g}, "
                 f"p = {ex.verdict.p_value:.3g}", unsafe_allow_html=True)
