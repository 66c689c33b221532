"""Test support shared by the test suite and the verification command.

* `reference`: plain NumPy oracles written from the formulas, one module per family.
* `backends`: execution modes, devices and dtypes of the active backend, and
  gradients in each.
* `catalog`: an example of every public object and a model that uses it; for a loss,
  its function twin and the configurations the property test checks (`extremes`:
  how their extreme inputs are drawn).
* `roundtrip`: save models and check them in a fresh process.
"""
