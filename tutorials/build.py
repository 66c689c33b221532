"""Builds and checks the tutorial notebooks from their sources.

Each tutorial is written as a percent-format Python file, `tutorials/src/NN_name.py`
(cells start at `# %%`; markdown cells at `# %% [markdown]`, their lines behind
`# `), and committed as `tutorials/NN_name.ipynb` with the outputs of a full run.

    python tutorials/build.py            # full run of every tutorial: write the notebooks
    python tutorials/build.py --check    # fast run (fewer epochs), write nothing, and check
                                         # that each notebook's cells equal its source
    python tutorials/build.py 02         # only the tutorials whose name contains 02
    python tutorials/build.py --jobs 2   # two tutorials at a time (each in its own kernel)

The notebook reads `KERAS_LOSSES_TUTORIAL_MODE` ("fast" or "full"): the claims it
states are asserted in the full run, whose outputs are the ones committed. The first
figure of each tutorial is also saved to docs/images/ for the README.
"""

import argparse
import base64
import concurrent.futures
import os
import sys
import time

import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = os.path.join(HERE, "src")
IMAGES = os.path.join(os.path.dirname(HERE), "docs", "images")


def cells_of(source_text):
    """(kind, text) for each cell of a percent-format source."""
    cells, kind, lines = [], None, []

    def flush():
        if kind is not None:
            text = "\n".join(lines).strip("\n")
            if kind == "markdown":
                text = "\n".join(
                    line[2:] if line.startswith("# ") else line.lstrip("#") for line in text.splitlines()
                )
            cells.append((kind, text))

    for line in source_text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def notebook_of(source_path):
    with open(source_path) as f:
        cells = cells_of(f.read())
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
        for kind, text in cells
    ]
    return nb


def execute(nb, mode, timeout):
    os.environ["KERAS_LOSSES_TUTORIAL_MODE"] = mode
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": HERE}})
    client.execute()
    return nb


def first_image(nb):
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                return base64.b64decode(data["image/png"])
    return None


def same_cells(built, committed):
    def code(nb):
        return [(c.cell_type, c.source.strip()) for c in nb.cells]

    return code(built) == code(committed)


def build(name, check, timeout):
    """Runs one tutorial (fast and compared with the committed notebook when `check`,
    else full, writing the notebook and its image); returns its failures."""
    failures = []
    start = time.perf_counter()
    nb = notebook_of(os.path.join(SOURCES, f"{name}.py"))
    target = os.path.join(HERE, f"{name}.ipynb")
    if check:
        if not os.path.exists(target):
            failures.append(f"{name}: no committed notebook (run python tutorials/build.py {name})")
        elif not same_cells(nb, nbformat.read(target, as_version=4)):
            failures.append(f"{name}: the committed notebook differs from tutorials/src/{name}.py; rebuild it")
    try:
        execute(nb, "fast" if check else "full", timeout)
    except Exception as error:  # report every tutorial, then fail
        failures.append(f"{name}: {type(error).__name__}: {str(error)[-2000:]}")
        print(f"FAILED {name} after {time.perf_counter() - start:.0f} s", flush=True)
        return failures
    if not check:
        nbformat.write(nb, target)
        image = first_image(nb)
        if image:
            os.makedirs(IMAGES, exist_ok=True)
            with open(os.path.join(IMAGES, f"{name}.png"), "wb") as f:
                f.write(image)
    print(f"ok     {name} ({'fast' if check else 'full'} run, {time.perf_counter() - start:.0f} s)", flush=True)
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fast run; write nothing; compare with the committed notebooks")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--jobs", type=int, default=1, help="tutorials run at the same time")
    parser.add_argument("only", nargs="*", help="substrings of tutorial names")
    args = parser.parse_args(argv)
    names = sorted(f[:-3] for f in os.listdir(SOURCES) if f.endswith(".py"))
    if args.only:
        names = [n for n in names if any(o in n for o in args.only)]
    if args.jobs > 1 and len(names) > 1:
        with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
            results = pool.map(build, names, [args.check] * len(names), [args.timeout] * len(names))
            failures = [failure for result in results for failure in result]
    else:
        failures = [failure for name in names for failure in build(name, args.check, args.timeout)]
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
