"""Issue 28: sample counts and percentiles out of range are refused when the command line is
read, before TensorFlow starts or a model loads."""

from __future__ import annotations

import pytest

from ganmc import cli
from ganmc.cli import args as cliargs
from ganmc.core import runtime


@pytest.mark.parametrize("args, flag", [
    (["simulate", "--samples", "100000000000"], "--samples"),
    (["simulate", "--samples", "1e11"], "--samples"),
    (["score", "--samples", "100_000_001", "x.png"], "--samples"),
    (["report", "--samples", "200000000"], "--samples"),
    (["train", "--mc-samples", "100000001"], "--mc-samples"),
    (["simulate", "--percentile", "1e-320"], "--percentile"),
    (["score", "--percentile", "99.99999999999999", "x.png"], "--percentile"),
    (["evaluate", "--percentile", "nan", "--normal", "a", "--anomalous", "b"], "--percentile"),
])
def test_out_of_range_is_refused_before_any_work(args, flag, monkeypatch, capsys):
    def started(*args):
        raise AssertionError("TensorFlow started: the flag was not checked when read")

    monkeypatch.setattr(runtime, "quiet_tensorflow", started)
    with pytest.raises(SystemExit) as info:
        cli.main(args)
    assert info.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(f"ganmc {args[0]}: error: argument {flag}: ")


@pytest.mark.parametrize("text", ["1", "100000000", "100_000_000"])
def test_the_documented_maximum_is_accepted(text):
    assert cliargs.samples(text) == int(text.replace("_", ""))


@pytest.mark.parametrize("text", ["0.001", "50", "99.9999"])
def test_usable_percentiles_are_accepted(text):
    assert cliargs.percentile(text) == float(text)


@pytest.mark.parametrize("args", [["train", "--steps", "0"], ["score"], [],
                                  ["simulate", "--precision", "double"]])
def test_an_argument_error_is_one_line(args, capsys):
    """Issue 34, item 19: argparse's usage block came before the error line."""
    with pytest.raises(SystemExit) as info:
        cli.main(args)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1
    assert err.startswith("ganmc") and ": error: " in err and err.rstrip().endswith("--help)")


def test_tensorflows_own_warnings_stay_off_the_terminal(monkeypatch):
    """Issue 35, item 9: TensorFlow's retracing notes reached the dashboard's terminal (only
    the CLI quieted them). The one start-up of both faces keeps them off unless asked."""
    import logging

    monkeypatch.delenv("GANMC_TF_VERBOSE", raising=False)
    log = logging.getLogger("tensorflow")
    monkeypatch.setattr(log, "level", logging.WARNING)
    runtime.quiet_tensorflow(verbose=True)
    assert log.level == logging.WARNING
    runtime.quiet_tensorflow()
    assert log.level == logging.ERROR


INFO_PROBE = """
import sys
from ganmc.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
main(["info"])
print("tensorflow loaded:", "tensorflow" in sys.modules)
"""


def test_the_commands_import_once_at_their_top_and_help_and_info_load_no_tensorflow():
    """Issue 35: ``commands.py`` hid fourteen imports inside its functions to keep ``--help``
    fast. Its imports are at its top now, and ``cli.main`` imports it when a command runs:
    ``--help`` and ``info`` (a card, read without TensorFlow) still never load TensorFlow."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    import ganmc.cli

    source = Path(ganmc.cli.__file__).with_name("commands.py").read_text()
    inner = [node.lineno for f in ast.walk(ast.parse(source))
             if isinstance(f, ast.FunctionDef) for node in ast.walk(f)
             if isinstance(node, ast.Import | ast.ImportFrom)]
    assert inner == []
    proc = subprocess.run([sys.executable, "-c", INFO_PROBE], capture_output=True, text=True,
                          timeout=120, cwd=Path(ganmc.cli.__file__).parents[2])
    assert proc.returncode == 0, proc.stderr
    assert "usage: ganmc" in proc.stdout and "Monte Carlo" in proc.stdout
    assert proc.stdout.rstrip().endswith("tensorflow loaded: False")
