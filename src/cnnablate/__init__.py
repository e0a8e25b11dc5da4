"""cnnablate: the lecture's convolutional-network experiments as reproducible ablations."""

__version__ = "0.1.0"
