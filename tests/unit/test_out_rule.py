"""Issue 28: no user file, model or checkpoint is lost to ``ganmc train --out``; every refusal
is one line, before any training starts."""

from __future__ import annotations

import pytest

from ganmc import bundle, cli, locks, service
from ganmc.errors import GanmcError

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
