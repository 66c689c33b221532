"""keras_losses: losses and regularizers for Keras 3.

Numerically stable from logits, right under mixed precision and `tf.distribute`,
saved and loaded without `custom_objects`: importing this package registers every
object with Keras.
"""

from keras_losses._version import __version__

from keras_losses import _startup

try:
    with _startup.quiet_backend_import():  # TensorFlow's log lines, for the verify command only
        import keras
except ImportError as error:  # Keras itself, or the backend it was told to use, is missing
    raise ImportError(_startup.import_error_message(error)) from error

if int(keras.__version__.split(".")[0]) < 3:
    raise ImportError(
        f"keras_losses needs Keras 3; found keras {keras.__version__}. "
        "Upgrade with: pip install -U 'keras>=3.15.1'"
    )

from keras_losses import crf
from keras_losses import initializers
from keras_losses import layers
from keras_losses import losses
from keras_losses import optimizers
from keras_losses import regularizers
from keras_losses import trees
from keras_losses.initializers import PriorProbability
from keras_losses.layers import *  # noqa: F403  (the list: layers.__all__)
from keras_losses.losses import *  # noqa: F403  (the list of every loss: losses.__all__)
from keras_losses.optimizers import LazyAdam
from keras_losses.regularizers import *  # noqa: F403  (the list: regularizers.__all__)
from keras_losses.trees import Tree
