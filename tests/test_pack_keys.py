"""Pack keys (pack_keys.py): the keys a copy keeps its own leave the key as it is; any other key,
and whether a layer has dropout, changes it, and `pack_conflict` names it."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnablate.config import apply_dict
from cnnablate.pack_keys import check_pack, pack_conflict, pack_hash, pack_key
from cnnablate.presets import get_preset

BASE = apply_dict(get_preset("udl-cnn").config, {"model.dropout": 0.2, "model.conv.0.dropout": 0.1})

per_copy_values = st.fixed_dictionaries(
    {
        "loss": st.sampled_from(["ce", "bce", "mse"]),
        "optim.lr": st.floats(1e-4, 10.0),
        "optim.momentum": st.floats(0.0, 0.99),
        "optim.weight_decay": st.floats(0.0, 1.0),
        "optim.l2": st.floats(0.0, 100.0),
        "optim.l2_scale": st.sampled_from(["batches", "examples"]),
        "optim.schedule": st.sampled_from(["none", "cosine", "step"]),
        "optim.step_every_epochs": st.integers(1, 50),
        "optim.step_gamma": st.floats(0.01, 1.0),
        "model.dropout": st.floats(0.01, 0.9),
        "model.conv.0.dropout": st.floats(0.01, 0.9),
    }
)


@settings(max_examples=50, deadline=None)
@given(per_copy_values, st.sampled_from(["sgd", "adam"]))
def test_per_copy_keys_leave_the_pack_key_as_it_is(values, optimiser):
    base = apply_dict(BASE, {"optim.name": optimiser})
    other = apply_dict(base, values)
    assert pack_key(other) == pack_key(base) and pack_hash(other) == pack_hash(base)
    assert pack_conflict([base, other]) is None
    check_pack([base, other])


SHARED = [
    ("model.conv.0.channels", 8),  # the network's shape
    ("model.hidden", [10]),
    ("model.activation", "tanh"),
    ("model.dropout_style", "nielsen"),
    ("model.init", "nielsen"),
    ("data.batch_size", 50),  # the data
    ("data.num_samples", 4000),
    ("data.augment", "shift"),
    ("train.max_steps", 999),  # the budget
    ("optim.name", "adam"),
    ("model.dropout", 0.0),  # whether a layer has dropout is the shape
    ("model.conv.1.dropout", 0.3),
]


@pytest.mark.parametrize(("key", "value"), SHARED)
def test_other_keys_are_the_pack_key_and_are_named(key, value):
    other = apply_dict(BASE, {key: value})
    assert pack_key(other) != pack_key(BASE)
    named = pack_conflict([BASE, BASE, other])
    assert named is not None and key.startswith(named)
    with pytest.raises(ValueError, match=f"differ in {named.replace('.', '[.]')}"):
        check_pack([BASE, other])


def test_an_optimiser_without_a_packed_form_shares_its_settings():
    rmsprop = BASE.model_copy(update={"optim": BASE.optim.model_copy(update={"name": "rmsprop"})})
    faster = rmsprop.model_copy(update={"optim": rmsprop.optim.model_copy(update={"lr": 0.5})})
    assert pack_conflict([rmsprop, faster]) == "optim.lr"
