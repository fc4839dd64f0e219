"""Shape, not style: do verdicts hold on other people's handwriting, letters and photographs?

``python -m benchmarks.shape [--model DIR] [--quick] [--write]`` prints, for a model's verdict
score and its thresholds at 5 % (per digit where it has them):

- the unseen MNIST test digits flagged (overall and by digit);
- other writers' digits flagged and capitals caught, all 26 and without O I L S Z (written
  like 0, 1, 1, 5, 2), the AUROC of capitals against those writers' digits, and the rates
  by digit and by letter (:mod:`ganmc.thresholds.handwriting`, from ``handwriting-dev.npz``);
- the AUROC of those capitals against the MNIST test digits;
- canvas-drawn capitals caught and their AUROC, canvas-drawn digits flagged
  (:mod:`benchmarks.drawn`);
- real photographs and crops of them judged NORMAL (:mod:`benchmarks.photos`);
- uniform noise, blank-ish pictures (a few pixels of ink) and inverted digits flagged;
  Fashion-MNIST and printed letters A-J (notMNIST-like, in the DejaVu and Liberation fonts,
  which the shape network's glyphs leave out) AUROC.

Every outside picture goes through :func:`ganmc.images.preprocess.to_mnist`, as an upload is
treated (a picture it refuses counts as flagged: it gets no NORMAL verdict). EMNIST's
characters fill their 28 x 28 square; MNIST fits the ink into 20 x 20 and centres its centre
of mass. ``handwriting-dev.npz`` is for measuring only (its README says why); it lives in the
shared data folder beside the repository (``--handwriting`` names another).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.common import DOC, FASHION, ROOT, machine, table, write_section

HANDWRITING = ROOT.parent / "shared" / "data" / "handwriting-dev.npz"
JSON = DOC.with_name("benchmarks-shape.json")
#: The font families of the printed letters: the training's outlier glyphs leave them out
#: (``research/render_glyphs.py``).
PRINTED_FONTS = ("DejaVu", "Liberation")


def blankish(n: int, seed: int = 0) -> np.ndarray:
    """Pictures with almost no ink: one to five scattered faint or bright pixels on black
    (56 x 56), as a user might upload by mistake."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 56, 56), np.uint8)
    for im in out:
        k = int(rng.integers(1, 6))
        im[rng.integers(0, 56, k), rng.integers(0, 56, k)] = rng.integers(60, 256, k)
    return out


def printed(letters: str, n: int, seed: int = 0) -> np.ndarray:
    """notMNIST-like: ``letters`` rendered in the DejaVu and Liberation fonts (96 x 96)."""
    from PIL import Image, ImageDraw, ImageFont

    fonts = sorted(f for f in Path("/usr/share/fonts").rglob("*.ttf")
                   if f.name.startswith(PRINTED_FONTS))
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img = Image.new("L", (96, 96), 0)
        font = ImageFont.truetype(str(fonts[int(rng.integers(len(fonts)))]), 64) if fonts \
            else ImageFont.load_default(64)
        ImageDraw.Draw(img).text((20, 8), letters[i % len(letters)], fill=255, font=font)
        out.append(np.asarray(img))
    return np.stack(out)


class Judge:
    """A model's verdict score and its thresholds at a level (per digit where it has them):
    ``judge(images) -> (scores, flags)``."""

    def __init__(self, det, level: float = 0.05):
        from ganmc.thresholds.distribution import Level

        self.det = det
        self.rule = det.calibration_of(det.scorer_, det.calibration, level=Level(level))

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self.det.score_samples(x)
        return s, self.rule.flags(s, self.det.predict_digit(x))


def sets_for(quick: bool, seed: int = 0) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]],
                                                  dict[str, np.ndarray]]:
    """Every set but the handwriting, framed as uploads: name -> (images, refused), and the
    labels of the MNIST test digits and the photographs' names."""
    from benchmarks.drawn import drawn_digits, drawn_letters
    from benchmarks.photos import photo_set
    from ganmc.images.anomalies import inverted, uniform_noise
    from ganmc.images.arrays import read_idx
    from ganmc.images.data import load_mnist
    from ganmc.thresholds.handwriting import framed

    splits = load_mnist("bundled")
    letters, _ = drawn_letters(240 if quick else 1200, seed=3)
    digits, _ = drawn_digits(120 if quick else 600, seed=4)
    photos, names = photo_set(crops_per_photo=2 if quick else 8, seed=seed)
    m = 300 if quick else 1000
    ready = {"mnist test": splits.x_test, "canvas capitals": letters, "canvas digits": digits,
             "photographs": photos, "uniform noise": uniform_noise(m, seed),
             "inverted": inverted(splits.x_test[:m])}
    if FASHION.exists():
        ready["Fashion-MNIST"] = read_idx(FASHION)[:m]
    sets = {k: (v, np.zeros(len(v), bool)) for k, v in ready.items()}
    sets["blank-ish"] = framed(blankish(m, seed))
    sets["printed A-J"] = framed(printed("ABCDEFGHIJ", m, seed))
    return sets, {"mnist test": splits.y_test, "photographs": np.asarray(names)}


def measure(judge, sets: dict[str, tuple[np.ndarray, np.ndarray]],
            labels: dict[str, np.ndarray], hand: dict) -> dict:
    """Every figure of the module's text (``hand``:
    :func:`ganmc.thresholds.handwriting.measure`'s)."""
    from ganmc.thresholds.metrics import auroc

    r = {}
    for name, (x, refused) in sets.items():
        s, f = judge(x)
        r[name] = (np.where(refused, np.inf, s), f | refused)
    out: dict = {"flagged": {k: float(f.mean()) for k, (_, f) in r.items()}, "handwriting": hand}
    s_mnist, f_mnist = r["mnist test"]
    y = labels["mnist test"]
    out["mnist by digit"] = {str(d): float(f_mnist[y == d].mean()) for d in np.unique(y)}
    s_dl, f_dl = r["canvas capitals"]
    out["canvas"] = {"capitals caught": float(f_dl.mean()),
                     "capitals auroc": auroc(s_mnist, s_dl),
                     "digits flagged": float(r["canvas digits"][1].mean())}
    normal = ~r["photographs"][1]
    out["photos normal"], out["photos"] = int(normal.sum()), len(normal)
    out["photos normal names"] = labels["photographs"][normal].tolist()
    out["auroc"] = {k: auroc(s_mnist, r[k][0]) for k in ("Fashion-MNIST", "printed A-J")
                    if k in r}
    return out


def report(r: dict) -> str:
    """The figures as Markdown."""
    f, h, cv = r["flagged"], r["handwriting"], r["canvas"]
    by_digit = h["digits_flagged_by_digit"]
    rows = [
        ["MNIST test digits flagged (by digit)",
         f"{f['mnist test']:.2%} ({min(r['mnist by digit'].values()):.1%}-"
         f"{max(r['mnist by digit'].values()):.1%})"],
        ["other writers' digits flagged (by digit)",
         f"{h['digits_flagged']:.2%} ({min(by_digit.values()):.1%}-"
         f"{max(by_digit.values()):.1%})"],
        ["other writers' capitals caught (all 26 / without OILSZ)",
         f"{h['capitals_caught']:.1%} / {h['capitals_caught_plain']:.1%}"],
        ["AUROC capitals vs those writers' digits (all / without OILSZ) / vs MNIST test",
         f"{h['auroc']:.4f} / {h['auroc_plain']:.4f} / {r['capitals vs mnist']:.4f}"],
        ["canvas-drawn capitals caught / AUROC; canvas-drawn digits flagged",
         f"{cv['capitals caught']:.1%} / {cv['capitals auroc']:.4f}; "
         f"{cv['digits flagged']:.1%}"],
        ["photographs and crops judged NORMAL", f"{r['photos normal']} of {r['photos']}"],
        ["uniform noise / blank-ish / inverted flagged",
         f"{f['uniform noise']:.1%} / {f['blank-ish']:.1%} / {f['inverted']:.1%}"],
        [f"AUROC {' / '.join(r['auroc'])}", " / ".join(f"{v:.4f}" for v in r["auroc"].values())],
    ]
    letters = h["capitals_caught_by_letter"]
    return "\n".join([
        table(["set", "figure"], rows), "",
        "Other writers' capitals caught, by letter:", "",
        table(list(letters), [[f"{v:.0%}" for v in letters.values()]]), "",
        "Other writers' digits flagged, by digit:", "",
        table(list(by_digit), [[f"{v:.1%}" for v in by_digit.values()]])])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="model folder (default: the shipped one)")
    p.add_argument("--handwriting", type=Path, default=HANDWRITING,
                   help="other writers' digits and capitals (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="1,000 of each handwriting set and fewer of the others; writes no docs")
    p.add_argument("--write", action="store_true",
                   help="write the figures into docs/benchmarks.md and its JSON")
    args = p.parse_args()
    if not args.handwriting.is_file():
        p.error(f"{args.handwriting} not found (the shared data folder's handwriting-dev.npz)")

    from ganmc import load_model
    from ganmc.thresholds import handwriting
    from ganmc.thresholds.metrics import auroc

    t = time.perf_counter()
    det = load_model(args.model)
    judge = Judge(det)
    data = handwriting.read(args.handwriting, 1000 if args.quick else None)
    hand = handwriting.measure(judge, data, args.handwriting.name)
    sets, labels = sets_for(args.quick)
    r = measure(judge, sets, labels, hand)
    capitals, refused = handwriting.framed(data["capitals"])
    s_cap = np.where(refused, np.inf, judge(capitals)[0])
    r["capitals vs mnist"] = auroc(judge(sets["mnist test"][0])[0], s_cap)
    r.update(machine=machine(), seconds=time.perf_counter() - t,
             model=str(det.path_), scorer=det.scorer_)
    text = report(r)
    print(text)
    print("photographs judged NORMAL:", ", ".join(r["photos normal names"]) or "none")
    if args.write and not args.quick:
        write_section("shape", "\n".join([
            "## Shape, not style: other writers, letters and photographs", "",
            f"`python -m benchmarks.shape --write` — {r['machine']}; "
            f"{r['seconds'] / 60:.1f} min. Model `{Path(r['model']).name}`, score "
            f"`{r['scorer']}`, thresholds at 5 % (per digit).", "", text]))
        JSON.write_text(json.dumps(r, indent=1) + "\n")


if __name__ == "__main__":
    main()
