"""Report: one PNG with the histogram, the numbers and the verdicts, plus JSON and CSV."""

import json

import streamlit as st

from ganmc import files, report
from ui import state

st.title("Report")
det, scorer, mc, calibration = state.page_setup("report")
percentile = st.session_state["percentile"]
scored = st.session_state.get("scored") or []
st.caption(f"The report shows the {'Monte Carlo' if mc else 'calibration'} histogram with the "
           f"threshold, the summary numbers, two examples from the test split, the "
           f"{len(scored)} image(s) judged on the Detect page, and the model card. It is "
           f"rendered offline (matplotlib), without a browser.")


@st.cache_data(show_spinner="Rendering the report…", max_entries=8)
def render(model: str, stamp: float, scorer: str, source: str, n_calibration: int,
           percentile: float, mc_n: int, images_key: bytes):
    examples = report.test_split_examples(det, scorer=scorer, calibration=calibration,
                                          alpha=1 - percentile / 100)
    data = report.build_report_data(det, percentile=percentile, scorer=scorer, monte_carlo=mc,
                                    calibration_source=calibration.source, images=scored,
                                    examples=examples)
    return (report.report_png(data), json.dumps(report.report_summary(data), indent=2),
            report.report_rows(data))


model = st.session_state["model"]
images_key = b"".join(n.encode() + img.tobytes() for n, img in scored)
png, summary_json, rows = render(model, state.model_stamp(model), scorer, calibration.source,
                                 calibration.distribution.n, percentile,
                                 mc.n if mc else 0, images_key)

c1, c2, c3 = st.columns(3)
c1.download_button("Download report (PNG)", png, file_name="ganmc-report.png",
                   mime="image/png", type="primary", key="dl_png")
c2.download_button("Numbers (JSON)", summary_json, file_name="ganmc-report.json",
                   mime="application/json", key="dl_json")
c3.download_button("Verdicts (CSV)", files.table_bytes(rows), file_name="ganmc-report.csv",
                   mime="text/csv", key="dl_csv")
st.image(png, caption=f"Report preview ({report.REPORT_SIZE[0]}×{report.REPORT_SIZE[1]} px)")
if not scored:
    st.info("Draw or upload images on the Detect page to add them to the report.")
