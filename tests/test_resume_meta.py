"""A saved state resumes when it is this run's, also when an earlier version saved it (its
config lacking fields added since), and not otherwise."""

from __future__ import annotations

import copy

from cnnablate.callbacks import resume_meta, same_run
from cnnablate.presets import get_preset

# Fields added after the GPU campaign saved its states (27 Nov): their defaults are the old
# behaviour, so a state saved without them is the same run.
ADDED = {"model": ("factory", "kwargs"), "data": ("module", "kwargs", "in_memory")}


def older(meta: dict) -> dict:
    saved = copy.deepcopy(meta)
    for section, keys in ADDED.items():
        for key in keys:
            del saved["config"][section][key]
    return saved


def test_a_state_saved_before_fields_were_added_is_the_same_run():
    meta = resume_meta(get_preset("nielsen-conv2").config, [0, 1, 2], None)
    assert older(meta) != meta
    assert same_run(older(meta), meta)


def test_another_config_seeds_or_cap_is_another_run():
    config = get_preset("nielsen-conv2").config
    meta = resume_meta(config, [0, 1, 2], None)
    changed = config.model_copy(update={"loss": "mse"})
    assert not same_run(resume_meta(changed, [0, 1, 2], None), meta)
    assert not same_run(resume_meta(config, [0, 1], None), meta)
    assert not same_run(resume_meta(config, [0, 1, 2], 100), meta)


def test_a_foreign_meta_is_no_run():
    meta = resume_meta(get_preset("udl-cnn").config, [0], None)
    assert not same_run(None, meta)
    assert not same_run({"config": {"model": {"conv": "not a list"}}}, meta)
    assert not same_run({"seeds": [0]}, meta)


def test_a_pack_across_cells_is_the_same_run_only_with_each_copys_config():
    config = get_preset("udl-cnn").config
    faster = config.model_copy(update={"optim": config.optim.model_copy(update={"lr": 0.5})})
    meta = resume_meta(config, [0, 1], None, [config, faster])
    assert meta["configs"][1]["optim"]["lr"] == 0.5
    assert same_run(copy.deepcopy(meta), meta)
    assert not same_run(resume_meta(config, [0, 1], None), meta)
    assert not same_run(resume_meta(config, [0, 1], None, [faster, config]), meta)
    assert "configs" not in resume_meta(config, [0, 1], None, [config, config])
