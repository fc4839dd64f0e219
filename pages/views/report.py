"""Report: one PNG with the histogram, the numbers and the verdicts, plus JSON and CSV."""

import base64
from dataclasses import replace

import streamlit as st

from ganmc.app import service
from ganmc.core.errors import GanmcError
from ganmc.deploy.export import FORMATS, INSTALL
from ganmc.report.render import REPORT_SIZE
from ui import caches, controls

st.title("Report")
det, decision, mc = controls.page_setup("report")
scored = st.session_state.get("scored") or []
judged = (f"the {len(scored)} image{'s' if len(scored) != 1 else ''} judged on the Detect page"
          if scored else "no images of yours yet (judge some on the Detect page)")
st.caption(f"The report shows the {'Monte Carlo' if mc else 'calibration'} histogram with the "
           f"threshold, the summary numbers, two examples from the test split, {judged}, and "
           f"the model card. It is rendered offline (matplotlib), without a browser.")

model = st.session_state["model"]
key = (model, caches.model_stamp(model), caches.decision_key(decision, mc),
       b"".join(n.encode() + img.tobytes() for n, img in scored))
data = caches.report_data(det, decision, mc, scored, *key)
created = service.report_time()  # the time of this view, not of the cached work
png = caches.report_png(replace(data, created=created), *key, created)


def fresh(suffix: str):
    """The file with the time of the click (a download can come long after the view)."""
    return lambda: service.report_files(replace(data, created=service.report_time()),
                                        (suffix,))[suffix]


c1, c2, c3 = st.columns(3)
c1.download_button("Download report (PNG)", png, file_name="ganmc-report.png",
                   mime="image/png", type="primary", key="dl_png")
c2.download_button("Numbers (JSON)", fresh(".json"), file_name="ganmc-report.json",
                   mime="application/json", key="dl_json")
c3.download_button("Verdicts (CSV)", fresh(".csv"), file_name="ganmc-report.csv",
                   mime="text/csv", key="dl_csv")
if st.toggle("Full size", key="report_full", help="The report at its own size, to read on a "
             "small screen: scroll sideways and down."):
    st.html(f"<div style='overflow:auto;max-height:80vh'><img class='ganmc-report-full' "
            f"src='data:image/png;base64,{base64.b64encode(png).decode()}' "
            f"width='{REPORT_SIZE[0]}' style='max-width:none'></div>")
else:
    st.image(png, width="stretch")
st.caption(f"Report preview, created {created} ({REPORT_SIZE[0]}×{REPORT_SIZE[1]} px).")

st.subheader("Take the detector elsewhere")
st.caption("One folder, as a zip, that judges images as this page does (the score and "
           "threshold above) without TensorFlow or ganmc: the score's float32 graph, its "
           "thresholds, the held-out scores the p-values need, the framing, the model card, "
           "`predict.py` (numpy, Pillow and the graph's runtime) and a README. Before it is "
           "offered, its own runtime must give this page's verdicts on 250 test images. "
           "`ganmc export` writes the same folder.")
RUNS_ON = {"onnx": "onnxruntime", "tflite": "ai-edge-litert",
           "savedmodel": "TensorFlow (no TensorFlow-free runtime)"}
fmt = st.radio("Format", FORMATS, horizontal=True, key="export_format",
               format_func=lambda f: f"{f} (runs on {RUNS_ON[f]})")
export_key = (model, caches.model_stamp(model), caches.decision_key(decision), fmt)
if st.button("Prepare the export", key="export_prepare"):
    try:
        caches.export_zip(det, decision, fmt, *export_key[:2], export_key[2])
        st.session_state["export_ready"] = export_key
    except GanmcError as exc:
        st.error(f"Not exported: {exc}")
        if "not installed" in str(exc):
            st.caption(f"The export tools are an optional part of ganmc: `{INSTALL}`.")
if st.session_state.get("export_ready") == export_key:
    name, zipped = caches.export_zip(det, decision, fmt, *export_key[:2], export_key[2])
    st.download_button(f"Download the export ({fmt}, zip, {len(zipped) / 1e6:.1f} MB)",
                       zipped, file_name=name, mime="application/zip", type="primary",
                       key="dl_export")
