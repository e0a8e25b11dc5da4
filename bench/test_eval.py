"""Evaluation throughput of the module's test path, the run's one evaluation path
(`cnnablate.evaluation.evaluate`: `Classifier.test_step` and its metrics in `trainer.test`): no
gradients, the preset's eval batch, network and split on the benchmark's device. The Trainer is
built once; each round is one `trainer.test`, its set-up included."""

from __future__ import annotations

import pytest

from bench.comparators import OURS, bench_device, load_datamodule
from cnnablate.data.batches import EvalBatches
from cnnablate.evaluation import eval_trainer
from cnnablate.module import Classifier
from cnnablate.presets import get_preset

ROUNDS = 3


@pytest.mark.parametrize("preset", ["nielsen-conv2-relu", "udl-cnn"])
def test_evaluation(preset: str, measure) -> None:
    config = get_preset(preset).config
    datamodule = load_datamodule(config)
    module = Classifier(config, datamodule.input_shape, datamodule.num_train).to(bench_device())
    # The training split: more samples than the test split, for a steadier timing.
    split = datamodule.splits["train"].to(bench_device())
    batches = EvalBatches(split.x, split.y, config.data.eval_batch_size)
    module.eval_split_names = ["train"]
    trainer = eval_trainer("gpu" if bench_device().type == "cuda" else "cpu")
    trainer.test(module, dataloaders=batches, verbose=False)  # warm-up, not timed
    measure(
        lambda: trainer.test(module, dataloaders=batches, verbose=False),
        rounds=ROUNDS,
        kind="eval",
        network=preset,
        contender=OURS,
        samples=len(split),
    )
