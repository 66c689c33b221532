"""A quiet start for `python -m keras_losses.verify`.

TensorFlow writes C++ log lines to stderr when it is imported (the oneDNN notice, CPU
feature hints, the absl preamble), some before `TF_CPP_MIN_LOG_LEVEL` can take
effect. To a user running the verification command they look like errors. When that
command starts, and the user has not set `TF_CPP_MIN_LOG_LEVEL`, the import of the
backend sets it to 3 (TensorFlow also logs harmless oneDNN notices at error
level while it runs) and holds back those lines; everything else written to stderr
during the import is passed on. A program that imports `keras_losses` is left alone.
"""

import contextlib
import os
import re
import sys
import tempfile

# C++ log lines of TensorFlow/XLA at info or warning level ("I0000 00:00:..." or
# "W0000 ..."), and at error level the ones known to be harmless notices.
_INFO_OR_WARNING = re.compile(r"^[IW]\d{4} \d\d:\d\d:\d\d")
_ERROR = re.compile(r"^E\d{4} \d\d:\d\d:\d\d")
_HARMLESS = (
    "oneDNN",
    "Unable to register cu",
    "cuInit",
    "computation_placer",
    "cpu_feature_guard",
)
_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "To enable the following instructions",
    "rebuild TensorFlow with the appropriate compiler flags",
)


def is_noise(line):
    """Whether a stderr line is a backend's start-up log line, not a real problem."""
    if _INFO_OR_WARNING.match(line) or any(n in line for n in _NOISE):
        return True
    return bool(_ERROR.match(line)) and any(h in line for h in _HARMLESS)


def running_verify(argv=None):
    """Whether this process is `python -m keras_losses.verify ...`."""
    argv = list(getattr(sys, "orig_argv", []) if argv is None else argv)
    for i, arg in enumerate(argv):
        module = argv[i + 1] if arg == "-m" and i + 1 < len(argv) else arg[2:] if arg.startswith("-m") else None
        if module is not None:
            return module in ("keras_losses.verify", "keras_losses.verify.__main__")
    return False


@contextlib.contextmanager
def quiet_backend_import(argv=None):
    """Holds back the backend's start-up log lines, for the verification command only."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ or not running_verify(argv) or "tensorflow" in sys.modules:
        yield
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # 2 still lets through oneDNN's E-level notices
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            kept = [line for line in log.read().decode(errors="replace").splitlines() if not is_noise(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


BACKENDS = ("tensorflow", "jax", "torch")
_EXTRAS = "pip install 'keras-losses[tensorflow]'   (or [tensorflow-cpu], [jax], [torch])"


def installed_backends():
    """The Keras backends whose package can be imported here (without importing it)."""
    import importlib.util

    found = []
    for name in BACKENDS:
        try:
            if importlib.util.find_spec(name) is not None:
                found.append(name)
        except (ImportError, ValueError):
            pass
    return found


def _configured_backend():
    """(backend Keras was asked for, where that came from)."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"], "env"
    import json

    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as f:
            backend = json.load(f).get("backend")
        if backend:
            return backend, os.path.join(home, "keras.json")
    except (OSError, ValueError, AttributeError):
        pass
    return "tensorflow", None


def import_error_message(error):
    """What to tell a user whose `import keras` failed: what is missing, what to set."""
    if getattr(error, "name", None) == "keras" or "No module named 'keras'" in str(error):
        return (
            "keras_losses needs Keras 3 and one backend. Install it with one of them:\n"
            f"    {_EXTRAS}\n"
            f"The import failed with: {error}"
        )
    backend, source = _configured_backend()
    installed = installed_backends()
    if source == "env":
        why = f"KERAS_BACKEND is set to {backend!r}"
    elif source is not None and backend != "tensorflow":  # Keras writes its default there itself
        why = f"KERAS_BACKEND is not set, so Keras uses {backend!r}, the backend in {source}"
    else:
        why = f"KERAS_BACKEND is not set, so Keras uses its default backend, {backend!r}"
    if backend in installed:
        problem = f"{why}, which is installed but failed to import"
    else:
        problem = f"{why}, which is not installed"
    others = [b for b in installed if b != backend]
    if others:
        advice = (
            f"Installed backends: {', '.join(others)}. Select one before keras is first "
            f"imported, e.g. in the shell: export KERAS_BACKEND={others[0]}\n"
            f"(or os.environ['KERAS_BACKEND'] = {others[0]!r} at the top of the program). "
            f"Or install {backend}:\n    {_EXTRAS}"
        )
    else:
        advice = f"No Keras backend is installed. Install one, and set KERAS_BACKEND to it:\n    {_EXTRAS}"
    return (
        f"keras_losses needs Keras 3 and one backend. {problem}.\n{advice}\n"
        f"The import failed with: {error}"
    )
