"""Losses for Keras 3: each class with its pure function twin."""

from keras_losses.losses.base import Loss
from keras_losses.losses.contrastive import clip_loss
from keras_losses.losses.contrastive import CLIPLoss
from keras_losses.losses.contrastive import siglip_loss
from keras_losses.losses.contrastive import SigLIPLoss
from keras_losses.losses.focal import binary_focal_loss
from keras_losses.losses.focal import BinaryFocalLoss
from keras_losses.losses.focal import categorical_focal_loss
from keras_losses.losses.focal import CategoricalFocalLoss
from keras_losses.losses.focal import sparse_categorical_focal_loss
from keras_losses.losses.focal import SparseCategoricalFocalLoss
from keras_losses.losses.hierarchical import hierarchical_softmax_loss
from keras_losses.losses.hierarchical import HierarchicalSoftmaxLoss
from keras_losses.losses.hinges import Hinge
from keras_losses.losses.hinges import hinge
from keras_losses.losses.hinges import multiclass_hinge
from keras_losses.losses.hinges import MulticlassHinge
from keras_losses.losses.hinges import sparse_multiclass_hinge
from keras_losses.losses.hinges import SparseMulticlassHinge
from keras_losses.losses.hinges import squared_hinge
from keras_losses.losses.hinges import SquaredHinge
from keras_losses.losses.regression import mean_squared_logarithmic_error
from keras_losses.losses.regression import MeanSquaredLogarithmicError
from keras_losses.losses.linear import linear_cross_entropy
from keras_losses.losses.linear import LinearCrossEntropyLoss
