import sys

from keras_losses.verify.cli import main

sys.exit(main())
