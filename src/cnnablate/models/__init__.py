"""Plain nn.Module builders for the lecture's networks."""

from cnnablate.models.network import build_network, count_params, weight_parameters

__all__ = ["build_network", "count_params", "weight_parameters"]
