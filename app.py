"""ganmc dashboard: ``streamlit run app.py``.

The entry point only sets up the page, the session and the navigation; every page is a thin
script under ``pages/views/`` that calls into the ``ganmc`` package (``pages/README.md`` says
why the files directly in ``pages/`` only run this one).

The navigation comes first and needs Streamlit alone: on a fresh server the first run also
imports TensorFlow (15 s or so on a 2-core machine), and until then the browser shows the
real menu and a line saying what is loading, not a blank page.
"""

import sys
from pathlib import Path

import streamlit as st

from ui import phone

ICON = Path(__file__).resolve().parent / "assets" / "icon.png"
#: What the first run of a fresh server waits for, said while it loads.
LOADING = ("Starting ganmc: loading TensorFlow and the model. This takes about 15 seconds "
           "the first time a server opens a page, and no time after.")
st.set_page_config(page_title="ganmc — GAN anomaly detection", page_icon=str(ICON),
                   layout="wide")

overview = st.Page("pages/views/home.py", title="Overview", icon=":material/home:",
                   default=True)


def _to_overview() -> None:
    """``/app`` (the script's own name, which people type) opens the Overview."""
    st.switch_page(overview)


MENU = [
    overview,
    st.Page("pages/views/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/views/monte_carlo.py", title="Monte Carlo", icon=":material/casino:"),
    st.Page("pages/views/detect.py", title="Detect", icon=":material/search:"),
    st.Page("pages/views/report.py", title="Report", icon=":material/description:"),
]
page = st.navigation([*MENU, st.Page(_to_overview, title="Overview", url_path="app")],
                     position="hidden")
with st.sidebar:
    for item in MENU:
        st.page_link(item)
    phone.install()
    st.divider()

loading = st.empty()
if "tensorflow" not in sys.modules:
    loading.info(LOADING, icon=":material/hourglass_top:")

from ganmc.core.runtime import quiet_tensorflow  # noqa: E402  (after the menu: see above)

quiet_tensorflow()

from ui import controls, session  # noqa: E402

loading.empty()
session.keep_keras_state()
session.init()

with st.sidebar:
    st.caption("Active model")
    st.markdown(f"**{session.model_label(st.session_state['model'])}**")
    st.caption(controls.sidebar_summary())

session.entered(page.url_path)
page.run()
