import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import hypothesis  # noqa: E402
import keras  # noqa: E402
import pytest  # noqa: E402

# Property tests are derandomized and small: they guard invariants, and CI must be
# repeatable and quick.
hypothesis.settings.register_profile(
    "ci", derandomize=True, max_examples=25, deadline=None, print_blob=True
)
hypothesis.settings.load_profile("ci")


def pytest_report_header(config):
    from keras_losses.testing import backends

    return (
        f"keras {keras.__version__}, backend {keras.backend.backend()}, "
        f"modes {backends.modes()}, devices {backends.devices()}"
    )


@pytest.fixture(autouse=True)
def _float32_policy():
    """Each test starts (and ends) under the default float32 policy."""
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
