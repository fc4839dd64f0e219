"""Streamlit glue for the dashboard: session state, caches, charts. All maths is in ganmc."""
