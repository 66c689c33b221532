import os

# Doctests run over the package and the tests (`pytest tests keras_losses
# --doctest-modules`). Scripts that the tests start in their own processes (they read
# sys.argv or split the CPU on import) and `python -m` entry points are not modules
# to import here.
collect_ignore = ["keras_losses/verify/__main__.py"]


def pytest_ignore_collect(collection_path, config):
    path = str(collection_path)
    tests = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests") + os.sep
    if path.startswith(tests) and path.endswith(".py"):
        name = os.path.basename(path)
        if not (name.startswith("test_") or name in ("conftest.py", "__init__.py")):
            return True
    return None
