# Doctests run over the package (`pytest --doctest-modules keras_losses`); this module
# would exit the process when imported.
collect_ignore = ["keras_losses/verify/__main__.py"]
