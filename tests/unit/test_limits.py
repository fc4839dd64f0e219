import pytest

from ganmc.core import limits
from ganmc.core.errors import ConfigError
from ganmc.thresholds.montecarlo import simulate


def test_available_memory_is_read():
    """On Linux it is /proc/meminfo's MemAvailable: more than nothing, less than all."""
    with open("/proc/meminfo") as f:
        total = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))
    free = limits.available_memory()
    assert isinstance(free, int) and 0 < free <= total


def test_check_fits():
    limits.check_fits("small", 10, available=1000)
    with pytest.raises(ConfigError, match="GiB of memory"):
        limits.check_fits("huge", 600, available=1000)


def test_oversized_requests_are_refused_before_they_start(monkeypatch):
    calls = []

    class Sampler:
        def sample_scores(self, n, seed, index, scorer=None, precision="float32"):
            calls.append(n)
            return [0.0] * n

    monkeypatch.setattr(limits, "available_memory", lambda: 1_000_000)
    with pytest.raises(ConfigError, match="memory"):
        simulate(Sampler(), 1_000_000, batch_size=100_000)
    with pytest.raises(ConfigError, match="batch_size"):
        simulate(Sampler(), 1000, batch_size=10**7)
    assert calls == []  # nothing was generated


def test_training_refused_before_building_anything(monkeypatch):
    import numpy as np

    from ganmc.core.config import TrainConfig
    from ganmc.nets.train import fit_networks

    monkeypatch.setattr(limits, "available_memory", lambda: 1_000_000)
    with pytest.raises(ConfigError, match="training on 1,000 images"):
        fit_networks(np.zeros((1000, 28, 28), np.uint8), TrainConfig(arch="mlp", epochs=1))
