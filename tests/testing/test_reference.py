"""The oracles of `keras_losses/testing/reference/`: one module per family, each used.

An oracle that no verification case and no test calls checks nothing (or a check
was lost in a move); a verification family without its oracle module, or an oracle
module without its family, breaks the layout CONTRIBUTING.md gives a newcomer.
"""

import ast
import functools
import inspect
import os
import pkgutil

import pytest

from keras_losses.testing import reference
from keras_losses.verify import cases

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEST_ONLY = {"optimizers"}  # row-sparse updates: checked by tests/optimizers, not the verify command


def _modules(package):
    return sorted(info.name for info in pkgutil.iter_modules(package.__path__))


def test_each_verification_family_has_its_oracle_module():
    assert _modules(cases) == sorted(set(_modules(reference)) - TEST_ONLY)


def _sources():
    for top in ("keras_losses", "tests"):
        for directory, _, files in os.walk(os.path.join(ROOT, top)):
            if os.path.join("keras_losses", "testing", "reference") in directory:
                continue
            for file in files:
                if file.endswith(".py"):
                    yield os.path.join(directory, file)


@functools.lru_cache(maxsize=None)
def used_oracles():
    """`{(family, function)}` read by any module outside the oracles: every
    `alias.function` where `alias` is an imported oracle module."""
    used = set()
    for path in _sources():
        with open(path) as f:
            tree = ast.parse(f.read())
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "keras_losses.testing.reference":
                aliases.update({a.asname or a.name: a.name for a in node.names})
            elif isinstance(node, ast.ImportFrom) and node.module == "keras_losses.testing":
                aliases.update({a.asname or a.name: "" for a in node.names if a.name == "reference"})
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                used.add((aliases[node.value.id], node.attr))
    return frozenset(used)


@pytest.mark.parametrize("family", ["", *_modules(reference)])
def test_every_oracle_is_used_by_a_verification_case_or_a_test(family):
    module = reference if not family else __import__(f"keras_losses.testing.reference.{family}", fromlist=["_"])
    with open(module.__file__) as f:
        source = f.read()
    functions = [name for name, fn in vars(module).items()
                 if inspect.isfunction(fn) and fn.__module__ == module.__name__ and not name.startswith("_")]
    assert functions
    used = used_oracles()
    # A public oracle may also serve the others of its module (`all_paths` for brute force).
    unused = [name for name in functions if (family, name) not in used and source.count(f"{name}(") < 2]
    assert unused == [], f"no verification case or test calls {unused}"
