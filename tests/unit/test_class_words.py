"""A model of the user's named classes is spoken of in classes, not digits, wherever the
words come from the card or a check (the PAC line, the drift alarm, what the model catches)."""

from __future__ import annotations

import numpy as np

from ganmc.storage.cardtext import catches_text, pac_text
from ganmc.thresholds.guarantees import drift_alarm


def _card(classes=None, own=False):
    counts = {"0": 30, "1": 400}
    return {"config": {"digits": [0, 1], **({"classes": classes} if classes else {}),
                       "shape_weight": 0.0},
            "metadata": {"own_images": own}, "scorers": ["mahalanobis"], "scorer": "auto",
            "alpha": 0.05, "pac_delta": 0.1,
            "calibration_summary": {"mahalanobis": {
                "holdout": {"n": 430, "threshold": 1.0},
                "per-digit": {"n": 430, "counts": counts}}}}


def test_the_pac_line_names_the_classes_with_too_few_images():
    named = pac_text(_card(["sandal", "sneaker"], own=True))
    assert "Per class (30 to 400 images each): classes sandal have fewer than 45" in named
    assert "digit" not in named
    digits = pac_text(_card())
    assert "Per digit (30 to 400 images each): digits 0 have fewer than 45" in digits


def test_the_drift_alarm_speaks_of_the_class_each_image_is_taken_for():
    rng = np.random.default_rng(0)
    ref, ref_groups = rng.normal(size=400), np.repeat([0, 1], 200)
    scores, groups = rng.normal(5, 1, size=60), np.tile([0, 1], 30)
    alarm = drift_alarm(scores, ref, alpha=0.05, digits=groups, reference_digits=ref_groups,
                        noun="class")
    assert alarm.fired and "the calibration images of the class each is taken for" in \
        alarm.details()
    default = drift_alarm(scores, ref, alpha=0.05, digits=groups, reference_digits=ref_groups)
    assert "of the digit each is taken for" in default.details()


def test_own_pictures_get_no_word_about_digits_or_a_shape_network():
    assert catches_text(_card(["sandal", "sneaker"], own=True)) == []
    assert catches_text(_card(own=True)) == []
    assert "no shape network" in catches_text(_card())[0]
