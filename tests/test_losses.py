import math

import pytest
import torch

from cnnablate.losses import binary_cross_entropy, cross_entropy, quadratic

Z = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
Y = torch.tensor([0, 2])


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def test_cross_entropy_is_mean_negative_log_softmax():
    def nll(row, label):
        return -(row[label] - math.log(sum(math.exp(v) for v in row)))

    expected = (nll([2.0, -1.0, 0.5], 0) + nll([0.0, 1.0, -2.0], 2)) / 2
    assert cross_entropy(Z, Y).item() == pytest.approx(expected, rel=1e-6)


def test_bce_sums_over_outputs_and_averages_over_batch():
    def per_sample(row, label):
        total = 0.0
        for j, v in enumerate(row):
            a, t = sigmoid(v), float(j == label)
            total += -(t * math.log(a) + (1 - t) * math.log(1 - a))
        return total

    expected = (per_sample([2.0, -1.0, 0.5], 0) + per_sample([0.0, 1.0, -2.0], 2)) / 2
    assert binary_cross_entropy(Z, Y).item() == pytest.approx(expected, rel=1e-6)


def test_quadratic_cost_is_half_squared_distance_of_sigmoid_outputs():
    def per_sample(row, label):
        return 0.5 * sum((sigmoid(v) - float(j == label)) ** 2 for j, v in enumerate(row))

    expected = (per_sample([2.0, -1.0, 0.5], 0) + per_sample([0.0, 1.0, -2.0], 2)) / 2
    assert quadratic(Z, Y).item() == pytest.approx(expected, rel=1e-6)


def test_quadratic_gradient_shows_the_learning_slowdown_of_saturated_sigmoids():
    # Nielsen ch. 3: dC/dz = (a - y) sigma'(z) for MSE, but (a - y) for cross-entropy.
    z = torch.tensor([[8.0, -8.0]], requires_grad=True)  # saturated and badly wrong
    y = torch.tensor([1])
    quadratic(z, y).backward()
    mse_grad = z.grad.abs().max().item()
    z.grad = None
    binary_cross_entropy(z, y).backward()
    assert mse_grad < 1e-2 < z.grad.abs().max().item()
