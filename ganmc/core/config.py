"""Training settings as one frozen, validated dataclass.

The same object is written into every model's card, so a model always says how it was made.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

from ganmc.core import scorers as _scorers
from ganmc.core.errors import ConfigError

# the training recipes (presets, networks' speeds, D's extra tasks) are ganmc.core.presets'
from ganmc.core.presets import (
    DEFAULT_PRESET,
    MAX_TASK_WEIGHT,
    PRESETS,
    TASKS,
    network_of,
    shape_every,
)

#: The networks (see :mod:`ganmc.nets.networks`), in plain words: the CLI's and the Train page's
#: help.
ARCH_ABOUT = {
    "dcgan": "a small convolutional GAN",
    "dcgan-deep": "the same GAN with a deeper discriminator (a third convolution): better "
                  "one-class detectors, about twice the time a step (the thorough preset's)",
    "mlp": "the original notebook's fully connected network, kept for comparison",
}
ARCHS = tuple(ARCH_ABOUT)
#: Latent size of each network when none is given: the seed notebook's MLP used 100.
DEFAULT_LATENT = {"dcgan": 64, "dcgan-deep": 64, "mlp": 100}
MAX_EPOCHS = 1000
# The feature residual of the f-AnoGAN score is about a tenth of the pixel residual in size
# for these discriminators, yet separates better (research/score_variants.py: one-class
# mean AUROC 95.4 % for the feature residual alone against 94.4 % for kappa = 1, 120 epochs);
# kappa = 100 lets it carry most of the score while the pixel term still counts.
DEFAULT_KAPPA = 100.0
#: Optimisation steps per image of the ``latent-search`` scorer. AnoGAN used 500 from a random
#: z; starting from the encoder's E(x) needs fewer (see docs/benchmarks.md).
DEFAULT_SEARCH_STEPS = 100
#: Principal components of the discriminator's feature layer kept by the ``mahalanobis``
#: scorer's Gaussian (capped by the training images - 1). One-class probes (120 and 400
#: epochs) separated best at 512 of the dcgan's 3,136 features; fewer lost digits 2, 3 and 8.
DEFAULT_FEATURE_COMPONENTS = 512
#: How far each digit's feature covariance is shrunk towards the pooled within-digit one in
#: the per-digit ``mahalanobis`` Gaussians (1 = one shared covariance, as Lee et al., 2018).
#: On the shipped model's features (docs/benchmarks.md) 0.05 against 1: hand-drawn letters
#: AUROC 0.945 against 0.848, random strokes 0.946 against 0.889.
DEFAULT_DIGIT_SHRINKAGE = 0.05
#: Weight of the stroke-length correction in the ``mahalanobis-strokes`` score: the distance
#: standardised on normal images, plus this times how many spreads the image's stroke length
#: (``ganmc.nets.density.stroke_length``) falls short of the normal images' mean. Density scores
#: favour simple images (Serra et al., 2020): to a model of 8s a 1 is a part of an 8.
#: docs/benchmarks.md has the figures ("Simpler than a normal digit").
DEFAULT_STROKE_WEIGHT = 0.5
#: One fold in this many of the training images, measured by a Gaussian fitted to the rest,
#: gives the mean and spread of a new normal image's distance (the correction's scale; the
#: hold-out set stays for the threshold alone).
STROKE_FOLDS = 5
#: The largest training batch (a Monte Carlo batch has its own bound,
#: :data:`ganmc.thresholds.montecarlo.MAX_SIMULATION_BATCH`).
MAX_TRAIN_BATCH = 8192
#: The anomaly scores and ``auto``'s rule in words, from :data:`ganmc.core.scorers.REGISTRY`.
SCORERS, AUTO_RULE = _scorers.SCORERS, _scorers.AUTO_RULE
#: Where a threshold comes from (see :func:`ganmc.thresholds.calibration.choose`): ``per-digit`` is
#: the hold-out set split by the digit each image is taken for (Mondrian conformal), ``holdout``
#: the hold-out set as one; ``auto`` prefers the first three in this order. ``per-digit-pac`` and
#: ``pac`` are the same two with the training-conditional (PAC) promise, chosen only by name.
CALIBRATIONS = ("per-digit", "holdout", "monte-carlo", "per-digit-pac", "pac")
#: The PAC threshold's delta: the chance, over the draw of the calibration images, that its
#: false-alarm rate is above the level (0.1: the promise holds with 90 % confidence).
DEFAULT_PAC_DELTA = 0.1
#: The drift alarm's delta: images like the calibration images set it off with probability
#: at most this (it goes off when the evidence against them reaches 1 / delta = 100 to 1).
DEFAULT_DRIFT_DELTA = 0.01
#: Arithmetic of training and simulation; ``auto`` is bfloat16 where it is fast.
PRECISIONS = ("auto", "float32", "bfloat16")
AUTO = _scorers.AUTO
#: Monte Carlo samples simulated for each one-pass score at the end of training.
DEFAULT_TRAIN_MC_SAMPLES = 20_000
#: Monte Carlo samples of ``ganmc simulate``, ``ganmc report`` and the dashboard.
DEFAULT_MC_SAMPLES = 100_000
#: The threshold level: this percentile of normal scores, i.e. 5 % false alarms.
DEFAULT_PERCENTILE = 95.0
#: Share of the normal images held out of training to calibrate the threshold: a tenth for a
#: model of one digit; a quarter for one of several, whose digits each get a threshold of
#: their own from the held-out images taken for them (a couple of hundred each in the bundled
#: data: the per-digit false-alarm rates then land near the level, rather than scattered and
#: below it as with eighty).
DEFAULT_CALIBRATION_FRACTION = 0.1
DEFAULT_CALIBRATION_FRACTION_DIGITS = 0.25
MAX_STEPS = 1_000_000

#: What an old model's card, which predates presets, is shown as.
CUSTOM = "custom"
#: Largest seed (numpy's seeds are 32-bit).
SEED_MAX = 2**32 - 1
#: Data sources by name (a path to a file or folder works too; see
#: :func:`ganmc.images.data.load_mnist`).
DATA_CHOICES = ("auto", "bundled", "keras")


#: How a picture is put into a model's 28x28 frame (:func:`ganmc.images.preprocess.frame`), in
#: plain words: the name a user sees first, then what it does. A model's card records its
#: framing (``framing``; a card without one is ``digits``), and every image it judges is
#: framed the same way.
DIGITS = "digits"
FRAMING_WORDS = {"digits": "like digits", "whole": "whole image"}
FRAMING_ABOUT = {
    "digits": "like digits: the ink (dark on light is turned round) fitted in 20 x 20 pixels "
              "and centred by its centre of mass in 28 x 28, as MNIST's digits were made; for "
              "drawings, handwriting and single shapes on a plain background",
    "whole": "whole image: the whole picture in grey, shrunk to fit 28 x 28 keeping its "
             "proportions, the rest filled with the colour of its edge; for photographs, "
             "products and textures, where every part of the picture counts",
}
FRAMINGS = tuple(FRAMING_ABOUT)


def checked_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is ``auto`` or one of ``choices``, else one clear ConfigError."""
    if value != AUTO and value not in choices:
        raise ConfigError(f"{name} must be one of {AUTO}, {', '.join(choices)}, not {value!r}")
    return value


def parse_digits(text: str | None) -> tuple[int, ...]:
    """Parse a digit selection such as ``"0,1,2"``, ``"3"``, ``"0-4"`` or ``"all"``.

    Args:
        text: The selection; ``None`` or ``"all"`` mean all ten digits.

    Returns:
        The sorted, de-duplicated digits.

    Raises:
        ConfigError: If the selection is empty, or a part is not a digit 0-9 or a range of
            them (a reversed range such as ``3-1`` included).
    """
    if text is None or text.strip().lower() == "all":
        return tuple(range(10))
    if not text.strip():
        raise ConfigError("digits: the selection is empty; give digits such as 3, 0,1,2 or "
                          "0-4, or all")
    digits: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
            else:
                lo = hi = int(part)
        except ValueError:
            raise ConfigError(f"digits: {part!r} is not a digit 0-9 or a range like 0-4") from None
        if lo > hi:
            raise ConfigError(f"digits: {part!r} is a reversed range; write {hi}-{lo}")
        if lo < 0 or hi > 9:
            raise ConfigError(f"digits: {part!r} is outside 0-9")
        digits.update(range(lo, hi + 1))
    return tuple(sorted(digits))


#: The most named classes one model may have (each has its own Gaussian, and a Monte Carlo
#: sample is measured against every one).
MAX_CLASSES = 20
#: The longest class name.
MAX_CLASS_NAME = 60


def checked_classes(names: Any) -> tuple[str, ...]:
    """Class names as a model keeps them: 1 to ``MAX_CLASSES`` different, non-empty names of
    printable characters, at most ``MAX_CLASS_NAME`` long.

    Raises:
        ConfigError: Naming what is wrong.
    """
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise ConfigError("classes must be a list of names")
    names = tuple(names)
    if not 1 <= len(names) <= MAX_CLASSES:
        raise ConfigError(f"a model has 1 to {MAX_CLASSES} named classes, not {len(names)}")
    for n in names:
        if not isinstance(n, str) or not n.strip() or not n.isprintable():
            raise ConfigError(f"a class name must be printable text, not {n!r}")
        if len(n) > MAX_CLASS_NAME:
            raise ConfigError(f"class name {n[:20]!r}... is longer than {MAX_CLASS_NAME} "
                              f"characters")
    if len(set(names)) != len(names):
        raise ConfigError("class names must differ from each other")
    return names

@dataclass(frozen=True)
class TrainConfig:
    """How to train a model.

    Attributes:
        arch: The networks, one of :data:`ARCH_ABOUT`; ``None`` takes the preset's
            (``"dcgan"``, or ``"dcgan-deep"`` for ``thorough``).
        digits: The digits treated as normal; for a model of named classes (``classes``) the
            classes' indices, all of them.
        classes: The names of the normal classes of a model trained on the user's own
            images sorted into class folders (``FOLDER/normal/CLASS/...``), index by index;
            its labels are their indices. None for MNIST digits and for one class of images.
        preset: The :data:`PRESETS` entry that gives ``arch``, ``steps``, ``encoder_steps``
            and ``batch_size`` where they are not given.
        steps: GAN optimiser steps.
        encoder_steps: Steps of the f-AnoGAN encoder, trained after the GAN with G and D
            frozen; 0 trains none (then there is no ``fanogan`` score).
        batch_size: Images per training step.
        epochs: Passes over the normal training images for the GAN instead of ``steps``
            (``None``: use ``steps``); turned into steps once the data's size is known
            (:meth:`gan_steps`).
        encoder_epochs: The same for the encoder (``None``: ``encoder_steps``).
        latent_dim: Size of the latent vector z; ``None`` takes the preset's default.
        learning_rate: Adam's step size for both networks.
        beta_1: Adam's first-moment decay (0.5 is the DCGAN recipe).
        kappa: Weight of the discriminator-feature residual in the f-AnoGAN score (and in
            the encoder's training loss); see ``DEFAULT_KAPPA``.
        search_steps: Steps of the per-image latent optimisation of the ``latent-search``
            scorer; kept with the model because its calibration scores depend on it.
        feature_components: Principal components of the discriminator's features kept by
            the ``mahalanobis`` scorer's Gaussian, fitted to the training images after
            training.
        digit_shrinkage: For a model of several digits trained with labels, how far each
            digit's Gaussian's covariance is shrunk towards the pooled one (0-1; 1 = shared).
        calibration_fraction: Share of the normal training images held out (never trained
            on) to calibrate the threshold conformally; ``None``:
            ``DEFAULT_CALIBRATION_FRACTION_DIGITS`` for several digits,
            ``DEFAULT_CALIBRATION_FRACTION`` for one.
        rotation_weight: Weight of the self-supervised rotation task D learns beside telling
            real from generated (SS-GAN; see :class:`ganmc.nets.gan.GAN`); 0 trains none.
        jigsaw_weight: Weight of the pseudo-anomalies D is taught to reject beside the
            generated images: real images cut in four and put back in another order
            (:func:`ganmc.nets.gan.jigsaw`); 0 shows none.
        shape_weight: Weight of the outliers (:mod:`ganmc.images.outliers`) in the training of the
            shape network beside the GAN (:func:`ganmc.nets.networks.build_shape`); 0 trains
            none; ``None``: on (its task's default) for a model of several digits, where it
            makes the verdicts hold on other people's handwriting, off for one digit and for
            a model of named classes (its outliers and style changes are a digit's).
        seed: Seed of every random draw; the same seed gives the same model on one machine.
        precision: Training arithmetic: ``"float32"``, ``"bfloat16"`` (Keras'
            ``mixed_bfloat16``: variables in float32, matrix work in bfloat16) or ``"auto"``
            (bfloat16 on a GPU, float32 on a CPU). Saved models are float32 either way.
        jit_compile: Compile the train step with XLA; ``None`` decides by measurement:
            on for a GPU and for the ``mlp`` preset, off for ``dcgan`` on a CPU (slower there)
            and with several replicas.
    """

    arch: str | None = None
    digits: tuple[int, ...] = tuple(range(10))
    classes: tuple[str, ...] | None = None
    preset: str = DEFAULT_PRESET
    steps: int | None = None
    encoder_steps: int | None = None
    batch_size: int | None = None
    epochs: int | None = None
    encoder_epochs: int | None = None
    latent_dim: int | None = None
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    kappa: float = DEFAULT_KAPPA
    search_steps: int = DEFAULT_SEARCH_STEPS
    feature_components: int = DEFAULT_FEATURE_COMPONENTS
    digit_shrinkage: float = DEFAULT_DIGIT_SHRINKAGE
    calibration_fraction: float | None = None
    rotation_weight: float = TASKS["rotation_weight"].default
    jigsaw_weight: float = TASKS["jigsaw_weight"].default
    shape_weight: float | None = None
    seed: int = 0
    precision: str = AUTO
    jit_compile: bool | None = None

    def __post_init__(self) -> None:
        if self.preset not in (*PRESETS, CUSTOM):
            raise ConfigError(f"preset must be one of {', '.join(PRESETS)}, not {self.preset!r}")
        preset = PRESETS.get(self.preset, PRESETS[DEFAULT_PRESET])
        object.__setattr__(self, "arch", network_of(self.arch, self.preset))
        if self.arch not in ARCHS:
            raise ConfigError(f"arch must be one of {', '.join(ARCHS)}, not {self.arch!r}")
        if not all(isinstance(d, numbers.Integral) and not isinstance(d, bool)
                   for d in self.digits):
            raise ConfigError(f"digits must be whole numbers 0-9, not {list(self.digits)!r}")
        digits = tuple(sorted(set(int(d) for d in self.digits)))
        if self.classes is not None:
            object.__setattr__(self, "classes", checked_classes(self.classes))
            if digits != tuple(range(len(self.classes))):
                raise ConfigError(f"a model of named classes has every class normal: digits "
                                  f"must be 0-{len(self.classes) - 1}, not {list(digits)}")
        elif not digits or digits[0] < 0 or digits[-1] > 9:
            raise ConfigError("digits must be a non-empty selection of 0-9")
        object.__setattr__(self, "digits", digits)
        if self.calibration_fraction is None:
            object.__setattr__(self, "calibration_fraction",
                               DEFAULT_CALIBRATION_FRACTION_DIGITS if len(digits) > 1
                               else DEFAULT_CALIBRATION_FRACTION)
        if self.shape_weight is None:
            object.__setattr__(self, "shape_weight",
                               TASKS["shape_weight"].default
                               if len(digits) > 1 and self.classes is None else 0.0)
        if self.latent_dim is None:
            object.__setattr__(self, "latent_dim", DEFAULT_LATENT[self.arch])
        for name in ("steps", "encoder_steps", "batch_size"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, getattr(preset, name))
        _check_range("steps", self.steps, 1, MAX_STEPS)
        _check_range("encoder_steps", self.encoder_steps, 0, MAX_STEPS)
        if self.epochs is not None:
            _check_range("epochs", self.epochs, 1, MAX_EPOCHS)
        if self.encoder_epochs is not None:
            _check_range("encoder_epochs", self.encoder_epochs, 0, MAX_EPOCHS)
        _check_range("batch_size", self.batch_size, 2, MAX_TRAIN_BATCH)
        _check_range("latent_dim", self.latent_dim, 2, 512)
        _check_range("search_steps", self.search_steps, 1, 5000)
        _check_range("feature_components", self.feature_components, 1, 4096)
        _check_range("seed", self.seed, 0, SEED_MAX)
        if not 0.0 < self.learning_rate < 1.0:
            raise ConfigError("learning_rate must be between 0 and 1")
        _check_between("digit_shrinkage", self.digit_shrinkage, 0.0, 1.0)
        if not 0.0 <= self.calibration_fraction < 0.9:
            raise ConfigError("calibration_fraction must be in [0, 0.9)")
        if not (isinstance(self.kappa, (int, float)) and not isinstance(self.kappa, bool)
                and math.isfinite(self.kappa) and self.kappa >= 0):
            raise ConfigError(f"kappa must be a finite number >= 0, not {self.kappa!r}")
        for task in TASKS:
            _check_between(task, getattr(self, task), 0.0, MAX_TASK_WEIGHT)
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, not "
                              f"{self.precision!r}")

    @property
    def tasks(self) -> tuple[str, ...]:
        """D's extra tasks that are on (their weights' names, e.g. ``("rotation_weight",)``)."""
        return tuple(t for t in TASKS if getattr(self, t))

    def slowdown(self, gan_steps: int) -> float:
        """How much longer than plain GAN steps these steps take in a run of ``gan_steps``
        (each task's ``Task.slowdown``, the shape network's spread over the steps it learns
        on, :func:`ganmc.core.presets.shape_every`; with several on, their product, which was
        not measured)."""
        every = {"shape_weight": shape_every(gan_steps)}
        return math.prod(1 + (TASKS[t].slowdown - 1) / every.get(t, 1) for t in self.tasks)

    def steps_per_pass(self, n_images: int) -> int:
        """Steps of one pass over ``n_images`` training images (at least 1)."""
        return max(n_images // max(min(self.batch_size, n_images), 1), 1)

    def gan_steps(self, n_images: int) -> int:
        """The GAN steps to train on ``n_images`` images: ``epochs`` passes when given."""
        return self.epochs * self.steps_per_pass(n_images) if self.epochs else self.steps

    def encoder_steps_for(self, n_images: int) -> int:
        """The encoder steps to train on ``n_images`` images (0: no encoder)."""
        if self.encoder_epochs is not None:
            return self.encoder_epochs * self.steps_per_pass(n_images)
        return self.encoder_steps

    @property
    def has_encoder(self) -> bool:
        """Whether these settings train an encoder."""
        return bool(self.encoder_epochs if self.encoder_epochs is not None
                    else self.encoder_steps)

    @classmethod
    def of(cls, settings: dict[str, Any]) -> TrainConfig:
        """Settings given as keyword arguments (``digits`` None: all ten, or with ``classes``
        every class).

        Raises:
            ConfigError: If a name is not a setting, or a value is out of its range.
        """
        unknown = set(settings) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown setting {', '.join(sorted(unknown))}")
        digits, classes = settings.get("digits"), settings.get("classes")
        if digits is None:
            digits = cls.digits if classes is None else range(len(classes))
        return cls(**{**settings, "digits": tuple(digits),
                      "classes": None if classes is None else tuple(classes)})

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready values."""
        d = dataclasses.asdict(self)
        d["digits"] = list(self.digits)
        d["classes"] = None if self.classes is None else list(self.classes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Rebuild settings from :meth:`to_dict` output, ignoring unknown keys."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        if "arch" in kwargs and kwargs["arch"] not in ARCHS:  # a card names its network
            raise ConfigError(f"arch must be one of {', '.join(ARCHS)}, not {kwargs['arch']!r}")
        if "preset" not in kwargs:  # a card from before the presets: epochs said it all
            kwargs["preset"] = CUSTOM
            kwargs.setdefault("batch_size", 128)
            kwargs.setdefault("epochs", 10)
            kwargs.setdefault("encoder_epochs", kwargs["epochs"])
        if "digits" in kwargs:
            kwargs["digits"] = tuple(kwargs["digits"])
        # a card from before a task was known was made without it, whatever its default now
        for task in TASKS:
            kwargs.setdefault(task, 0.0)
        if kwargs.get("classes") is not None:
            if not isinstance(kwargs["classes"], (list, tuple)):
                raise ConfigError("classes must be a list of names")
            kwargs["classes"] = tuple(kwargs["classes"])
        return cls(**kwargs)


def _check_range(name: str, value: int, lo: int, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be a whole number from {lo} to {hi}, not {value!r}")


def _check_between(name: str, value: float, lo: float, hi: float) -> None:
    """A number (not a bool) from ``lo`` to ``hi``; NaN is refused."""
    if not (isinstance(value, (int, float)) and not isinstance(value, bool)
            and lo <= value <= hi):
        raise ConfigError(f"{name} must be between {lo:g} and {hi:g}, not {value!r}")
