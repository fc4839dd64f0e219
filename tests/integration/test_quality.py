"""The quality card and the live quality curve of a real (small) one-digit model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ganmc.thresholds import quality


@pytest.fixture(scope="module")
def one_digit(tmp_path_factory):
    """A one-digit mlp model trained by the service, as ``ganmc train`` does (a few seconds)."""
    from ganmc.app import service

    out = tmp_path_factory.mktemp("q") / "three"
    reports = []
    det = service.train(out, data="bundled", digits=(3,), arch="mlp", steps=192,
                        batch_size=64, mc_samples=500, seed=0, progress=reports.append)
    return det, out, reports


@pytest.mark.slow
def test_every_trained_model_has_a_quality_card_saved_with_it(one_digit):
    det, out, _ = one_digit
    q = det.quality_
    assert q["scorer"] == det.scorer_ and q["preset"] == "standard"
    assert list(q["sets"])[:4] == ["other digits", "uniform noise", "inverted", "scribbles"]
    assert q["sets"]["other digits"]["n"] == quality.CARD_N  # the test digits 0-2, 4-9
    assert q["reading"] in quality.READINGS and q["words"]
    assert set(q["false_alarm"]) == {f"{a:g}" for a in quality.ALPHAS}
    card = json.loads((out / "ganmc.json").read_text())
    assert card["quality"] == q
    from ganmc import load_model

    assert load_model(out).quality_ == q


@pytest.mark.slow
def test_the_live_curve_is_measured_every_gan_round_and_kept(one_digit):
    det, _, reports = one_digit
    points = [r.quality for r in reports if r.quality]
    assert len(points) == len([r for r in reports if r.round_end and r.phase == "gan"]) >= 2
    assert all(0 <= v <= 1 for p in points for k, v in p.items() if k != "step")
    assert "other digits" in points[-1]
    assert det.metadata_["quality_curve"] == points


@pytest.mark.slow
def test_the_cards_held_out_figures_agree_with_ganmc_evaluate(one_digit, tmp_path, capsys):
    """The same held-out images, scored by ``ganmc evaluate`` at each level, give the card's
    false-alarm rates; the same images of the other digits give its AUROC and detections."""
    from ganmc.cli import main
    from ganmc.images.data import load_mnist, split_holdout

    det, out, _ = one_digit
    splits = load_mnist("bundled", (3,))
    _, holdout = split_holdout(splits.x_train, det.config.calibration_fraction, det.config.seed)
    assert len(holdout) == det.quality_["n_normal"]
    others = quality.anomaly_sets(holdout, splits.x_test[~splits.test_is_normal],
                                  quality.CARD_N, det.config.seed)["other digits"]
    np.savez(tmp_path / "holdout.npz", x=holdout)
    np.savez(tmp_path / "others.npz", x=others)
    for alpha in quality.ALPHAS:
        result = tmp_path / f"eval-{alpha}.json"
        code = main(["evaluate", "--model", str(out), "--normal", str(tmp_path / "holdout.npz"),
                     "--anomalous", str(tmp_path / "others.npz"), "--percentile",
                     f"{100 * (1 - alpha):g}", "--json", str(result)])
        assert code == 0
        r = json.loads(result.read_text())
        assert r["false_alarm_rate"] == pytest.approx(det.quality_["false_alarm"][f"{alpha:g}"])
        if alpha == quality.DETECTION_ALPHA:
            card = det.quality_["sets"]["other digits"]
            assert r["auroc"] == pytest.approx(card["auroc"], abs=1e-4)
            assert r["detection_rate"] == pytest.approx(card["detection"], abs=1e-4)
    capsys.readouterr()


@pytest.mark.slow
def test_ganmc_info_and_the_overview_show_the_card(one_digit, capsys):
    from ganmc.cli import main

    _, out, _ = one_digit
    assert main(["info", "--model", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Quality (" in text and "other digits: AUROC" in text
    assert "false alarms on" in text


@pytest.mark.slow
def test_ganmc_assess_measures_the_card_of_an_older_model_again(one_digit, tmp_path, capsys,
                                                                mnist):
    """A model saved without a card (as before ganmc made one) gets the same card from
    ``ganmc assess``; data that does not give back its held-out images is refused."""
    import shutil

    from ganmc.cli import main

    det, out, _ = one_digit
    old = tmp_path / "old"
    shutil.copytree(out, old)
    card = json.loads((old / "ganmc.json").read_text())
    card["quality"] = None
    (old / "ganmc.json").write_text(json.dumps(card))
    assert main(["info", "--model", str(old)]) == 0
    assert "No quality card" in capsys.readouterr().out
    # the same digits in another order: another split, so other held-out images
    np.savez(tmp_path / "other.npz", x=mnist.x_train[::-1], y=mnist.y_train[::-1])
    assert main(["assess", "--model", str(old), "--data", str(tmp_path / "other.npz")]) == 2
    assert "does not give back" in capsys.readouterr().err
    assert main(["assess", "--model", str(old)]) == 0
    assert json.loads((old / "ganmc.json").read_text())["quality"] == det.quality_


@pytest.mark.slow
def test_the_train_page_draws_the_live_curve_and_the_overview_the_card(one_digit,
                                                                        monkeypatch):
    """The Overview shows the one-digit model's card and the Train page draws a finished
    job's loss and quality curves (from the job's kept reports) and its card."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from ui import caches

    det, out, reports = one_digit
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    at = AppTest.from_file(str(root / "app.py"), default_timeout=120)
    at.session_state["model"] = str(out)
    at.run()
    at.switch_page("pages/views/home.py")
    at.run()
    assert not at.exception
    assert any(det.quality_["words"] == e.value
               for e in (*at.success, *at.warning, *at.error))

    def work(job):
        for r in reports:
            job.report(r, keep=r.round_end)
        return str(out)

    job = caches.jobs().start("train", work, owner="someone", exclusive=True,
                             params={"name": out.name, "preset": "standard"})
    for _ in range(100):
        if not job.running:
            break
        import time

        time.sleep(0.05)
    # not this session's job (as after a reload): the server's latest is shown all the same
    at.switch_page("pages/views/train.py")
    at.run()
    assert any("latest training job on this server" in c.value for c in at.caption)
    assert not at.exception
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert "Quality while training (AUROC)" in titles  # short: it fits a phone
    assert any(det.quality_["words"] == e.value
               for e in (*at.success, *at.warning, *at.error))


@pytest.mark.slow
def test_the_time_estimate_rests_on_this_machines_last_run_or_its_speed_now(one_digit,
                                                                          tmp_path,
                                                                          monkeypatch):
    from ganmc.app import estimate, service
    from ganmc.app.estimate import ESTIMATE_AFTER_TRAINING_S as AFTER
    from ganmc.app.estimate import GAUGE_REFERENCE as REF
    from ganmc.app.estimate import TRAIN_START_S as START
    from ganmc.core.config import ARCHS, TrainConfig
    from ganmc.core.presets import ENCODER_STEP_COST, PRESETS, RELATIVE_TRAIN_SPEED, TASKS

    det, out, _ = one_digit
    settings = {"arch": "mlp", "preset": "standard", "batch_size": 64, "digits": (3,)}
    seconds, basis = service.time_estimate(settings, out.parent, speed=REF)
    assert out.name in basis
    # A run stopped after a few steps (it timed mostly the compilation) is no basis.
    short = out.parent / "stopped"
    shutil.copytree(out, short)
    try:
        card = json.loads((short / "ganmc.json").read_text())
        card["metadata"].update(gan_steps_done=32, trained_at="9999-01-01T00:00:00+00:00")
        (short / "ganmc.json").write_text(json.dumps(card))
        assert service.time_estimate(settings, out.parent, speed=REF)[1] == basis
    finally:  # the module's other tests share the folder
        shutil.rmtree(short)
    # That run's pace (its start left out), scaled by the machine's speed now against its
    # speed then, which its card keeps.
    m = det.metadata_
    then = m["machine_speed"]
    assert then > 0 and json.loads((out / "ganmc.json").read_text())["metadata"][
        "machine_speed"] == then
    done = m["gan_steps_done"] + ENCODER_STEP_COST * m["encoder_steps_done"]
    step_then = (m["train_seconds"] - START * REF / then) / done
    assert step_then > 0
    steps = PRESETS["standard"].steps
    assert seconds == pytest.approx(START + steps * step_then * then / REF + AFTER)
    assert f"which runs at {REF / then:.1f}× its speed then" in basis
    # A card from before the speed was recorded: its pace as it was.
    older = out.parent / "older"
    shutil.copytree(out, older)
    try:
        card = json.loads((older / "ganmc.json").read_text())
        del card["metadata"]["machine_speed"]
        card["metadata"]["trained_at"] = "9999-01-01T00:00:00+00:00"
        (older / "ganmc.json").write_text(json.dumps(card))
        unscaled, basis = service.time_estimate(settings, out.parent, speed=REF)
        assert "older" in basis and "speed then" not in basis
        assert unscaled == pytest.approx(
            START + steps * (m["train_seconds"] - START) / done + AFTER)
    finally:
        shutil.rmtree(older)
    # The same run with the rotation task trains slower: that model is no basis for it.
    rotating, basis = service.time_estimate({**settings, "rotation_weight": 1.0}, out.parent,
                                            speed=REF)
    assert "speed now" in basis
    jigsaw, basis = service.time_estimate({**settings, "jigsaw_weight": 0.5}, out.parent,
                                          speed=REF)
    assert "speed now" in basis  # the same for the jigsaw pseudo-anomalies

    # No model trained here yet: the steps at the measured pace, for this machine's speed now.
    dcgan, basis = service.time_estimate({**settings, "arch": "dcgan"}, tmp_path, speed=REF)
    assert "this machine runs at 1.0× their speed now" in basis
    assert dcgan == pytest.approx(START + steps * estimate.GAN_STEP_S + AFTER)
    # A machine twice as fast now takes half the time, and says so.
    fast, basis = service.time_estimate({**settings, "arch": "dcgan"}, tmp_path,
                                        speed=2 * REF)
    assert fast == pytest.approx(dcgan / 2) and "2.0× their speed" in basis
    # Without a speed given, the machine is timed now.
    assert 0 < estimate.machine_speed() < float("inf")
    monkeypatch.setattr(estimate, "machine_speed", lambda: REF / 2)
    timed, basis = service.time_estimate({**settings, "arch": "dcgan"}, tmp_path)
    assert timed == pytest.approx(2 * dcgan) and "0.5× their speed" in basis
    def stepping(seconds):  # the seconds of steps in an estimate at the reference speed
        return seconds - AFTER - START

    mlp, _ = service.time_estimate(settings, tmp_path, speed=REF)
    assert set(RELATIVE_TRAIN_SPEED) == set(ARCHS)  # every network has a speed
    assert stepping(mlp) == pytest.approx(stepping(dcgan) / RELATIVE_TRAIN_SPEED["mlp"])
    assert set(TASKS) <= set(TrainConfig.__dataclass_fields__)  # each task is a setting
    assert stepping(rotating) == pytest.approx(stepping(mlp) * TASKS["rotation_weight"].slowdown)
    assert stepping(jigsaw) == pytest.approx(stepping(mlp) * TASKS["jigsaw_weight"].slowdown)
    longer, _ = service.time_estimate({**settings, "steps": 10_000}, tmp_path, speed=REF)
    assert stepping(longer) == pytest.approx(2 * stepping(mlp))
    wider, _ = service.time_estimate({**settings, "batch_size": 128}, tmp_path, speed=REF)
    assert stepping(wider) == pytest.approx(2 * stepping(mlp))  # twice the images a step
    # Ten digits: the same steps, and more to calibrate afterwards.
    ten, _ = service.time_estimate({**settings, "arch": "dcgan", "digits": tuple(range(10))},
                                   tmp_path, speed=REF)
    from ganmc.app.estimate import ESTIMATE_AFTER_TRAINING_S_PER_DIGIT as PER_DIGIT
    # ... and the shape network, on by default for several digits, beside the GAN's steps
    shape = TrainConfig(digits=tuple(range(10))).slowdown(steps)
    assert ten - dcgan == pytest.approx(9 * PER_DIGIT + stepping(dcgan) * (shape - 1))
    # The thorough preset: its deeper D's GAN steps, then its encoder's, each cheaper.
    thorough = {"preset": "thorough", "batch_size": 64, "digits": (3,)}
    deep, _ = service.time_estimate(thorough, tmp_path, speed=REF)
    p = PRESETS["thorough"]
    assert stepping(deep) == pytest.approx(
        estimate.GAN_STEP_S / RELATIVE_TRAIN_SPEED["dcgan-deep"]
        * (p.steps + p.encoder_steps * ENCODER_STEP_COST))
    shallow, _ = service.time_estimate({**thorough, "arch": "dcgan"}, tmp_path, speed=REF)
    assert stepping(shallow) == pytest.approx(stepping(deep) * RELATIVE_TRAIN_SPEED["dcgan-deep"])
