"""The tools that build the documentation site (tools/), checked without building it."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _module(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_doctest_blocks_become_pycon_fences():
    pytest.importorskip("griffe")
    fence = _module("griffe_doctest_blocks").fence_doctests
    text = "Summary.\n\nExample:\n\n>>> x = 1\n>>> x + 1\n2\n\nMore text.\n    >>> y\n    3\n"
    assert fence(text) == (
        "Summary.\n\nExample:\n\n```pycon\n>>> x = 1\n>>> x + 1\n2\n```\n\nMore text.\n"
        "    ```pycon\n    >>> y\n    3\n    ```\n"
    )
    already = "```python\n>>> inside a fence\n```"
    assert fence(already) == already


def test_every_docstring_example_is_fenced_in_the_reference_pages():
    griffe = pytest.importorskip("griffe")
    extension = _module("griffe_doctest_blocks").DoctestBlocks()
    package = griffe.load("keras_losses", search_paths=[ROOT], extensions=griffe.load_extensions(extension))
    seen = 0

    def visit(obj):
        nonlocal seen
        if obj.is_alias:
            return
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            seen += 1
            for section in obj.docstring.parse("google"):
                # No doctest line may be left as Markdown text (it would render as
                # nested blockquotes); each is inside a ```pycon fence.
                if section.kind.value == "text":
                    in_fence = False
                    for line in section.value.splitlines():
                        if line.strip().startswith("```"):
                            in_fence = not in_fence
                        assert in_fence or not line.lstrip().startswith(">>>"), (obj.path, line)
        for member in obj.members.values():
            visit(member)

    visit(package)
    assert seen > 20


def test_the_site_serves_mathjax_itself():
    mkdocs = pytest.importorskip("mkdocs")  # noqa: F841
    with open(os.path.join(ROOT, "mkdocs.yml")) as f:
        config = f.read()
    assert "https://" not in config.split("extra_javascript:")[1].split("hooks:")[0]
    hooks = _module("mkdocs_hooks")
    try:
        directory = hooks.mathjax_directory()
    except RuntimeError:
        pytest.skip("django-static-mathjax (the docs extra) is not installed")
    assert os.path.isfile(os.path.join(directory, "tex-mml-chtml.js"))
    assert os.listdir(os.path.join(directory, "output", "chtml", "fonts", "woff-v2"))
