"""The scorer registry: one list behind the CLI's choices, the help texts and auto's rule,
readable without TensorFlow."""

import subprocess
import sys

import pytest

from ganmc.core import config, scorers
from ganmc.core.errors import ConfigError


def test_the_choice_list_and_help_come_from_the_registry():
    assert config.SCORERS == tuple(scorers.REGISTRY) == scorers.SCORERS
    assert config.AUTO_RULE == scorers.AUTO_RULE
    text = scorers.help_text()
    for name, s in scorers.REGISTRY.items():
        assert f"{name}: {s.words}." in text
    assert text.endswith(f"auto: {scorers.AUTO_RULE}.")


def test_auto_order_follows_the_rule():
    per_digit = {"encoder", "density", "combination"}
    assert scorers.auto_order(per_digit, 10, True)[:2] == ("combined", "mahalanobis")
    assert scorers.auto_order({"encoder", "density"}, 10, True)[0] == "mahalanobis"
    assert scorers.auto_order({"encoder", "density"}, 10, False)[0] == "fanogan"
    one = scorers.auto_order({"density", "strokes", "combination"}, 1, False)
    assert one[:2] == ("mahalanobis-strokes", "mahalanobis") and "combined" in one
    assert scorers.auto_order(set(), 10, False) == ("discriminator", "latent-search")
    shape = {"encoder", "density", "shape", "combination"}
    assert scorers.auto_order(shape, 10, True)[:2] == ("combined", "shape")
    assert scorers.auto_order(shape - {"combination"}, 10, True)[0] == "shape"
    # a model of one digit keeps its one-class score, with or without the shape network
    assert scorers.auto_order(shape | {"strokes"}, 1, False)[0] == "mahalanobis-strokes"


def test_resolve_and_why():
    have = scorers.auto_order({"encoder", "density", "combination"}, 10, True)
    assert scorers.resolve("auto", have) == "combined"
    assert scorers.resolve("fanogan", have) == "fanogan"
    with pytest.raises(ConfigError):
        scorers.resolve("mahalanobis-strokes", have)
    with pytest.raises(ConfigError):
        scorers.resolve("psychic", have)
    assert scorers.why_auto(have).startswith("combined: ")


def test_the_cli_help_reads_the_registry_without_tensorflow():
    code = ("import sys, contextlib, io\n"
            "from ganmc import cli\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
            "    cli.main(['score', '--help'])\n"
            "assert 'tensorflow' not in sys.modules\n"
            "print(out.getvalue())\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    flat = " ".join(r.stdout.split())
    assert "combined: the most unusual of several views" in flat
    assert "shape: how much more the shape network" in flat


def test_each_score_has_its_graph_or_is_made_of_views():
    """The registry's entries carry what used to be branches on their names: a score with a
    network graph of its own is in ``scoring.GRAPHS``, a composite one (made of views) is not,
    and the one that searches the latent space is the one not done in one pass."""
    from ganmc.core.scorers import COMPOSITE, REGISTRY
    from ganmc.scores import scoring

    assert COMPOSITE == ("combined",)
    assert set(scoring.GRAPHS) == {n for n in REGISTRY if n not in COMPOSITE}
    assert [n for n, s in REGISTRY.items() if s.searches] == [
        n for n, s in REGISTRY.items() if not s.one_pass] == ["latent-search"]


def test_autos_rule_and_reasons_come_from_its_preferences():
    """``AUTO_RULE`` and ``why_auto`` are generated from the same data ``auto_order`` uses:
    every preference's words are in the rule, and the reason given for a model is the words
    of the preference that put its first score first (else the registry's order's)."""
    from ganmc.core.scorers import OTHERWISE, PREFERENCES

    for p in PREFERENCES:
        assert p.rule in scorers.AUTO_RULE
    cases = [({"density", "strokes", "encoder"}, 1, False, PREFERENCES[0], 0),
             ({"density", "encoder"}, 1, False, PREFERENCES[0], 1),
             ({"shape", "combination", "density", "encoder"}, 10, True, PREFERENCES[1], 0),
             ({"shape", "encoder"}, 10, True, PREFERENCES[1], 1),
             ({"density", "combination", "encoder"}, 10, True, PREFERENCES[2], 0),
             ({"density", "encoder"}, 10, True, PREFERENCES[2], 1)]
    for parts, n, per_digit, pref, i in cases:
        have = scorers.auto_order(parts, n, per_digit)
        assert have[0] == pref.first[i]
        assert scorers.why_auto(have, tuple(range(n))) == f"{have[0]}: {pref.why[i]}"
    for parts, first in (({"density", "encoder"}, "fanogan"), ({"density"}, "mahalanobis"),
                         (set(), "discriminator")):
        have = scorers.auto_order(parts, 10, False)
        assert scorers.why_auto(have, tuple(range(10))) == f"{first}: {OTHERWISE[first]}"
