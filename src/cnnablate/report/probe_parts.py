"""Parts of the claims measured on trained networks: the ensemble of claim 4 (a majority vote
of checkpoints), equivariance and pooling invariance (claim 6), receptive fields (claim 7) and
conv parameter counts (claim 8)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cnnablate.errors import UserError
from cnnablate.presets import PRESETS
from cnnablate.report import probing
from cnnablate.report.claims import (
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    Part,
    Trials,
    _budget_remark,
    _pct,
    numbers_verdict,
)
from cnnablate.report.lecture import ENSEMBLE_ACC, EQUIVARIANCE_TOLERANCE
from cnnablate.report.sources import ResultsSource
from cnnablate.report.tables import accuracy_interval
from cnnablate.report.trained import (
    TrainedModel,
    best_checkpointed,
    has_conv,
    load_model,
    load_test_inputs,
    majority_vote,
    predict,
)


def ensemble_part(trials: Trials, data_dir: Path | None) -> Part | None:
    """Claim 4's last step: the majority vote of the nielsen-dropout runs' best checkpoints."""
    rows = trials.of_preset("nielsen-dropout")
    members = []
    for row in rows.to_dict("records"):
        source = trials.sources[row["source_index"]]
        if source.checkpoint(row) is not None:
            members.append(load_model(source, row))
    if len(members) < 2:
        return None
    try:
        x, y = load_test_inputs(members[0], data_dir)
    except UserError as error:
        return Part(4, "ensemble", "nielsen-dropout → ensemble", NOT_RUN, f"no test data: {error}")
    return ensemble_of(members, x, y)


def ensemble_of(members: list[TrainedModel], x: Any, y: np.ndarray) -> Part:
    predictions = np.stack([predict(m.model, x) for m in members])
    single = (predictions == y).mean(axis=1)
    ensemble = float((majority_vote(predictions) == y).mean())
    verdict = numbers_verdict(
        single.mean(),
        ensemble,
        (PRESETS["nielsen-dropout"].lecture.acc, ENSEMBLE_ACC),
        math.nan,
        math.nan,
    )
    low, high = accuracy_interval(single)
    measured = (
        f"majority vote of {len(members)} nets {_pct(ensemble)} vs single nets "
        f"{_pct(single.mean())} (mean; 95% CI [{_pct(low)}, {_pct(high)}])"
    )
    rows = pd.DataFrame([m.row for m in members])
    return Part(
        4,
        "ensemble",
        "nielsen-dropout → ensemble",
        verdict,
        measured,
        sources=", ".join(sorted({m.source.name for m in members})),
        note=_budget_remark(rows),
        numbers={
            "ensemble": ensemble,
            "single_mean": float(single.mean()),
            "members": len(members),
        },
    )


def probe_model(trials: Trials) -> TrainedModel | None:
    """The most accurate checkpointed trial with conv layers, over all sources."""
    best: tuple[float, ResultsSource, dict] | None = None
    for source in trials.sources:
        conv = pd.Series([c is not None and has_conv(c) for c in source.finished_configs])
        row = best_checkpointed(source, conv.to_numpy()) if conv.any() else None
        if row is not None and (best is None or row["test_acc"] > best[0]):
            best = (row["test_acc"], source, row)
    return load_model(best[1], best[2]) if best else None


def equivariance_parts(trained: TrainedModel, x: Any) -> list[Part]:
    net = trained.model.net
    equi = probing.equivariance(net, x)
    equi_ok = equi["relative_error"] < EQUIVARIANCE_TOLERANCE
    changes = probing.shift_invariance(net, x)
    maximum = changes["max pool 2"]
    pool_ok = maximum < changes["stride 2, no pool"] and maximum < changes["no pooling"]
    stability = probing.prediction_stability(net, x)
    listed = ", ".join(f"{name} {value:.3f}" for name, value in changes.items())
    return [
        Part(
            6,
            "equivariance",
            "equivariance of the first convolution",
            REPRODUCED if equi_ok else NOT_REPRODUCED,
            f"max |conv(shift x) − shift(conv x)| = {equi['max_abs_error']:.2e} "
            f"({equi['relative_error']:.1e} of the output scale), {trained.label}",
            sources=trained.source.name,
            numbers=equi,
        ),
        Part(
            6,
            "invariance",
            "invariance from max pooling",
            REPRODUCED if pool_ok else NOT_REPRODUCED,
            f"relative output change of block 1 under a one-position shift: {listed}; "
            f"whole net: {100 * stability:.1f}% of test predictions unchanged",
            sources=trained.source.name,
            numbers={**changes, "prediction_unchanged": stability},
        ),
    ]


def receptive_field_part(trained: TrainedModel) -> Part:
    shape = tuple(trained.model.hparams["input_shape"])
    rows = probing.receptive_fields(trained.model.net, shape)
    sizes = [r["measured"] for r in rows]
    agree = all(r["measured"] == r["formula"] for r in rows)
    grows = all(later > earlier for earlier, later in itertools.pairwise(sizes))
    listed = " → ".join(f"{r['measured']} (formula {r['formula']})" for r in rows)
    return Part(
        7,
        "receptive field",
        "receptive field per conv block",
        REPRODUCED if agree and grows else NOT_REPRODUCED,
        f"{listed} of {shape[-1]} input positions; the fully connected head then sees all "
        f"{shape[-1]}. {trained.label}",
        sources=trained.source.name,
        numbers={"rows": rows},
    )


def parameter_count_part(trained: TrainedModel) -> Part:
    rows = probing.conv_parameter_counts(trained.model.net)
    agree = all(r["formula"] == r["actual"] for r in rows)
    listed = "; ".join(
        f"{r['C_i']}·{r['C_o']}·{r['K']} + {r['C_o']} = {r['formula']:,} "
        f"(layer has {r['actual']:,})"
        for r in rows
    )
    return Part(
        8,
        "parameter count",
        "parameters per conv layer",
        REPRODUCED if agree else NOT_REPRODUCED,
        f"{listed}. {trained.label}",
        sources=trained.source.name,
        numbers={"rows": rows},
    )


def probe_parts(trials: Trials, data_dir: Path | None) -> list[Part]:
    trained = probe_model(trials)
    if trained is None:
        return []
    parts = [receptive_field_part(trained), parameter_count_part(trained)]
    try:
        x, _ = load_test_inputs(trained, data_dir)
    except UserError as error:
        for topic in ("equivariance", "invariance"):
            parts.append(Part(6, topic, topic, NOT_RUN, f"no test data: {error}"))
        return parts
    return equivariance_parts(trained, x) + parts
