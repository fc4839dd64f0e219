"""The report page's address for a fresh server's first request (pages/README.md says why)."""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parents[1] / "app.py"), run_name="__main__")
