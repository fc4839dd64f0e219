"""Render the shipped outlier glyphs: ``python -m research.render_glyphs [--out FILE]``.

Letters (both cases), Greek and Cyrillic letters and symbols, each rendered in every font of
the machine's font folders that has it (DejaVu and Liberation are left out: the benchmarks
measure printed letters in them), framed as an upload is (:func:`ganmc.images.preprocess.to_mnist`)
and written once into ``assets/outliers/glyphs.npz`` (``x`` uint8 (N, 28, 28), ``char``
the character, ``font`` the index into ``fonts``), so that training needs no fonts on the
user's machine. Characters written like a digit (O, I, l, S, Z, b, g, q and their kin) are
left out: they are not anomalies to a reader of digits. The script writes the fonts, their
Debian packages and the licences those packages declare into ``assets/outliers/README.md``;
fonts of packages that declare no licence are left out.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "assets" / "outliers" / "glyphs.npz"
#: Fonts the benchmarks render their printed letters in (never trained on).
HELD_OUT = ("DejaVu", "Liberation")
#: The characters rendered: Latin letters but those written like digits, Greek and Cyrillic
#: letters of distinct shapes, and symbols.
CHARS = ("ABCDEFGHJKMNPQRTUVWXY" "acdefhjkmnprtuvwxy"
         "ΓΔΘΛΞΠΣΦΨΩαβγδεζηθκλμξπστφχψω"
         "ДЖИЙКЛПФЦШЩЪЫЭЮЯдждилпфцшщъыэюя"
         "#$%&@?+=<>*~^€£¥§¶©®µ")


def fonts() -> list[Path]:
    """Every TrueType/OpenType font file of the system but the held-out families."""
    files = [p for d in ("/usr/share/fonts",) for p in Path(d).rglob("*")
             if p.suffix.lower() in (".ttf", ".otf")]
    return sorted(p for p in files if not any(h in p.name for h in HELD_OUT))


def render(path: Path, chars: str, size: int = 64) -> dict[str, np.ndarray]:
    """The characters the font has (not its missing-glyph box), framed as uploads."""
    from PIL import Image, ImageDraw, ImageFont

    from ganmc.core.errors import ImageError
    from ganmc.images.preprocess import to_mnist

    try:
        font = ImageFont.truetype(str(path), size)
    except OSError:
        return {}

    def raw(c: str) -> np.ndarray:
        img = Image.new("L", (size * 2, size * 2), 0)
        ImageDraw.Draw(img).text((size // 2, size // 4), c, fill=255, font=font)
        return np.asarray(img)

    missing = [raw(c) for c in "\uffff\U0010fffd\u0378"]  # what the font draws for no glyph
    out = {}
    for c in chars:
        a = raw(c)
        if a.max() < 128 or any(np.array_equal(a, m) for m in missing):
            continue
        try:
            out[c] = to_mnist(a)
        except ImageError:
            continue
    return out


def package_of(path: Path) -> str:
    """The Debian package that installed a font file."""
    r = subprocess.run(["dpkg", "-S", str(path)], capture_output=True, text=True)
    return r.stdout.split(":", 1)[0] if r.returncode == 0 else "?"


def licences(package: str) -> list[str]:
    """The licences a Debian package's copyright file declares (its ``License:`` lines)."""
    path = Path("/usr/share/doc") / package / "copyright"
    if not path.is_file():
        return []
    text = path.read_text(errors="replace")
    return sorted({m.group(1).strip() for m in re.finditer(r"^License:\s*(\S.*)$", text, re.M)
                   if len(m.group(1).strip()) < 60})


README = """# Outlier glyphs

`glyphs.npz`: {n:,} pictures of characters (`x` uint8 (N, 28, 28), white on black, framed
like MNIST digits; `char` the character; `font` the index into `fonts`), rendered by
`python -m research.render_glyphs` from {fonts} fonts of the Debian packages below. The
shape network (`ganmc/images/outliers.py`) is shown them as "not a digit". They are images made with
the fonts, not the fonts: the fonts' licences (the SIL Open Font License and the GPL's font
exception name such documents explicitly) put no condition on them; the packages and the
licences they declare are listed here for credit.

Characters: {chars}

| Debian package | fonts | licences declared |
|---|---|---|
{rows}
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--min-chars", type=int, default=30,
                   help="leave out fonts with fewer of the characters (symbol and other "
                        "scripts' fonts)")
    args = p.parse_args()
    images, chars, font_ids, names = [], [], [], []
    packages: dict[str, list[str]] = defaultdict(list)
    for path in fonts():
        package = package_of(path)
        if not licences(package):
            print(f"{path.name}: left out, {package} declares no licence")
            continue
        glyphs = render(path, CHARS)
        latin = sum(c.isascii() and c.isalpha() for c in glyphs)
        if len(glyphs) < args.min_chars or latin < 30:
            continue
        names.append(path.name)
        packages[package].append(path.name)
        print(f"{path.name}: {len(glyphs)} characters ({package})")
        for c, im in glyphs.items():
            images.append(im)
            chars.append(c)
            font_ids.append(len(names) - 1)
    x = np.stack(images)
    # the same picture from two fonts (a family's regular and book weights) counts once
    _, keep = np.unique(x.reshape(len(x), -1), axis=0, return_index=True)
    keep = np.sort(keep)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, x=x[keep], char=np.asarray(chars)[keep],
                        font=np.asarray(font_ids, np.int16)[keep], fonts=np.asarray(names))
    rows = "\n".join(f"| {p} | {len(f)} | {', '.join(licences(p))} |"
                     for p, f in sorted(packages.items()))
    (args.out.parent / "README.md").write_text(README.format(
        n=len(keep), fonts=len(names), chars=CHARS, rows=rows))
    print(f"wrote {args.out}: {len(keep):,} glyphs from {len(names)} fonts "
          f"({len(x) - len(keep):,} duplicates left out), and its README")


if __name__ == "__main__":
    main()
