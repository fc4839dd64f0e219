"""Fashion-MNIST one-class, from folders of PNG files: ``python -m benchmarks.fashion
[--classes all] [--preset standard] [--framing whole] [--quick] [--set NAME=VALUE]``.

The protocol of Golan and El-Yaniv (2018, GeoTrans: mean AUROC 93.5): for each class k of
Fashion-MNIST, a model is trained on the 6,000 training images of k alone and judges the
10,000 test images, the 1,000 of k normal and the 9,000 others anomalous; AUROC per class and
its mean over the ten.

Everything goes the way a user's own pictures go. Debian's ``dataset-fashion-mnist`` (IDX
files under /usr/share/datasets/fashion-mnist) is written out once as PNG files
(``--pngs``, a folder under the system's temporary folder by default): ``train/K/`` holds the
training images of class K, ``test/K/`` the test images. Each class's model is trained by
``ganmc.app.service.train`` on the folder ``train/K`` in the chosen framing (the product's
reading, framing, hold-out split, calibration, Monte Carlo and quality card: what
``ganmc train --data train/K --framing F`` does), and the test folders are read as
``ganmc evaluate`` reads them (``ganmc.images.inputs.read_inputs`` in the model's framing). Every
one-pass score of the model is measured (the AUROC does not depend on the threshold);
``auto`` is the score the model uses by default. The time of a class is the wall time of
its training job (reading the pictures, training, calibration, simulation, quality card).

``--quick`` trains ``QUICK_STEPS`` GAN steps instead of the preset's (for trying ideas in
minutes: confirm with the preset); ``--set`` gives training settings. Each class is one
row appended to ``docs/benchmarks-fashion.jsonl`` with its time and load; the table of the
latest run of each label, class by class, is written into docs/benchmarks.md (section
``fashion``). One class per call keeps each call short on a shared machine:
``for k in 0 1 2 3 4 5 6 7 8 9; do python -m benchmarks.fashion --classes $k; done``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import DOC, machine, table, write_section

LOG = DOC.with_name("benchmarks-fashion.jsonl")
SOURCE = Path("/usr/share/datasets/fashion-mnist")
NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
         "Bag", "Ankle boot")
QUICK_STEPS = 1_500
#: The anchor: GeoTrans' mean AUROC on this protocol (Golan and El-Yaniv, 2018, Table 1).
GEOTRANS_MEAN = 93.5
#: Settings the benchmark sets itself.
RESERVED = ("digits", "classes")
DONE = ".complete"


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def write_pngs(folder: Path) -> Path:
    """Debian's Fashion-MNIST written out as PNG files (once: a finished folder has a marker
    file and is reused): ``train/K/NNNNN.png`` and ``test/K/NNNNN.png``."""
    from PIL import Image

    from ganmc.images.arrays import read_idx

    if (folder / DONE).is_file():
        return folder
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = read_idx(SOURCE / f"{prefix}-images-idx3-ubyte.gz")
        y = read_idx(SOURCE / f"{prefix}-labels-idx1-ubyte.gz")
        for k in range(10):
            (folder / split / str(k)).mkdir(parents=True, exist_ok=True)
        for i, (img, label) in enumerate(zip(x, y)):
            Image.fromarray(img).save(folder / split / str(int(label)) / f"{i:05d}.png")
    (folder / DONE).write_text("written by benchmarks.fashion\n")
    return folder


def run_class(k: int, pngs: Path, settings: dict, framing: str, models: Path) -> dict:
    """Train on ``train/k`` and measure every one-pass score on the test folders."""
    from ganmc.app import service
    from ganmc.core.scorers import ONE_PASS
    from ganmc.images.inputs import read_inputs
    from ganmc.thresholds.metrics import auroc

    load = os.getloadavg()[0]
    start = time.perf_counter()
    det = service.train(models / f"class{k}", data=str(pngs / "train" / str(k)),
                        framing=framing, **settings)
    total_s = time.perf_counter() - start
    normal = read_inputs([pngs / "test" / str(k)], framing=framing).x
    anomalous = read_inputs([pngs / "test" / str(j) for j in range(10) if j != k],
                            framing=framing).x
    scores = {}
    for name in det.scorers_:
        if name in ONE_PASS:
            scores[name] = round(float(auroc(det.score_samples(normal, scorer=name),
                                             det.score_samples(anomalous, scorer=name))), 4)
    m = det.metadata_
    return {"class": k, "name": NAMES[k], "auto": det.scorer_, "auroc": scores,
            "n_train": m["n_train"], "n_test": [len(normal), len(anomalous)],
            "train_s": round(m["train_seconds"], 1), "total_s": round(total_s, 1),
            "quality": (det.quality_ or {}).get("reading"), "load": round(load, 2)}


def main() -> None:
    from ganmc.core.config import FRAMINGS
    from ganmc.core.presets import PRESETS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--classes", default="all", help="e.g. 0,2,6 (in that order) or all")
    p.add_argument("--preset", default="standard", choices=list(PRESETS))
    p.add_argument("--framing", default="whole", choices=list(FRAMINGS))
    p.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS:,} GAN steps")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a training setting, e.g. rotation_weight=1 (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pngs", type=Path,
                   default=Path(tempfile.gettempdir()) / "ganmc-fashion-png",
                   help="where the PNG files are written (once) and read from")
    p.add_argument("--label", help="the run's name in the table (default: its settings)")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--table", action="store_true",
                   help="print the table of every run and score in the jsonl, and stop")
    args = p.parse_args()
    if args.table:
        print(render(logged(), "each run's machine (docs/benchmarks-fashion.jsonl)", None))
        return
    settings: dict = {"preset": args.preset, "seed": args.seed}
    for item in args.set:
        name, _, value = item.partition("=")
        if name.strip() in RESERVED:
            p.error(f"--set {name.strip()}: the benchmark sets it itself")
        settings[name.strip()] = _value(value.strip())
    if args.quick:
        settings["steps"] = QUICK_STEPS
    label = args.label or ", ".join(
        [f"{k}={v}" for k, v in settings.items() if k != "seed"] + [f"framing={args.framing}"]
        + ([f"seed={args.seed}"] if args.seed else []))
    classes = list(range(10)) if args.classes == "all" else [
        int(c) for c in args.classes.split(",")]
    pngs = write_pngs(args.pngs)
    with tempfile.TemporaryDirectory(prefix="ganmc-fashion-models-") as models:
        for k in classes:
            row = {"label": label, "preset": args.preset, "framing": args.framing,
                   "settings": settings, **run_class(k, pngs, settings, args.framing,
                                                     Path(models))}
            print(json.dumps(row), flush=True)
            if not args.no_write:
                with LOG.open("a") as f:
                    f.write(json.dumps(row) + "\n")
    if not args.no_write:
        write_section("fashion", render(logged(), machine()))


def logged() -> list[dict]:
    """Every run in ``docs/benchmarks-fashion.jsonl``."""
    if not LOG.is_file():
        return []
    return [json.loads(line) for line in LOG.read_text().splitlines() if line.strip()]


def render(rows: list[dict], machine_line: str, scores: tuple[str, ...] | None = ("auto",)
           ) -> str:
    """The table of runs: per run (label) and score, the AUROC of each class (its latest
    row), the mean of the ten when a run has them all, and the mean time per class;
    ``scores=("auto",)`` shows the score each model used by default, ``None`` every score."""
    labels = list(dict.fromkeys(r["label"] for r in rows))
    lines = []
    for label in labels:
        mine = {r["class"]: r for r in rows if r["label"] == label}
        names = (["auto"] if scores == ("auto",) else
                 list(dict.fromkeys(n for r in mine.values() for n in r["auroc"])))
        for name in names:
            def value(r, name=name):
                return r["auroc"].get(r["auto"] if name == "auto" else name)

            vals = [value(mine[k]) if k in mine else None for k in range(10)]
            got = [v for v in vals if v is not None]
            mean = f"{100 * sum(got) / 10:.1f}" if len(got) == 10 else ""
            secs = [mine[k]["total_s"] for k in mine]
            used = sorted({mine[k]["auto"] for k in mine}) if name == "auto" else [name]
            lines.append([label, "/".join(used),
                          *["" if v is None else f"{100 * v:.1f}" for v in vals], mean,
                          f"{sum(secs) / len(secs) / 60:.1f}"])
    head = ("## Fashion-MNIST one-class, from folders of PNG files\n\n"
            "`python -m benchmarks.fashion --classes all --preset P` — " + machine_line
            + ". For each class a model is trained on the folder of its 6,000 training "
            "images written as PNG files (`ganmc train --data FOLDER --framing whole`: 10 % "
            "held out for calibration), and judges the 10,000 test images read from their "
            "folders; AUROC in % with the test images of the class normal and the nine others "
            "anomalous, the mean of the ten classes, and the minutes per class (the whole "
            "training job: reading the pictures, training, calibration, Monte Carlo, quality "
            "card; other work may have shared the machine, see the load in "
            "`docs/benchmarks-fashion.jsonl`). The score is the one each model uses by "
            "default (`auto`); `python -m benchmarks.fashion --table` prints every score. "
            f"Anchor: GeoTrans (Golan and El-Yaniv, 2018) reports a mean of {GEOTRANS_MEAN} "
            "on this protocol.\n\n")
    return head + table(["run", "score", *[f"{k} {NAMES[k]}" for k in range(10)], "mean",
                         "min/class"], lines)


if __name__ == "__main__":
    main()
