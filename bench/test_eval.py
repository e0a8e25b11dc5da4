"""Evaluation throughput of `cnnablate.train.evaluate`: no gradients, the preset's eval batch,
network and split on the benchmark's device."""

from __future__ import annotations

import pytest

from bench.comparators import OURS, bench_device, load_datamodule
from cnnablate.data.batches import EvalBatches
from cnnablate.module import Classifier
from cnnablate.presets import get_preset
from cnnablate.train import evaluate

ROUNDS = 3


@pytest.mark.parametrize("preset", ["nielsen-conv2-relu", "udl-cnn"])
def test_evaluation(preset: str, measure) -> None:
    config = get_preset(preset).config
    datamodule = load_datamodule(config)
    module = Classifier(config, datamodule.input_shape, datamodule.num_train).to(bench_device())
    # The training split: more samples than the test split, for a steadier timing.
    split = datamodule.splits["train"].to(bench_device())
    batches = EvalBatches(split.x, split.y, config.data.eval_batch_size)
    # evaluate() runs its first batch once more, untimed by itself but timed here.
    samples = len(split) + min(len(split), config.data.eval_batch_size)
    measure(
        lambda: evaluate(module, batches),
        rounds=ROUNDS,
        kind="eval",
        network=preset,
        contender=OURS,
        samples=samples,
    )
