"""Every Python block of README.md and docs/ runs, as a reader would run it.

The blocks of one page run top to bottom in one fresh Python process (a later block
may use what an earlier one built, as the text reads), from an empty folder, on
TensorFlow. An HTML comment on the line before a block changes that:

    <!-- docs-test: new process -->      the block starts a new process (it picks
                                         another backend, or says "in a new process")
    <!-- docs-test: skip: REASON -->     not run; the reason is required

Benchmark numbers have one source, benchmarks/README.md (written from the scripts'
output): a guide links there instead of quoting a timing table of its own.
"""

import glob
import json
import os
import re
import subprocess
import sys

import keras
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md"] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True)
)
_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
_MARKER = re.compile(r"<!-- docs-test: (new process|skip: (.+?)) -->\s*$")

# Runs the blocks of one process: each under its own file name, so a traceback names
# the page and the line.
_RUNNER = """
import json, sys
namespace = {"__name__": "__main__"}
for name, code in json.load(open(sys.argv[1])):
    print(f"--- running {name}", flush=True)
    exec(compile(code, name, "exec"), namespace)
"""


def blocks(page):
    """[(name "page:line", code, marker)] for each ```python block of a page."""
    text = open(os.path.join(ROOT, page)).read()
    found = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.search(before)
        found.append((f"{page}:{line + 1}", match.group(1), marker.group(1) if marker else None))
    return found


def processes(page):
    """The blocks to run, grouped by the process they run in."""
    groups = []
    for name, code, marker in blocks(page):
        if marker is not None and marker.startswith("skip"):
            continue
        if not groups or marker == "new process":
            groups.append([])
        # Lines cut short with "..." (model = ...) are fine Python; nothing else is faked.
        groups[-1].append((name, code))
    return groups


PAGES_WITH_CODE = [page for page in PAGES if blocks(page)]


def test_the_pages_with_code_are_found():
    assert "README.md" in PAGES_WITH_CODE and "docs/focal.md" in PAGES_WITH_CODE


def test_skipped_blocks_give_a_reason_and_stay_rare():
    skipped = [
        (name, marker) for page in PAGES for name, _, marker in blocks(page) if marker and marker.startswith("skip")
    ]
    assert all(len(marker) > len("skip: ") + 10 for _, marker in skipped), skipped
    assert len(skipped) <= 1, f"only the two-worker reproduction may be skipped: {skipped}"


@pytest.mark.subprocess
@pytest.mark.parametrize("page", PAGES_WITH_CODE)
def test_python_blocks_run(page, tmp_path):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the pages' code runs once, in the TensorFlow run (it uses tf.distribute)")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": ROOT}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    (tmp_path / "run_blocks.py").write_text(_RUNNER)
    for i, group in enumerate(processes(page)):
        listing = tmp_path / f"blocks{i}.json"
        listing.write_text(json.dumps(group))
        result = subprocess.run(
            [sys.executable, str(tmp_path / "run_blocks.py"), str(listing)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 0, (
            f"a block of {page} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )


def _timing_tables(page):
    """The header rows of Markdown tables with a column of times ("ms") or memory ("MiB")."""
    text = open(os.path.join(ROOT, page)).read()
    return [line for line in text.splitlines() if line.lstrip().startswith("|") and re.search(r"\b(ms|MiB)\b", line)]


@pytest.mark.parametrize("page", [p for p in PAGES if p != "README.md"])
def test_benchmark_numbers_have_one_source(page):
    # Timing tables live in benchmarks/README.md only; guides link to it, so two
    # pages cannot quote different runs of the same benchmark.
    assert _timing_tables(page) == [], f"{page} quotes a benchmark table: link to benchmarks/README.md"
