import re
from pathlib import Path

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from cnnablate.runner.results import SCHEMA, conform, read_results, write_results

README = Path(__file__).resolve().parents[2] / "README.md"


def old_table(best_val: list) -> pd.DataFrame:
    """A table as versions before the schema wrote it."""
    return pd.DataFrame(
        {
            "trial": [0, 1],
            "state": ["COMPLETE", "FAIL"],
            "cell": ['{"a": "x", "seed": 0}', '{"a": "y", "seed": 1}'],
            "param.a": ["x", "y"],
            "param.seed": [0, 1],
            "seed": [0, None],
            "test_acc": [0.5, None],
            "best_val_acc": best_val,
            "host": ["vm", "vm"],
            "hostname": ["vm", None],
            "started": ["2026-11-26T06:16:53.685784", "2026-11-26T06:18:12.970937"],
            "finished": ["2026-11-26T06:18:12.970937", None],
            "something_unlisted": [1, 2],
        }
    )


def columns_table(text: str) -> str:
    """The README's table of the results columns: from its header to the next blank line."""
    start = text.index("| column | type | meaning |")
    return text[start : text.index("\n\n", start)]


def test_the_readme_documents_every_column_with_its_type():
    table = columns_table(README.read_text())
    rows = re.findall(r"^\| `([a-z_.<>]+)` \| ([^|]+) \|", table, flags=re.M)
    documented = {name: kind.strip() for name, kind in rows if name != "param.<factor>"}
    assert documented == {name: dtype for name, (dtype, _) in SCHEMA.items()}


def test_an_old_table_gets_one_column_per_fact_and_real_types():
    table = conform(old_table([None, None]))
    assert list(table.columns) == ["trial", "state", "param.a", *list(SCHEMA)[2:]]
    assert table["seed"].tolist() == [0, 1]  # from param.seed where the result had none
    assert table["hostname"].tolist() == ["vm", "vm"]
    assert table["started"].dtype.kind == "M" and table["finished"].isna().tolist() == [False, True]
    assert {str(table[c].dtype) for c in SCHEMA} <= {"string", "Int64", "float64", "datetime64[ns]"}


def test_every_folder_gets_the_same_types_whatever_is_missing(tmp_path):
    empty, full = tmp_path / "empty", tmp_path / "full"
    for folder, best_val in ((empty, [None, None]), (full, [0.5, 0.25])):
        folder.mkdir()
        write_results(folder, conform(old_table(best_val)))
    first, second = read_results(empty), read_results(full)
    assert first.dtypes.equals(second.dtypes)
    assert first["best_val_acc"].isna().all() and second["best_val_acc"].tolist() == [0.5, 0.25]


levels = st.one_of(
    st.lists(st.integers(-1000, 1000), min_size=1, max_size=5),
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=5),
    st.lists(st.booleans(), min_size=1, max_size=5),
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=5),
)


@given(levels)
def test_factor_levels_keep_their_type_through_parquet(tmp_path_factory, values):
    folder = tmp_path_factory.mktemp("results")
    frame = pd.DataFrame({"trial": range(len(values)), "state": "COMPLETE", "param.f": values})
    write_results(folder, conform(frame))
    column = read_results(folder)["param.f"]
    assert column.tolist() == values
    kind = type(values[0])
    assert {bool: "boolean", int: "Int64", float: "float64", str: "string"}[kind] == str(
        column.dtype
    )


def test_the_table_alone_gives_each_trials_config_typed(tmp_path):
    from cnnablate.presets import get_preset
    from cnnablate.record import TrialRecord, trial_config

    config = get_preset("udl-cnn").config
    record = TrialRecord(trial=0, state="COMPLETE", seed=0, config=config.model_dump())
    write_results(tmp_path, conform(pd.DataFrame([record.row()])))
    (cell,) = read_results(tmp_path)["config"]
    assert trial_config(cell) == config
    assert trial_config(None) is None and trial_config('{"model": 1}') is None
