"""Issue 28: no user file, model or checkpoint is lost to ``ganmc train --out``; every refusal
is one line, before any training starts."""

from __future__ import annotations

import contextlib
import json

import pytest

from ganmc import cli
from ganmc.app import service
from ganmc.core import locks
from ganmc.core.errors import GanmcError, ModelError
from ganmc.storage import bundle

TRAIN = ["train", "--data", "bundled", "--digits", "3", "--steps", "8"]


@pytest.fixture
def trained(monkeypatch):
    """``service.train`` replaced by a recorder: a test sees whether training would start."""
    calls = []

    def train(out, **kw):
        calls.append(out)
        raise GanmcError("training would start here")

    monkeypatch.setattr(service, "train", train)
    return calls


def run(capsys, *args) -> tuple[int, str]:
    rc = cli.main([*TRAIN, *map(str, args)])
    err = capsys.readouterr().err.strip().splitlines()
    return rc, err[-1] if err else ""


def saved_model(folder):
    folder.mkdir()
    (folder / bundle.CARD).write_text("{}")
    return folder


def test_a_folder_of_user_files_is_refused_and_kept(tmp_path, capsys, trained):
    user = tmp_path / "userdir"
    user.mkdir()
    (user / "thesis.tex").write_text("years of work")
    rc, line = run(capsys, "--out", user)
    assert rc == 2 and trained == []
    assert line.startswith("ganmc train: error: userdir: something that is not a ganmc model")
    assert (user / "thesis.tex").read_text() == "years of work"


def test_an_existing_file_is_refused_and_kept(tmp_path, capsys, trained):
    f = tmp_path / "existing_file.txt"
    f.write_text("keep me")
    rc, line = run(capsys, "--out", f)
    assert rc == 2 and trained == [] and "not a ganmc model" in line
    assert f.read_text() == "keep me"


@pytest.mark.parametrize("name", [".A.ckpt", ".B.ckpt", "A.ckpt", ".hidden", ".A.lock"])
def test_checkpoint_and_hidden_names_are_refused(tmp_path, capsys, trained, name):
    ckpt = locks.checkpoint_path(tmp_path / "B")
    ckpt.mkdir()
    (ckpt / "state.json").write_text("{}")
    rc, line = run(capsys, "--out", tmp_path / name)
    assert rc == 2 and trained == []
    assert "may not start with '.' or end with '.ckpt'" in line
    assert (ckpt / "state.json").read_text() == "{}"  # B's interrupted run is intact


@pytest.mark.parametrize("out", [".", "/", "..", "./"])
def test_no_folder_name_is_refused(capsys, trained, out):
    rc, line = run(capsys, "--out", out)
    assert rc == 2 and trained == [] and "is not a model folder name" in line


def test_a_name_too_long_for_the_save_is_refused_before_training(tmp_path, capsys, trained):
    rc, line = run(capsys, "--out", tmp_path / ("n" * 240))
    assert rc == 2 and trained == [] and "the name is too long (240 characters" in line
    longest = 255 - (locks.longest_sibling_name(tmp_path / "n") - 1)
    assert f"at most {longest})" in line
    bundle.check_target(tmp_path / ("n" * longest))  # the longest allowed passes


def test_a_saved_model_is_replaced_only_when_asked(tmp_path, capsys, trained):
    model = saved_model(tmp_path / "m")
    rc, line = run(capsys, "--out", model)
    assert rc == 2 and trained == []
    assert line.endswith("m: a saved model has this name; replace it or choose another name")
    assert run(capsys, "--out", model, "--replace")[1].endswith("training would start here")
    assert trained == [model]


def test_resume_needs_an_interrupted_run(tmp_path, capsys, trained):
    model = saved_model(tmp_path / "m")
    rc, line = run(capsys, "--out", model, "--resume")
    assert rc == 2 and trained == [] and "no interrupted run of m to continue" in line


def test_the_dashboard_and_the_cli_share_the_rule(tmp_path):
    (tmp_path / "x").write_text("")
    for check in (lambda: service.model_folder(tmp_path, "x"),
                  lambda: bundle.check_target(tmp_path / "x")):
        with pytest.raises(bundle.ModelError, match="not a ganmc model"):
            check()


# ------------------------------------------------------------------ issue 34
def checkpoint(folder, step=400):
    ckpt = locks.checkpoint_path(folder)
    ckpt.mkdir()
    (ckpt / "state.json").write_text(f'{{"phase": "gan", "step": {step}, "config": {{}}}}')
    return ckpt


def test_a_checkpoint_beside_a_saved_model_is_said_with_how_to_resume(tmp_path, capsys,
                                                                      trained):
    """Item 5: the refusal named only the model and advised replacing it, which destroyed
    the checkpoint."""
    model = saved_model(tmp_path / "m")
    ckpt = checkpoint(model)
    rc, line = run(capsys, "--out", model)
    assert rc == 2 and trained == []
    assert line == ("ganmc train: error: m: an interrupted training run into this name left a "
                    "checkpoint (400 GAN steps done) (and a saved model has this name); "
                    "continue it (--resume), or start afresh with --replace, which keeps the "
                    "checkpoint aside as .m.ckpt-replaced")
    assert (ckpt / "state.json").is_file()


def test_replace_keeps_an_interrupted_checkpoint_aside(tmp_path, monkeypatch):
    """Item 5: ``--replace`` without ``--resume`` trained afresh into the checkpoint's folder,
    destroying it; now it is moved aside first (the training here is a stand-in)."""
    from ganmc.model.detector import Detector

    model = saved_model(tmp_path / "m")
    checkpoint(model)
    seen = []

    def fit(self, *args, checkpoint=None, resume=False, **kwargs):
        seen.append((checkpoint.exists(), resume))
        raise GanmcError("training would start here")

    monkeypatch.setattr(Detector, "fit", fit)
    with pytest.raises(GanmcError, match="training would start here"):
        service.train(model, data="bundled", digits=(3,), replace=True)
    assert seen == [(False, False)]  # a fresh run, the checkpoint out of its way
    aside = locks.set_aside_path(model)
    assert json.loads((aside / "state.json").read_text())["step"] == 400
    with pytest.raises(ModelError, match="left a checkpoint"):  # and never without --replace
        checkpoint(tmp_path / "n")
        service.train(tmp_path / "n", data="bundled", digits=(3,))


def test_files_put_at_the_name_while_training_are_kept(tmp_path, monkeypatch):
    """Item 4: the rule was checked at the start only; the final save deleted what a user
    put at the name meanwhile. Checked again before the save: refused, the files and the
    checkpoint kept."""
    from ganmc.model.detector import Detector

    out = tmp_path / "m"

    def fit(self, *args, checkpoint=None, **kwargs):
        checkpoint.mkdir()
        out.mkdir()
        (out / "thesis.tex").write_text("years of work")
        return self

    monkeypatch.setattr(Detector, "fit", fit)
    with pytest.raises(ModelError) as info:
        service.train(out, data="bundled", digits=(3,))
    assert "not a ganmc model is there" in str(info.value)
    assert "kept in its checkpoint" in str(info.value) and "--resume" in str(info.value)
    assert (out / "thesis.tex").read_text() == "years of work"
    assert locks.checkpoint_path(out).is_dir()


def test_a_model_put_at_the_name_while_training_is_replaced_only_when_asked(tmp_path,
                                                                             monkeypatch):
    from ganmc.model.detector import Detector

    out = tmp_path / "m"
    monkeypatch.setattr(Detector, "fit", lambda self, *a, **k: saved_model(out) and self)
    with pytest.raises(ModelError, match="a saved model has this name; nothing replaced"):
        service.train(out, data="bundled", digits=(3,))
    assert (out / bundle.CARD).read_text() == "{}"


@pytest.mark.parametrize("what, advice", [
    ("foreign", "something that is not a ganmc model has this name (ganmc never replaces it); "
                "choose another name"),
    ("busy", "a training run or a save is writing this model now; wait for it to finish or "
             "choose another name"),
    ("checkpoint", "continue it (--resume), or start afresh with --replace"),
])
def test_each_refusal_gives_its_own_advice(tmp_path, capsys, trained, what, advice):
    """Item 19: "replace it or choose another name" was said of everything (twice for a
    checkpoint), though a non-model folder and a busy one can never be replaced."""
    out = tmp_path / "m"
    if what == "foreign":
        out.mkdir()
        (out / "x.txt").write_text("")
    elif what == "checkpoint":
        checkpoint(out)
    with locks.folder_lock(out) if what == "busy" else contextlib.nullcontext():
        rc, line = run(capsys, "--out", out, *([] if what == "checkpoint" else ["--replace"]))
    assert rc == 2 and trained == [] and advice in line
    assert line.count("choose another name") <= 1 and "replace it" not in line


def test_a_path_too_long_for_the_run_is_refused_before_training(tmp_path, capsys, trained):
    """Item 17: an --out just under 4,096 characters failed after a training round (its
    checkpoint's files are longer), and the error was cut before its reason."""
    deep = tmp_path
    while len(str(deep)) < 3900:
        deep = deep / ("d" * 200)
    out = deep / ("n" * (4080 - len(str(deep))))
    rc, line = run(capsys, "--out", out)
    assert rc == 2 and trained == []
    assert "the path is too long" in line and "the file system takes 4,095)" in line
    assert len(line) < 400
    assert not tmp_path.joinpath("d" * 200).exists()  # nothing made


def test_a_long_error_keeps_its_reason():
    from ganmc.core.errors import one_line

    line = one_line(f"{'/d' * 2000}/m: cannot write (File name too long)", 2000)
    assert len(line) <= 2000 and line.endswith("cannot write (File name too long)")
