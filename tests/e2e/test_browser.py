"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

Starts ``streamlit run app.py`` on a loopback port, draws a digit on the canvas with the
mouse, moves the percentile slider, downloads the PNG report, and keeps a screenshot of every
page under pytest's temporary folder (``GANMC_SCREENSHOTS`` names another folder; the README's
``docs/images/dashboard-*.png`` are home, train-running, monte_carlo, detect-verdict and
report from there). Issue 13's workflows are timed here too: the Monte Carlo page's rate
against the same run in process, the slider's settle time, and Stop on the Train page.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from benchmarks.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    open_page,
    serve,
    set_number,
    settle,
    simulate_in_page,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _require_browser():
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    pytest.importorskip("playwright.sync_api")


def _serve(folder: Path):
    """A fresh server (``benchmarks.browser.serve``): yields its address."""
    _require_browser()
    try:
        with serve(folder) as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from _serve(tmp_path_factory.mktemp("server"))


@pytest.fixture
def cold_server(tmp_path):
    """A server no browser has opened yet."""
    yield from _serve(tmp_path)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
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
    page.locator("[data-testid='stMetric']").filter(has_text="Training budget").wait_for()
    first_page_s = time.perf_counter() - start
    settle(page)
    page.screenshot(path=shots / "home.png", full_page=True)

    # Detect: draw a 3 with the mouse and get a verdict.
    page.goto(server + "/detect")
    page.get_by_text("Draw a digit").first.wait_for()
    settle(page)
    start = time.perf_counter()
    _draw_three(page)
    page.get_by_text("drawing: as the model sees it").wait_for()
    verdict_s = time.perf_counter() - start
    verdict = page.locator("div.ganmc-verdict").first
    assert re.fullmatch(r"NORMAL|ANOMALY", verdict.inner_text().strip())
    settle(page)
    page.screenshot(path=shots / "detect.png", full_page=True)
    verdict.scroll_into_view_if_needed()
    page.screenshot(path=shots / "detect-verdict.png")

    # Through the sidebar (the same session) to Monte Carlo and back: the canvas comes back
    # with the drawing on it, and the drawing's verdict with it (issue 35, item 1).
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_role("link", name="Monte Carlo").click()
    page.get_by_text("Monte Carlo threshold").first.wait_for()
    settle(page)
    sidebar.get_by_role("link", name="Detect").click()
    page.get_by_text("drawing: as the model sees it").wait_for()
    settle(page)
    assert page.locator("div.ganmc-canvas-verdict").count() == 1

    # Monte Carlo: the threshold moves with the percentile slider, without re-simulating.
    sidebar.get_by_role("link", name="Monte Carlo").click()
    page.get_by_text("Monte Carlo threshold").first.wait_for()
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Threshold").first
    metric.wait_for()
    before = metric.locator("[data-testid='stMetricValue']").inner_text()
    slider = page.get_by_role("slider").first
    slider.focus()
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    settle(page)
    page.wait_for_function(
        "([before]) => { const m = [...document.querySelectorAll("
        "\"[data-testid='stMetric']\")].find(e => e.innerText.includes('Threshold'));"
        " return m && m.querySelector(\"[data-testid='stMetricValue']\").innerText !== before }",
        arg=[before])
    after = metric.locator("[data-testid='stMetricValue']").inner_text()
    assert float(after) > float(before)  # a higher percentile, a higher threshold
    page.screenshot(path=shots / "monte_carlo.png", full_page=True)

    # Report: download the PNG and open it.
    sidebar.get_by_role("link", name="Report").click()
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


def test_the_report_page_downloads_the_export_and_it_judges(server, page, tmp_path):
    """Take the detector elsewhere: the zip of the shipped model's export, downloaded by the
    browser; unzipped, its predict.py judges a picture without TensorFlow."""
    import subprocess
    import sys
    import zipfile

    from tests.integration.test_export import BARE_ENV, ROOT, require

    require("tf2onnx", "onnxruntime")
    open_page(page, server + "/report", "Take the detector elsewhere")
    page.get_by_role("button", name="Prepare the export").click()
    button = page.get_by_role("button", name=re.compile(r"Download the export \(onnx, zip"))
    button.wait_for(timeout=180_000)
    with page.expect_download() as info:
        button.click()
    with zipfile.ZipFile(info.value.path()) as z:
        names = z.namelist()
        z.extractall(tmp_path)
    folder = tmp_path / names[0].split("/")[0]
    assert {"export.json", "model.onnx", "predict.py", "references.npz", "README.md",
            "model-card.json"} <= {Path(n).name for n in names}
    r = subprocess.run([sys.executable, str(folder / "predict.py"),
                        str(ROOT / "assets/examples/digit-3.png"),
                        str(ROOT / "assets/examples/photo.jpg")],
                       capture_output=True, text=True, env=BARE_ENV, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert (rows[0]["digit"], rows[0]["verdict"], rows[0]["reason"]) == ("3", "normal", "")
    assert rows[1]["verdict"] == "anomaly" and "photograph's tones" in rows[1]["reason"]


def test_opening_a_page_url_directly_keeps_the_app(server, page):
    """A bookmark or a reload straight onto a page runs app.py's set-up and navigation too."""
    page.goto(server + "/train")
    page.get_by_role("button", name="Start training").wait_for()
    settle(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    assert "Active model" in sidebar.inner_text()
    assert "Monte Carlo" in sidebar.inner_text()


# --------------------------------------------------------------------- Monte Carlo and slider
#: A poller installed in the page: every 20 ms it notes, with the time, each change of what
#: ``read`` returns, so a test can say when the page showed what (no screenshots, no sleeps).
_WATCH = """([name, read]) => {
  const f = new Function('return (' + read + ')()');
  const log = window[name] = [];
  let last;
  const tick = () => { const v = f(); if (v !== last) { log.push([performance.now(), v]);
                                                          last = v; } };
  tick(); window[name + '_timer'] = setInterval(tick, 20);
}"""
_THRESHOLD = """() => { const m = [...document.querySelectorAll("[data-testid='stMetric']")]
  .find(e => e.innerText.includes('Threshold'));
  return m ? m.querySelector("[data-testid='stMetricValue']").innerText : null }"""
_CHARTS = "() => String(document.querySelectorAll(\"[data-testid='stPlotlyChart']\").length)"
_PROGRESS = """() => { const p = document.querySelector("[data-testid='stProgress']");
  return p ? p.innerText : null }"""


def _watch(page, name: str, read: str) -> None:
    page.evaluate(_WATCH, [name, read])


def _log(page, name: str) -> list[tuple[float, str | None]]:
    return [tuple(x) for x in page.evaluate(f"window['{name}']")]


def _in_process_rate(n: int) -> float:
    """The same simulation (shipped model, default score and precision) without a page."""
    from ganmc.app import service
    from ganmc.storage import bundle

    det = service.load_model(str(bundle.DEFAULT_MODEL))
    service.simulate(det, 1000, seed=1, precision="auto")  # compile, as in the page's warm-up
    return service.simulate(det, n, seed=0, precision="auto").samples_per_s


def test_monte_carlo_in_the_page_runs_near_the_in_process_rate(server, page, shots):
    """Issue 13, item 6: the page's own work (polls, histogram re-renders) costs at most 20 %
    of the simulation's rate, with Chromium open on the same CPUs. A second try of each when
    the first falls short: the machine is shared. The histogram stays on screen, the progress
    says an ETA, and the greyed Run button says why."""
    n = 16_384  # two batches of the CPU's batch size
    open_page(page, server + "/monte_carlo", "Monte Carlo threshold")
    simulate_in_page(page, 1000)  # compiles the generator and score, as the reference does
    rates, references, gaps, etas = [], [], [], []
    for seed in (0, 1):
        set_number(page, "Seed", seed)
        _watch(page, "charts", _CHARTS)
        _watch(page, "progress", _PROGRESS)
        rates.append(simulate_in_page(page, n))
        charts, progress = _log(page, "charts"), _log(page, "progress")
        gaps.append(max([(t1 - t0) / 1000 for (t0, v), (t1, _) in zip(charts, charts[1:])
                         if v == "0"], default=0.0))
        etas.append(any(v and re.search(r"ETA \d", v) for _, v in progress))
        references.append(_in_process_rate(n))
        if max(rates) >= 0.8 * max(references):
            break
    in_page, reference = max(rates), max(references)
    print(f"Monte Carlo: {in_page:,.0f} samples/s in the page {rates}, {reference:,.0f} in "
          f"process {references} ({in_page / reference:.0%}); the histogram gone for at most "
          f"{max(gaps):.1f} s; an ETA shown: {etas}")
    assert in_page >= 0.8 * reference, (rates, references)
    assert max(gaps) < 1.5, f"the histogram was gone for {max(gaps):.1f} s"
    assert all(etas)
    assert page.get_by_role("button", name="Run simulation").is_disabled()
    assert page.get_by_text("Done with these settings").is_visible()
    page.screenshot(path=shots / "monte_carlo-run.png", full_page=True)


def test_percentile_slider_settles_within_a_second(server, page):
    """Issue 13, item 7: 40 quick arrow presses on the percentile slider; the threshold shows
    its final value within 1 s of the last press (best of two tries: a shared machine)."""
    open_page(page, server + "/monte_carlo", "Monte Carlo threshold")
    page.locator("[data-testid='stMetric']").filter(has_text="Threshold").first.wait_for()
    slider = page.locator("[data-testid='stSlider'] input[type='range']").first
    settles = []
    for direction in ("ArrowRight", "ArrowLeft"):
        if settles and min(settles) <= 1.0:
            break
        start_value = float(slider.input_value())
        _watch(page, "threshold", _THRESHOLD)
        slider.focus()
        for _ in range(40):
            page.keyboard.press(direction)
        pressed = page.evaluate("performance.now()")
        page.wait_for_timeout(2500)
        settle(page)
        page.wait_for_timeout(1000)
        log = _log(page, "threshold")
        final = log[-1][1]
        settles.append(max(0.0, (log[-1][0] - pressed) / 1000))
        end_value = float(slider.input_value())
        assert abs(end_value - start_value) == pytest.approx(4.0), (start_value, end_value)
        assert final != log[0][1]  # the threshold moved
    print(f"slider settled {settles} s after the last press")
    assert min(settles) <= 1.0, settles


# --------------------------------------------------------------------------- Train page
def _number(page, label: str, value: int) -> None:
    field = page.get_by_role("spinbutton", name=label)
    field.fill(str(value))
    field.press("Tab")  # commits the value without an Enter
    settle(page)


def _job_header(page):
    return page.get_by_role("heading").filter(has_text=re.compile(r"^Job "))


def test_train_page_workflow(server, page, shots):
    """Issue 13, items 2-4 and 9 in Chromium: Enter in a number field starts nothing; Stop
    stops the steps at once (the seconds are printed; benchmarks/stop.py measures them);
    Start enables as soon as the job has ended, on the same page; the settings outlive a
    visit to another page; the stopped model's card says what was done. All ten digit chips
    are visible at 1400 px."""
    open_page(page, server + "/train", "Train a model")
    chips = page.locator("[data-testid='stButtonGroup']").first
    main = page.locator("[data-testid='stMain']").bounding_box()
    for digit in range(10):
        chip = chips.get_by_role("button", name=str(digit), exact=True)
        box = chip.bounding_box()
        assert chip.is_visible() and box["x"] + box["width"] <= main["x"] + main["width"], digit
    for digit in (0, *range(2, 10)):  # one normal digit: a few hundred images
        chips.get_by_role("button", name=str(digit), exact=True).click()
        settle(page)
    page.get_by_text("Estimated time:").wait_for()  # before training: the estimate
    page.get_by_text("Custom settings").click()  # the expander
    settle(page)
    page.locator("[data-testid='stRadio']").get_by_text("mlp", exact=True).click()
    settle(page)
    _number(page, "Encoder steps (0 = none)", 0)
    name = page.get_by_role("textbox", name="Model name")
    name.fill("e2e-stop")
    name.press("Tab")
    settle(page)

    # Item 2: Enter in a number field changes the value and starts nothing.
    steps = page.get_by_role("spinbutton", name="GAN steps")
    steps.fill("20000")
    steps.press("Enter")
    settle(page)
    page.wait_for_timeout(1500)
    assert page.get_by_text("No training job yet").is_visible()
    assert _job_header(page).count() == 0

    # Item 4: Stop stops the steps at once, and the job ends soon after (the one-pass scores
    # calibrated, the model saved).
    start = page.get_by_role("button", name="Start training")
    start.click()
    _job_header(page).filter(has_text="e2e-stop — running").wait_for()
    assert start.is_disabled()
    page.get_by_text("Generated samples (fixed latent vectors), last round").wait_for(
        timeout=120_000)
    page.set_viewport_size({"width": 1400, "height": 1750})  # the settings and the live job
    page.wait_for_timeout(1000)
    page.screenshot(path=shots / "train-running.png")
    page.set_viewport_size({"width": 1400, "height": 1000})
    at_press = re.search(r"step ([\d,]+)/20,000", page.evaluate(_PROGRESS)).group(1)
    page.get_by_role("button", name="Stop training").click()
    pressed = time.perf_counter()
    _job_header(page).filter(has_text="e2e-stop — stopped").wait_for(timeout=60_000)
    stopped_s = time.perf_counter() - pressed
    at_end = re.search(r"step ([\d,]+)/20,000", page.evaluate(_PROGRESS)).group(1)
    print(f"Stop: the job stopped {stopped_s:.1f} s after the press, at step {at_end} "
          f"(step {at_press} shown at the press)")

    # Item 3: Start enables as soon as the job has ended, without leaving the page, and the
    # settings are still there after a visit to another page.
    page.wait_for_function("() => [...document.querySelectorAll('button')].some("
                           "b => b.innerText.includes('Start training') && !b.disabled)",
                           timeout=5_000)
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_role("link", name="Overview").click()
    page.get_by_text("is this image normal?").wait_for()
    settle(page)
    sidebar.get_by_role("link", name="Train").click()
    page.get_by_role("button", name="Start training").wait_for()
    settle(page)
    page.get_by_text("Custom settings").click()
    settle(page)
    assert page.get_by_role("spinbutton", name="GAN steps").input_value() == "20000"
    assert page.get_by_role("spinbutton", name="Encoder steps (0 = none)").input_value() == "0"
    assert page.get_by_role("textbox", name="Model name").input_value() == "e2e-stop"
    assert page.get_by_role("radio", name="mlp").is_checked()

    # The stopped job offers its model; its card says the steps done, not those planned.
    page.get_by_role("button", name="Use this model").click()
    settle(page)
    assert "e2e-stop" in sidebar.inner_text()
    sidebar.get_by_role("link", name="Overview").click()
    card = page.get_by_text(re.compile(r"[\d,]+ of 20,000 GAN steps"))
    card.wait_for()
    text = card.inner_text()
    assert "no encoder" in text and "stopped early" in text, text
    page.get_by_text("No quality card").wait_for()  # a stopped run leaves the slow work out
    # Item 4, the steps stop at once: the saved model did few steps after the step shown at the
    # press (the display lags by one 1-s poll, a few dozen mlp steps here). The seconds are
    # printed, not asserted: a loaded CI machine once took 4.1 s where this one takes 1.2 s.
    # They are measured by benchmarks/stop.py (docs/benchmarks.md, "Stop latency"); the limit
    # here only tells a stop that works from one that waits for the run's 20,000 steps.
    done = int(re.search(r"([\d,]+) of 20,000 GAN steps", text).group(1).replace(",", ""))
    assert done - int(at_press.replace(",", "")) <= 300, (at_press, done)
    assert stopped_s <= 30.0, stopped_s


def test_train_page_shows_your_own_pictures_before_training(server, page, shots, mnist,
                                                            tmp_path):
    """Issue 33 in Chromium: on the Train page, a zip of one's own pictures is uploaded; the
    page says what it found (the classes and their counts, the file that is no picture by
    name) and shows the grid of the pictures as the model will see them, before any
    training."""
    import zipfile

    from tests.conftest import own_pictures

    data = own_pictures(tmp_path / "pictures", mnist, per_class=15, anomalies=4)
    archive = tmp_path / "mine.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(data.rglob("*")):
            if f.is_file():
                z.write(f, "mine/" + str(f.relative_to(data)))
    open_page(page, server + "/train", "Train a model")
    page.locator("[data-testid='stRadio']").get_by_text("Your own pictures").click()
    settle(page)
    page.locator("[data-testid='stRadio']").get_by_text("whole image", exact=True).click()
    settle(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(archive))
    page.get_by_text("ones 15, sevens 15").wait_for()
    settle(page)
    assert page.get_by_text("anomaly (only to measure the model, never trained on): 4").count()
    assert page.get_by_text("normal/ones/notes.png").count()
    caption = page.get_by_text(re.compile(r"As the model will see them \(whole image framing"))
    caption.wait_for()
    images = page.locator("[data-testid='stImage'] img").all()
    assert images and images[0].bounding_box()["width"] > 300
    # nothing was trained on them (an earlier test's job may be shown; none names this zip)
    assert page.get_by_role("button", name="Start training").is_enabled()
    assert not page.get_by_text(re.compile(r"data mine\.zip")).count()
    page.set_viewport_size({"width": 1400, "height": 1600})
    page.wait_for_timeout(500)
    page.screenshot(path=shots / "train-own-pictures.png")
    page.set_viewport_size({"width": 1400, "height": 1000})


# --------------------------------------------------------------------------- Detect page
def test_uploads_and_verdict_colours(server, page, mnist, tmp_path):
    """Issue 13, items 8 and 9 in Chromium: the same file uploaded twice is one image, and
    each marker on the histogram has its verdict's colour (red anomaly, green normal)."""
    from ganmc.report.style import verdict_colour
    from tests.conftest import digit_png

    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    digit = digit_png(first / "digit.png", mnist.x_test[0])
    shutil.copy(digit, second / "digit.png")
    noise = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)
    Image.fromarray(np.kron(noise, np.ones((8, 8), np.uint8))).save(first / "noise.png")
    open_page(page, server + "/detect", "Detect anomalies")
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
        [str(digit), str(second / "digit.png"), str(first / "noise.png")])
    page.get_by_text("noise.png: as the model sees it").wait_for()
    settle(page)
    verdicts = [v.inner_text().strip() for v in page.locator("div.ganmc-verdict").all()]
    assert len(verdicts) == 2, verdicts  # digit.png once, noise.png
    assert verdicts[1] == "ANOMALY"
    with page.expect_download() as download:
        page.get_by_role("button", name="Verdicts (CSV)").click()
    assert download.value.suggested_filename == "ganmc-verdicts.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [r["verdict"].upper() for r in rows] == verdicts, rows
    page.wait_for_function("() => { const p = document.querySelector('.js-plotly-plot');"
                           " return p && p.layout && p.layout.annotations.some("
                           "a => a.text.startsWith('noise.png')) }")
    marks = page.evaluate("""() => {
      const plot = document.querySelector('.js-plotly-plot');
      const shapes = plot.layout.shapes.filter(s => s.line && s.line.dash !== 'dash');
      const notes = plot.layout.annotations.filter(a => / \\((NORMAL|ANOMALY)\\)$/.test(a.text));
      return notes.map((a, i) => [a.text, shapes[i].line.color]) }""")
    assert [text for text, _ in marks] == [f"digit.png ({verdicts[0]})", "noise.png (ANOMALY)"]
    for text, colour in marks:
        assert colour == verdict_colour(text.endswith("(ANOMALY)")), marks


# --------------------------------------------------------------------------- issue 27
def _not_found(page) -> int:
    """Streamlit's "Page not found" dialog or toast on the page."""
    return page.get_by_text(re.compile("Page not found", re.I)).count()


def test_a_cold_servers_first_deep_link_opens_the_page(cold_server, page):
    """Issue 27, item 2: the very first request to a fresh server is /detect; the Detect page
    is shown and no "Page not found" dialog or toast comes up."""
    page.goto(cold_server + "/detect")
    page.get_by_text("Draw a digit").first.wait_for()
    settle(page)
    page.wait_for_timeout(1500)  # a dialog would come with the first run's messages
    assert _not_found(page) == 0
    assert page.get_by_text("Detect anomalies").first.is_visible()


def test_the_canvas_trash_icon_takes_the_drawings_verdict_away(server, page, mnist, tmp_path):
    """Issue 27, item 3: the canvas's own trash icon empties it; the drawing's verdict goes
    with it, an uploaded image's verdict stays."""
    from tests.conftest import digit_png

    digit = digit_png(tmp_path / "digit.png", mnist.x_test[0])
    open_page(page, server + "/detect", "Detect anomalies")
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files([str(digit)])
    page.get_by_text("digit.png: as the model sees it").wait_for()
    settle(page)
    _draw_three(page)
    page.get_by_text("drawing: as the model sees it").wait_for()
    settle(page)
    assert page.locator("div.ganmc-verdict").count() == 2
    page.get_by_role("button", name="Reset canvas & history").click()
    page.get_by_text("drawing: as the model sees it").wait_for(state="detached")
    settle(page)
    assert page.locator("div.ganmc-verdict").count() == 1
    assert page.locator("div.ganmc-canvas-verdict").count() == 0
    assert page.get_by_text("digit.png: as the model sees it").is_visible()


_BOX = "(e) => { const r = e.getBoundingClientRect(); return [r.left, r.top + window.scrollY, " \
       "r.right, r.bottom + window.scrollY] }"


def _titles_inside_their_charts(page) -> list[str]:
    """The titles of the page's charts that run past their chart's edges."""
    return page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(p => {
      const box = p.getBoundingClientRect();
      return [...p.querySelectorAll('.gtitle')].filter(t => {
        const r = t.getBoundingClientRect();
        return r.left < box.left - 1 || r.right > box.right + 1 }).map(t => t.textContent) })""")


def test_phone_width(server, browser, shots):
    """Issue 27, item 8, at 390 x 844: the drawing's verdict is within about one screen of
    the canvas, no chart title runs past its chart, the quality table fits the screen, and
    the report preview spans the width. Screenshots of each page are kept."""
    context = browser.new_context(viewport={"width": 390, "height": 844},
                                  accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(90_000)
    try:
        open_page(page, server + "/", "is this image normal?")
        table = page.locator("[data-testid='stTable']").first
        table.wait_for()
        left, _, right, _ = table.evaluate(_BOX)
        assert left >= 0 and right <= 390, (left, right)
        table.scroll_into_view_if_needed()
        page.screenshot(path=shots / "phone-home.png")  # the page scrolls inside, not the window

        open_page(page, server + "/detect", "Detect anomalies")
        canvas = page.locator("canvas.upper-canvas").first
        canvas.scroll_into_view_if_needed()
        _draw_three(page)
        verdict = page.locator("div.ganmc-canvas-verdict").first
        verdict.wait_for()
        page.get_by_text("drawing: as the model sees it").wait_for()
        settle(page)
        canvas_top = canvas.evaluate(_BOX)[1]
        verdict_top = verdict.evaluate(_BOX)[1]
        assert 0 < verdict_top - canvas_top <= 1.2 * 844, (canvas_top, verdict_top)
        assert _titles_inside_their_charts(page) == []
        verdict.scroll_into_view_if_needed()
        page.screenshot(path=shots / "phone-detect.png")
        page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
        page.screenshot(path=shots / "phone-detect-chart.png")

        open_page(page, server + "/monte_carlo", "Monte Carlo threshold")
        page.locator(".js-plotly-plot .gtitle").first.wait_for()
        assert _titles_inside_their_charts(page) == []
        page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
        page.screenshot(path=shots / "phone-monte_carlo.png")

        open_page(page, server + "/report", "Report")
        preview = page.locator("[data-testid='stImage'] img").first
        preview.wait_for()
        left, _, right, _ = preview.evaluate(_BOX)
        assert right - left >= 0.85 * 390 - 40, (left, right)
        page.get_by_text("Full size").click()  # readable: the PNG at its own size, scrolled
        full = page.locator("img.ganmc-report-full")
        full.wait_for()
        assert full.evaluate("e => e.naturalWidth") == 1200
        assert full.evaluate("e => e.getBoundingClientRect().width") == 1200
        assert full.evaluate("e => e.parentElement.getBoundingClientRect().right") <= 390
        full.scroll_into_view_if_needed()
        page.screenshot(path=shots / "phone-report.png")
    finally:
        context.close()


# --------------------------------------------------------------------------- issue 36
def test_the_drift_alarm_in_a_real_browser(server, page, mnist, tmp_path, shots):
    """Two digits, then ten pictures of uniform noise: the Detect page says in plain words
    that the threshold's promise does not hold for these images, offers the calibration in
    the alarm itself, draws the alarm's curve, and says the batch's false discovery rate."""
    from tests.conftest import digit_png

    files = [digit_png(tmp_path / f"digit{i}.png", mnist.x_test[i]) for i in range(2)]
    rng = np.random.default_rng(0)
    for i in range(10):
        noise = rng.integers(0, 256, (28, 28)).astype(np.uint8)
        Image.fromarray(np.kron(noise, np.ones((8, 8), np.uint8))).save(tmp_path / f"n{i}.png")
        files.append(tmp_path / f"n{i}.png")
    open_page(page, server + "/detect", "Detect anomalies")
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
        [str(f) for f in files])
    page.get_by_text("n9.png: as the model sees it").wait_for()
    settle(page)
    alarm = page.locator("[data-testid='stAlert']").filter(
        has_text="These images are not like the ones the threshold was calibrated on")
    alarm.first.wait_for()
    assert "promise does not hold for them" in alarm.first.inner_text()
    button = page.get_by_role("button", name="Calibrate on these images (they are normal for me)")
    assert button.is_visible()
    charts = page.locator("[data-testid='stPlotlyChart']")
    charts.last.scroll_into_view_if_needed()  # the curve is below the histogram
    curve = charts.filter(has=page.locator(".gtitle", has_text="Drift alarm"))
    curve.first.wait_for()
    assert page.get_by_text(re.compile(r"at most 5 % are expected to be normal")).count() == 1
    # Issue 35, item 4: every chart's title (wrapped on two lines, with a note of what the
    # histogram leaves out under it) lies inside its chart, above the plot; the ten noise
    # images, far beyond the generated scores, do not squeeze the bars into a sliver.
    assert charts.count() == 2
    for i in range(2):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        svg = chart.locator(".main-svg").first.bounding_box()
        title = chart.locator(".gtitle").bounding_box()
        plot = chart.locator(".nsewdrag").first.bounding_box()  # the plot area
        assert svg["y"] <= title["y"] and title["y"] + title["height"] <= plot["y"], (i, svg,
                                                                                     title, plot)
    histogram = charts.filter(has=page.locator(".gtitle", has_text="Your images among"))
    assert "drawn dotted on it" in histogram.locator(".gtitle").text_content()
    alarm.first.scroll_into_view_if_needed()
    page.screenshot(path=shots / "detect-drift-alarm.png")


# --------------------------------------------------------------------------- issue 35
#: Every change to the sidebar's links and the main area's first words, with its time, from
#: the moment the page starts loading (installed before any of the page's own scripts).
_WATCH_START = """
window.ganmcSeen = [];
const t0 = performance.now();
const look = () => {
  const links = [...document.querySelectorAll('[data-testid="stSidebar"] a')]
    .map(a => a.innerText.split("\\n").pop().trim()).filter(Boolean);
  const main = document.querySelector('[data-testid="stMain"]');
  const words = main ? main.innerText.trim().slice(0, 80) : "";
  const last = window.ganmcSeen[window.ganmcSeen.length - 1];
  const now = {t: (performance.now() - t0) / 1000, links: links.join("|"), words};
  if (!last || last.links !== now.links || last.words !== now.words) window.ganmcSeen.push(now);
};
new MutationObserver(look).observe(document, {subtree: true, childList: true,
                                                characterData: true});
"""
MENU = "Overview|Train|Monte Carlo|Detect|Report"


def test_a_cold_server_shows_its_menu_and_what_it_loads_at_once(cold_server, page):
    """Issue 35, item 3: on a fresh server the first page no longer stays blank while
    TensorFlow loads (15 s or so here) under a menu of lowercase file names: the real menu
    and a line saying what is loading come first, long before the page; no other menu is
    ever shown; and ``/app`` opens the Overview rather than "Page not found" (once the
    server has served a page: pages/README.md says why not on its very first request)."""
    page.add_init_script(_WATCH_START)
    page.goto(cold_server + "/detect")
    page.get_by_text("Draw a digit").first.wait_for()
    settle(page)
    seen = page.evaluate("window.ganmcSeen")
    menus = {s["links"] for s in seen if s["links"]}
    assert menus == {MENU}, seen
    loading = [s["t"] for s in seen if "Starting ganmc" in s["words"]]
    shown = [s["t"] for s in seen if s["words"].startswith("Detect anomalies")]
    assert loading and shown, seen
    first_menu = min(s["t"] for s in seen if s["links"])
    # What loads is said at once, and the menu is up long before the page itself.
    assert loading[0] < shown[0] and first_menu < shown[0], seen
    assert loading[0] <= 5.0, seen
    page.goto(cold_server + "/app")
    page.get_by_text("is this image normal?").first.wait_for()
    settle(page)
    assert _not_found(page) == 0
    assert page.evaluate("location.pathname") == "/"


def _touch_stroke(cdp, points) -> None:
    """One stroke with a finger (Chrome's touch events, as a phone sends them)."""
    def send(kind, pts):
        cdp.send("Input.dispatchTouchEvent",
                 {"type": kind, "touchPoints": [{"x": x, "y": y} for x, y in pts]})
    send("touchStart", points[:1])
    for (xa, ya), (xb, yb) in zip(points, points[1:]):
        for t in range(1, 9):
            send("touchMove", [(xa + (xb - xa) * t / 8, ya + (yb - ya) * t / 8)])
    send("touchEnd", [])


def test_a_phone_closes_its_menu_draws_by_touch_and_keeps_verdicts_apart(server, browser,
                                                                         mnist, tmp_path,
                                                                         shots):
    """Issue 35, item 7, on a 390 px touch screen: choosing a page in the sidebar closes it;
    the canvas's toolbar (with its trash icon) is visible after drawing with a finger,
    where it showed only under a mouse; and each image's verdict sits in its own card, the
    next image below it, not running into it."""
    from tests.conftest import digit_png

    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True,
                                  is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(90_000)
    try:
        open_page(page, server + "/", "is this image normal?")
        sidebar = page.locator("[data-testid='stSidebar']")
        page.locator("[data-testid='stExpandSidebarButton']").click()
        page.wait_for_function("() => document.querySelector('[data-testid=\"stSidebar\"]')"
                               ".getBoundingClientRect().right > 200")
        sidebar.get_by_role("link", name="Detect").click()
        page.get_by_text("Draw a digit").first.wait_for()
        settle(page)
        page.wait_for_function("() => document.querySelector('[data-testid=\"stSidebar\"]')"
                               ".getBoundingClientRect().right <= 0")

        canvas = page.locator("canvas.upper-canvas").first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        cdp = context.new_cdp_session(page)
        for stroke in ([(90, 60), (150, 50), (190, 80), (170, 130), (120, 140)],
                       [(120, 140), (180, 160), (190, 210), (150, 240), (90, 225)]):
            _touch_stroke(cdp, [(box["x"] + x, box["y"] + y) for x, y in stroke])
        page.locator("div.ganmc-canvas-verdict").first.wait_for()
        settle(page)
        page.wait_for_timeout(1000)  # the page's script looks for the canvas twice a second
        opacity = page.evaluate("""() => {
          for (const host of document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')) {
            const bar = host.shadowRoot && host.shadowRoot.querySelector('.dc-toolbar');
            if (bar) return getComputedStyle(bar).opacity; }
          return null }""")
        assert opacity == "1", opacity
        page.screenshot(path=shots / "phone-touch-canvas.png")

        for i in range(2):
            digit_png(tmp_path / f"phone{i}.png", mnist.x_test[i])
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
            [str(tmp_path / "phone0.png"), str(tmp_path / "phone1.png")])
        page.get_by_text("phone1.png: as the model sees it").wait_for()
        settle(page)
        cards = page.evaluate("""() => [...document.querySelectorAll(
            '[data-testid="stVerticalBlockBorderWrapper"], [data-testid="stVerticalBlock"]')]
          .filter(c => getComputedStyle(c).borderTopStyle !== 'none'
                       && /as the model sees it/.test(c.innerText)
                       && c.querySelectorAll('div.ganmc-verdict').length === 1)
          .map(c => { const r = c.getBoundingClientRect();
                      return {top: r.top, bottom: r.bottom,
                              name: c.innerText.match(/(\\S+): as the model sees it/)[1]} })""")
        names = sorted(c["name"] for c in cards)
        assert names == ["drawing", "phone0.png", "phone1.png"], cards
        cards.sort(key=lambda c: c["top"])
        for upper, lower in zip(cards, cards[1:]):
            assert upper["bottom"] <= lower["top"], cards
        page.locator("div.ganmc-verdict").last.scroll_into_view_if_needed()
        page.screenshot(path=shots / "phone-verdict-cards.png")
    finally:
        context.close()
