"""Shared fixtures: tiny seeded data and one tiny model trained once per test session."""

from __future__ import annotations

import os

os.environ.setdefault("GANMC_OFFLINE", "1")  # never try a download in tests
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def mnist():
    """The bundled digits with the fixed split (all ten digits normal)."""
    from ganmc.images.data import load_mnist

    return load_mnist("bundled")


@pytest.fixture(scope="session")
def tiny_train(mnist):
    """1,500 normal training digits."""
    return mnist.x_train[:1500]


@pytest.fixture(scope="session")
def tiny_model(tiny_train, tmp_path_factory):
    """A tiny dcgan detector (3 GAN epochs, 2 encoder epochs; ~10 s), trained and saved once,
    without the shape network (as models saved before it, or trained with
    ``--shape-weight 0``): its ``auto`` is fanogan. ``shape_model`` has the shape network.

    Fewer steps than this leave the generator drawing grey blurs, and then nothing, not even
    uniform noise, is told apart.
    """
    from ganmc import Detector

    det = Detector(arch="dcgan", epochs=3, encoder_epochs=2, batch_size=32, seed=0,
                   mc_samples=2000, shape_weight=0.0)
    det.fit(tiny_train, data_source="bundled[:1500]")
    path = det.save(tmp_path_factory.mktemp("models") / "tiny")
    return det, path


@pytest.fixture
def noise_images():
    return np.random.default_rng(0).integers(0, 256, (64, 28, 28)).astype(np.uint8)


def digit_png(path, digit: np.ndarray, *, scale: int = 8, dark_on_light: bool = True):
    """Save an MNIST digit as a large picture, the way a user's drawing would look."""
    img = np.kron(digit, np.ones((scale, scale), np.uint8))
    if dark_on_light:
        img = 255 - img
    Image.fromarray(img).save(path)
    return path


@pytest.fixture(scope="session")
def shape_model(tmp_path_factory, mnist):
    """A small labelled model of all ten digits with the shape network (the default for
    several digits; dcgan, 200 steps, no encoder; ~40 s), trained and saved once."""
    from ganmc import Detector

    det = Detector(steps=200, encoder_steps=0, batch_size=64, seed=0, mc_samples=1000,
                   calibration_fraction=0.25)
    det.fit(mnist.x_train[:3000], mnist.y_train[:3000], data_source="bundled[:3000]")
    path = det.save(tmp_path_factory.mktemp("models") / "shape")
    return det, path


@pytest.fixture(scope="session")
def digit_model(tmp_path_factory):
    """A small labelled model of the digits 1 and 7 with per-digit Gaussians and the
    ``per-digit`` threshold (mlp, 96 steps; ~25 s), trained and saved once."""
    from ganmc.app import service

    path = tmp_path_factory.mktemp("models") / "d17"
    det = service.train(path, data="bundled", digits=(1, 7), arch="mlp", steps=96,
                        batch_size=64, mc_samples=500)
    return det, path


def own_pictures(root, mnist, per_class: int = 150, anomalies: int = 40):
    """A folder of the user's own pictures in the class layout: normal/ones/ and
    normal/sevens/ (MNIST's 1s and 7s drawn dark on light, 56 x 56 PNGs), anomaly/ (3s), and a
    file that is no picture."""
    for digit, name in ((1, "ones"), (7, "sevens")):
        (root / "normal" / name).mkdir(parents=True)
        for i, img in enumerate(mnist.x_train[mnist.y_train == digit][:per_class]):
            digit_png(root / "normal" / name / f"{i:03d}.png", img, scale=2)
    (root / "anomaly").mkdir()
    for i, img in enumerate(mnist.x_test[mnist.y_test == 3][:anomalies]):
        digit_png(root / "anomaly" / f"{i:03d}.png", img, scale=2)
    (root / "normal" / "ones" / "notes.png").write_text("not a picture")
    return root


@pytest.fixture(scope="session")
def own_model(tmp_path_factory, mnist):
    """A small model of named classes trained on a folder of PNGs in the whole-image framing
    (mlp, 96 steps; ~25 s): per-class Gaussians and thresholds, a quality card with the
    anomaly folder. Returns (detector, model folder, picture folder)."""
    from ganmc.app import service

    base = tmp_path_factory.mktemp("own")
    data = own_pictures(base / "pictures", mnist)
    path = base / "models" / "own"
    det = service.train(path, data=str(data), framing="whole", arch="mlp", steps=96,
                        batch_size=64, mc_samples=500, calibration_fraction=0.3)
    return det, path, data
