"""Saves this release's golden models: python tests/golden/generate.py

Every example model of `keras_losses.testing.catalog` is trained one step, saved
to `tests/golden/<version>/NAME.keras`, and its inputs and outputs stored beside it
in `NAME.npz`. Commit the folder with the release; every later release must load
these files and reproduce the outputs (tests/test_serialization.py). Existing files
of a version are never overwritten: delete the folder first to regenerate a version
that has not been released.
"""

import os
import sys

import keras_losses
from keras_losses.testing import catalog
from keras_losses.testing import roundtrip


def main():
    directory = os.path.join(os.path.dirname(os.path.abspath(__file__)), keras_losses.__version__)
    os.makedirs(directory, exist_ok=True)
    for entry in catalog.ENTRIES:
        if entry.model is None:
            continue
        if os.path.exists(os.path.join(directory, f"{entry.name}.keras")):
            print(f"kept    {entry.name}")
            continue
        roundtrip.save(entry, directory)
        print(f"saved   {entry.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
