"""The packed-layers microbenchmark's parts (perf/packs.py): the module's own updates of a pack
of the kind asked for, timed by the speed checks' clock; threads labelled as such on the CPU;
the recommendation it makes from its measurements."""

from __future__ import annotations

import pytest
import torch

from cnnablate.models.grouped import GroupedNetwork
from cnnablate.perf.packs import (
    LONE,
    THREADS,
    Measurement,
    Trainee,
    measure_concurrent,
    measure_packed,
    recommend,
)

CPU = torch.device("cpu")


def test_a_trainee_runs_the_modules_updates_with_the_packed_layers_asked_for():
    trainee = Trainee("udl-cnn", [0, 1], "unfold", CPU)
    before = [p.detach().clone() for p in trainee.module.parameters()]
    losses, logits = trainee.graphed(*trainee.data(3, CPU, seed=0))
    assert isinstance(trainee.module.net, GroupedNetwork)
    assert trainee.module.net.layers_path == "unfold" and trainee.update_path == "eager"
    assert losses.shape == (3, 2) and logits.shape == (3, 2, 100, 10)
    after = list(trainee.module.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_a_measurement_says_what_it_timed():
    packed = measure_packed("udl-cnn", 2, "grouped", CPU, steps=2, seconds=0.0)
    assert (packed.how, packed.networks, packed.update_path) == ("packed: grouped", 2, "eager")
    assert packed.us_per_update > 0
    assert packed.updates_per_s == pytest.approx(2e6 / packed.us_per_update)
    assert measure_packed("udl-cnn", 1, "unfold", CPU, steps=2, seconds=0.0).how == LONE
    threads = measure_concurrent("udl-cnn", 2, CPU, steps=2, seconds=0.0)
    assert threads.how == THREADS and threads.networks == 2


def rows(preset: str, micros: dict[str, dict[int, float]]) -> list[Measurement]:
    return [
        Measurement(preset, f"packed: {kind}", k, us, 1e6 * k / us, "cuda-graph")
        for kind, by_k in micros.items()
        for k, us in by_k.items()
    ]


def test_the_recommendation_is_the_fastest_kind_by_a_margin_over_vmap():
    measured = rows("a", {"vmap": {2: 100, 4: 200, 8: 400, 16: 800}})
    measured += rows("a", {"grouped": {2: 80, 4: 160, 8: 320, 16: 5000}})  # k=16 not counted
    measured += rows("a", {"unfold": {2: 90, 4: 180, 8: 360}})
    kind, ratios = recommend(measured, "a")
    assert kind == "grouped" and ratios == pytest.approx({"grouped": 0.8, "unfold": 0.9})
    close = rows("b", {"vmap": {2: 100}, "grouped": {2: 97}, "unfold": {2: 130}})
    assert recommend(close, "b")[0] == "vmap"  # 3% is within the noise
    assert recommend(measured, "not measured") == ("vmap", {})
