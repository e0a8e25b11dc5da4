import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnnablate.config import (
    ExperimentConfig,
    apply_overrides,
    leaf_keys,
    parse_value,
    validate_config,
    with_budget,
)
from cnnablate.errors import UserError
from cnnablate.presets import get_preset


def test_override_sets_nested_and_list_fields():
    config = get_preset("nielsen-conv2").config
    out = apply_overrides(
        config, ["optim.lr=0.05", "model.hidden=[30, 40]", "model.conv.1.channels=8"]
    )
    assert out.optim.lr == 0.05
    assert out.model.hidden == [30, 40]
    assert out.model.conv[1].channels == 8
    assert config.optim.lr == 0.1  # the preset itself is untouched


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("optim.lrr=1", "unknown config key 'optim.lrr'; allowed here: optim.name, optim.lr"),
        ("nope=1", "unknown config key 'nope'; allowed here: data, model, loss"),
        ("model.conv.7.kernel=3", "'model.conv' has indices 0..1"),
        ("optim.lr=-1", "'optim.lr': Input should be greater than 0"),
        ("model.dropout=1.0", "'model.dropout': Input should be less than 1"),
        ("model.activation=swish", "not an activation; allowed: sigmoid, relu, tanh, identity"),
        (
            "model.conv.1.norm=layer",
            "invalid 'model.conv.1.norm': not a normalisation layer; allowed: none, batch",
        ),
        ("optim.name=lbfgs", "invalid 'optim.name': not an optimiser; allowed: sgd, adam"),
        ("loss=hinge", "Input should be 'ce', 'bce' or 'mse'"),
        ("data.batch_size=ten", "'data.batch_size': Input should be a valid integer"),
        ("optim.lr", "--set expects KEY=VALUE"),
    ],
)
def test_bad_override_names_field_and_allowed_values(override, expected):
    with pytest.raises(UserError, match=None) as info:
        apply_overrides(get_preset("nielsen-conv2").config, [override])
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_budget_override_replaces_the_other_budget():
    config = get_preset("udl-cnn").config
    assert with_budget(config, max_epochs=3).train.max_steps is None
    assert with_budget(config, max_steps=7).train.max_steps == 7
    with pytest.raises(UserError, match="exclude each other"):
        with_budget(config, max_steps=1, max_epochs=1)


def test_exactly_one_budget_is_required():
    with pytest.raises(UserError, match="exactly one of max_epochs and max_steps"):
        validate_config({"train": {"max_epochs": 1, "max_steps": 5}})


def test_same_padding_requires_stride_one():
    bad = {"model": {"conv": [{"channels": 2, "kernel": 3, "stride": 2, "padding": "same"}]}}
    with pytest.raises(UserError, match="padding 'same' needs stride 1"):
        validate_config(bad)


def test_leaf_keys_cover_every_field():
    keys = leaf_keys(get_preset("nielsen-conv2").config)
    assert "optim.lr" in keys and "model.conv.0.pool" in keys and "loss" in keys
    for key in keys:  # every listed key is accepted by --set with its own current value
        apply_overrides(get_preset("nielsen-conv2").config, [f"{key}=" + _yaml(key)])


def _yaml(key: str) -> str:
    import yaml

    node = get_preset("nielsen-conv2").config.model_dump()
    for part in key.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return yaml.safe_dump(node, default_flow_style=True).strip().removesuffix("...").strip()


# --- properties of the override parser -----------------------------------------------------


@given(st.floats(min_value=1e-6, max_value=1e3, allow_nan=False))
def test_any_positive_learning_rate_round_trips(lr):
    out = apply_overrides(ExperimentConfig(), [f"optim.lr={lr!r}"])
    assert out.optim.lr == pytest.approx(lr)


@given(st.floats(max_value=0.0, allow_nan=False, allow_infinity=False))
def test_non_positive_learning_rate_is_rejected(lr):
    with pytest.raises(UserError, match="optim.lr"):
        apply_overrides(ExperimentConfig(), [f"optim.lr={lr!r}"])


@given(st.lists(st.integers(min_value=1, max_value=4096), max_size=5))
def test_hidden_sizes_parse_as_lists(sizes):
    out = apply_overrides(ExperimentConfig(), [f"model.hidden={sizes}"])
    assert out.model.hidden == sizes


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.", min_size=1, max_size=20))
def test_unknown_keys_are_user_errors_never_crashes(key):
    try:
        apply_overrides(ExperimentConfig(), [f"{key}=1"])
    except UserError as error:
        assert "\n" not in str(error)


@given(st.text(max_size=30))
def test_parse_value_never_raises(text):
    parse_value(text)
