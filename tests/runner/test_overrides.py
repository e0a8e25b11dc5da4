"""`run --set`: overrides merged into the spec's base.set, checked like it, refused where the
spec would undo them in every cell, and written into a spec text that reads back to that spec."""

import textwrap

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cnnablate.config import leaf_keys, parse_overrides
from cnnablate.errors import UserError
from cnnablate.runner.overrides import merged_set, with_overrides
from cnnablate.runner.spec import parse_spec
from tests.runner.conftest import TINY_SPEC

TINY = parse_spec(textwrap.dedent(TINY_SPEC), where="tiny.yaml")
SEARCH = parse_spec(
    textwrap.dedent("""
    name: search
    base: {preset: udl-mlp}
    budget: {max_steps: 10}
    mode: optuna
    optuna:
      space:
        lr: {type: float, low: 0.01, high: 1.0, log: true, targets: [optim.lr]}
    """)
)


def test_an_override_goes_into_every_cell_after_base_set_and_factors_stay_on_top():
    spec = with_overrides(TINY, ["optim.lr=0.05", "model.hidden=[8, 4]"])
    assert spec.model.base.set == {
        "data.num_samples": 600,
        "train.eval_every_epochs": 1,
        "optim.lr": 0.05,
        "model.hidden": [8, 4],
    }
    for level in spec.levels["model.activation"]:
        config = spec.config_for({"model.activation": level})
        assert config.optim.lr == 0.05 and config.model.hidden == [8, 4]
        assert config.model.activation == level.label
    assert spec.hash != TINY.hash and spec.name == TINY.name


def test_the_written_text_says_what_ran_and_reads_back_to_the_same_spec():
    spec = with_overrides(TINY, ["optim.lr=0.05"])
    assert spec.text.startswith("# cnnablate run tiny --set optim.lr=0.05\n")
    assert parse_spec(spec.text).hash == spec.hash
    assert with_overrides(parse_spec(spec.text), ["optim.lr=0.05"]).hash == spec.hash


def test_an_override_equal_to_the_spec_s_own_is_the_same_experiment():
    assert with_overrides(TINY, ["data.num_samples=600"]).hash == TINY.hash


def test_an_override_of_a_base_set_key_replaces_it_and_a_whole_list_goes_last():
    assert list(merged_set({"a": 1, "b": 2}, {"a": 3}).items()) == [("b", 2), ("a", 3)]
    assert list(merged_set({"a": 1, "b": 2}, {"a": 1}).items()) == [("a", 1), ("b", 2)]
    moved = merged_set({"a": [1], "a.0": 2}, {"a": [1]})  # else a.0 would undo it
    assert list(moved.items()) == [("a.0", 2), ("a", [1])]
    spec = with_overrides(TINY, ["model.hidden=[5]", "model.hidden.0=6"])
    config = spec.config_for({"model.activation": spec.levels["model.activation"][0]})
    assert config.model.hidden == [6]


@pytest.mark.parametrize(
    ("spec", "sets", "expected"),
    [
        (TINY, ["optim.lrr=1"], "--set: unknown config key 'optim.lrr'; allowed here: optim.name"),
        (TINY, ["optim.lr=-1"], "--set: invalid value -1 for 'optim.lr': Input should be greater"),
        (TINY, ["model.hidden.2=3"], "--set: unknown config key 'model.hidden.2'"),
        (TINY, ["optim.lr"], "--set expects KEY=VALUE, got 'optim.lr'"),
        (
            TINY,
            ["model.activation=relu"],
            "--set model.activation: every level of factor 'model.activation' sets it",
        ),
        (TINY, ["train.max_steps=5"], "--set train.max_steps: the spec's budget sets it"),
        (SEARCH, ["optim.lr=0.1"], "--set optim.lr: the search space's 'lr' sets it"),
    ],
)
def test_a_bad_or_idle_override_is_one_line_naming_the_key(spec, sets, expected):
    with pytest.raises(UserError) as info:
        with_overrides(spec, sets)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_a_factor_that_sets_a_key_in_only_some_cells_leaves_the_others_to_the_override():
    spec = parse_spec(
        textwrap.dedent("""
        name: part
        base: {preset: udl-mlp}
        factors:
          variant:
            fast: {optim.lr: 0.5}
            plain: {model.dropout: 0.1}
        budget: {max_steps: 10}
        """)
    )
    over = with_overrides(spec, ["optim.lr=0.01"])
    lrs = {lv.label: over.config_for({"variant": lv}).optim.lr for lv in over.levels["variant"]}
    assert lrs == {"fast": 0.5, "plain": 0.01}


KEYS = leaf_keys(TINY.config_for({"model.activation": TINY.levels["model.activation"][0]}))
settings = st.lists(
    st.tuples(st.sampled_from(KEYS) | st.text(max_size=8), st.text(max_size=12)),
    min_size=1,
    max_size=3,
).map(lambda pairs: [f"{key}={value}" for key, value in pairs])


@given(settings)
@example(["optim.lr=0.1\nname: evil"])  # a newline must not end the comment line
@example(["optim.lr=0.1\u2028name: evil"])
@example(["model.dropout=0.1 #"])
def test_any_override_is_one_line_refused_or_exactly_the_merged_spec(sets):
    try:
        spec = with_overrides(TINY, sets)
    except UserError as error:
        assert "\n" not in str(error)
        return
    merged = merged_set(TINY.model.base.set, parse_overrides(sets))
    assert spec.model.base.set == merged
    assert spec.model.model_dump(exclude={"base"}) == TINY.model.model_dump(exclude={"base"})
    assert parse_spec(spec.text).hash == spec.hash
