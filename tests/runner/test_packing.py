"""Packs across cells in the runner (`runner/packing.py`, the spec's `pack`): cells of one pack key
train as one pack, each trial still its own row; cells that may not pack never do."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from cnnablate.errors import UserError
from cnnablate.runner.execute import RunOptions, run_spec
from cnnablate.runner.packing import MAX_PACK, pack_mode
from cnnablate.runner.plans import make_plan
from cnnablate.runner.results import read_results
from cnnablate.runner.schedule import start_order
from cnnablate.runner.spec import load_spec, parse_spec
from cnnablate.runner.storage import default_storage_url
from tests.runner.conftest import TINY_SPEC

ROOT = Path(__file__).resolve().parents[2]
# Its hash on main before `pack` existed: a spec without the key keeps its study.
MNIST1D_QUICK_HASH = "9ed12809cd2e551b"

# The runner's tiny spec with the learning rate as its factor: cells that may pack together.
LR_SPEC = TINY_SPEC.replace("name: tiny", "name: lr-cells").replace(
    "model.activation: [relu, tanh]", "optim.lr: [0.05, 0.2]"
)


def run(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    out = tmp_path / name
    run_spec(load_spec(path), RunOptions(out_dir=out, storage_url=default_storage_url(out)))
    return out


def test_cells_differing_in_lr_and_seed_train_as_one_pack_and_as_alone(tmp_path):
    packed = read_results(run(tmp_path, LR_SPEC + "pack: cells\n", "packed"))
    alone = read_results(run(tmp_path, LR_SPEC + "pack: none\n", "alone"))
    assert len(packed) == len(alone) == 6
    assert set(packed["pack_size"]) == {6} and packed["pack_id"].nunique() == 1
    assert packed["pack_key"].nunique() == 1 and packed["pid"].nunique() == 1
    assert set(alone["pack_size"]) == {1} and alone["pack_id"].isna().all()
    assert set(alone["pack_key"]) == set(packed["pack_key"])
    cell = ["param.optim.lr", "seed"]
    packed, alone = packed.set_index(cell).sort_index(), alone.set_index(cell).sort_index()
    assert list(packed.index) == list(alone.index)
    for key in ("test_acc", "train_acc"):
        assert packed[key].tolist() == pytest.approx(alone[key].tolist(), abs=2e-3)
    for key in ("test_loss", "train_loss"):
        assert packed[key].tolist() == pytest.approx(alone[key].tolist(), rel=1e-4, abs=1e-5)
    assert packed["test_loss"].nunique() == 6  # each copy its own


def test_cells_of_other_shapes_never_pack_together(tmp_path):
    text = LR_SPEC.replace("seeds: [0, 1, 2]", "seeds: [0]").replace(
        "factors:\n", "factors:\n  model.hidden: [[16], [8]]\n"
    )
    table = read_results(run(tmp_path, text + "pack: cells\n", "shapes"))
    assert len(table) == 4 and set(table["pack_size"]) == {2}
    for _, pack in table.groupby("pack_id"):
        assert pack["param.model.hidden"].nunique() == 1
        assert sorted(pack["param.optim.lr"]) == [0.05, 0.2]
    assert table["pack_key"].nunique() == 2


ORDER_SPEC = """
name: order
base: {preset: udl-cnn}
factors:
  optim.lr: [0.05, 0.1, 0.2]
  model.activation: [relu, tanh]
  data.batch_size: [100, 50]
seeds: [0, 1, 2]
budget: {max_steps: 10}
"""


def waiting(study: optuna.Study) -> list[dict]:
    trials = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    return [json.loads(t.user_attrs["cell"]) for t in sorted(trials, key=lambda t: t.number)]


def test_the_queue_puts_a_pack_groups_cells_together_and_a_claim_takes_them():
    """Grid order has the learning rate outermost; packing cells, the queue groups the cells
    of each activation and batch size (9 of each pack key: 8, then 1), longest first."""
    plan = make_plan(parse_spec(textwrap.dedent(ORDER_SPEC)))
    study = optuna.create_study(sampler=plan.sampler())
    assert plan.queue(study, "cells") == 36
    queued = waiting(study)
    shapes = [(p["model.activation"], p["data.batch_size"]) for p in queued]
    assert shapes == [shape for shape in dict.fromkeys(shapes) for _ in range(9)]
    assert [batch for _, batch in dict.fromkeys(shapes)] == [100, 100, 50, 50]
    assert plan.claimable(study, "cells") == MAX_PACK == 8
    assert plan.claimable(study, "seeds") == 3
    assert plan.claimable(study, "none") == 1
    claimed = [study.ask() for _ in range(8)]
    groups = plan.pack_groups(claimed, "cells")
    assert [len(group) for group in groups] == [8]
    assert plan.claimable(study, "cells") == 1  # the rest of that group, then the next
    assert [len(g) for g in plan.pack_groups(claimed, "seeds")] == [3, 3, 2]


def test_without_packing_the_queue_keeps_the_start_order():
    plan = make_plan(parse_spec(textwrap.dedent(ORDER_SPEC)))
    study = optuna.create_study(sampler=plan.sampler())
    plan.queue(study)
    config_of = lambda cell: plan.setups[cell.key][0]
    assert waiting(study) == [c.params for c in start_order(plan.cells, config_of, set())]
    assert waiting(study) != [cell.params for cell in plan.cells]  # longest (batch 100) first


@pytest.mark.parametrize(
    ("extra", "accelerator", "logged", "expected"),
    [
        ("", "cpu", False, "none"),
        ("", "gpu", False, "cells"),
        ("pack: cells\n", "cpu", False, "cells"),
        ("pack: cells\n", "cpu", True, "seeds"),  # a logger groups a cell's seeds
        ("pack: cells\nloggers: [csv]\n", "cpu", False, "seeds"),
        ("pack_seeds: true\n", "cpu", False, "seeds"),
        ("pack_seeds: false\n", "gpu", False, "none"),
        ("pack: none\n", "gpu", False, "none"),
    ],
)
def test_pack_mode(extra, accelerator, logged, expected):
    spec = parse_spec(textwrap.dedent(ORDER_SPEC) + extra)
    assert pack_mode(spec, accelerator, logged) == expected


def test_pack_and_pack_seeds_together_are_refused():
    with pytest.raises(UserError, match="give pack or pack_seeds, not both"):
        parse_spec(textwrap.dedent(ORDER_SPEC) + "pack: cells\npack_seeds: true\n")


def test_an_unknown_pack_is_refused_naming_the_allowed():
    with pytest.raises(UserError, match="pack.*'auto', 'cells', 'seeds' or 'none'"):
        parse_spec(textwrap.dedent(ORDER_SPEC) + "pack: all\n")


def test_the_pack_key_leaves_existing_spec_hashes_as_they_were():
    text = (ROOT / "ablations" / "mnist1d-quick.yaml").read_text()
    assert parse_spec(text).hash == MNIST1D_QUICK_HASH
    assert parse_spec(text + "pack: auto\n").hash == MNIST1D_QUICK_HASH
    assert parse_spec(text + "pack: cells\n").hash != MNIST1D_QUICK_HASH
