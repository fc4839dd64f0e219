import pytest

from ganmc.core.config import ARCH_ABOUT, ARCHS, DEFAULT_LATENT, TrainConfig, parse_digits
from ganmc.core.errors import ConfigError
from ganmc.core.presets import DEFAULT_PRESET, PRESETS, network_of


@pytest.mark.parametrize("text,expected", [
    ("all", tuple(range(10))), (None, tuple(range(10))), ("3", (3,)), ("0,1,2", (0, 1, 2)),
    ("0-4", (0, 1, 2, 3, 4)), ("7, 7,1", (1, 7)), ("0-1,8-9", (0, 1, 8, 9)),
])
def test_parse_digits(text, expected):
    assert parse_digits(text) == expected


@pytest.mark.parametrize("text", ["a", "10", "-1", "3-1", "1,,x", "0-12"])
def test_parse_digits_rejects(text):
    with pytest.raises(ConfigError):
        parse_digits(text)


def test_defaults_resolve_per_network():
    assert TrainConfig(arch="mlp").latent_dim == 100
    assert TrainConfig(arch="dcgan").latent_dim == 64


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_preset_gives_its_budget_unless_overridden(name):
    p = PRESETS[name]
    cfg = TrainConfig(preset=name)
    assert (cfg.steps, cfg.encoder_steps, cfg.batch_size) == (p.steps, p.encoder_steps,
                                                              p.batch_size)
    assert cfg.has_encoder == bool(p.encoder_steps)
    # the budget is in steps: the same for one digit (~700 images) as for ten (~7,000)
    assert cfg.gan_steps(700) == cfg.gan_steps(7000) == p.steps
    own = TrainConfig(preset=name, steps=123, encoder_steps=0, batch_size=32)
    assert (own.steps, own.encoder_steps, own.batch_size, own.has_encoder) == (123, 0, 32, False)
    assert cfg.arch == p.arch and cfg.latent_dim == DEFAULT_LATENT[p.arch]
    assert TrainConfig(preset=name, arch="mlp").arch == "mlp"  # a network asked for wins


def test_thorough_trains_the_deeper_discriminator_and_a_saved_config_keeps_its_network():
    assert PRESETS["thorough"].arch == "dcgan-deep" and PRESETS["standard"].arch == "dcgan"
    assert network_of(None, "thorough") == "dcgan-deep"
    assert network_of(None, "custom") == PRESETS[DEFAULT_PRESET].arch
    # A model's card says which network it has: read back, it is that one, whatever the preset.
    saved = TrainConfig(preset="thorough", arch="dcgan").to_dict()
    assert TrainConfig.from_dict(saved).arch == "dcgan"
    assert set(ARCH_ABOUT) == set(ARCHS) == set(DEFAULT_LATENT)


def test_epochs_override_steps_once_the_data_size_is_known():
    cfg = TrainConfig(epochs=7, batch_size=64)
    assert cfg.gan_steps(700) == 7 * (700 // 64)
    assert cfg.gan_steps(7000) == 7 * (7000 // 64)
    assert cfg.encoder_steps_for(700) == cfg.encoder_steps  # the encoder follows the preset
    assert TrainConfig(epochs=7, encoder_epochs=2, batch_size=64).encoder_steps_for(700) == 20
    assert not TrainConfig(preset="thorough", encoder_epochs=0).has_encoder


def test_a_card_from_before_the_presets_reads_as_custom_epochs():
    old = {"arch": "dcgan", "digits": [3], "epochs": 180, "encoder_epochs": 180,
           "batch_size": 128, "seed": 0}
    cfg = TrainConfig.from_dict(old)
    assert cfg.preset == "custom" and cfg.epochs == 180 and cfg.has_encoder
    assert cfg.gan_steps(7200) == 180 * (7200 // 128)


@pytest.mark.parametrize("kwargs", [
    {"arch": "resnet"}, {"epochs": 0}, {"epochs": 10**6}, {"batch_size": 1},
    {"digits": ()}, {"digits": (11,)}, {"learning_rate": 0}, {"calibration_fraction": 0.95},
    {"latent_dim": 1}, {"kappa": -1}, {"epochs": 2.5}, {"search_steps": 0},
    {"preset": "fast"}, {"steps": 0}, {"encoder_steps": -1}, {"steps": 10**9},
    {"rotation_weight": -0.5}, {"rotation_weight": True}, {"rotation_weight": "1"},
    {"jigsaw_weight": -1.0}, {"jigsaw_weight": 11.0}, {"jigsaw_weight": False},
    {"digits": (0.0,)}, {"digits": (3, 2.5)}, {"digits": (True,)}, {"digits": ("1",)},
])
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(ConfigError):
        TrainConfig(**kwargs)


def test_round_trip_through_dict():
    cfg = TrainConfig(arch="mlp", digits=(3, 1), epochs=3, seed=5)
    again = TrainConfig.from_dict({**cfg.to_dict(), "unknown_future_key": 1})
    assert again == cfg
    assert again.digits == (1, 3)


def test_a_card_from_before_the_presets_says_its_epochs_were_set_by_hand():
    from ganmc.storage.cardtext import training_text

    card = {"config": {"preset": "custom", "epochs": 180, "encoder_epochs": 180},
            "metadata": {"batch_size": 64}}
    assert training_text(card) == ("180 GAN + 180 encoder epochs (set by hand, before the "
                                   "training presets)")


def test_the_card_says_when_the_rotation_task_was_trained():
    from ganmc.storage.cardtext import training_text

    meta = {"gan_steps_done": 5000, "passes_done": [472.0, 0.0], "steps_planned": [5000, 0],
            "batch_size": 64}
    card = {"config": {"preset": "standard", "encoder_steps": 0, "rotation_weight": 1.0},
            "metadata": meta}
    assert training_text(card) == ("standard preset, batches of 64: 5,000 GAN steps "
                                   "(472.0 passes), no encoder, rotation task 1")
    card["config"]["rotation_weight"] = 0.0
    assert training_text(card).endswith("no encoder")
    card["config"]["jigsaw_weight"] = 0.5
    assert training_text(card).endswith("no encoder, jigsaw pseudo-anomalies 0.5")
