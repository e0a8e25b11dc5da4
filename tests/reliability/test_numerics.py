"""A diverging trial is caught within one block of steps, stored as `diverged` with its step,
and the matrix goes on."""

from __future__ import annotations

import textwrap

from cnnablate.data import build_datamodule
from cnnablate.runner.execute import RunOptions, run_spec
from cnnablate.runner.grid import cell_config
from cnnablate.runner.results import read_results
from cnnablate.runner.spec import Spec, load_spec
from cnnablate.runner.storage import default_storage_url

BUDGET = 40
# lr 100 blows this network up after about a dozen updates (lr 1e9 would after two or three,
# too early to tell a block's end from an immediate stop); lr 0.1 trains. 480 training samples
# in mini-batches of 100: each epoch is four full mini-batches, then one of 80 alone.
DIVERGING = f"""
name: diverge
base: {{preset: udl-mlp, set: {{data.num_samples: 600, model.hidden: [16]}}}}
factors:
  optim.lr: [0.1, 100.0]
  train.steps_per_block: [1, 3, 8]
seeds: [0]
budget: {{max_steps: {BUDGET}}}
"""


def block_ends(spec: Spec, cell: dict) -> list[int]:
    """The update count at the end of every block the trial's data module hands out."""
    config = cell_config(spec, cell)
    datamodule = build_datamodule(config.data, cell["seed"], None, config.train.steps_per_block)
    datamodule.prepare()
    datamodule.max_updates = BUDGET
    blocks, ends = datamodule.train_dataloader(), [0]
    while ends[-1] < BUDGET:  # one pass is one epoch
        for xs, _ in blocks:
            ends.append(ends[-1] + len(xs))
    return ends[1:]


def test_divergence_is_caught_at_the_end_of_the_block_it_happens_in(tmp_path):
    path = tmp_path / "diverge.yaml"
    path.write_text(textwrap.dedent(DIVERGING))
    spec = load_spec(path)
    out = tmp_path / "out"
    run_spec(spec, RunOptions(out_dir=out, storage_url=default_storage_url(out)))
    table = read_results(out)
    assert len(table) == 6 and (table["state"] == "COMPLETE").all()  # the matrix went on

    sane = table[table["param.optim.lr"] == 0.1]
    assert (sane["status"] == "ok").all() and (sane["steps"] == BUDGET).all()

    wild = table[table["param.optim.lr"] == 100.0].set_index("param.train.steps_per_block")
    assert (wild["status"] == "diverged").all()
    # Blocks of one update stop at the very update whose loss is no longer finite; the updates
    # and their order do not depend on the block size, so neither does that update.
    first_bad = int(wild.loc[1, "diverged_at_step"])
    assert 1 < first_bad < BUDGET
    for size in (3, 8):
        ends = block_ends(spec, {"optim.lr": 100.0, "train.steps_per_block": size, "seed": 0})
        caught = int(wild.loc[size, "diverged_at_step"])
        assert caught == min(end for end in ends if end >= first_bad), (size, first_bad, ends)
        assert caught - first_bad < size
        assert wild.loc[size, "steps"] == caught  # training stopped there, not a block later
        print(f"\nblocks of {size}: loss not finite at update {first_bad}, caught at {caught}")
