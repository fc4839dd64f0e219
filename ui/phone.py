"""What the dashboard does on a phone, where Streamlit's own behaviour falls short.

Two small scripts run in the page (``st.html`` with JavaScript, not in a frame):

- On a narrow screen the sidebar covers most of the page. Choosing a page in it closes it,
  as a phone's menu does. (Streamlit closes it only for its own menu and only when the
  browser says it is a phone, so a narrow window or a tablet kept it open over the page.)
- The drawing canvas's toolbar (send, undo, redo, trash) shows only while a mouse hovers
  over the canvas; a finger never hovers, so on a touch screen it stays visible.
"""

from __future__ import annotations

import json

import streamlit as st

#: Widths at or below which Streamlit lays the sidebar over the page (its ``md`` breakpoint).
NARROW_PX = 768
#: The canvas toolbar's style for screens without hover (its stylesheet's own hover state).
TOUCH_TOOLBAR_CSS = ("@media (hover: none) { .dc-toolbar { opacity: 1 !important; "
                     "top: -2.65rem !important; } }")

SCRIPT = """
<script>
(() => {
  if (window.ganmcPhone) return;
  window.ganmcPhone = true;
  document.addEventListener("click", (event) => {
    const link = event.target.closest('[data-testid="stSidebar"] a');
    if (!link || window.innerWidth > %(narrow)d) return;
    setTimeout(() => {
      const bar = document.querySelector('[data-testid="stSidebar"]');
      if (bar && bar.dataset.collapsed !== "true" && bar.getBoundingClientRect().right > 0) {
        const close = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
        if (close) close.click();
      }
    }, 250);
  }, true);
  const css = %(css)s;
  setInterval(() => {
    for (const host of document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')) {
      const root = host.shadowRoot;
      if (root && root.querySelector(".dc-toolbar") && !root.querySelector("style.ganmc-touch")) {
        const style = document.createElement("style");
        style.className = "ganmc-touch";
        style.textContent = css;
        root.appendChild(style);
      }
    }
  }, 500);
})();
</script>
"""


def install() -> None:
    """Put the scripts in the page (once per browser tab; later calls do nothing there)."""
    st.html(SCRIPT % {"narrow": NARROW_PX, "css": json.dumps(TOUCH_TOOLBAR_CSS)},
            unsafe_allow_javascript=True)
