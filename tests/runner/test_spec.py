import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cnnablate.errors import UserError
from cnnablate.runner.grid import enumerate_cells, search_space
from cnnablate.runner.spec import load_spec, parse_spec

GOOD = """
name: demo
base: {preset: udl-cnn, set: {optim.lr: 0.05}}
factors:
  model.activation: [sigmoid, relu]
  architecture:
    cnn: {}
    mlp: {model.conv: [], model.hidden: [100, 100]}
seeds: [0, 1]
budget: {max_steps: 100}
"""


def test_good_spec_and_its_grid():
    spec = parse_spec(GOOD)
    cells = enumerate_cells(spec)
    assert len(cells) == 2 * 2 * 2
    assert len({c.key for c in cells}) == 8
    assert search_space(spec) == {
        "model.activation": ["sigmoid", "relu"],
        "architecture": ["cnn", "mlp"],
        "seed": [0, 1],
    }
    mlp = spec.config_for(
        {f: lv for f, lvs in spec.levels.items() for lv in lvs if lv.label in ("relu", "mlp")}
    )
    assert mlp.model.conv == [] and mlp.model.hidden == [100, 100]
    assert mlp.model.activation == "relu" and mlp.optim.lr == 0.05
    assert mlp.train.max_steps == 100


def test_preset_factor_and_per_level_seeds():
    spec = parse_spec("""
name: chain
factors: {preset: [udl-cnn, udl-mlp]}
seeds: [0, 1]
seeds_for: {udl-mlp: [0, 1, 2, 3, 4]}
""")
    cells = enumerate_cells(spec)
    assert len(cells) == 2 + 5
    configs = {
        c.params["preset"]: spec.config_for(
            {"preset": next(lv for lv in spec.levels["preset"] if lv.label == c.params["preset"])}
        )
        for c in cells
    }
    assert configs["udl-cnn"].train.max_steps == 100_000  # the preset's own budget
    assert configs["udl-mlp"].model.hidden == [100, 100]


def test_shipped_specs_are_valid():
    from pathlib import Path

    for path in sorted(Path("ablations").glob("*.yaml")):
        load_spec(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nfactors: [1, 2", "not valid YAML at line"),
        ("- a\n- b", "expected a mapping"),
        ("factors: {}", "missing key 'name'"),
        ("name: x\nbudgett: {max_steps: 1}", "unknown key 'budgett'"),
        ("name: x\nbudget: {max_steps: 0}", "budget.max_steps"),
        (
            "name: x\nbudget: {max_steps: 5, max_epochs: 1}",
            "exactly one of max_epochs and max_steps",
        ),
        ("name: x\nmode: random", "'grid' or 'optuna'"),
        ("name: x\nmode: optuna", "needs an 'optuna' section"),
        ("name: x\nseeds: [1, 1]", "without repeats"),
        ("name: x\nseeds: [-1]", "seeds.0"),
        (
            "name: x\nfactors: {model.activation: [swish]}",
            "factors.model.activation[swish]: invalid 'model.activation': not an activation",
        ),
        ("name: x\nfactors: {model.activation: []}", "no levels (an empty grid)"),
        ("name: x\nfactors: {preset: [udl-cnn, nope]}", "unknown preset 'nope'"),
        ("name: x\nfactors: {optim.lrr: [1, 2]}", "'optim.lrr' is not a config key"),
        ("name: x\nbase: {preset: nope}", "unknown preset 'nope'"),
        ("name: x\nbase: {set: {optim.lr: -3}}", "base: invalid value -3 for 'optim.lr'"),
        ("name: x\nbase: {set: {optim.nope: 3}}", "base"),
        ("name: 'bad name!'", "name"),
        (
            "name: x\nmode: optuna\noptuna: {space: {optim.lr: {type: float, low: 1, high: 0}}}",
            "low must be below high",
        ),
        ("name: x\nmode: optuna\noptuna: {space: {optim.lr: {type: gauss}}}", "type"),
        (
            "name: x\nmode: optuna\noptuna: {space: {optim.lrr: {type: float, low: 0.1, high: 1}}}",
            "'optim.lrr' is not a config key",
        ),
        ("name: x\nseeds: [0]\nseeds: [1]", "line 3, column 1: duplicate key 'seeds'"),
        (
            "name: x\nbase: {preset: udl-mlp, set: {model.hidden.x: 3}}",
            "base: unknown config key 'model.hidden.x': 'model.hidden' has indices 0..",
        ),
        ("name: x\nbase: {set: {model.conv.0: 3}}", "'model.conv' is an empty list"),
        (
            "name: x\nfactors: {model.activation: [relu]}\nseeds_for: {sigmoid: [1]}",
            "seeds_for.sigmoid: no factor has a level 'sigmoid'; levels: relu",
        ),
        (
            "name: x\nloggers: [csv, nope]",
            "invalid 'loggers': unknown logger 'nope'; allowed: csv, tensorboard, mlflow, wandb",
        ),
    ],
)
def test_bad_specs_name_the_key_and_what_is_allowed(text, expected):
    with pytest.raises(UserError) as info:
        parse_spec(text, where="bad.yaml")
    message = str(info.value)
    assert message.startswith("bad.yaml") and "\n" not in message
    assert expected in message


def test_missing_spec_file(tmp_path):
    with pytest.raises(UserError, match="no such spec file"):
        load_spec(tmp_path / "nope.yaml")


levels = st.lists(
    st.sampled_from(["sigmoid", "relu", "tanh", "identity"]), min_size=1, max_size=4, unique=True
)


@given(levels, st.lists(st.integers(0, 99), min_size=1, max_size=4, unique=True))
def test_grid_size_is_the_product_of_levels_and_seeds(acts, seeds):
    spec = parse_spec(
        f"name: p\nfactors: {{model.activation: {acts}}}\nseeds: {seeds}\nbase: {{preset: udl-mlp}}"
    )
    cells = enumerate_cells(spec)
    assert len(cells) == len(acts) * len(seeds) == len({c.key for c in cells})


@given(st.text(max_size=200))
def test_parser_never_crashes_on_arbitrary_text(text):
    try:
        parse_spec(text)
    except UserError as error:
        assert "\n" not in str(error)


@given(
    st.dictionaries(
        st.sampled_from(["name", "seeds", "budget", "mode", "factors", "base"]),
        st.one_of(
            st.integers(), st.text(max_size=5), st.none(), st.lists(st.integers(), max_size=3)
        ),
        max_size=6,
    )
)
def test_parser_answers_wrong_shapes_with_user_errors(mapping):
    import yaml

    try:
        parse_spec(yaml.safe_dump(mapping))
    except UserError as error:
        assert "\n" not in str(error)


def _real_keys() -> list[str]:
    from cnnablate.config import leaf_keys
    from cnnablate.presets import get_preset

    return leaf_keys(get_preset("udl-cnn").config)


# A real key path cut short, then made-up parts: the typos a spec actually has.
key_paths = st.builds(
    lambda key, keep, extra: ".".join(key.split(".")[:keep] + extra),
    st.sampled_from(_real_keys()),
    st.integers(0, 3),
    st.lists(st.sampled_from(["0", "7", "x", "-1", "", "lr"]) | st.text(max_size=3), max_size=2),
)
values = st.one_of(
    st.integers(), st.text(max_size=3), st.none(), st.lists(st.integers(), max_size=2)
)


@given(key_paths, values, st.sampled_from(["base", "level"]))
@example("model.conv.\n", None, "base")  # found by hypothesis: a key's newline in the message
@example("\n", None, "level")
def test_parser_answers_any_key_path_with_user_errors(key, value, where):
    import yaml

    spec = {"name": "p", "base": {"preset": "udl-cnn"}}
    if where == "base":
        spec["base"]["set"] = {key: value}
    else:
        spec["factors"] = {"variant": {"a": {key: value}}}
    try:
        parse_spec(yaml.safe_dump(spec))
    except UserError as error:
        assert "\n" not in str(error)


# The hashes these specs had before the `loggers` key existed: results folders and studies made
# then are keyed by them.
HASHES_BEFORE_LOGGERS = {"demo": "7fc7955fc45c43b3", "mnist1d-quick": "9ed12809cd2e551b"}


def test_loggers_leave_the_spec_hash_as_it_was():
    from pathlib import Path

    plain = parse_spec(GOOD)
    logged = parse_spec(GOOD + "loggers: [tensorboard, mlflow]\n")
    assert logged.model.loggers == ["tensorboard", "mlflow"]
    assert logged.hash == plain.hash == HASHES_BEFORE_LOGGERS["demo"]
    assert (
        load_spec(Path("ablations/mnist1d-quick.yaml")).hash
        == HASHES_BEFORE_LOGGERS["mnist1d-quick"]
    )
    assert parse_spec(GOOD.replace("seeds: [0, 1]", "seeds: [0, 2]")).hash != plain.hash


def test_a_spec_names_each_logger_once():
    assert parse_spec(GOOD + "loggers: [csv, wandb, csv]\n").model.loggers == ["csv", "wandb"]
