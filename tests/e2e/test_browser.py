"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

Starts ``streamlit run app.py`` on a loopback port, draws a digit on the canvas with the
mouse, moves the percentile slider, downloads the PNG report, and keeps a screenshot of every
page under pytest's temporary folder (``GANMC_SCREENSHOTS`` names another folder).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _require_browser():
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _require_browser()
    port = _free_port()
    env = {**os.environ, "GANMC_OFFLINE": "1",
           "GANMC_MODELS": str(tmp_path_factory.mktemp("models"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
         str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + (proc.stdout.read() if proc.stdout else ""))
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = Path(os.environ.get("GANMC_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser):
    """A page whose every request is recorded: the dashboard asks no host but its own."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    hosts: set[str] = set()
    pg.on("request", lambda request: hosts.add(urlparse(request.url).hostname or ""))
    yield pg
    context.close()
    assert hosts <= {"127.0.0.1", ""}, f"requests to other hosts: {sorted(hosts)}"


def _settle(page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_timeout(500)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=90_000)


def _draw_three(page) -> None:
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    box = canvas.bounding_box()
    x0, y0 = box["x"], box["y"]
    strokes = [[(90, 60), (150, 50), (190, 80), (170, 130), (120, 140)],
               [(120, 140), (180, 160), (190, 210), (150, 240), (90, 225)]]
    for stroke in strokes:
        page.mouse.move(x0 + stroke[0][0], y0 + stroke[0][1])
        page.mouse.down()
        for (xa, ya), (xb, yb) in zip(stroke, stroke[1:]):
            for t in range(1, 9):
                page.mouse.move(x0 + xa + (xb - xa) * t / 8, y0 + ya + (yb - ya) * t / 8)
        page.mouse.up()


def test_pages_in_a_real_browser(server, page, shots):
    start = time.perf_counter()
    page.goto(server + "/")
    page.get_by_text("is this image normal?").wait_for()
    page.locator("[data-testid='stMetric']").filter(has_text="Preset").wait_for()
    first_page_s = time.perf_counter() - start
    _settle(page)
    page.screenshot(path=shots / "home.png", full_page=True)

    # Detect: draw a 3 with the mouse and get a verdict.
    page.goto(server + "/detect")
    page.get_by_text("Draw a digit").first.wait_for()
    _settle(page)
    start = time.perf_counter()
    _draw_three(page)
    page.get_by_text("drawing: as the model sees it").wait_for()
    verdict_s = time.perf_counter() - start
    verdict = page.locator("div.ganmc-verdict").first
    assert re.fullmatch(r"NORMAL|ANOMALY", verdict.inner_text().strip())
    _settle(page)
    page.screenshot(path=shots / "detect.png", full_page=True)
    verdict.scroll_into_view_if_needed()
    page.screenshot(path=shots / "detect-verdict.png")

    # Through the sidebar (the same session) to Monte Carlo and back: the drawing's verdict
    # is still there, coloured as a verdict on the histogram.
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_role("link", name="Monte Carlo").click()
    page.get_by_text("Monte Carlo threshold").first.wait_for()
    _settle(page)
    sidebar.get_by_role("link", name="Detect").click()
    page.get_by_text("drawing: as the model sees it").wait_for()
    assert page.locator("div.ganmc-verdict").count() == 1

    # Monte Carlo: the threshold moves with the percentile slider, without re-simulating.
    page.goto(server + "/monte_carlo")
    page.get_by_text("Monte Carlo threshold").first.wait_for()
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Threshold").first
    metric.wait_for()
    before = metric.locator("[data-testid='stMetricValue']").inner_text()
    slider = page.get_by_role("slider").first
    slider.focus()
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    _settle(page)
    page.wait_for_function(
        "([before]) => { const m = [...document.querySelectorAll("
        "\"[data-testid='stMetric']\")].find(e => e.innerText.includes('Threshold'));"
        " return m && m.querySelector(\"[data-testid='stMetricValue']\").innerText !== before }",
        arg=[before])
    after = metric.locator("[data-testid='stMetricValue']").inner_text()
    assert float(after) > float(before)  # a higher percentile, a higher threshold
    page.screenshot(path=shots / "monte_carlo.png", full_page=True)

    # Report: download the PNG and open it.
    page.goto(server + "/report")
    button = page.get_by_role("button", name="Download report (PNG)")
    button.wait_for()
    with page.expect_download() as info:
        button.click()
    png = Path(info.value.path()).read_bytes()
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG" and img.size == (1200, 1500)
    page.screenshot(path=shots / "report.png", full_page=True)

    page.goto(server + "/train")
    page.get_by_role("button", name="Start training").wait_for()
    page.screenshot(path=shots / "train.png", full_page=True)
    (shots / "timings.txt").write_text(f"first page {first_page_s:.2f} s\n"
                                      f"verdict after drawing {verdict_s:.2f} s\n")
    print(f"first page {first_page_s:.2f} s, verdict after drawing {verdict_s:.2f} s")


def test_opening_a_page_url_directly_keeps_the_app(server, page):
    """A bookmark or a reload straight onto a page runs app.py's set-up and navigation too."""
    page.goto(server + "/train")
    page.get_by_role("button", name="Start training").wait_for()
    _settle(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    assert "Active model" in sidebar.inner_text()
    assert "Monte Carlo" in sidebar.inner_text()
