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
from keras_losses import optimizers
from keras_losses.optimizers import LazyAdam
from keras_losses.losses import contrastive_pair_loss
from keras_losses.losses import ContrastivePairLoss
from keras_losses.losses import lifted_struct_loss
from keras_losses.losses import LiftedStructLoss
from keras_losses.losses import multi_similarity_loss
from keras_losses.losses import MultiSimilarityLoss
from keras_losses.losses import npairs_loss
from keras_losses.losses import NPairsLoss
from keras_losses.losses import supervised_contrastive_loss
from keras_losses.losses import SupervisedContrastiveLoss
from keras_losses.losses import triplet_loss
from keras_losses.losses import TripletLoss
from keras_losses.losses import pinball_loss
from keras_losses.losses import PinballLoss
from keras_losses.losses import sparsemax_loss
from keras_losses.losses import SparsemaxLoss
from keras_losses import crf
from keras_losses.layers import CRF
from keras_losses.losses import crf_loss
from keras_losses.losses import CRFLoss
from keras_losses.losses import structured_hinge_loss
from keras_losses.losses import StructuredHingeLoss
from keras_losses.layers import LinearCrossEntropyHead
from keras_losses.losses import linear_cross_entropy
from keras_losses.losses import LinearCrossEntropyLoss
