"""Issue #17, item 4: a corrupt model card or arrays file is refused in one line (exit 2) by
every command, never a traceback. In-process ``ganmc.cli.main`` calls over a copy of the
shipped model whose ``ganmc.json`` (or ``arrays.npz``) is corrupted."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ganmc import cli
from ganmc.core.config import SCORERS
from ganmc.storage import bundle

CARD = json.loads((bundle.DEFAULT_MODEL / bundle.CARD).read_text())


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz") / "model"
    shutil.copytree(bundle.DEFAULT_MODEL, folder)
    return folder


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    arr = np.zeros((28, 28), np.uint8)
    arr[4:24, 12:16] = 255
    path = tmp_path_factory.mktemp("img") / "one.png"
    Image.fromarray(arr).save(path)
    return path


def commands(model, image, out):
    m = ["--model", str(model)]
    return [["info", *m], ["info", "--json", *m], ["score", str(image), *m],
            ["evaluate", "--normal", str(image), "--anomalous", str(image), *m],
            ["simulate", "--samples", "10", *m],
            ["report", "--samples", "0", "--out", str(out / "r.png"), *m]]


def run_all(model, image, out, capsys):
    """Every command; each must exit 2 with exactly one line on stderr."""
    seen = []
    for argv in commands(model, image, out):
        capsys.readouterr()
        rc = cli.main(argv)
        err = capsys.readouterr().err
        seen.append((argv[0], rc, err.count("\n"), err.startswith(f"ganmc {argv[0]}: error: ")))
    assert seen == [(argv[0], 2, 1, True) for argv in commands(model, image, out)], seen


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# Values that are wrong for each field, by construction (wrong JSON type, or out of range).
def not_a(*types):
    return st.recursive(
        st.none() | st.booleans() | st.integers(-10**30, 10**30)
        | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                   max_size=3),
        max_leaves=6).filter(lambda v: not isinstance(v, types) or isinstance(v, bool)
                             and bool not in types)


BAD = {
    "format_version": not_a(int) | st.integers(-5, 0) | st.just(True),
    "config": not_a(dict),
    "metadata": not_a(dict),
    "calibration_summary": not_a(dict) | st.dictionaries(st.sampled_from(["fanogan"]),
                                                         not_a(dict), min_size=1),
    "scorers": not_a(list) | st.lists(st.text(max_size=5).filter(
        lambda t: t not in SCORERS),
        min_size=1, max_size=2),
    "scorer": not_a(str) | st.text(max_size=6).filter(lambda t: t not in ("auto", "fanogan")),
    "calibration": not_a(str) | st.sampled_from(["", "both", "Holdout"]),
    "alpha": not_a(int, float) | st.sampled_from([0, 1, -0.5, 2, 1e300, "0.05", "abc"]),
    "pac_delta": not_a(int, float) | st.sampled_from([0, 1, -0.1, 2, "0.1"]),
    "config.digits": not_a(list) | st.lists(st.integers(10, 10**20) | st.text(max_size=2)
                                            | st.floats(allow_nan=False), min_size=1),
    # (null is the preset's default, which the shipped networks have: not wrong)
    "config.latent_dim": not_a(int).filter(lambda v: v is not None) | st.integers(-10, 1)
    | st.integers(513, 10**20),
    "config.seed": not_a(int) | st.integers(-10**20, -1) | st.integers(2**32, 10**20),
    "config.kappa": not_a(int, float) | st.floats(max_value=-1e-9, allow_infinity=False),
    "config.arch": not_a(str) | st.text(max_size=6).filter(lambda t: t not in ("dcgan", "mlp")),
    # (null means "the preset's steps", not wrong)
    "config.epochs": not_a(int).filter(lambda v: v is not None) | st.integers(-5, 0),
    # issue 34, item 12: fields the card's words read (null: not recorded, not wrong)
    "metadata.passes_done": not_a(list).filter(lambda v: v is not None)
    | st.lists(st.integers(0, 5), min_size=3, max_size=4) | st.just(["a", 1]),
    "metadata.steps_planned": not_a(list).filter(lambda v: v is not None)
    | st.lists(st.integers(0, 5), max_size=1) | st.just([1.5, 2]),
    "metadata.gan_steps_done": not_a(int).filter(lambda v: v is not None) | st.integers(-9, -1),
    "quality.detection_alpha": not_a(int, float) | st.sampled_from([0, 1, -0.5, 2]),
    "quality.false_alarm": st.dictionaries(st.text(max_size=4).filter(
        lambda t: not _a_level(t)), st.floats(0, 1), min_size=1, max_size=2),
}


def _a_level(text: str) -> bool:
    try:
        return 0 < float(text) < 1
    except ValueError:
        return False


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(BAD)), data=st.data())
def test_corrupt_card_fields_are_refused_in_one_line(model, image, tmp_path, capsys, field,
                                                     data):
    value = data.draw(BAD[field])
    card = json.loads(json.dumps(CARD))
    where, _, key = field.partition(".")
    if key:
        card[where][key] = value
    else:
        card[where] = value
    (model / bundle.CARD).write_text(json.dumps(card))
    run_all(model, image, tmp_path, capsys)


@pytest.mark.parametrize("text", [
    nested(sys.getrecursionlimit() + 10),  # RecursionError in json
    json.dumps({**CARD, "config": {**CARD["config"], "digits": [float("inf")]}}),  # Infinity
    json.dumps(CARD).replace('"kappa": 100.0', '"kappa": 1e999'),  # overflows to inf
    json.dumps({**CARD, "alpha": float("nan")}),
    json.dumps({**CARD, "format_version": 0}), json.dumps({**CARD, "format_version": True}),
    json.dumps({**CARD, "config": list(CARD["config"])}),
    json.dumps({**CARD, "metadata": "trained yesterday"}),
    json.dumps({**CARD, "calibration_summary": ["fanogan"]}),
    json.dumps({**CARD, "alpha": "abc"}),
    "\ufeff{}", "{", "", "\xff\xfe",
    # issue 34, item 12: these gave tracebacks in info, report and the Overview
    json.dumps({**CARD, "quality": {**CARD["quality"], "false_alarm": {"abc": 0.05}}}),
    json.dumps({**CARD, "quality": {**CARD["quality"], "detection_alpha": "x"}}),
    json.dumps({**CARD, "quality": {**CARD["quality"], "detection_alpha": [1]}}),
    json.dumps({**CARD, "metadata": {**CARD["metadata"], "gan_steps_done": 5,
                                     "passes_done": 5}}),
    json.dumps({**CARD, "metadata": {**CARD["metadata"], "gan_steps_done": 5,
                                     "steps_planned": 3, "stopped_early": True}}),
])
def test_the_issues_cards(model, image, tmp_path, capsys, text):
    (model / bundle.CARD).write_bytes(text.encode("utf-8", "surrogateescape"))
    run_all(model, image, tmp_path, capsys)


@pytest.fixture
def arrays_restored(model):
    original = (bundle.DEFAULT_MODEL / bundle.ARRAYS)
    shutil.copy(bundle.DEFAULT_MODEL / bundle.CARD, model / bundle.CARD)
    yield model / bundle.ARRAYS
    shutil.copy(original, model / bundle.ARRAYS)


def _arrays(**changes):
    with np.load(bundle.DEFAULT_MODEL / bundle.ARRAYS) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    return arrays


@pytest.mark.parametrize("change", [
    {"density/mean": np.zeros((2, 3136), np.float32)},  # 2-D where 1-D belongs
    {"density/components": np.zeros(512 * 3136, np.float32)},  # 1-D components
    {"density/variances": np.zeros(512, np.float32)},  # zero variances
    {"holdout/fanogan": np.array(["a", "b"])},  # strings
    {"holdout/fanogan": np.zeros((20, 2))},  # 2-D scores
    {"montecarlo/fanogan": np.array([1.0, np.nan])},  # NaN
])
def test_bad_model_arrays_are_refused_in_one_line(arrays_restored, capsys, change):
    np.savez(arrays_restored, **_arrays(**change))
    rc = cli.main(["simulate", "--samples", "10", "--model", str(arrays_restored.parent)])
    err = capsys.readouterr().err
    assert (rc, err.count("\n"), "arrays.npz: array" in err) == (2, 1, True), err


def test_npy_as_model_arrays(arrays_restored, capsys):
    with open(arrays_restored, "wb") as f:
        np.save(f, np.zeros(10))
    rc = cli.main(["simulate", "--samples", "10", "--model", str(arrays_restored.parent)])
    err = capsys.readouterr().err
    assert (rc, err.count("\n"), "not a readable .npz" in err) == (2, 1, True), err


def test_keras_refusals_are_one_line(model, tmp_path, capsys):
    folder = tmp_path / "m"
    shutil.copytree(bundle.DEFAULT_MODEL, folder)
    (folder / "generator.keras").write_bytes(b"PK\x03\x04" + b"\0" * 200)  # a broken zip
    rc = cli.main(["simulate", "--samples", "10", "--model", str(folder)])
    err = capsys.readouterr().err
    assert (rc, err.count("\n"), "generator.keras: cannot load" in err) == (2, 1, True), err
    assert len(err) < 500


def test_a_symlinked_network_file_loads(tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(bundle.DEFAULT_MODEL, folder)
    (folder / "generator.keras").unlink()
    (folder / "generator.keras").symlink_to(bundle.DEFAULT_MODEL.resolve() / "generator.keras")
    assert "generator" in bundle.load_bundle(folder).networks
