"""Weight penalties for Keras 3, attaching them to a built model, and logging them.

* Penalties (`keras.regularizers.Regularizer` subclasses): `L1`, `L2` (with the
  CS231n `half=True`), `ElasticNet`, `MaxNormPenalty` (a soft max-norm), `GroupLasso`.
* `apply(model, kernel=..., bias=..., layer_types=...)`: a copy of a built
  Functional or Sequential model with the penalties on its layers.
* `DataLoss` (a metric) and `LogRegularizationLoss` (a callback): the data loss and
  the regularization loss side by side in the training logs and `History`.

Keras's hard `keras.constraints.MaxNorm` and `keras.layers.Dropout` are built in and
work beside these; see docs/regularization.md.

`__all__` holds the classes imported below, which `keras_losses` re-exports at the top
level; `apply` is called from here.
"""

from keras_losses.regularizers.apply import apply
from keras_losses.regularizers.monitoring import DataLoss
from keras_losses.regularizers.monitoring import LogRegularizationLoss
from keras_losses.regularizers.penalties import L1
from keras_losses.regularizers.penalties import L2
from keras_losses.regularizers.penalties import ElasticNet
from keras_losses.regularizers.penalties import GroupLasso
from keras_losses.regularizers.penalties import MaxNormPenalty

__all__ = sorted(name for name, value in globals().items() if isinstance(value, type))
