"""keras_losses: losses and regularizers for Keras 3.

Numerically stable from logits, right under mixed precision and `tf.distribute`,
saved and loaded without `custom_objects`: importing this package registers every
object with Keras.
"""

from keras_losses._version import __version__

try:
    import keras
except ImportError as error:  # Keras itself, or the backend it was told to use, is missing
    raise ImportError(
        "keras_losses needs Keras 3 and one backend. Install one of:\n"
        "    pip install 'keras-losses[tensorflow]'   (or [tensorflow-cpu])\n"
        "    pip install 'keras-losses[jax]'\n"
        "    pip install 'keras-losses[torch]'\n"
        "and select it with the KERAS_BACKEND environment variable "
        f"(tensorflow, jax or torch). The import failed with: {error}"
    ) from error

if int(keras.__version__.split(".")[0]) < 3:
    raise ImportError(
        f"keras_losses needs Keras 3; found keras {keras.__version__}. "
        "Upgrade with: pip install -U 'keras>=3.15.1'"
    )

from keras_losses import initializers
from keras_losses import layers
from keras_losses import losses
from keras_losses import regularizers
from keras_losses import trees
from keras_losses.initializers import PriorProbability
from keras_losses.layers import ContrastiveLogits
from keras_losses.layers import HierarchicalSoftmax
from keras_losses.losses import binary_focal_loss
from keras_losses.losses import BinaryFocalLoss
from keras_losses.losses import categorical_focal_loss
from keras_losses.losses import CategoricalFocalLoss
from keras_losses.losses import clip_loss
from keras_losses.losses import CLIPLoss
from keras_losses.losses import hierarchical_softmax_loss
from keras_losses.losses import HierarchicalSoftmaxLoss
from keras_losses.losses import hinge
from keras_losses.losses import Hinge
from keras_losses.losses import mean_squared_logarithmic_error
from keras_losses.losses import MeanSquaredLogarithmicError
from keras_losses.losses import multiclass_hinge
from keras_losses.losses import MulticlassHinge
from keras_losses.losses import siglip_loss
from keras_losses.losses import SigLIPLoss
from keras_losses.losses import sparse_categorical_focal_loss
from keras_losses.losses import sparse_multiclass_hinge
from keras_losses.losses import SparseCategoricalFocalLoss
from keras_losses.losses import SparseMulticlassHinge
from keras_losses.losses import squared_hinge
from keras_losses.losses import SquaredHinge
from keras_losses.regularizers import DataLoss
from keras_losses.regularizers import ElasticNet
from keras_losses.regularizers import GroupLasso
from keras_losses.regularizers import L1
from keras_losses.regularizers import L2
from keras_losses.regularizers import LogRegularizationLoss
from keras_losses.regularizers import MaxNormPenalty
from keras_losses.trees import Tree
from keras_losses.layers import LinearCrossEntropyHead
from keras_losses.losses import linear_cross_entropy
from keras_losses.losses import LinearCrossEntropyLoss
