import pytest

from ganmc.config import TrainConfig, parse_digits
from ganmc.errors import ConfigError


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


def test_defaults_resolve_per_preset():
    assert TrainConfig(arch="mlp").latent_dim == 100
    assert TrainConfig(arch="dcgan").latent_dim == 64
    assert TrainConfig(epochs=7).encoder_epochs == 7
    assert TrainConfig(epochs=7, encoder_epochs=0).encoder_epochs == 0


@pytest.mark.parametrize("kwargs", [
    {"arch": "resnet"}, {"epochs": 0}, {"epochs": 10**6}, {"batch_size": 1},
    {"digits": ()}, {"digits": (11,)}, {"learning_rate": 0}, {"calibration_fraction": 0.95},
    {"latent_dim": 1}, {"kappa": -1}, {"epochs": 2.5}, {"search_steps": 0},
])
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(ConfigError):
        TrainConfig(**kwargs)


def test_round_trip_through_dict():
    cfg = TrainConfig(arch="mlp", digits=(3, 1), epochs=3, seed=5)
    again = TrainConfig.from_dict({**cfg.to_dict(), "unknown_future_key": 1})
    assert again == cfg
    assert again.digits == (1, 3)
