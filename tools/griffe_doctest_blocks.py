"""Griffe extension: the `>>>` examples of a docstring as `pycon` code blocks.

The docstrings here follow the project's style (an `Example:` line, a blank line,
then doctest lines at the docstring's own indentation). Griffe's Google parser
only reads an indented `Examples:` section, so without this the doctest lines
reach Markdown as text, where `>>>` opens three nested blockquotes and the lines
run together. Each run of doctest lines (prompts, continuations and expected
output, up to a blank line) is fenced as a `pycon` block instead; the docstrings
themselves stay as they are, doctests included.
"""

import re

import griffe

_PROMPT = re.compile(r"^(\s*)>>>( |$)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def fence_doctests(text):
    """`text` with every doctest block wrapped in a ```` ```pycon ```` fence."""
    lines = text.split("\n")
    out = []
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            in_fence = not in_fence
        prompt = None if in_fence else _PROMPT.match(line)
        if prompt is None:
            out.append(line)
            i += 1
            continue
        indent = prompt.group(1)
        block = []
        while i < len(lines) and lines[i].strip():
            block.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        out.append(f"{indent}```pycon")
        out.extend(indent + b for b in block)
        out.append(f"{indent}```")
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    """Fences the doctest blocks of every docstring before it is parsed."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
