import numpy as np
import torch
from mnist1d.data import get_dataset_args, make_dataset

from cnnablate.config import DataConfig
from cnnablate.data import build_datamodule


def test_default_arrays_equal_the_generators_published_frozen_set():
    reference = make_dataset(get_dataset_args())
    dm = build_datamodule(DataConfig(name="mnist1d"))
    dm.setup()
    train, test = dm.splits["train"], dm.splits["test"]
    assert (len(train), len(test)) == (4000, 1000)
    assert np.array_equal(train.x.squeeze(1).numpy(), reference["x"].astype(np.float32))
    assert np.array_equal(train.y.numpy(), reference["y"])
    assert np.array_equal(test.x.squeeze(1).numpy(), reference["x_test"].astype(np.float32))
    assert np.array_equal(test.y.numpy(), reference["y_test"])
    assert train.x.shape == (4000, 1, 40) and train.y.dtype == torch.long


def test_generation_parameters_are_passed_through():
    args = get_dataset_args()
    args.num_samples, args.iid_noise_scale, args.seed = 200, 0.1, 7
    reference = make_dataset(args)
    dm = build_datamodule(
        DataConfig(name="mnist1d", num_samples=200, iid_noise=0.1, generator_seed=7)
    )
    dm.setup()
    assert np.array_equal(
        dm.splits["test"].x.squeeze(1).numpy(), reference["x_test"].astype(np.float32)
    )


def test_val_size_moves_the_last_training_samples():
    dm = build_datamodule(DataConfig(name="mnist1d", val_size=500))
    dm.setup()
    assert (len(dm.splits["train"]), len(dm.splits["val"])) == (3500, 500)
    assert dm.eval_split_names() == ["val", "test"]


def test_training_blocks_cover_each_sample_once_per_epoch_in_seeded_order():
    dm = build_datamodule(DataConfig(name="mnist1d", batch_size=100), seed=5, steps_per_block=7)
    dm.setup()
    blocks = dm.train_dataloader()
    first = torch.cat([ys.flatten() for _, ys in blocks])
    second = torch.cat([ys.flatten() for _, ys in blocks])
    assert len(blocks) == 6  # 40 updates: 5 blocks of 7 and one of 5
    assert len(first) == 4000 and torch.equal(
        first.sort().values, dm.splits["train"].y.sort().values
    )
    assert not torch.equal(first, second)  # reshuffled each epoch
    again = build_datamodule(DataConfig(name="mnist1d", batch_size=100), seed=5, steps_per_block=7)
    again.setup()
    assert torch.equal(torch.cat([ys.flatten() for _, ys in again.train_dataloader()]), first)
