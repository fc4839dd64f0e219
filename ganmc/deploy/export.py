"""``ganmc export``: a model's verdict score as one float32 graph (ONNX, TFLite or a
TensorFlow SavedModel), in a folder with everything its verdicts need, judged without
TensorFlow by the folder's own ``predict.py`` (:mod:`ganmc.deploy.predict`, copied there unchanged).

The folder (:func:`export`):

- ``model.onnx``, ``model.tflite`` or ``savedmodel/``: the graph. Its input is float32 images
  (N, 28, 28, 1) in [-1, 1] (pixel / 127.5 - 1); its output float32 (N, C), one column per
  value named in ``export.json`` (``graph.columns``): the score, or for ``combined`` its
  views (:mod:`ganmc.scores.combined`: the main views, such as the shape network's margin and
  distance, and the guards, such as the discriminator's minus logit and a count of grey
  pixels), and ``digit``, the digit (or the index of the named class) each image is taken
  for, for a model that takes images for digits or classes.
- ``export.json``: the export's card: the score, the threshold (per digit, or pooled), its
  level and, for a PAC threshold, its delta (the chance its promise fails) and rank, the
  framing, the class names of a model of named classes, the graph's input and columns, the
  check it passed, the versions.
- ``references.npz``: the held-out normal images' scores (sorted) and the digits they are
  taken for, which the p-values and per-digit verdicts need; for ``combined``, each view's
  held-out values, among which ``predict.py`` ranks an image's views.
- ``model-card.json`` (the model's card), ``predict.py`` and ``README.md``.

Measured while building it (TensorFlow 2.21, tf2onnx 1.17): ``tf.searchsorted`` does not
export (ONNX has no UpperBound; TFLite needs its Flex ops), so the combined score's ranks are
taken in numpy by ``predict.py``; constants made outside the traced function become extra ONNX
inputs, so the whole graph is built inside it; the bfloat16 inference copies do not export,
so the float32 networks are; tf2onnx 1.17 converts up to opset 18. Before a folder is put in
place, its own runtime judges bundled test digits (a model of the user's own pictures: the
pictures it kept) and noise and must give the package's verdicts (:func:`check`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganmc import __version__
from ganmc.core import files, locks
from ganmc.core.errors import ConfigError, GanmcError, ModelError, StorageError, one_line
from ganmc.core.scorers import REGISTRY
from ganmc.deploy import predict
from ganmc.storage import bundle
from ganmc.thresholds import ranks
from ganmc.thresholds.calibration import Threshold
from ganmc.thresholds.distribution import percent

log = logging.getLogger(__name__)

#: The formats of the graph, in the order the help lists them.
FORMATS = ("onnx", "savedmodel", "tflite")
#: The ONNX opset written: the newest tf2onnx 1.17 converts to.
ONNX_OPSET = 18
#: What each format needs at export time beyond TensorFlow, and how to get it.
NEEDS = {"onnx": ("tf2onnx", "onnxruntime"), "savedmodel": (), "tflite": ()}
INSTALL = 'pip install -e ".[export]"'
#: The check before a folder is put in place: test digits and noise images judged by the
#: folder's runtime; scores must agree with the package's within this relative difference.
CHECK_DIGITS, CHECK_NOISE = 200, 50
TOLERANCE = 1e-4
#: The framing a model card without one has (ganmc's own: like digits).
DEFAULT_FRAMING = "digits"


@dataclass(frozen=True)
class Exported:
    """What :func:`export` wrote.

    Attributes:
        folder: The export folder.
        manifest: Its ``export.json``.
    """

    folder: Path
    manifest: dict[str, Any]

    def summary(self) -> str:
        """One line saying what was exported, for the CLI and the dashboard."""
        m, t = self.manifest, self.manifest["threshold"]
        check = m["check"]
        return (f"exported the {m['score']} score as {m['graph']['format']} "
                f"({m['graph']['file']}) with {_threshold_words(t, _noun(m))}, framing "
                f"{m['framing']}; its runtime gave the package's verdicts on "
                f"{check['images']} check images (scores within "
                f"{check['max_relative_difference']:.1e})")


def framing_of(card: dict[str, Any]) -> str:
    """The framing a model card names (its ``framing`` field), else ``digits``."""
    framing = card.get("framing")
    return DEFAULT_FRAMING if framing is None else str(framing)


def check_format(fmt: str) -> str:
    """``fmt`` if it is a known format.

    Raises:
        ConfigError: Naming the formats there are.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose {', '.join(FORMATS[:-1])} or "
                          f"{FORMATS[-1]}")
    return fmt


def check_target(out: Path | str, *, replace: bool = False) -> Path:
    """The one rule for an export folder, checked before any work; writes nothing.

    A new name is fine. What is there already is replaced only with ``replace`` and only if
    it is an export folder (one with a ganmc ``export.json``); a file, a link, a device or a
    folder of anything else is never replaced.

    Raises:
        StorageError: With one line saying why.
    """
    out = Path(out)
    if out.name in ("", ".", ".."):
        raise StorageError(f"{str(out)!r} is not a folder name; name the export folder to "
                           f"write")
    if out.name.startswith("."):
        raise StorageError(f"{out.name}: export names may not start with '.' (the hidden "
                           f"temporaries and locks of a save are named so)")
    if out.is_symlink():
        raise StorageError(f"{out}: is a link; an export is never written over one")
    if out.exists():
        if not out.is_dir():
            raise StorageError(f"{out}: something that is not a folder is there; an export "
                               f"is never written over it")
        if not _is_export(out):
            raise StorageError(f"{out}: a folder that is not a ganmc export is there; an "
                               f"export is never written over it")
        if not replace:
            raise StorageError(f"{out}: an export is there already; replace it with "
                               f"--replace or choose another name")
    return out


def _is_export(folder: Path) -> bool:
    try:
        card = json.loads((folder / predict.MANIFEST).read_bytes()[:predict.MAX_MANIFEST_BYTES])
    except (OSError, ValueError):
        return False
    return isinstance(card, dict) and card.get("format") == predict.FORMAT


def export(det, decision, fmt: str, out: Path | str, *, replace: bool = False) -> Exported:
    """Export a detector's score and threshold (a :class:`ganmc.Decision`) as
    ``fmt`` into the folder ``out``, written beside it and renamed into place once its own
    runtime has given the package's verdicts (:func:`check`).

    Raises:
        ConfigError: If the format is unknown, the score cannot be exported
            (``latent-search``) or its threshold is not from held-out images.
        StorageError: If ``out`` may not be written (:func:`check_target`).
        GanmcError: If a tool the format needs is missing, or the check fails.
    """
    check_format(fmt)
    out = check_target(out, replace=replace)
    threshold: Threshold = decision.threshold
    scorer = decision.scorer
    if REGISTRY[scorer].searches:
        raise ConfigError(f"the {scorer} score cannot be exported: each image runs 100 "
                          "optimiser steps with gradients; export another score (--scorer)")
    if not threshold.promises:
        raise ConfigError("an export judges by the held-out normal images (its p-values "
                          "count them); a Monte Carlo threshold is not exported: choose the "
                          "holdout or per-digit threshold (--calibration)")
    holdout = det.holdout_scores_.get(scorer)
    if holdout is None:
        raise ConfigError(f"the model has no held-out scores of {scorer} to export")
    _check_tools(fmt)
    card = bundle.read_card(det.path_) if det.path_ is not None else det.card()
    framing = framing_of(card)
    if framing not in predict.FRAMINGS:
        raise ConfigError(f"the model's framing {framing!r} is not one the export's runtime "
                          f"knows ({', '.join(predict.FRAMINGS)})")
    locks.check_writable(out.parent)
    columns = _columns(det, scorer)
    manifest = {
        "format": predict.FORMAT, "format_version": predict.FORMAT_VERSION,
        "score": scorer,
        "combined": det.combination_.describe() if REGISTRY[scorer].composite else None,
        "threshold": _threshold_entry(threshold),
        "framing": framing,
        "framing_words": predict.FRAMING_WORDS[framing],
        "graph": {"format": fmt, "file": predict.GRAPH_FILES[fmt], "input": "images",
                  "input_shape": [None, 28, 28, 1], "input_range": "pixel / 127.5 - 1",
                  "columns": columns},
        "model": {"name": det.path_.name if det.path_ is not None else None,
                  "digits": list(det.config.digits), "arch": det.config.arch},
        "classes": list(det.names.classes) if det.names.named else None,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(fmt),
    }
    refs = {"holdout_scores": np.asarray(holdout, np.float64)}
    digits = det.holdout_digits_.get(scorer)
    if threshold.per_digit and digits is not None:
        refs["holdout_digits"] = np.asarray(digits, np.int64)
    if REGISTRY[scorer].composite:
        refs.update({f"reference_{k}": v for k, v in det.combination_.arrays().items()})
    with files.atomic_dir(out) as tmp:
        check_target(out, replace=replace)  # again, under the folder's lock: another
        # export may have been written there since the first look
        graph = _write_graph(det, scorer, columns, fmt, tmp)
        manifest["graph"].update(graph)
        np.savez(tmp / predict.REFERENCES, **refs)
        files.write_json_file(tmp / predict.CARD, card)
        shutil.copyfile(Path(predict.__file__), tmp / predict.PREDICT)
        files.write_json_file(tmp / predict.MANIFEST, manifest)
        manifest["check"] = check(det, decision, tmp)
        files.write_json_file(tmp / predict.MANIFEST, manifest)
        files.atomic_write_bytes(tmp / predict.README, readme(manifest).encode())
    return Exported(out, manifest)


def zip_folder(folder: Path | str) -> bytes:
    """An export folder as the bytes of a zip file (its files under the folder's name)."""
    import io

    folder = Path(folder)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file() and not f.is_symlink():
                z.write(f, Path(folder.name) / f.relative_to(folder))
    return buf.getvalue()


# ---------------------------------------------------------------------------- the graph
def _columns(det, scorer: str) -> list[str]:
    """The graph's output columns: the score (for ``combined``: its views), then the digit
    each image is taken for where the model takes images for digits."""
    cols = list(det.combination_.views) if REGISTRY[scorer].composite else [scorer]
    return cols + (["digit"] if det.networks_.per_digit else [])


def graph_function(det, scorer: str, columns: list[str]):
    """The score's float32 graph as a ``tf.function`` of images (N, 28, 28, 1) -> (N, C),
    built from :mod:`ganmc.scores.scoring`'s graphs, everything made inside the traced function
    (constants made outside it became extra ONNX inputs)."""
    import tensorflow as tf

    from ganmc.scores import scoring

    nets, config = det.networks_, det.config
    spec = tf.TensorSpec([None, 28, 28, 1], tf.float32, name="images")

    @tf.function(input_signature=[spec], autograph=False)
    def graph(images):
        if REGISTRY[scorer].composite:
            names = tuple(c for c in columns if c != "digit")
            views = scoring.views_graph(names, nets, images)
            cols = [views[c] for c in names]
        else:
            cols = [scoring.score_graph(scorer, nets, images, config.kappa,
                                        config.search_steps)]
        if "digit" in columns:
            cols.append(scoring.digit_graph(nets, images))
        return tf.stack([tf.cast(c, tf.float32) for c in cols], axis=1)

    return graph


def _write_graph(det, scorer: str, columns: list[str], fmt: str, folder: Path
                 ) -> dict[str, Any]:
    """Convert the graph into ``folder``; what the runtime needs to know of it."""
    import tensorflow as tf

    from ganmc.core.runtime import stderr_silenced

    graph = graph_function(det, scorer, columns)
    target = folder / predict.GRAPH_FILES[fmt]
    try:
        with stderr_silenced():  # the converters' C++ chatter
            if fmt == "onnx":
                import tf2onnx

                logging.getLogger("tf2onnx").setLevel(logging.ERROR)
                proto, _ = tf2onnx.convert.from_function(
                    graph, input_signature=graph.input_signature, opset=ONNX_OPSET,
                    output_path=str(target))
                return {"output": proto.graph.output[0].name, "opset": ONNX_OPSET}
            concrete = graph.get_concrete_function()
            module = tf.Module()  # holds the graph and the networks whose weights it reads
            nets = det.networks_
            module.graph, module.networks = graph, [n for n in (
                nets.generator, nets.discriminator, nets.encoder, nets.shape) if n is not None]
            if fmt == "tflite":  # frozen first: converted as they are, the networks'
                # variables became READ_VARIABLE ops that LiteRT never set (NaN scores)
                from tensorflow.python.framework.convert_to_constants import (
                    convert_variables_to_constants_v2,
                )

                frozen = convert_variables_to_constants_v2(concrete)
                converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
                target.write_bytes(converter.convert())
                return {"output": "0"}
            tf.saved_model.save(module, str(target), signatures={"serving_default": concrete})
            return {"output": "output_0"}
    except GanmcError:
        raise
    except OSError:
        raise
    except Exception as exc:  # the converters raise many kinds
        raise ModelError(f"the {fmt} converter failed on this model "
                         f"({type(exc).__name__}: {one_line(exc, 300)})") from None


def _check_tools(fmt: str) -> None:
    """Raise one line naming what the format needs and is missing."""
    import importlib.util

    missing = [m for m in NEEDS[fmt] if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"the {fmt} format needs {' and '.join(missing)}, which "
                          f"{'is' if len(missing) == 1 else 'are'} not installed: {INSTALL}")


def _versions(fmt: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"ganmc": __version__}
    for name in ("tensorflow", "keras", *NEEDS[fmt]):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


# ---------------------------------------------------------------------------- thresholds
def _threshold_entry(threshold: Threshold) -> dict[str, Any]:
    """The threshold as the export's card holds it: its source and level, the pooled
    value and, per digit, the values of the digits with enough held-out images (the others
    use the pooled one); an infinite threshold (too few images for the level) is null."""
    def finite(v: float) -> float | None:
        return float(v) if np.isfinite(v) else None

    entry = {"source": threshold.source, "alpha": threshold.level.alpha,
             "percentile": threshold.level.percentile, "n": threshold.distribution.n,
             "pooled": finite(threshold.value), "by_digit": {}}
    if threshold.delta is not None:  # a PAC threshold: its confidence and its rank
        entry["delta"] = threshold.delta
        entry["rank"] = ranks.pac_rank(threshold.distribution.n, threshold.level,
                                             threshold.delta)
    if threshold.per_digit:
        groups = tuple(threshold.groups)
        pooled = set(threshold.fallbacks(groups))
        entry["by_digit"] = {str(d): finite(v) for d, v in threshold.by_digit(groups).items()
                             if d not in pooled}
        entry["pooled_for"] = sorted(pooled)
    return entry


def _threshold_words(t: dict[str, Any], noun: str = "digit") -> str:
    """The threshold in a few words, for the summary line (``noun``: digit or class)."""
    level = f"at {percent(t['alpha'], 'g')} false alarms"
    if t.get("delta") is not None:
        level += f" with {percent((1 - t['delta']), 'g')} confidence (PAC)"
    if t["by_digit"]:
        plural = "classes" if noun == "class" else "digits"
        return f"per-{noun} thresholds ({len(t['by_digit'])} {plural}) {level}"
    return f"one threshold {level}"


def _noun(m: dict[str, Any]) -> str:
    """"class" for an export of a model of named classes, else "digit"."""
    return "class" if m.get("classes") else "digit"


# ---------------------------------------------------------------------------- the check
def check_images(det) -> tuple[np.ndarray, str]:
    """The images every export is checked on, and what they are in words: for a model of
    the user's own pictures, the pictures it kept (:attr:`Detector.examples_`, already in
    its frame): its anomalies as they are, its normal ones mirrored left to right (they are
    held-out images, so each as it is ties with its own value among the references its
    score is ranked against, and a float32 rounding either side of a tie moves a rank); else
    (and for a model of own pictures that kept none, saying so) bundled test digits; then
    uniform noise."""
    noise = np.random.default_rng(0).integers(0, 256, (CHECK_NOISE, 28, 28)).astype(np.uint8)
    if det.own_images:
        normal = np.asarray(det.examples_.get("normal", np.zeros((0, 28, 28))), np.uint8)
        anomalies = np.asarray(det.examples_.get("anomaly", np.zeros((0, 28, 28))), np.uint8)
        mirrored = normal[:, :, ::-1]
        mirrored = mirrored[(mirrored != normal).any(axis=(1, 2))]  # a symmetric one is itself
        if len(mirrored) + len(anomalies):
            return (np.concatenate([mirrored, anomalies, noise]),
                    f"{len(mirrored)} of the model's own held-out normal pictures mirrored, "
                    f"{len(anomalies)} of its anomaly pictures and {CHECK_NOISE} uniform "
                    f"noise images")
    from ganmc.images.data import load_mnist

    digits = load_mnist("bundled", det.config.digits).x_test[:CHECK_DIGITS]
    words = (f"{len(digits)} bundled test digits and {CHECK_NOISE} uniform noise images")
    if det.own_images:
        words += " (the model kept none of its own pictures to check with)"
    return np.concatenate([digits, noise]), words


def compare(ours, verdicts, n_holdout: dict[int, int] | int, spread: float
            ) -> dict[str, Any]:
    """How the runtime's verdicts (:class:`ganmc.deploy.predict.Verdicts`) compare with the
    package's (a list of :class:`ganmc.thresholds.verdict.Verdict`): the largest relative score
    difference, the largest p-value difference in ranks, and the images whose verdict or
    digit differs. ``n_holdout``: the held-out images each p-value counts (by digit).

    A difference is relative to the score, or to ``spread`` (the held-out scores' standard
    deviation) where the score is smaller: a score that crosses 0 (a logit, a standardised
    distance) has no relative size near it, and float32 rounding there is a few 1e-6 of its
    spread."""
    score = np.array([v.score for v in verdicts])
    p = np.array([v.p_value for v in verdicts])
    label = np.array([v.is_anomaly for v in verdicts])
    digit = np.array([-1 if v.digit is None else v.digit for v in verdicts])
    rel = np.abs(ours.score - score) / np.maximum(np.abs(score), spread)
    n = (np.array([n_holdout.get(int(d), n_holdout["all"]) for d in digit])
         if isinstance(n_holdout, dict) else np.full(len(p), n_holdout))
    rank_gaps = np.abs(ours.p_value - p) * (n + 1)
    return {"images": len(score),
            "max_relative_difference": float(rel.max(initial=0.0)),
            "max_p_value_ranks": float(rank_gaps.max(initial=0.0)),
            "verdicts_differ": np.flatnonzero(ours.anomaly != label).tolist(),
            "digits_differ": np.flatnonzero(ours.digit != digit).tolist()}


def check(det, decision, folder: Path) -> dict[str, Any]:
    """Judge :func:`check_images` with the folder's own runtime and with the package.

    Returns:
        The comparison (:func:`compare`), for the export's card.

    Raises:
        ModelError: If a verdict or a digit differs, a score by more than
            :data:`TOLERANCE` (relative) or a p-value by more than one rank.
    """
    x, words = check_images(det)
    runtime = predict.Export(folder)
    ours = runtime.judge(x)
    theirs = det.verdicts(x, scorer=decision.scorer, threshold=decision.threshold,
                          check_drift=False)  # what ganmc score gives (service.score)
    result = compare(ours, theirs, {**{d: len(g) for d, g in runtime.groups.items()},
                                    "all": len(runtime.holdout)},
                     float(np.std(runtime.holdout)) or 1.0)
    if (result["verdicts_differ"] or result["digits_differ"]
            or result["max_relative_difference"] > TOLERANCE
            or result["max_p_value_ranks"] > 1.0 + 1e-9):
        raise ModelError(f"the exported graph does not give the package's verdicts on the "
                         f"check images ({json.dumps(result)}); nothing was written")
    return {**result, "what": words}


# ---------------------------------------------------------------------------- README
def threshold_text(m: dict[str, Any]) -> str:
    """What the export's threshold promises, in words: the level, the held-out images it
    was chosen from and, for a PAC threshold, its confidence and rank."""
    t = m["threshold"]
    noun = _noun(m)
    each = f" (for each {noun}, among the held-out images taken for it)" if t["by_digit"] else ""
    if t.get("delta") is not None:
        rank = f"the score of rank {t['rank']:,} of {t['n']:,}" if t.get("rank") else "a rank"
        return (f"its {t['source']} threshold: with probability at least "
                f"{percent((1 - t['delta']), 'g')} over the draw of its held-out normal images, at "
                f"most {percent(t['alpha'], 'g')} of new normal images are flagged{each} (pooled: "
                f"{rank} held-out normal images' scores)")
    return (f"its {t['source']} threshold at {percent(t['alpha'], 'g')} false alarms{each}: on "
            f"average over the draw of the held-out normal images, at most that share of new "
            f"normal images is flagged (pooled: about the {t['percentile']:g}th percentile of "
            f"{t['n']:,} held-out normal images' scores)")


def readme(m: dict[str, Any]) -> str:
    """The export folder's README.md: what is in it and how to use it."""
    fmt, t = m["graph"]["format"], m["threshold"]
    runtime = {"onnx": "onnxruntime", "tflite": "ai-edge-litert",
               "savedmodel": "tensorflow"}[fmt]
    score = m["score"]
    noun = _noun(m)
    classes = m.get("classes")
    normal = (f"normal classes {', '.join(classes)}" if classes else
              f"normal digits {', '.join(map(str, m['model']['digits']))}")

    def label(d: str) -> str:
        return classes[int(d)] if classes and 0 <= int(d) < len(classes) else str(d)

    views = ""
    if m["combined"]:
        c = m["combined"]
        views = (f" The graph gives the combined score's views; `predict.py` ranks them "
                 f"among the held-out normal images' values (`references.npz`) and takes the "
                 f"largest: the ranks of {', '.join(c.get('mains', [c['main']]))}, and of "
                 f"{', '.join(c.get('guards', predict.GUARDS))} where they lie beyond every "
                 f"held-out image. The view that gives an image its score is the `reason` "
                 f"of an anomaly.")
    tflite_note = ("\n`predict.py` runs `model.tflite` with ai-edge-litert (`pip install "
                   "ai-edge-litert`; Linux x86-64, macOS arm64 and Windows have wheels) or "
                   "tflite-runtime; without either it uses TensorFlow's TFLite interpreter if "
                   "TensorFlow is installed, and says so.\n" if fmt == "tflite" else "")
    saved_note = ("\nA SavedModel needs TensorFlow to run: `pip install numpy pillow "
                  "tensorflow`. Export with `--format onnx` to judge without it.\n"
                  if fmt == "savedmodel" else "")
    by_digit = "".join(f"| {label(d)} | {v if v is not None else 'none'} |\n"
                       for d, v in t["by_digit"].items())
    thresholds = (f"Per-{noun} thresholds (an image is judged by the {noun} it is taken for; "
                  f"a {noun} not listed uses the pooled threshold {t['pooled']}):\n\n"
                  f"| {noun} | threshold |\n| --- | --- |\n{by_digit}"
                  if t["by_digit"] else f"Threshold: {t['pooled']} (one for all images).\n")
    columns = f"source,index,score,p_value,threshold,{noun},verdict,reason"
    taken = ("`class`, the name of the class it is taken for" if classes else
             "`digit`, the digit it is taken for (empty for a model that takes images for "
             "no digit)")
    blank = (" A picture of one colour is judged too (it may well be the anomaly)."
             if m["framing"] == "whole" else
             " An image that holds no digit (blank, of one colour, a dot) is refused, as ganmc "
             "refuses it.")
    return f"""# ganmc export: the {score} score as {fmt}

Judges pictures as the ganmc model `{m['model']['name']}` does ({normal}), with its {score}
score and {threshold_text(m)}, without ganmc.

## Use it

```bash
pip install numpy pillow {runtime}
python predict.py picture.png more_pictures/     # one CSV row per image on stdout
python predict.py --fdr 0.05 more_pictures/      # and the batch at a false discovery rate
```

Each row: `{columns}`, as `ganmc score` writes them: {taken}; `reason`, for an anomaly
under the combined score, why in plain words (empty otherwise). With `--fdr Q` an
`fdr_verdict` column too: the images Benjamini-Hochberg flags over the batch's p-values
(against every held-out normal image), of which at most a share Q are expected to be normal.
A file that cannot be read is listed on stderr and the others are judged (the exit status is
then 2).{blank} In Python:

```python
import sys; sys.path.insert(0, "THIS_FOLDER")
from predict import Export
exp = Export("THIS_FOLDER")
x = exp.read("picture.png")[None]     # read and framed: uint8 (1, 28, 28)
v = exp.judge(x)                      # v.score, v.p_value, v.threshold, v.digit, v.anomaly
rows = v.rows(["picture.png"], [0])   # the CSV rows, with the {noun} and the reason
```
{tflite_note}{saved_note}
## What it does

1. **Framing** ({m['framing']}): {m['framing_words']}.
2. **Score**: the graph (`{m['graph']['file']}`, float32) takes images (N, 28, 28, 1)
   scaled as pixel / 127.5 - 1 and gives one column per value: {', '.join(
        f'`{c}`' for c in m['graph']['columns'])}.{views} Higher is more anomalous.
3. **Verdict**: an image is an anomaly when its score is strictly above its threshold.
   Its p-value is (1 + the number of held-out scores at or above it) / (n + 1), among the
   held-out scores it is judged against (its {noun}'s under per-{noun} thresholds).

{thresholds}
## What it does not do

- **No drift alarm.** `ganmc score` and the dashboard watch a stream of verdicts and warn
  when the images stop looking like the held-out normal ones (the threshold's promise then
  no longer holds); `predict.py` judges each image on its own and never warns. Check a
  stream with ganmc itself (`ganmc score --model MODEL IMAGES`).
- No reconstructions, no report, no Monte Carlo reading, no recalibration: the thresholds are
  those of the moment of export.

## Files

| file | what it holds |
| --- | --- |
| `{m['graph']['file']}` | the scoring graph ({fmt}) |
| `export.json` | this export's card: score, thresholds, framing, classes, columns, check |
| `references.npz` | held-out scores (sorted), their {noun}s, each view's held-out values |
| `model-card.json` | the model's own card (training, calibration, quality) |
| `predict.py` | the runtime: numpy, Pillow and {runtime} |

## Checked

Before this folder was written, `predict.py` judged {m['check']['images']} images
({m['check'].get('what', 'check images')}) and gave the package's verdicts: scores within
{m['check']['max_relative_difference']:.1e} (relative), p-values within
{m['check']['max_p_value_ranks']:.0f} rank. Made by ganmc {m['versions']['ganmc']} with
{', '.join(f'{k} {v}' for k, v in m['versions'].items() if k != 'ganmc')}.
"""
