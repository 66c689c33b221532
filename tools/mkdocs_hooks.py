"""MkDocs hooks: the README is the home page, and MathJax is served by the site.

The README links to files as they sit in the repository (`docs/focal.md`,
`tutorials/02_focal.ipynb`); on the site those pages live at the docs root and under
`tutorials/` (docs/tutorials links to ../tutorials), so the links are rewritten here
rather than written twice.

MathJax 3 comes from the `django-static-mathjax` package (the `docs` extra), whose
`mathjax/static/mathjax/es5/` is the MathJax distribution: the files the site needs
are added under `assets/mathjax/`, so the built site renders its maths offline.
"""

import importlib.util
import os
import re

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri != "index.md":
        return markdown
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    readme = re.sub(r"\]\(docs/", "](", readme)
    readme = re.sub(r"\]\((CONTRIBUTING|CHANGELOG)\.md\)", r"](https://github.com/keras-losses/keras-losses/blob/main/\1.md)", readme)
    return readme


# The component the site loads, the fonts it draws with, and the TeX extensions it
# may load on demand (autoload): the rest of the distribution is never requested.
MATHJAX_PARTS = ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2/", "input/tex/extensions/")


def mathjax_directory():
    spec = importlib.util.find_spec("mathjax")
    directory = None if spec is None else os.path.join(os.path.dirname(spec.origin), "static", "mathjax", "es5")
    if directory is None or not os.path.isfile(os.path.join(directory, "tex-mml-chtml.js")):
        raise RuntimeError(
            "MathJax is not installed: `pip install django-static-mathjax` (in the `docs` "
            "extra) ships the MathJax 3 files the site serves."
        )
    return directory


def on_files(files, config):
    source = mathjax_directory()
    for root, _, names in os.walk(source):
        for name in sorted(names):
            relative = os.path.relpath(os.path.join(root, name), source).replace(os.sep, "/")
            if relative.startswith(MATHJAX_PARTS):
                files.append(
                    File.generated(config, "assets/mathjax/" + relative, abs_src_path=os.path.join(root, name))
                )
    return files
