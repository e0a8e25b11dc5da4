"""A matrix of a single cell: Optuna's GridSampler, asked to end a trial that the runner
enqueued, looked up a grid id such trials never have (KeyError) when one grid point is left."""

from __future__ import annotations

import textwrap

from cnnablate.runner.execute import RunOptions, run_spec
from cnnablate.runner.spec import load_spec
from cnnablate.runner.storage import default_storage_url
from tests.reliability.study_checks import assert_every_cell_exactly_once

ONE_CELL = """
name: one
base: {preset: udl-mlp, set: {data.num_samples: 600, model.hidden: [16]}}
seeds: [0]
budget: {max_steps: 10}
"""


def test_a_one_cell_grid_runs_to_the_end(tmp_path):
    path = tmp_path / "one.yaml"
    path.write_text(textwrap.dedent(ONE_CELL))
    out = tmp_path / "out"
    spec = load_spec(path)
    study = run_spec(spec, RunOptions(out_dir=out, storage_url=default_storage_url(out)))
    assert_every_cell_exactly_once(study, spec)
    assert len(study.trials) == 1
