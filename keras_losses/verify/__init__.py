"""The verification command: `python -m keras_losses.verify`.

Runs every public loss and regularizer against its references (NumPy oracles and
the built-ins of Keras, TensorFlow and PyTorch), values and gradients, in every
execution mode of the active backend, on every visible device, with float32,
float16 and bfloat16 inputs. See `python -m keras_losses.verify --help`.
"""

from keras_losses.verify.cli import main
