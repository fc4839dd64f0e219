"""The dashboard in a real browser, for the browser tests and the dashboard benchmark: a
fresh ``streamlit run app.py`` on a loopback port and Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """A fresh ``streamlit run app.py`` on a free loopback port, its models under
    ``folder/models`` and its output in ``folder/streamlit.log``: yields its address.

    Raises:
        RuntimeError: If the server does not answer within a minute (its last output said).
    """
    port = _free_port()
    (folder / "models").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GANMC_OFFLINE": "1", "GANMC_MODELS": str(folder / "models")}
    # The output goes to a file, not a pipe: nobody reads a pipe while the browser works,
    # and once its buffer (64 KB) is full every log line blocks the server.
    log = folder / "streamlit.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
             str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.time() + 60
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.time() > deadline:
                        raise RuntimeError("streamlit did not start: "
                                           + log.read_text()[-4000:]) from None
                    time.sleep(0.3)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"streamlit's output ({log}), last lines:\n" + log.read_text()[-2000:])


def settle(page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_timeout(500)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=90_000)


def open_page(page, url: str, title: str) -> None:
    """Go to a page by its address and wait for its title."""
    page.goto(url)
    page.get_by_text(title).first.wait_for()
    settle(page)


def set_number(page, label: str, value: int) -> None:
    """Type a value into the number field with this label and let the page rerun."""
    field = page.get_by_role("spinbutton", name=label)
    field.fill(str(value))
    field.press("Enter")
    settle(page)


def simulate_in_page(page, n: int, timeout_s: float = 180) -> float:
    """Run an n-sample simulation from the Monte Carlo page; its samples/s as the page says."""
    set_number(page, "Samples (N)", n)
    page.get_by_role("button", name="Run simulation").click()
    caption = page.get_by_text(re.compile(rf"{n:,} samples in [\d.]+ s \(")).first
    caption.wait_for(timeout=timeout_s * 1000)
    rate = re.search(r"\(([\d,]+) samples/s", caption.inner_text()).group(1)
    return float(rate.replace(",", ""))
