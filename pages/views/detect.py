"""Detect: draw or upload digits and get a verdict for each, with what the model saw."""

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from ganmc.app import service
from ganmc.core import files
from ganmc.core.config import DIGITS, FRAMING_ABOUT, FRAMING_WORDS
from ganmc.core.errors import GanmcError
from ganmc.core.scorers import GAUSSIAN, REGISTRY
from ganmc.images.preprocess import IMAGE_SUFFIXES, load_image
from ganmc.report.style import Mark
from ganmc.storage.cardtext import catches_text
from ui import charts, controls, session
from ui import detect as view

MAX_UPLOADS = 24

st.title("Detect anomalies")
det, decision, mc = controls.page_setup("detect")
view.threshold_caption(decision, det.names)
if det.own_images or det.framing_ != DIGITS:
    st.caption(f"Each picture is put into the model's frame {FRAMING_WORDS[det.framing_]}, as "
               f"its training pictures were: {FRAMING_ABOUT[det.framing_].split(': ', 1)[1]}.")
else:
    with st.expander("What this model catches, and what it still misses"):
        st.markdown("\n".join(f"- {line}" for line in catches_text(det.card())))
how = view.per_digit(det, decision)
view.calibrated(decision, how)

left, right = st.columns(2)
problems: list[str] = []
with left:
    st.subheader("Draw a digit" if not det.own_images else "Draw")
    canvas = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000",
                       height=280, width=280, drawing_mode="freedraw", return_image_data=True,
                       initial_drawing=session.canvas_drawing(),
                       key=f"canvas_{st.session_state['canvas_version']}")
    if st.button("Clear the canvas", key="canvas_clear",
                 help="Wipe the drawing and its verdict (uploaded images stay)."):
        session.forget_drawing()
        st.session_state["canvas_version"] += 1
        st.rerun()
    by_canvas = st.empty()  # the drawing's verdict, once judged below
with right:
    st.subheader("…or upload images")
    uploads = st.file_uploader("PNG, JPEG, BMP, GIF, TIFF or WebP", accept_multiple_files=True,
                               type=[s.lstrip(".") for s in IMAGE_SUFFIXES],
                               key=f"uploads_{st.session_state['canvas_version']}")
    if st.button("Clear all images", key="images_clear",
                 help="Forget every image judged in this session (they stay until then, "
                      "across pages)."):
        session.forget_drawing()
        st.session_state["scored"] = []
        st.session_state["canvas_version"] += 1
        st.rerun()

images = view.drawing(canvas, problems, det.framing_)
uploaded: list = []
limit_mb = st.get_option("server.maxUploadSize")
uploads = uploads or []
if len(uploads) > MAX_UPLOADS:
    problems.append(f"{len(uploads)} files uploaded; only the first {MAX_UPLOADS} are judged.")
for up in uploads[:MAX_UPLOADS]:
    if up.size > limit_mb * 2**20:  # the browser enforces it too; check again here
        problems.append(f"{up.name}: {up.size / 2**20:.1f} MB is over the {limit_mb} MB limit")
        continue
    try:
        uploaded.append((up.name, load_image(up.getvalue(), name=up.name,
                                             framing=det.framing_)))
    except GanmcError as exc:
        problems.append(str(exc))
for message in problems:
    st.warning(message)
# the uploader's × takes a file's verdict away
session.forget_removed_uploads(uploaded, f"uploads_{st.session_state['canvas_version']}")
images = session.remember_images(images + uploaded)

if not images:
    st.info("Draw a digit on the black canvas, or upload images, to get a verdict.")
else:
    judged = service.judge_images(det, decision, [n for n, _ in images],
                                  np.stack([img for _, img in images]))
    # the session's images, in the order judged, are the drift alarm's stream; two or more
    # are a batch for the false discovery rate (at the page's level)
    checks = service.guarantees(det, decision, [im.verdict for im in judged],
                                fdr=decision.level.alpha if len(judged) >= 2 else None)
    view.near_canvas(by_canvas, judged, decision)
    view.drift_alarm(checks.drift, decision, images)
    recon_name = REGISTRY[decision.scorer].reconstructs
    st.plotly_chart(charts.verdict_histogram(decision, mc, {im.name: Mark.of(im.verdict)
                                                            for im in judged}), key="det_hist")
    view.batch_fdr(checks.fdr)
    view.drift_curve(checks.drift)
    if decision.scorer in GAUSSIAN and judged[0].reconstruction is not None:
        st.caption(f"The {decision.scorer} score measures the discriminator's features, not the "
                   f"reconstruction; {recon_name} is shown for what the model makes of each "
                   f"image.")
    flagged = checks.fdr.flagged if checks.fdr is not None else [None] * len(judged)
    for im, in_batch in zip(judged, flagged):
        view.verdict_row(im, decision, recon_name, in_batch, det.names)
    st.download_button(
        "Verdicts (CSV)", key="det_csv", file_name="ganmc-verdicts.csv", mime="text/csv",
        data=files.table_bytes(service.image_rows([im.name for im in judged],
                                                  [im.verdict for im in judged], checks.fdr,
                                                  det.names)),
        help="One row per image: its score, p-value and verdict, with the digit it was taken "
             "for and that threshold under per-digit thresholds, why an anomaly was flagged "
             "and, for two images or more, its verdict at the batch's false discovery rate.")
    better = next((s for s in ("combined", "fanogan") if s in det.scorers_), None)
    if decision.scorer in GAUSSIAN and not REGISTRY[decision.scorer].composite and better:
        st.caption(f"Photographs and other pictures that are not handwriting: {decision.scorer} "
                   f"measures how the discriminator sees a picture, and a photo squeezed into "
                   f"28×28 can look to it like a digit. For such pictures choose the {better} "
                   f"score (Anomaly score; the README's \"Which score?\" has an example).")
    view.calibrate_section(decision, images)

view.examples(det, decision)
