"""Losses for Keras 3: each class with its pure function twin.

This file is the one list of the public losses: every class and function imported
below is in `__all__`, which `keras_losses` re-exports at the top level. `Loss`, the
base class to subclass, stays here.
"""

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
from keras_losses.losses.metric_learning import contrastive_pair_loss
from keras_losses.losses.metric_learning import ContrastivePairLoss
from keras_losses.losses.metric_learning import lifted_struct_loss
from keras_losses.losses.metric_learning import LiftedStructLoss
from keras_losses.losses.metric_learning import multi_similarity_loss
from keras_losses.losses.metric_learning import MultiSimilarityLoss
from keras_losses.losses.metric_learning import npairs_loss
from keras_losses.losses.metric_learning import NPairsLoss
from keras_losses.losses.metric_learning import supervised_contrastive_loss
from keras_losses.losses.metric_learning import SupervisedContrastiveLoss
from keras_losses.losses.metric_learning import triplet_loss
from keras_losses.losses.metric_learning import TripletLoss
from keras_losses.losses.quantile import pinball_loss
from keras_losses.losses.quantile import PinballLoss
from keras_losses.losses.sparsemax import sparsemax_loss
from keras_losses.losses.sparsemax import SparsemaxLoss
from keras_losses.losses.crf import crf_loss
from keras_losses.losses.crf import CRFLoss
from keras_losses.losses.crf import structured_hinge_loss
from keras_losses.losses.crf import StructuredHingeLoss
from keras_losses.losses.linear import linear_cross_entropy
from keras_losses.losses.linear import LinearCrossEntropyLoss

__all__ = sorted(name for name, value in globals().items() if callable(value) and value is not Loss and name[0] != "_")
