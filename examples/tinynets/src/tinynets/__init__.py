"""tinynets: a family of tiny 1-D CNNs on MNIST-1D, added to cnnablate as a plugin.

Nothing here is imported by hand: cnnablate reads this package's entry points
(pyproject.toml) and imports `tinynets.presets`, `tinynets.data` and `tinynets.activations`
when it needs them.
"""
