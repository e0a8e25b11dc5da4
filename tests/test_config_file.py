"""A run as a file: what --print-config prints and config.yaml holds reads back to the same run;
bare configs and result.json are read; bad files are one line naming the file and the key."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnablate.config import ExperimentConfig, apply_dict
from cnnablate.config_file import (
    SavedRun,
    dump_run,
    load_run,
    train_request,
    write_run_configs,
)
from cnnablate.errors import UserError
from cnnablate.presets import get_preset

finite = st.floats(allow_nan=False, allow_infinity=False)
configs = st.builds(
    lambda lr, momentum, noise, hidden, activation, every: apply_dict(
        get_preset("udl-cnn").config,
        {
            "optim.lr": lr,
            "optim.momentum": momentum,
            "data.iid_noise": noise,
            "model.hidden": hidden,
            "model.activation": activation,
            "train.checkpoint_every": every,
        },
    ),
    finite.filter(lambda v: v > 0),
    st.floats(min_value=0.0, max_value=0.999),
    finite.filter(lambda v: v >= 0),
    st.lists(st.integers(1, 10**6), max_size=3),
    st.sampled_from(["relu", "sigmoid", "tanh"]),
    st.integers(1, 10**9) | st.sampled_from(["5min", "0.5min"]),
)
runs = st.builds(
    SavedRun,
    configs,
    st.integers(0, 2**31),
    st.sampled_from([None, "udl-cnn", "udl-mlp"]),
    st.none() | st.integers(1, 10**9),
)


@given(runs)
def test_a_dumped_run_reads_back_to_the_same_run_floats_exactly(tmp_path_factory, run):
    path = tmp_path_factory.mktemp("run") / "config.yaml"
    path.write_text(dump_run(run))
    assert load_run(path) == run


def test_every_seed_gets_its_config_file(tmp_path):
    config = get_preset("udl-mlp").config
    dirs = [tmp_path / "a", tmp_path / "b"]
    write_run_configs(config, [3, 4], dirs, "udl-mlp", 8)
    assert load_run(dirs[1] / "config.yaml") == SavedRun(config, 4, "udl-mlp", 8)


def test_a_bare_config_is_the_defaults_with_its_keys(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("optim: {lr: 0.5}\nmodel: {hidden: [7]}\n")
    run = load_run(path)
    assert run.seed is None and run.preset is None and run.step_cap is None
    assert run.config.optim.lr == 0.5 and run.config.model.hidden == [7]
    assert run.config.data == ExperimentConfig().data


def test_a_result_json_gives_its_config_seed_preset_and_cap(tmp_path):
    config = get_preset("udl-mlp").config
    result = {"status": "ok", "test_acc": 0.5, "seed": 2, "preset": "udl-mlp", "step_cap": 8}
    path = tmp_path / "result.json"
    path.write_text(json.dumps({**result, "pack_size": 3, "config": config.model_dump()}))
    assert load_run(path) == SavedRun(config, 2, "udl-mlp", 8, pack_size=3)


def test_seed_and_set_go_on_top_of_the_file_and_say_it_is_no_rerun(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(dump_run(SavedRun(get_preset("udl-mlp").config, 5, "udl-mlp")))
    same = train_request(None, str(path), [])
    assert same.run.seed == 5 and same.origin.endswith("rerun as it was made")
    changed = train_request(None, str(path), ["optim.lr=0.01"], max_steps=9, seed=1)
    assert changed.run.seed == 1 and changed.run.config.optim.lr == 0.01
    assert changed.run.config.train.max_steps == 9
    assert "changed by --set optim.lr=0.01 --max-steps 9 --seed 1: not a rerun" in changed.origin


def test_a_packed_trial_with_dropout_is_said_not_to_rerun_exactly(tmp_path):
    config = apply_dict(get_preset("udl-mlp").config, {"model.dropout": 0.2})
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"seed": 1, "pack_size": 3, "config": config.model_dump()}))
    origin = train_request(None, str(path), []).origin
    assert "packed with 2 other seed(s): alone, its dropout and augmentation draws differ" in origin


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("nope.yaml", None, "--config {path}: no such file"),
        ("bad.yaml", "seed: [1\n", "--config {path}: not valid YAML at line 2, column 1"),
        ("twice.yaml", "seed: 1\nseed: 2\n", "not valid YAML at line 2, column 1: duplicate key"),
        ("list.yaml", "- 1\n", "expected a mapping of preset, seed, step_cap, config"),
        ("bad.json", "{", "--config {path}: not valid JSON at line 1, column 2"),
        ("r.json", '{"seed": 1}', "no 'config' in it; expected a trial's result.json"),
        ("key.yaml", "optim: {lrr: 1}\n", "--config {path}: unknown key 'config.optim.lrr'"),
        ("top.yaml", "seed: 1\nconfg: {}\n", "unknown key 'confg' (allowed: preset, seed"),
        ("none.yaml", "seed: 1\n", "--config {path}: missing key 'config'"),
        ("lr.yaml", "optim: {lr: -1}\n", "invalid value -1 for 'config.optim.lr'"),
        ("seed.yaml", "seed: -1\nconfig: {}\n", "invalid value -1 for 'seed'"),
        ("p.yaml", "preset: lenet\nconfig: {}\n", "invalid 'preset': not a preset; allowed: udl"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_key(tmp_path, name, text, expected):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(UserError) as info:
        load_run(path)
    assert expected.format(path=path) in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("preset", "config", "expected"),
    [
        ("udl-mlp", "x.yaml", "a preset (udl-mlp) and --config x.yaml: give one of the two"),
        (None, None, "give a preset (see `cnnablate presets`) or --config FILE"),
    ],
)
def test_train_takes_a_preset_or_a_file(preset, config, expected):
    with pytest.raises(UserError, match=None) as info:
        train_request(preset, config, [])
    assert expected in str(info.value)
