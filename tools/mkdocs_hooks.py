"""MkDocs hook: the README is the home page (docs/tutorials links to ../tutorials).

The README links to files as they sit in the repository (`docs/focal.md`,
`tutorials/02_focal.ipynb`); on the site those pages live at the docs root and under
`tutorials/`, so the links are rewritten here rather than written twice.
"""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri != "index.md":
        return markdown
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    readme = re.sub(r"\]\(docs/", "](", readme)
    readme = re.sub(r"\]\((CONTRIBUTING|CHANGELOG)\.md\)", r"](https://github.com/keras-losses/keras-losses/blob/main/\1.md)", readme)
    return readme
