"""The headline table as a reader sees it: ours in the lecture's own measure."""

from __future__ import annotations

import pandas as pd

from cnnablate.report.headline import for_reading


def test_ours_is_a_test_error_where_the_lecture_gives_one():
    table = pd.DataFrame(
        [
            {"claims": "1", "network": "udl-fc", "lecture": "test error ~40%", "measured": 0.578,
             "ci_low": 0.5412, "ci_high": 0.6148, "n": 3, "budget": "full",
             "metric": "test acc", "as_error": True},
            {"claims": "2", "network": "nielsen-shallow", "lecture": "97.80%", "measured": 0.9778,
             "ci_low": 0.977, "ci_high": 0.9785, "n": 3, "budget": "full",
             "metric": "test acc at best val", "as_error": False},
        ]
    )  # fmt: skip
    shown = for_reading(table).set_index("network")
    assert shown.loc["udl-fc", "ours"] == "42.20%"
    assert shown.loc["udl-fc", "95% CI"] == "[38.52%, 45.88%]"
    assert shown.loc["udl-fc", "measured as"] == "test error"
    assert shown.loc["nielsen-shallow", "ours"] == "97.78%"
    assert shown.loc["nielsen-shallow", "measured as"] == "test acc at best val"
