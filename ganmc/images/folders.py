"""Your own normal images: a folder on this machine, a zip, or uploaded pictures, read into a
training set and described before anything is trained.

Two layouts, the same for a folder and a zip:

- **classes**: ``normal/`` holds the normal pictures, either directly (one class) or in class
  folders ``normal/CLASS/...`` (named classes: one Gaussian and one threshold per class, as
  MNIST's digits have); an optional ``anomaly/`` (or ``anomalies/``) holds pictures that are
  not normal, used only to measure the model (its quality card), never to train it.
- **plain**: no ``normal/`` folder: every picture in the folder and its sub-folders is
  normal, one class.

PNG, JPEG, BMP, WebP (and GIF, TIFF) of any size, grey or colour, each put into the 28x28
grey frame by the chosen framing (:func:`ganmc.images.preprocess.frame`). What was found is said
(:meth:`Found.lines`): how many pictures, of which sizes, how many in colour, the identical
files left out and the files skipped with their names and why; hidden files (``.name``,
``__MACOSX``) are counted and left alone. One bad file never costs the others.

A zip is read member by member in memory, nothing is extracted: its members are counted and
their sizes added up from its directory before any is read, and a member whose name would
lead outside the zip's folder, a symbolic link or an encrypted member is skipped with its
reason.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from ganmc.core.config import DIGITS, FRAMING_WORDS, FRAMINGS, checked_classes
from ganmc.core.errors import ConfigError, DataError, GanmcError, ImageError, one_line
from ganmc.images.preprocess import IMAGE_SUFFIXES, MAX_FILE_BYTES, frame, open_picture

#: Most pictures (files, or members of a zip) one data set may hold; counted before any is
#: read. Kept images cost 784 bytes each, so 100,000 take 78 MB.
MAX_FILES = 100_000
#: Most bytes the members of a zip may add up to uncompressed, from its directory.
MAX_ZIP_BYTES = 4 * 2**30
#: The folder of the normal pictures, and those of the pictures that are not normal.
NORMAL, ANOMALY_NAMES = "normal", ("anomaly", "anomalies")
#: Fewest normal pictures to train on, and fewest in each named class.
MIN_IMAGES, MIN_CLASS_IMAGES = 10, 10
#: Folders a zip tool adds that hold no pictures of the user's.
_TOOL_FOLDERS = ("__MACOSX",)


@dataclass
class Entry:
    """One file of a data set: its path inside it (``/``-separated) and how to read it."""

    name: str
    read: Callable[[], bytes]


@dataclass
class Found:
    """What a folder, zip or upload held, read in one framing.

    Attributes:
        x: The normal pictures, uint8 (N, 28, 28), duplicates left out.
        labels: Each one's class index (named classes), else None.
        classes: The class names (sorted), else None.
        anomalies: The pictures of ``anomaly/``, uint8 (M, 28, 28) (M may be 0).
        sources: Each normal picture's name in the data set.
        anomaly_sources: Each anomaly's.
        framing: How the pictures were framed (:data:`ganmc.core.config.FRAMINGS`).
        source: What was read (a folder's path, a zip's name, "uploaded pictures").
        layout: ``"classes"`` or ``"plain"``.
        sizes: How many pictures had each (width, height).
        colour: How many were in colour (the others grey).
        duplicates: ``(left out, same file as)`` for each identical file left out.
        skipped: ``(name, reason)`` for each file that was not used.
        hidden: How many hidden files were left alone.
        path: The folder or zip file read, absolute (None for uploads): a model's card names
            it, and ``ganmc assess`` or ``refresh`` read it again.
    """

    x: np.ndarray
    labels: np.ndarray | None
    classes: tuple[str, ...] | None
    anomalies: np.ndarray
    sources: list[str]
    anomaly_sources: list[str]
    framing: str
    source: str
    layout: str
    sizes: Counter = field(default_factory=Counter)
    colour: int = 0
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    hidden: int = 0
    path: str | None = None

    @property
    def stored_source(self) -> str:
        """What a model's card calls its data: the absolute path, or the uploads' name."""
        return self.path or self.source

    def __len__(self) -> int:
        return len(self.x)

    def normal_settings(self) -> dict:
        """The :class:`ganmc.core.config.TrainConfig` settings of what these pictures make
        normal: their named classes, else one class (label 0)."""
        return {"classes": self.classes, "digits": None if self.classes else (0,)}

    def class_counts(self) -> dict[str, int]:
        """Normal pictures per named class (empty without classes)."""
        if self.classes is None or self.labels is None:
            return {}
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {name: int(n) for name, n in zip(self.classes, counts)}

    def problems(self) -> list[str]:
        """Why this set cannot be trained on (empty when it can)."""
        out = []
        if len(self.x) < MIN_IMAGES:
            out.append(f"{len(self.x)} normal picture{'s' if len(self.x) != 1 else ''} "
                       f"could be read; at least {MIN_IMAGES} are needed to train")
        small = {c: n for c, n in self.class_counts().items() if n < MIN_CLASS_IMAGES}
        if small and len(self.x) >= MIN_IMAGES:
            out.append("too few pictures in class " + ", ".join(
                f"{c!r} ({n})" for c, n in small.items())
                + f": each class needs at least {MIN_CLASS_IMAGES} (add pictures, or move "
                  f"them into another class)")
        return out

    def check_trainable(self) -> None:
        """Raises DataError (one line) if the set cannot be trained on."""
        problems = self.problems()
        if problems:
            raise DataError(f"{self.source}: " + "; ".join(problems))

    def lines(self, limit: int = 10) -> list[str]:
        """What was found, in plain lines (at most ``limit`` names per list)."""
        n, m = len(self.x), len(self.anomalies)
        total = n + m
        out = [f"Found in {self.source} ({FRAMING_WORDS[self.framing]} framing):"]
        if self.layout == "classes":
            if self.classes:
                out.append(f"  normal: {n:,} pictures in {len(self.classes)} class"
                           f"{'es' if len(self.classes) != 1 else ''} (normal/CLASS/): "
                           + ", ".join(f"{c} {k:,}" for c, k in self.class_counts().items()))
            else:
                out.append(f"  normal: {n:,} picture{'s' if n != 1 else ''} (normal/)")
            out.append(f"  anomaly (only to measure the model, never trained on): {m:,} "
                       f"picture{'s' if m != 1 else ''}" if m else
                       "  anomaly: none (an anomaly/ folder beside normal/ would measure the "
                       "model on them)")
        else:
            out.append(f"  normal: {n:,} pictures, one class (there is no normal/ folder, so "
                       f"every picture in it and its sub-folders is normal)")
        if total:
            out.append(f"  sizes: {_sizes_text(self.sizes)}")
            out.append(f"  colour: {self.colour:,} in colour, {total - self.colour:,} grey"
                       + ("; the model sees every picture in grey, 28 x 28" if self.colour
                          else ""))
        if self.duplicates:
            out.append(f"  identical files left out: {len(self.duplicates):,}: " + _listed(
                [f"{a} (same as {b})" for a, b in self.duplicates], limit))
        if self.skipped:
            out.append(f"  skipped: {len(self.skipped):,}: " + _listed(
                [f"{name} ({reason})" for name, reason in self.skipped], limit))
        if self.hidden:
            out.append(f"  hidden files left alone: {self.hidden:,}")
        out += [f"  cannot train: {p}" for p in self.problems()]
        return out


def _sizes_text(sizes: Counter) -> str:
    if not sizes:
        return "none"
    (w, h), k = sizes.most_common(1)[0]
    if len(sizes) == 1:
        return f"{w}x{h} (all)"
    small = min(sizes, key=lambda s: s[0] * s[1])
    large = max(sizes, key=lambda s: s[0] * s[1])
    return (f"{len(sizes):,} different, from {small[0]}x{small[1]} to {large[0]}x{large[1]}; "
            f"most often {w}x{h} ({k:,})")


def _listed(items: list[str], limit: int) -> str:
    more = len(items) - limit
    return "; ".join(items[:limit]) + (f"; and {more:,} more" if more > 0 else "")


# ---------------------------------------------------------------------------- sources
def is_own_images(data: object) -> bool:
    """Whether a data source names the user's own pictures: a folder of them (not one of
    MNIST's IDX folders: :func:`is_image_folder`) or a ``.zip`` file."""
    if not isinstance(data, (str, Path)) or str(data) in ("auto", "keras", "bundled"):
        return False
    path = Path(data)
    return is_image_folder(path) or (path.suffix.lower() == ".zip" and path.exists())


def read_source(data: Path | str, framing: str = DIGITS, *,
                progress: Callable[[int, int], None] | None = None) -> Found:
    """Read a folder (:func:`read_folder`) or a zip file (:func:`read_zip`) of pictures.

    Raises:
        DataError: If it is neither, or cannot be read.
    """
    path = Path(data)
    if path.is_dir():
        return read_folder(path, framing, progress=progress)
    if path.suffix.lower() == ".zip" and path.is_file():
        found = read_zip(path, framing, name=str(path), progress=progress)
        found.path = str(path.resolve())
        return found
    if path.is_symlink() and not path.exists():
        raise DataError(f"{path}: a link to nothing (its target is gone)")
    raise DataError(f"{path}: no such folder or .zip file" if not path.exists() else
                    f"{path}: not a folder or a .zip file of pictures")


def is_image_folder(path: Path | str) -> bool:
    """Whether ``path`` is a folder to read as pictures: a folder that is not one of MNIST's
    IDX folders (``train-*``/``t10k-*`` IDX files, :func:`ganmc.images.data.load_mnist`)."""
    path = Path(path)
    if not path.is_dir():
        return False
    try:
        return not any("idx3" in f.name and f.name.startswith(("train", "t10k", "test"))
                       for f in path.iterdir())
    except OSError:
        return True  # read_folder says why it cannot be read


def read_folder(path: Path | str, framing: str = DIGITS, *,
                progress: Callable[[int, int], None] | None = None) -> Found:
    """Read a folder of pictures on this machine (its sub-folders too; links to folders are
    not followed).

    Raises:
        DataError: If the folder is missing or holds more than ``MAX_FILES`` files.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path}: no such folder" if not path.exists() else
                        f"{path}: not a folder")
    entries: list[Entry] = []
    hidden = 0
    try:
        for top, dirs, names in os.walk(path, onerror=_raise):
            rel = PurePosixPath(Path(top).relative_to(path).as_posix())
            kept = []
            for d in sorted(dirs):
                if _hidden(d):
                    hidden += 1
                else:
                    kept.append(d)
            dirs[:] = kept
            for name in sorted(names):
                if _hidden(name):
                    hidden += 1
                    continue
                entries.append(Entry(str(rel / name) if str(rel) != "." else name,
                                     _file_reader(Path(top) / name)))
                if len(entries) > MAX_FILES:
                    raise DataError(f"{path}: more than {MAX_FILES:,} files; use a part of "
                                    f"the pictures")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    found = collect(entries, framing, str(path), hidden=hidden, progress=progress)
    found.path = str(path.resolve())
    return found


def _raise(exc: OSError) -> None:
    raise exc


def _file_reader(path: Path) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise ImageError(f"cannot open ({exc.strerror or exc})") from None
        if not stat.S_ISREG(st.st_mode):
            raise ImageError("not a regular file (a pipe, device or socket); refused unread")
        if st.st_size > MAX_FILE_BYTES:
            raise ImageError(f"{st.st_size:,} bytes is more than the {MAX_FILE_BYTES:,} "
                             f"allowed for one image file")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot open ({exc.strerror or exc})") from None
    return read


def read_zip(data: bytes | Path | str, framing: str = DIGITS, *, name: str | None = None,
             progress: Callable[[int, int], None] | None = None) -> Found:
    """Read a zip of pictures (its bytes, e.g. an upload, or a path), in memory: a single
    folder at the top that holds everything (as a zipped folder has) is looked into.

    Raises:
        DataError: If it is not a zip, or holds more than ``MAX_FILES`` members or more than
            ``MAX_ZIP_BYTES`` uncompressed (from its directory, before any is read).
    """
    label = name or (str(data) if not isinstance(data, bytes) else "the zip")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(f"{label}: not a zip file that can be read ({one_line(exc, 120)})"
                        ) from None
    files = [i for i in infos if not i.is_dir()]
    if len(files) > MAX_FILES:
        raise DataError(f"{label}: {len(files):,} members, more than the {MAX_FILES:,} one "
                        f"data set may hold")
    total = sum(i.file_size for i in files)
    if total > MAX_ZIP_BYTES:
        raise DataError(f"{label}: its members add up to {total:,} bytes uncompressed, more "
                        f"than the {MAX_ZIP_BYTES:,} allowed")
    entries, skipped, hidden = [], [], 0
    for info in files:
        member = info.filename.replace("\\", "/")
        why = _unsafe_member(info, member)
        if why:
            skipped.append((member, why))
            continue
        if any(_hidden(p) for p in PurePosixPath(member).parts):
            hidden += 1
            continue
        entries.append(Entry(member, _member_reader(zf, info)))
    entries = _without_top_folder(entries)
    return collect(entries, framing, label, hidden=hidden, skipped=skipped,
                   progress=progress)


def _unsafe_member(info: zipfile.ZipInfo, member: str) -> str | None:
    """Why a zip member is not read (None: it is read)."""
    parts = PurePosixPath(member).parts
    if member.startswith("/") or (len(member) > 1 and member[1] == ":") or ".." in parts:
        return "its path leads outside the zip's folder; not read"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link; not followed"
    if info.flag_bits & 0x1:
        return "encrypted; not read"
    if info.file_size > MAX_FILE_BYTES:
        return (f"{info.file_size:,} bytes is more than the {MAX_FILE_BYTES:,} allowed for one "
                f"image file")
    return None


def _member_reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        try:  # zipfile stops at the size the directory gives, and checks the CRC
            return zf.read(info)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError,
                NotImplementedError) as exc:
            raise ImageError(f"cannot be unpacked ({one_line(exc, 120)})") from None
    return read


def _without_top_folder(entries: list[Entry]) -> list[Entry]:
    """A zipped folder's members without the folder's name in front (``data/normal/a.png`` ->
    ``normal/a.png``), when one folder holds them all and is not ``normal`` or ``anomaly``."""
    tops = {PurePosixPath(e.name).parts[0] for e in entries}
    if len(tops) != 1 or any(len(PurePosixPath(e.name).parts) < 2 for e in entries):
        return entries
    top = tops.pop()
    if top.lower() in (NORMAL, *ANOMALY_NAMES):
        return entries
    return [Entry(str(PurePosixPath(*PurePosixPath(e.name).parts[1:])), e.read)
            for e in entries]


def read_uploads(files: list[tuple[str, bytes]], framing: str = DIGITS, *,
                 progress: Callable[[int, int], None] | None = None) -> Found:
    """Read uploaded files: one zip (read as :func:`read_zip`), or pictures (one class).

    Raises:
        DataError: If nothing was given, or a zip comes with other files.
    """
    if not files:
        raise DataError("no files given")
    zips = [(n, d) for n, d in files if n.lower().endswith(".zip")]
    if zips:
        if len(files) > 1:
            raise DataError("upload one zip, or pictures, not both (or several zips)")
        return read_zip(zips[0][1], framing, name=zips[0][0], progress=progress)
    if len(files) > MAX_FILES:
        raise DataError(f"{len(files):,} files, more than the {MAX_FILES:,} one data set may "
                        f"hold")
    return collect([Entry(n, (lambda d=d: d)) for n, d in files], framing,
                   "uploaded pictures", plain=True, progress=progress)


# ---------------------------------------------------------------------------- reading
def collect(entries: list[Entry], framing: str, source: str, *, hidden: int = 0,
            skipped: list[tuple[str, str]] | None = None, plain: bool = False,
            progress: Callable[[int, int], None] | None = None) -> Found:
    """Read the entries of one data set by its layout (``plain``: every entry is normal,
    whatever its path) into a :class:`Found`.

    Raises:
        ConfigError: If the framing is unknown or there are too many classes.
    """
    if framing not in FRAMINGS:
        raise ConfigError(f"framing must be one of {', '.join(FRAMINGS)}, not {framing!r}")
    skipped = list(skipped or [])
    layout = "plain" if plain or not any(
        PurePosixPath(e.name).parts[0].lower() == NORMAL and len(PurePosixPath(e.name).parts) > 1
        for e in entries) else "classes"
    normal: list[tuple[Entry, str | None]] = []  # with its class (None: no class)
    anomalous: list[Entry] = []
    if layout == "plain":
        normal = [(e, None) for e in entries]
    else:
        classed = [e for e in entries if _parts(e)[0].lower() == NORMAL and len(_parts(e)) > 2]
        for e in entries:
            parts = _parts(e)
            top = parts[0].lower()
            if top == NORMAL and len(parts) > 2:
                normal.append((e, parts[1]))
            elif top == NORMAL and not classed:
                normal.append((e, None))
            elif top == NORMAL:
                skipped.append((e.name, "a picture directly in normal/ beside class folders: "
                                        "put it in a class folder"))
            elif top in ANOMALY_NAMES and len(parts) > 1:
                anomalous.append(e)
            else:
                skipped.append((e.name, "outside normal/ and anomaly/"))
    names = sorted({c for _, c in normal if c is not None}, key=lambda c: (c.casefold(), c))
    try:
        classes = checked_classes(names) if names else None
    except ConfigError as exc:
        raise DataError(f"{source}: the class folders in normal/: {exc}") from None
    index = {c: i for i, c in enumerate(classes or ())}

    wanted = [e for e, _ in normal] + anomalous
    pictures = [e for e in wanted if PurePosixPath(e.name).suffix.lower() in IMAGE_SUFFIXES]
    others = [e for e in wanted if PurePosixPath(e.name).suffix.lower() not in IMAGE_SUFFIXES]
    skipped += [(e.name, f"not a picture ({PurePosixPath(e.name).suffix or 'no suffix'}; "
                         f"{', '.join(IMAGE_SUFFIXES)} are read)") for e in others]
    if len(pictures) > MAX_FILES:
        raise DataError(f"{source}: {len(pictures):,} pictures, more than the {MAX_FILES:,} "
                        f"one data set may hold")
    label_of = {id(e): c for e, c in normal}
    is_normal = {id(e) for e, _ in normal}
    seen: dict[str, str] = {}
    xs, labels, srcs, xa, asrcs = [], [], [], [], []
    sizes: Counter = Counter()
    duplicates: list[tuple[str, str]] = []
    colour = 0
    for i, e in enumerate(pictures):
        if progress is not None:
            progress(i, len(pictures))
        try:
            data = e.read()
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen:
                duplicates.append((e.name, seen[digest]))
                continue
            picture = open_picture(data, name=e.name)
            img = frame(picture.image, framing, name=e.name)
        except GanmcError as exc:
            skipped.append((e.name, _reason(exc, e.name)))
            continue
        seen[digest] = e.name
        sizes[picture.size] += 1
        colour += _in_colour(picture.image)
        if id(e) in is_normal:
            xs.append(img)
            srcs.append(e.name)
            labels.append(index.get(label_of[id(e)], -1))
        else:
            xa.append(img)
            asrcs.append(e.name)
    if progress is not None:
        progress(len(pictures), len(pictures))
    x = np.stack(xs) if xs else np.zeros((0, 28, 28), np.uint8)
    y = np.asarray(labels, np.int64) if classes is not None else None
    return Found(x, y, classes, np.stack(xa) if xa else np.zeros((0, 28, 28), np.uint8),
                 srcs, asrcs, framing, source, layout, sizes, colour, duplicates, skipped,
                 hidden)


def _parts(e: Entry) -> tuple[str, ...]:
    return PurePosixPath(e.name).parts


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in _TOOL_FOLDERS


def _reason(exc: GanmcError, name: str) -> str:
    """An error's message without the file's name in front (it is listed beside it)."""
    text = str(exc)
    return text[len(name) + 2:] if text.startswith(f"{name}: ") else text


def _in_colour(img) -> bool:
    """Whether a picture has colour: more than 1 % of its pixels with channels that differ
    by more than 16 of 255 (a grey picture saved as RGB, or JPEG's noise, is grey)."""
    if img.mode in ("1", "L", "LA", "I", "F") or img.mode.startswith("I;"):
        return False
    rgb = np.asarray(img.convert("RGB"), np.int16)
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    return bool(np.mean(spread > 16) > 0.01)


# ---------------------------------------------------------------------------- preview
def preview(found: Found, *, per_row: int = 12, rows: int = 6, seed: int = 0,
            scale: int = 2) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """A grid of the pictures as the model will see them (uint8, grey): for named classes a
    row of each class (its first pictures), else ``rows`` rows of a seeded sample of the
    normal pictures; then, below a light line, a row of a sample of the anomalies, if any.
    Also the rows' names with where each row starts (pixels from the top)."""
    rng = np.random.default_rng(seed)
    blocks: list[np.ndarray] = []
    names: list[tuple[int, str]] = []

    def add(block: np.ndarray, name: str = "") -> None:
        if name:
            names.append((sum(len(b) for b in blocks) * scale, name))
        blocks.append(block)

    if found.classes is not None and found.labels is not None:
        for i, name in enumerate(found.classes):
            add(_row(found.x[np.flatnonzero(found.labels == i)[:per_row]], per_row), name)
    elif len(found.x):
        pick = np.sort(rng.permutation(len(found.x))[:per_row * rows])
        for i in range(0, len(pick), per_row):
            add(_row(found.x[pick[i:i + per_row]], per_row), "normal" if i == 0 else "")
    if len(found.anomalies):
        add(np.full((4, per_row * 30), 160, np.uint8))
        pick = np.sort(rng.permutation(len(found.anomalies))[:per_row])
        add(_row(found.anomalies[pick], per_row), "anomaly")
    if not blocks:
        return np.zeros((30 * scale, per_row * 30 * scale), np.uint8), []
    return np.kron(np.concatenate(blocks), np.ones((scale, scale), np.uint8)), names


def _row(images: np.ndarray, per_row: int) -> np.ndarray:
    row = np.full((30, per_row * 30), 40, np.uint8)
    for j, img in enumerate(images[:per_row]):
        row[1:29, j * 30 + 1:j * 30 + 29] = img
    return row


def preview_png(found: Found, *, scale: int = 2, **kwargs) -> bytes:
    """:func:`preview` as PNG bytes, with each named row's name on its left."""
    from PIL import Image, ImageDraw

    array, names = preview(found, scale=scale, **kwargs)
    grid = Image.fromarray(array, "L")
    if names:
        margin = 8 + 7 * min(max(len(n) for _, n in names), 24)
        named = Image.new("L", (grid.width + margin, grid.height), 255)
        named.paste(grid, (margin, 0))
        draw = ImageDraw.Draw(named)
        for top, name in names:
            draw.text((4, top + 15 * scale - 5), name[:24], fill=0)
        grid = named
    buf = io.BytesIO()
    grid.save(buf, format="PNG")
    return buf.getvalue()
