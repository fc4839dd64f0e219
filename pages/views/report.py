"""Report: one PNG with the histogram, the numbers and the verdicts, plus JSON and CSV."""

import streamlit as st

from ganmc import service
from ganmc.report.render import REPORT_SIZE
from ui import state

st.title("Report")
det, decision, mc = state.page_setup("report")
scored = st.session_state.get("scored") or []
judged = (f"the {len(scored)} image{'s' if len(scored) != 1 else ''} judged on the Detect page"
          if scored else "no images of yours yet (judge some on the Detect page)")
st.caption(f"The report shows the {'Monte Carlo' if mc else 'calibration'} histogram with the "
           f"threshold, the summary numbers, two examples from the test split, {judged}, and "
           f"the model card. It is rendered offline (matplotlib), without a browser.")


@st.cache_data(show_spinner="Rendering the report…", max_entries=8)
def render(_det, _decision, _mc, _images, model: str, stamp: float, decision_key: tuple,
           images_key: bytes) -> dict[str, bytes]:
    """Cached per model file, decision and images (the keys say everything it depends on)."""
    data = service.build_report(_det, _decision, monte_carlo=_mc, images=_images)
    return service.report_files(data)


model = st.session_state["model"]
images_key = b"".join(n.encode() + img.tobytes() for n, img in scored)
out = render(det, decision, mc, scored, model, state.model_stamp(model),
             state.decision_key(decision, mc), images_key)

c1, c2, c3 = st.columns(3)
c1.download_button("Download report (PNG)", out[".png"], file_name="ganmc-report.png",
                   mime="image/png", type="primary", key="dl_png")
c2.download_button("Numbers (JSON)", out[".json"], file_name="ganmc-report.json",
                   mime="application/json", key="dl_json")
c3.download_button("Verdicts (CSV)", out[".csv"], file_name="ganmc-report.csv",
                   mime="text/csv", key="dl_csv")
st.image(out[".png"], caption=f"Report preview ({REPORT_SIZE[0]}×{REPORT_SIZE[1]} px)")
