"""The dashboard's Monte Carlo against the CLI's: ``python -m benchmarks.dashboard_speed
[--samples N] [--rounds R] [--quick] [--no-write]``.

The shipped model, its default score and precision (``auto``), N samples. Each round runs, in
turn, ``ganmc simulate --samples N`` and ``--samples N/4`` (fresh processes, as a user runs
them) and the same N-sample simulation from the Monte Carlo page of a fresh
``streamlit run app.py`` in Debian's Chromium (Playwright), with the page left open and
watched the whole time, on the same CPUs. Each round uses its own seed; the page compiles
its networks in a 1,000-sample run first, as a user's first run would.

Rates: each run's samples/s as it reports it (the CLI's line, the page's caption). A CLI
process also traces and compiles its networks inside its run, which the page did before; so
the CLI's steady rate is taken from the two sizes, (N - N/4) / (t(N) - t(N/4)), which
leaves that fixed cost out. The page's rate is compared with both. Writes the
``dashboard-speed`` section of docs/benchmarks.md unless ``--quick`` or ``--no-write``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    open_page,
    serve,
    set_number,
    simulate_in_page,
)
from benchmarks.common import DOC, machine, table, write_section

JSON = DOC.with_name("benchmarks-dashboard-speed.json")
#: The rate in ``ganmc simulate``'s summary line ("(scorer ..., 21.3 s, 18,750 samples/s)").
_CLI_RATE = re.compile(r"\(scorer .*?, ([\d,]+) samples/s\)")


def cli_run(n: int, seed: int) -> tuple[float, float]:
    """``ganmc simulate`` in a fresh process: (seconds, samples/s) as its summary line says
    (the seconds from the rate, which it prints to more figures)."""
    ganmc = str(Path(sys.executable).with_name("ganmc"))  # the virtual environment's script
    out = subprocess.run([ganmc, "simulate", "--samples", str(n), "--seed", str(seed),
                          "--precision", "auto"], capture_output=True, text=True,
                         env={**os.environ, "GANMC_OFFLINE": "1"})
    match = _CLI_RATE.search(out.stdout)
    if out.returncode or match is None:
        raise RuntimeError("ganmc simulate gave no summary line:\n"
                           + (out.stdout + out.stderr)[-2000:])
    rate = float(match.group(1).replace(",", ""))
    return n / rate, rate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=400_000, help="N (default 400,000)")
    p.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--quick", action="store_true",
                   help="one round of 40,000 samples; writes no docs")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args()
    n, rounds = (40_000, 1) if args.quick else (args.samples, args.rounds)

    from playwright.sync_api import sync_playwright

    r: dict = {"machine": machine(), "samples": n, "rounds": []}
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp)) as url, \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(180_000)
        open_page(page, url + "/monte_carlo", "Monte Carlo threshold")
        simulate_in_page(page, 1000)  # compiles, as a user's first run would
        for i in range(rounds):
            seed = 100 + i
            big, small = cli_run(n, seed), cli_run(n // 4, seed)
            set_number(page, "Seed", seed)
            in_page = simulate_in_page(page, n, timeout_s=max(180.0, 3 * big[0]))
            steady = (n - n // 4) / (big[0] - small[0])
            r["rounds"].append({"seed": seed, "cli_s": big[0], "cli_rate": big[1],
                                "cli_quarter_s": small[0], "cli_steady_rate": steady,
                                "page_rate": in_page})
            print(json.dumps(r["rounds"][-1], default=round))
        browser.close()
    text = render(r)
    print(text)
    if not args.quick and not args.no_write:
        write_section("dashboard-speed", text)
        JSON.write_text(json.dumps(r, indent=2))
        print(f"wrote {DOC}")


def render(r: dict) -> str:
    rows = r["rounds"]
    page = [x["page_rate"] for x in rows]
    cli = [x["cli_rate"] for x in rows]
    steady = [x["cli_steady_rate"] for x in rows]
    body = [[x["seed"], x["cli_rate"], x["cli_steady_rate"], x["page_rate"],
             f"{x['page_rate'] / x['cli_rate']:.0%}",
             f"{x['page_rate'] / x['cli_steady_rate']:.0%}"] for x in rows]
    body.append(["median", float(np.median(cli)), float(np.median(steady)),
                 float(np.median(page)), f"{np.median(page) / np.median(cli):.0%}",
                 f"{np.median(page) / np.median(steady):.0%}"])
    return "\n".join([
        "## The dashboard's Monte Carlo against the CLI's", "",
        f"`python -m benchmarks.dashboard_speed` — {r['machine']}. The shipped model, its "
        f"default score, precision auto, {r['samples']:,} samples a run; samples/s as each "
        "reports it. \"CLI, steady\" leaves out what a fresh process spends compiling "
        "(from a run of a quarter the size); the page compiled in a first, small run.", "",
        table(["seed", "CLI", "CLI, steady", "dashboard (Chromium open)", "of the CLI",
               "of the CLI, steady"], body)])


if __name__ == "__main__":
    main()
