"""ganmc dashboard: ``streamlit run app.py``.

The entry point only sets up the page, the session and the navigation; every page is a thin
script under ``pages/views/`` that calls into the ``ganmc`` package (``pages/README.md`` says
why the files directly in ``pages/`` only run this one).
"""

from pathlib import Path

import streamlit as st

from ganmc.runtime import quiet_tensorflow
from ui import controls, session

ICON = Path(__file__).resolve().parent / "assets" / "icon.png"
st.set_page_config(page_title="ganmc — GAN anomaly detection", page_icon=str(ICON),
                   layout="wide")
quiet_tensorflow()
session.keep_keras_state()
session.init()

pages = [
    st.Page("pages/views/home.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/views/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/views/monte_carlo.py", title="Monte Carlo", icon=":material/casino:"),
    st.Page("pages/views/detect.py", title="Detect", icon=":material/search:"),
    st.Page("pages/views/report.py", title="Report", icon=":material/description:"),
]
page = st.navigation(pages)

with st.sidebar:
    st.caption("Active model")
    st.markdown(f"**{session.model_label(st.session_state['model'])}**")
    st.caption(controls.sidebar_summary())

session.entered(page.url_path)
page.run()
