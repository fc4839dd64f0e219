"""The training recipes: the presets (a budget of steps, a network, what each is for, its
measured minutes), the networks' relative training speeds, and D's extra tasks with their
measured cost. Each measured figure is written by its benchmark into docs/ and checked
against these by tests/unit/test_benchmark_figures.py."""

from __future__ import annotations

from dataclasses import dataclass

#: The largest weight of one of D's extra tasks.
MAX_TASK_WEIGHT = 10.0


@dataclass(frozen=True)
class Preset:
    """A named training budget, in optimiser steps so that it does not depend on how many
    images the normal digits have (one digit has a tenth of the images of ten).

    Attributes:
        steps: GAN steps (one update of D and one of G each).
        encoder_steps: Steps of the f-AnoGAN encoder after the GAN; 0 trains none (then the
            ``mahalanobis`` score is the default, see :func:`ganmc.scores.scoring.available`).
        batch_size: Images per step.
        about: What it is for, in plain words.
        minutes_2core: Wall time of one model on the project's 2-core CPU, as measured by
            ``python -m benchmarks.presets`` (training, calibration, simulation included; the
            figure is in docs/benchmarks-presets-NAME.json, and a unit test checks they agree),
            on the day it ran: a record for the docs. The time estimates do not use it; they
            follow the machine's speed (:mod:`ganmc.app.estimate`).
        arch: The networks (:data:`ARCHS`) it trains unless others are asked for.
    """

    steps: int
    encoder_steps: int
    batch_size: int
    about: str
    minutes_2core: float
    arch: str = "dcgan"


#: The training presets (docs/benchmarks.md: "Training presets" has their figures).
PRESETS = {
    "quick": Preset(1_000, 0, 64, "for trying things: a rough detector in about a minute",
                    1.4),
    "standard": Preset(5_000, 0, 64, "a good detector in about five minutes (the default)",
                       5.4),
    "thorough": Preset(2_500, 5_000, 64, "the best detectors: a deeper discriminator, and an "
                       "encoder (the fanogan score and the Detect page's redrawings): about "
                       "twice as long", 11.5, arch="dcgan-deep"),
}
DEFAULT_PRESET = "standard"


def network_of(arch: str | None, preset: str) -> str:
    """The networks a run trains: ``arch``, or the preset's when it is ``None`` (a custom
    run's are the default preset's)."""
    return arch or PRESETS.get(preset, PRESETS[DEFAULT_PRESET]).arch


#: Training speed of each network against ``dcgan``'s on the 2-core CPU (a preset's time is
#: its own network's): ``python -m benchmarks.speed`` measured 3,547 images/s for mlp, 2,065
#: for dcgan; ``python -m benchmarks.task_speed`` measures dcgan-deep against dcgan (their
#: JSON in docs/ holds the figures; tests/unit/test_benchmark_figures.py checks these).
RELATIVE_TRAIN_SPEED = {"dcgan": 1.0, "dcgan-deep": 0.53, "mlp": 1.7}
#: An encoder step's wall time against a GAN step's of the same network (the encoder learns
#: through the frozen G and D; neither is trained): ``python -m benchmarks.estimates``, from
#: its thorough run's two phases (dcgan-deep; docs/benchmarks-estimates.json). The training
#: ETA counts the encoder steps still to come at this share of the GAN pace.
ENCODER_STEP_COST = 0.6


@dataclass(frozen=True)
class Task:
    """An extra task trained beside the GAN, on when its weight (the :class:`TrainConfig`
    setting of the same name) is above 0: one of D's beside telling real from generated, or
    the shape network's.

    Attributes:
        words: Its name in plain words (the card, the job caption, messages).
        about: What D learns with it, in plain words (the CLI's and the Train page's help).
        loss: The name of its loss in the training history (and the loss chart).
        slowdown: How much longer a GAN step takes with it on: the ratio of images/s of the
            compiled steps, measured by ``python -m benchmarks.task_speed`` (dcgan, 2-core CPU;
            docs/benchmarks-task-speed.json, checked by tests/unit/test_benchmark_figures.py).
        default: Its weight when none is given (0: off unless asked for).
    """

    words: str
    about: str
    loss: str
    slowdown: float
    default: float = 0.0

    def help(self) -> str:
        """Its help text: what it does and what it costs."""
        default = "0 = none, the default" if not self.default else \
            f"{self.default:g} by default, 0 = none"
        return (f"{self.about}; {default}, up to {MAX_TASK_WEIGHT:g}; about "
                f"{self.slowdown - 1:.0%} more training time (docs/benchmarks.md has what it "
                f"measured)")


#: The updates the shape network gets in a run where the GAN has more steps than this: it
#: then learns on every few GAN steps only (:func:`shape_every`), which keeps its cost a
#: small share of a long run. Measured with ``python -m research.shape_probe``: 2,500
#: updates of 64 digits and 64 outliers made a shape network about as good as 5,000.
SHAPE_UPDATES = 2500


def shape_every(gan_steps: int) -> int:
    """The shape network learns on every this many GAN steps: every step of a run of up to
    :data:`SHAPE_UPDATES` GAN steps, every second of one up to twice that, and so on."""
    return max(1, gan_steps // SHAPE_UPDATES)


#: The extra tasks by setting name (see :class:`ganmc.nets.gan.GAN`).
TASKS = {
    "rotation_weight": Task(
        "rotation task", "D also learns which quarter turn was applied to each real image "
        "(SS-GAN): a sense of the digits' shapes", "rotation_loss", 1.30),
    "jigsaw_weight": Task(
        "jigsaw pseudo-anomalies", "D also learns to call real digits cut into four quarters "
        "and put back in another order not normal: a digit's strokes in a shape that is not "
        "one", "jigsaw_loss", 1.20),
    "shape_weight": Task(
        "shape network", "a second, small network learns the shapes of the normal digits, "
        "written in many hands, against letters and symbols of some 400 fonts (as printed and "
        "drawn again with a pen) and random pen curves (never handwriting): the verdicts then "
        "hold for other people's handwriting and catch letters; the weight is that of the "
        "non-digits in its training; on by default for a model of several MNIST digits (a "
        "model of one digit keeps its one-class score), and in a long run it learns on every "
        "few steps only",
        # on every step; python -m benchmarks.shape_cost measured the standard preset's
        # 5,000 steps (one in two with it) 1.28 times as long: 1 + 2 x 0.28
        "shape_loss", 1.56, default=1.0),
}
