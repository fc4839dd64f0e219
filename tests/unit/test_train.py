import threading

import numpy as np
import pytest

from ganmc.core.config import TrainConfig
from ganmc.core.errors import TrainingError
from ganmc.nets import train
from ganmc.nets.train import checkpoint_dir, fit_networks, read_checkpoint

CFG = dict(arch="mlp", epochs=2, encoder_epochs=1, batch_size=64, latent_dim=16, seed=0)


def test_plan_rounds_splits_a_budget_into_whole_calls():
    for total in (8, 100, 1000, 5000, 1234, 200_000):
        plan = train.plan_rounds(total)
        assert all(r % train.STEPS_PER_CALL == 0 and r > 0 for r in plan)
        assert total <= sum(plan) < total + train.STEPS_PER_CALL  # rounded up to a whole call
        assert max(plan) - min(plan) <= train.STEPS_PER_CALL
        assert max(plan) <= train.ROUND_STEPS[1]
    assert len(train.plan_rounds(5000)) >= 10  # enough points for the live quality curve


@pytest.mark.slow
def test_progress_reports_samples_and_quality(tiny_train):
    reports, probed = [], []

    def probe(discriminator):
        probed.append(discriminator)
        return {"other digits": 0.75}

    cfg = TrainConfig(**{**CFG, "epochs": None, "encoder_epochs": None, "steps": 200,
                         "encoder_steps": 96})
    result = fit_networks(tiny_train[:256], cfg, progress=reports.append, probe=probe)
    ends = [r for r in reports if r.round_end]
    gan_ends = [r for r in ends if r.phase == "gan"]
    assert [r.step for r in gan_ends] == list(np.cumsum(train.plan_rounds(200)))
    assert [r.step for r in ends if r.phase == "encoder"] == [96]
    assert gan_ends[0].samples.shape == (16, 28, 28) and gan_ends[0].samples.dtype == np.uint8
    # the probe runs after every GAN round (D does not change while the encoder trains)
    assert len(probed) == len(gan_ends)
    assert [r.quality["step"] for r in gan_ends] == [r.step for r in gan_ends]
    assert result.quality_curve == [r.quality for r in gan_ends]
    assert ends[-1].fraction == pytest.approx(1.0)
    assert all(0 <= r.fraction <= 1 for r in reports)
    assert result.phase_steps == (200, 96) and not result.stopped
    assert len(result.history["d_loss"]) == len(gan_ends)
    assert result.device.startswith(("CPU", "GPU"))


@pytest.mark.slow
def test_a_budget_in_steps_does_not_depend_on_the_data_size(tiny_train):
    cfg = TrainConfig(**{**CFG, "epochs": None, "encoder_epochs": 0, "steps": 48})
    small = fit_networks(tiny_train[:128], cfg)
    large = fit_networks(tiny_train[:1024], cfg)
    assert small.phase_steps == large.phase_steps == (48, 0)
    assert small.metadata("x", 128, 0)["passes_done"][0] == pytest.approx(48 * 64 / 128, 0.1)


@pytest.mark.slow
def test_steps_run_several_per_compiled_call(tiny_train):
    reports = []
    result = fit_networks(tiny_train[:1024], TrainConfig(**{**CFG, "encoder_epochs": 0}),
                          progress=reports.append)  # 16 steps an epoch: two calls of 8
    steps = {r.step for r in reports}
    assert 32 in steps and all(s % train.STEPS_PER_CALL == 0 for s in steps)
    assert result.images_per_s > 0


@pytest.mark.slow
def test_stop_event_stops_between_steps(tiny_train):
    stop = threading.Event()

    def progress(p):
        if p.step >= 1:
            stop.set()

    result = fit_networks(tiny_train[:512], TrainConfig(**{**CFG, "epochs": 50}),
                          progress=progress, stop_event=stop)
    assert result.stopped and result.phase_steps[0] < 50 * 8


@pytest.mark.slow
def test_a_stop_in_a_later_round_of_one_fit_keeps_the_last_whole_round(tiny_train, tmp_path):
    """Rounds of one size run as the epochs of one ``fit``: a stop in the third round ends
    within one compiled call, counts the steps the weights have had, and leaves the
    checkpoint at the end of the second round."""
    assert train.plan_rounds(960) == [96] * 10
    stop, ckpt = threading.Event(), tmp_path / "ckpt"
    ends = []

    def progress(p):
        if p.round_end:
            ends.append(p.step)
            if p.step == 192:
                stop.set()

    cfg = TrainConfig(**{**CFG, "epochs": None, "encoder_epochs": 0, "steps": 960})
    result = fit_networks(tiny_train[:512], cfg, progress=progress, stop_event=stop,
                          checkpoint=ckpt)
    assert ends == [96, 192]
    assert result.stopped and result.phase_steps == (192 + train.STEPS_PER_CALL, 0)
    state = read_checkpoint(ckpt)
    assert state["phase"] == "gan" and state["step"] == 192
    assert len(state["history"]["d_loss"]) == 2  # saved at the second round's end
    assert len(result.history["d_loss"]) == 3  # and the stopped round's losses


@pytest.mark.slow
def test_checkpoint_each_round_and_resume(tiny_train, tmp_path):
    ckpt = checkpoint_dir(tmp_path / "model")
    assert ckpt.name == ".model.ckpt"  # hidden: no model name can reach it
    fit_networks(tiny_train[:256], TrainConfig(**{**CFG, "encoder_epochs": 0}), checkpoint=ckpt)
    state = read_checkpoint(ckpt)
    assert state["phase"] == "gan" and state["step"] == 8  # 2 epochs of 4 steps, rounded up
    assert (ckpt / "generator.weights.h5").exists()
    reports = []
    more = TrainConfig(**{**CFG, "epochs": 6, "encoder_epochs": 2})
    fit_networks(tiny_train[:256], more, checkpoint=ckpt, resume=True, progress=reports.append)
    done = [(r.phase, r.step) for r in reports if r.round_end]
    # one round of 24 GAN steps planned; the 8 done are not redone: the rest, then the encoder
    assert done == [("gan", 24), ("encoder", 8)]
    assert read_checkpoint(ckpt)["phase"] == "encoder"


@pytest.mark.slow
def test_resume_refuses_another_architecture(tiny_train, tmp_path):
    ckpt = tmp_path / "m.ckpt"
    fit_networks(tiny_train[:128], TrainConfig(**{**CFG, "epochs": 1, "encoder_epochs": 0}),
                 checkpoint=ckpt)
    with pytest.raises(TrainingError, match="latent_dim"):
        fit_networks(tiny_train[:128], TrainConfig(**{**CFG, "latent_dim": 8}), checkpoint=ckpt,
                     resume=True)


@pytest.mark.slow
def test_nan_losses_stop_with_a_clear_error(tiny_train, tmp_path, monkeypatch):
    monkeypatch.setattr(train, "to_model_input",
                        lambda x: np.full((len(x), 28, 28, 1), np.nan, np.float32))
    with pytest.raises(TrainingError, match="NaN"):
        fit_networks(tiny_train[:128], TrainConfig(**CFG), checkpoint=tmp_path / "c")
    assert read_checkpoint(tmp_path / "c") is None  # no bad checkpoint was written


@pytest.mark.slow
def test_bfloat16_training_gives_a_float32_model(tiny_train):
    result = fit_networks(tiny_train[:256], TrainConfig(**{**CFG, "precision": "bfloat16"}))
    assert all(np.isfinite(v).all() for v in result.history.values())
    for net in (result.generator, result.discriminator, result.encoder):
        assert all(layer.dtype_policy.name == "float32" for layer in net.layers)
    out = result.generator(np.zeros((2, 16), np.float32))
    assert out.dtype == "float32" and out.shape == (2, 28, 28, 1)


@pytest.mark.slow
def test_xla_can_be_forced_either_way(tiny_train):
    for jit in (True, False):
        result = fit_networks(tiny_train[:128],
                              TrainConfig(**{**CFG, "epochs": 1, "encoder_epochs": 0,
                                             "jit_compile": jit}))
        assert np.isfinite(result.history["d_loss"][0])


@pytest.mark.slow
def test_a_run_of_one_compiled_call_still_reports_its_speed(tiny_train):
    """One epoch of one compiled call is all tracing: its speed is timed with the tracing
    instead of being reported as 0 images/s."""
    result = fit_networks(tiny_train[:128], TrainConfig(**{**CFG, "epochs": 1,
                                                           "encoder_epochs": 0}))
    assert result.images_per_s > 0


@pytest.mark.slow
def test_resume_refuses_another_split_or_a_damaged_checkpoint(tiny_train, tmp_path):
    """The seed and the hold-out share decide the split: resuming with others would train on
    held-out images. A damaged state file is refused, not taken for no checkpoint."""
    ckpt = checkpoint_dir(tmp_path / "model")
    cfg = TrainConfig(**{**CFG, "epochs": 1, "encoder_epochs": 0})
    fit_networks(tiny_train[:128], cfg, checkpoint=ckpt)
    with pytest.raises(TrainingError, match="seed"):
        fit_networks(tiny_train[:128], TrainConfig(**{**CFG, "epochs": 2, "encoder_epochs": 0,
                                                      "seed": 1}),
                     checkpoint=ckpt, resume=True)
    (ckpt / "state.json").write_text("{not json")
    with pytest.raises(TrainingError, match="unreadable"):
        read_checkpoint(ckpt)


def test_rotate_turns_each_image_by_its_own_quarter_turns():
    from ganmc.nets.gan import rotate

    x = np.arange(4 * 28 * 28, dtype=np.float32).reshape(4, 28, 28, 1)
    turned = np.asarray(rotate(x, np.array([0, 1, 2, 3])))
    for i in range(4):  # tf.image.rot90 turns anticlockwise, as np.rot90 does
        np.testing.assert_array_equal(turned[i, ..., 0], np.rot90(x[i, ..., 0], i))


def test_jigsaw_puts_each_images_quarters_back_in_another_order():
    import keras

    from ganmc.nets.gan import jigsaw

    x = np.arange(64 * 28 * 28, dtype=np.float32).reshape(64, 28, 28, 1)
    out = np.asarray(jigsaw(x, keras.random.SeedGenerator(0)))

    def quarters(a):
        return [a[:14, :14], a[:14, 14:], a[14:, :14], a[14:, 14:]]

    orders = set()
    for i in range(len(x)):
        q_in, q_out = quarters(x[i, ..., 0]), quarters(out[i, ..., 0])
        order = tuple(next(j for j in range(4) if np.array_equal(q, q_in[j])) for q in q_out)
        assert sorted(order) == [0, 1, 2, 3]  # the same four quarters, each once
        assert order != (0, 1, 2, 3)  # never the image itself
        orders.add(order)
    assert len(orders) > 10  # random orders (23 possible), not one fixed swap


@pytest.mark.slow  # trains until D has learnt the task: 300-400 steps, 25-30 s
def test_jigsaw_pseudo_anomalies_teach_d_to_reject_them(tiny_train):
    """With a jigsaw weight, D calls unseen real digits put back in another order far less
    real than the digits themselves; without it, much less so."""
    import keras

    from ganmc.nets.gan import jigsaw

    x = (tiny_train[1024:1280, ..., None] / 127.5 - 1).astype(np.float32)
    shuffled = np.asarray(jigsaw(x, keras.random.SeedGenerator(1)))

    def train(weight):
        cfg = TrainConfig(**{**CFG, "epochs": None, "encoder_epochs": 0, "steps": 300,
                             "jigsaw_weight": weight})
        result = fit_networks(tiny_train[:1024], cfg)
        d = result.discriminator
        real = np.mean(keras.ops.sigmoid(d(x)))
        return float(real - np.mean(keras.ops.sigmoid(d(shuffled)))), result.history

    (taught, history), (plain, plain_history) = train(1.0), train(0.0)
    assert taught > 0.3 and taught > plain + 0.15, (taught, plain)
    # its loss is tracked apart from D's (real or generated) and plotted beside it
    assert "jigsaw_loss" in history and "jigsaw_loss" not in plain_history
    from ui.charts import loss_curves

    assert "jigsaw pseudo-anomalies" in [t.name for t in loss_curves(history).data]


@pytest.mark.slow  # trains until D has learnt the task: 300-400 steps, 25-30 s
def test_the_rotation_task_trains_a_head_that_tells_the_turns(tiny_train, tmp_path):
    """SS-GAN: with a rotation weight D's head learns the quarter turns of real digits (its
    loss falls well below chance, ln 4), it is checkpointed, and a resume loads it."""
    import tensorflow as tf

    from ganmc.nets.gan import rotate

    cfg = TrainConfig(**{**CFG, "epochs": None, "encoder_epochs": 0, "steps": 400,
                         "rotation_weight": 1.0, "shape_weight": 0.0})  # the task alone
    ckpt = tmp_path / "ckpt"
    result = fit_networks(tiny_train[:1024], cfg, checkpoint=ckpt)
    losses = result.history["rotation_loss"]
    assert losses[0] > losses[-1] and losses[-1] < 0.7 * np.log(4), losses
    from ui.charts import loss_curves  # the Train page plots it beside D's and G's losses

    assert [t.name for t in loss_curves(result.history).data] == [
        "discriminator", "generator", "rotation task"]
    assert (ckpt / "rotation.weights.h5").is_file()
    x = tf.constant((tiny_train[1024:1280, ..., None] / 127.5 - 1).astype(np.float32))
    k = np.arange(len(x)) % 4
    feats = result.discriminator.get_layer("features").output  # the head reads this layer
    assert result.rotation_head.inputs[0].shape[1:] == feats.shape[1:]
    from ganmc.nets.networks import feature_model

    logits = result.rotation_head(feature_model(result.discriminator)(rotate(x, k))[0])
    assert np.mean(np.argmax(np.asarray(logits), 1) == k) > 0.6  # chance: 0.25

    # a resume (a longer budget, same split) starts from the saved head, not a fresh one: after
    # 8 more steps its weights are still next to the saved ones (a fresh head's are not)
    from ganmc.nets.networks import rotation_head

    saved = rotation_head(result.discriminator)
    saved.load_weights(ckpt / "rotation.weights.h5")
    fresh = rotation_head(result.discriminator)
    longer = TrainConfig(**{**cfg.to_dict(), "digits": cfg.digits, "steps": 408})
    resumed = fit_networks(tiny_train[:1024], longer, checkpoint=ckpt, resume=True)
    assert resumed.phase_steps == (408, 0)

    def gap(a, b):
        return float(np.mean(np.abs(np.asarray(a.weights[0]) - np.asarray(b.weights[0]))))

    assert gap(resumed.rotation_head, saved) < 0.01 < gap(fresh, saved)

    # a resume must not switch the task on or off: the head would be dropped or start afresh
    plain = TrainConfig(**{**longer.to_dict(), "digits": cfg.digits, "rotation_weight": 0.0})
    with pytest.raises(TrainingError, match="rotation task"):
        fit_networks(tiny_train[:1024], plain, checkpoint=ckpt, resume=True)


@pytest.mark.slow
def test_no_rotation_weight_trains_no_head(tiny_train):
    result = fit_networks(tiny_train[:256], TrainConfig(**{**CFG, "epochs": None,
                                                           "encoder_epochs": 0, "steps": 16}))
    assert result.rotation_head is None and "rotation_loss" not in result.history


def _rounds(monkeypatch, ends: list[float], phase: str = "encoder",
            encoder_steps: int = 0, config=None) -> list:
    """A phase of 400 steps of 10 images (the GAN's followed by ``encoder_steps``, or the
    encoder's); each round of 100 steps takes 1 s of steps and ``ends[r]`` s besides them;
    the progress reports."""
    from ganmc.nets import tracker

    clock = [100.0]
    monkeypatch.setattr(tracker.time, "perf_counter", lambda: clock[0])
    reports = []
    totals = (0, 400) if phase == "encoder" else (400, encoder_steps)
    nets = {"generator": lambda z, training: np.zeros((16, 28, 28, 1), "float32")}
    t = tracker.Tracker(config, totals, 10, reports.append, None, {"step": 0, "history": {}},
                        None, nets, None, "CPU")
    t.begin_phase(phase)
    t.begin_rounds(100)
    for r, end in enumerate(ends):
        t.on_epoch_begin(r)
        for b in range(100):
            clock[0] += 0.01
            t.on_train_batch_end(b, {"loss": 1.0})
        clock[0] += end  # the round's end: samples, quality probe, checkpoint
        t.on_epoch_end(r, {"loss": 1.0})
    return [p for p in reports if p.round_end]


def test_the_eta_leaves_out_what_the_first_rounds_end_compiles(monkeypatch):
    """Issue 35, item 2: the ETA at a quarter of a quick one-digit run said 64 s for 48 s:
    the first round's end also compiles the live quality probe and the sample grid, once,
    and that time was spread over the pace of every step to come. Once a whole round has
    run after the first, the pace is of those rounds: here the first round's end takes 5 s
    and each later one 1 s."""
    first, second, third = _rounds(monkeypatch, [5.0, 1.0, 1.0])
    assert first.eta_s > 6.0  # one round only: its end is all there is to go by
    assert 480 < second.images_per_s < 520, second.images_per_s  # 1,000 images in 2 s
    assert 3.8 < second.eta_s < 4.2, second.eta_s  # 200 steps left, 2 rounds of 2 s
    assert 1.9 < third.eta_s < 2.1, third.eta_s


def test_the_training_rate_and_eta_count_what_rounds_cost_besides_their_steps(monkeypatch):
    """Issue 35, item 2: the progress line's images/s and ETA timed the compiled steps only,
    so a run whose rounds also draw samples, probe the quality and save a checkpoint said
    "1,150 images/s, ETA 46 s" while the clock saw half that rate. Both are now of the wall
    clock, rounds' ends included: here each round of 100 steps takes 1 s of steps and 1 s
    besides them."""
    last = _rounds(monkeypatch, [1.0, 1.0])[-1]
    assert last.step == 200
    assert 480 < last.images_per_s < 520, last.images_per_s  # the second round: 1,000 in 2 s
    assert 3.8 < last.eta_s < 4.2, last.eta_s  # 200 steps left at that pace


def test_the_eta_counts_the_encoders_steps_at_their_own_pace(monkeypatch):
    """Issue 35, item 2: during the GAN phase of a run with an encoder (the thorough preset)
    the ETA counted the encoder's steps at the GAN's pace, while an encoder step takes about
    half a GAN step's time (``python -m benchmarks.estimates``' thorough case): here 200 GAN
    steps are left at 50 steps a second, then 1,000 encoder steps."""
    from ganmc.core.presets import ENCODER_STEP_COST

    assert 0 < ENCODER_STEP_COST < 1
    last = _rounds(monkeypatch, [1.0, 1.0], phase="gan", encoder_steps=1000)[-1]
    assert last.phase == "gan" and 480 < last.images_per_s < 520
    expected = (200 + 1000 * ENCODER_STEP_COST) / 50
    assert last.eta_s == pytest.approx(expected, rel=0.05)
    assert last.fraction == pytest.approx(200 / 1400)
    # With D's rotation task the GAN's pace includes the task, which the encoder's steps do
    # not train: they take the same time as above, 1.3 times fewer of these GAN steps.
    rotating = TrainConfig(digits=(3,), rotation_weight=1.0)
    assert rotating.slowdown(400) == pytest.approx(1.3)
    last = _rounds(monkeypatch, [1.0, 1.0], phase="gan", encoder_steps=1000,
                   config=rotating)[-1]
    expected = (200 + 1000 * ENCODER_STEP_COST / 1.3) / 50
    assert last.eta_s == pytest.approx(expected, rel=0.05)
