"""The package's folders are its layers, and no import runs back up a level.

``ganmc/`` is grouped by the chain it implements, bottom to top: ``core`` (errors, files,
choice lists, the score registry), ``images`` (reading images), ``nets`` (networks and
training), ``scores``, ``thresholds`` (thresholds, Monte Carlo, verdicts and what they are
measured by), ``storage`` (model folders on disk), ``model`` (the Detector), ``report`` and
``deploy`` (``ganmc export``), ``app`` (the use cases) and ``cli``. docs/architecture.md
draws it. Imports only for type checkers (``if TYPE_CHECKING:``) do not count: they run
nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ganmc

LAYERS = ("core", "images", "nets", "scores", "thresholds", "storage", "model", "report",
          "deploy", "app", "cli")
PACKAGE = Path(ganmc.__file__).parent


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every ganmc import that runs, ``from ganmc import x`` as
    ``ganmc.x``; those under ``if TYPE_CHECKING:`` are left out."""
    skip = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Name)
                and node.test.id == "TYPE_CHECKING"):
            skip |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "ganmc":
                found += [(node.lineno, f"ganmc.{a.name}") for a in node.names]
            elif node.module.startswith("ganmc."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("ganmc.")]
    return found


def test_every_module_sits_in_a_layer_folder():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    folders = sorted(p.name for p in PACKAGE.iterdir()
                     if p.is_dir() and (p / "__init__.py").is_file())
    assert loose == [] and folders == sorted(LAYERS)


def test_no_import_runs_back_up_a_level():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) == 1:  # ganmc/__init__.py: the public API, imported lazily
            continue
        mine = LAYERS.index(rel.parts[0])
        for line, module in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            parts = module.split(".")
            if parts[1] == "__version__":
                continue
            theirs = LAYERS.index(parts[1]) if parts[1] in LAYERS else len(LAYERS)
            if theirs > mine:
                upward.append(f"{rel}:{line} imports {module}")
    assert upward == []


def test_the_public_api_stays_at_the_top():
    for name in ganmc.__all__:
        assert getattr(ganmc, name) is not None
