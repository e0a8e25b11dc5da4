import pytest

from cnnablate.presets import get_preset, list_presets

# docs/lecture.md, "params" column.
TABLE = {
    "udl-cnn": ("mnist1d", 2_050),
    "udl-fc": ("mnist1d", 59_065),
    "udl-mlp": ("mnist1d", 15_210),
    "nielsen-mlp30-mse": ("mnist", 23_860),
    "nielsen-mlp100-mse": ("mnist", 79_510),
    "nielsen-mlp100-bce": ("mnist", 79_510),
    "nielsen-shallow": ("mnist", 79_510),
    "nielsen-conv1": ("mnist", 289_630),
    "nielsen-conv2": ("mnist", 85_670),
    "nielsen-conv2-relu": ("mnist", 85_670),
    "nielsen-expanded": ("mnist-expanded", 85_670),
    "nielsen-fc2": ("mnist-expanded", 95_770),
    "nielsen-dropout": ("mnist-expanded", 1_672_570),
}


def test_every_reference_preset_is_registered():
    assert sorted(p.name for p in list_presets()) == sorted(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_parameter_count_and_dataset_match_the_reference(name):
    preset = get_preset(name)
    assert (preset.dataset, preset.params) == TABLE[name]


@pytest.mark.parametrize(
    ("name", "lr", "batch", "budget"),
    [
        ("udl-cnn", 0.01, 100, {"max_steps": 100_000}),
        ("udl-fc", 0.01, 100, {"max_steps": 100_000}),
        ("udl-mlp", 0.1, 100, {"max_steps": 6_000}),
        ("nielsen-mlp30-mse", 3.0, 10, {"max_epochs": 30}),
        ("nielsen-conv2-relu", 0.03, 10, {"max_epochs": 60}),
        ("nielsen-dropout", 0.03, 10, {"max_epochs": 40}),
    ],
)
def test_hyperparameters_are_the_sources(name, lr, batch, budget):
    config = get_preset(name).config
    assert config.optim.lr == lr and config.optim.name == "sgd" and config.optim.momentum == 0
    assert config.data.batch_size == batch
    for key, value in budget.items():
        assert getattr(config.train, key) == value


def test_nielsen_regularisation_settings():
    assert get_preset("nielsen-conv2-relu").config.optim.l2 == 0.1
    assert get_preset("nielsen-dropout").config.optim.l2 == 0.0
    assert get_preset("nielsen-dropout").config.model.dropout == 0.5
    bce = get_preset("nielsen-mlp100-bce").config
    assert (bce.loss, bce.optim.l2, bce.optim.l2_scale) == ("bce", 5.0, "examples")
