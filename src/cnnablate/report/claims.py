"""A verdict on each of the lecture's claims 1–8 (REFERENCE.md), from the results at hand.

A claim is tested by one or more parts. A part compares two groups of trials:

- preset against preset: trials whose data, network, loss and optimiser are exactly a preset's
  (budget aside; short budgets are marked), compared as independent groups (Welch);
- level against level of a spec's factor (e.g. `loss` mse → ce): trials paired on every other
  factor and the seed;
- or measures a trained network (claims 6–8, the ensemble of claim 4).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cnnablate.errors import UserError
from cnnablate.presets import PRESETS
from cnnablate.report import probing
from cnnablate.report.sources import ResultsSource
from cnnablate.report.tables import SEED, paired_difference, t_interval, welch_interval
from cnnablate.report.trained import (
    TrainedModel,
    best_checkpointed,
    has_conv,
    load_model,
    load_test_inputs,
    majority_vote,
    predict,
)

REPRODUCED, NOT_REPRODUCED, NOT_RUN = "reproduced", "not reproduced", "not run"
PARTLY = "reproduced (partly run)"
# The lecture's direction, clearly (the interval excludes zero), but not its numbers: e.g. a
# CNN that beats the fully connected net by more than the lecture says, or a short budget.
DIRECTION_ONLY = "direction reproduced, size differs"
TOLERANCE = 0.02  # 2 percentage points
LITTLE = 0.005  # "adds little": a gain below 0.5 percentage points
EQUIVARIANCE_TOLERANCE = 1e-4

RULE = (
    "A part comparing two networks with the lecture's numbers is reproduced when the lecture's "
    "direction holds for the means over seeds and either both means are within 2 percentage "
    "points of the lecture's numbers or the lecture's difference lies inside the 95% interval "
    "of the measured difference (Welch for presets, paired t for factor levels); when neither "
    "holds but the 95% interval lies wholly on the lecture's side of zero, its verdict is "
    "'direction reproduced, size differs'. A part without "
    "numbers is reproduced when the 95% interval of the difference lies wholly on the lecture's "
    "side of zero; 'adds little' (claim 5) when the mean gain is below 0.5 points. Claim 6: the "
    "convolution's equivariance error is below 1e-4 of its output scale, and max pooling "
    "changes less under a one-position shift than stride-2 subsampling and than no pooling. "
    "Claim 7: the measured receptive field equals the formula at every depth and grows with it. "
    "Claim 8: every conv layer holds C_i·C_o·K^d + C_o parameters. A claim is reproduced when "
    "each of its topics (claim 3: activation and loss; claim 4: augmentation, second FC layer, "
    "dropout, ensemble; claim 6: equivariance and invariance) has evidence and every part is "
    "reproduced; 'direction reproduced, size differs' when no part is worse than that and one "
    "is that; not reproduced when any part is not; not run when no part ran; '(partly run)' "
    "when some topic has no evidence."
)

STATEMENTS = {
    1: "A CNN generalises far better than a fully connected net with many more parameters",
    2: "Conv/pool layers beat the plain MLP on MNIST",
    3: "ReLU beats sigmoid; cross-entropy beats squared error",
    4: "Augmentation, a second FC layer, dropout and ensembles each help",
    5: "L2 regularisation adds little on top of conv/pool layers",
    6: "Convolution is translation-equivariant; max pooling gives partial invariance",
    7: "Receptive fields grow with depth",
    8: "A conv layer has C_i·C_o·K·K weights + C_o biases",
}
LECTURE_NUMBERS = {
    1: "MNIST-1D test error ~17% (udl-cnn) vs ~40% (udl-fc)",
    2: "98.78% (conv1) vs 97.80% (shallow)",
    3: "99.23% (ReLU) vs 99.06% (sigmoid); MSE learns slower",
    4: "99.37% expanded, 99.43% fc2, 99.60% dropout, 99.67% ensemble",
    5: "no gain for λ from 1e-5 to 100",
    6: "equivariance exact; small change under a one-pixel shift with max pooling",
    7: "kernel 3: 3, 5, 7 …, then the whole input",
    8: "C_i·C_o·K·K + C_o",
}
PRODUCED_BY = {
    1: "ablations/mnist1d-udl.yaml (udl-cnn vs udl-fc), or ablations/mnist1d-quick.yaml",
    2: "ablations/nielsen-chain.yaml (shallow, conv1) or ablations/lecture-factors.yaml",
    3: "ablations/nielsen-chain.yaml (conv2, conv2-relu), ablations/lecture-factors.yaml",
    4: "ablations/nielsen-chain.yaml (expanded, fc2, 5× dropout with checkpoints for the "
    "ensemble) or ablations/lecture-factors.yaml (augmentation, dropout)",
    5: "ablations/nielsen-l2.yaml (optim.l2 from 0 to 100 on nielsen-conv2-relu)",
    6: "any spec with a conv network and checkpoint: true, e.g. ablations/mnist1d-quick.yaml",
    7: "any spec with a conv network and checkpoint: true, e.g. ablations/mnist1d-quick.yaml",
    8: "any spec with a conv network and checkpoint: true, e.g. ablations/mnist1d-quick.yaml",
}


REQUIRED_TOPICS = {
    1: {"CNN vs fully connected"},
    2: {"conv vs MLP"},
    3: {"activation", "loss"},
    4: {"augmentation", "second FC layer", "dropout", "ensemble"},
    5: {"L2"},
    6: {"equivariance", "invariance"},
    7: {"receptive field"},
    8: {"parameter count"},
}


@dataclass
class Part:
    """One measured comparison or probe behind a claim, on one of its topics."""

    claim: int
    topic: str
    name: str
    verdict: str
    measured: str
    sources: str = ""
    note: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)


# --- which trials are which network ----------------------------------------------------------

Config = dict[str, Any]


def comparable(config: Config) -> Config:
    """What makes two runs the same network and training, budget and evaluation aside."""
    data = {k: v for k, v in config["data"].items() if k != "eval_batch_size"}
    return {
        "data": data,
        "model": config["model"],
        "loss": config["loss"],
        "optim": config["optim"],
    }


def preset_of(config: Config | None, fingerprints: dict[str, Config]) -> str | None:
    if config is None:
        return None
    mine = comparable(config)
    return next((name for name, print_ in fingerprints.items() if print_ == mine), None)


@dataclass
class Trials:
    """Every finished trial of every source, with its config, matched preset and budget note."""

    frame: pd.DataFrame
    configs: list[Config | None]
    sources: list[ResultsSource]

    @classmethod
    def gather(cls, sources: list[ResultsSource], notes: dict[str, pd.Series]) -> Trials:
        fingerprints = {name: comparable(p.config.model_dump()) for name, p in PRESETS.items()}
        frames, configs = [], []
        for index, source in enumerate(sources):
            frame = source.finished.copy()
            frame["source"] = source.name
            frame["source_index"] = index
            frame["budget"] = notes[source.name].to_numpy() if len(frame) else []
            frame["matched_preset"] = [preset_of(c, fingerprints) for c in source.finished_configs]
            frames.append(frame)
            configs.extend(source.finished_configs)
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return cls(frame, configs, sources)

    def of_preset(self, preset: str) -> pd.DataFrame:
        if self.frame.empty:
            return self.frame
        return self.frame[self.frame["matched_preset"] == preset]


def nielsen_metric(rows: pd.DataFrame) -> pd.Series:
    """Nielsen's rule: test accuracy at the epoch of best validation accuracy, where recorded."""
    at_best = rows.get("test_acc_at_best_val")
    return rows["test_acc"] if at_best is None else at_best.fillna(rows["test_acc"])


def _pct(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.2f}%"


def _interval(low: float, high: float) -> str:
    if math.isnan(low):
        return "no interval"
    return f"95% CI [{100 * low:+.2f}, {100 * high:+.2f}] points"


def _budget_remark(rows: pd.DataFrame) -> str:
    notes = sorted({n for n in rows.get("budget", pd.Series(dtype=object)) if n})
    return f"† short budget: {', '.join(notes)}" if notes else ""


def numbers_verdict(
    mean_a: float, mean_b: float, claimed: tuple[float, float], low: float, high: float
) -> str:
    claimed_a, claimed_b = claimed
    if not mean_b > mean_a:
        return NOT_REPRODUCED
    near = abs(mean_a - claimed_a) <= TOLERANCE and abs(mean_b - claimed_b) <= TOLERANCE
    inside = not math.isnan(low) and low <= claimed_b - claimed_a <= high
    if near or inside:
        return REPRODUCED
    return DIRECTION_ONLY if not math.isnan(low) and low > 0 else NOT_REPRODUCED


def direction_verdict(low: float) -> str:
    return REPRODUCED if not math.isnan(low) and low > 0 else NOT_REPRODUCED


# --- parts from presets ----------------------------------------------------------------------


@dataclass(frozen=True)
class PresetStep:
    claim: int
    topic: str
    a: str
    b: str
    claimed: tuple[float, float]  # accuracies


PRESET_STEPS = [
    PresetStep(1, "CNN vs fully connected", "udl-fc", "udl-cnn", (0.60, 0.83)),
    PresetStep(2, "conv vs MLP", "nielsen-shallow", "nielsen-conv1", (0.9780, 0.9878)),
    PresetStep(3, "activation", "nielsen-conv2", "nielsen-conv2-relu", (0.9906, 0.9923)),
    PresetStep(4, "augmentation", "nielsen-conv2-relu", "nielsen-expanded", (0.9923, 0.9937)),
    PresetStep(4, "second FC layer", "nielsen-expanded", "nielsen-fc2", (0.9937, 0.9943)),
    PresetStep(4, "dropout", "nielsen-fc2", "nielsen-dropout", (0.9943, 0.9960)),
]


def preset_part(trials: Trials, step: PresetStep) -> Part | None:
    a, b, claimed = step.a, step.b, step.claimed
    rows_a, rows_b = trials.of_preset(a), trials.of_preset(b)
    if rows_a.empty or rows_b.empty:
        return None
    udl = a.startswith("udl")
    values_a = rows_a["test_acc"] if udl else nielsen_metric(rows_a)
    values_b = rows_b["test_acc"] if udl else nielsen_metric(rows_b)
    mean_a, mean_b = values_a.mean(), values_b.mean()
    low, high = welch_interval(values_a.to_numpy(), values_b.to_numpy())
    verdict = numbers_verdict(mean_a, mean_b, claimed, low, high)
    what = "test error" if udl else "test acc at best val"
    shown = (lambda v: _pct(1 - v)) if udl else _pct
    measured = (
        f"{b} {shown(mean_b)} (n={len(rows_b)}) vs {a} {shown(mean_a)} (n={len(rows_a)}) "
        f"{what}; difference {100 * (mean_b - mean_a):+.2f} points, {_interval(low, high)}"
    )
    both = pd.concat([rows_a, rows_b])
    return Part(
        step.claim,
        step.topic,
        f"{a} → {b}",
        verdict,
        measured,
        sources=", ".join(sorted(set(both["source"]))),
        note=_budget_remark(both),
        numbers={"mean_a": mean_a, "mean_b": mean_b, "ci_low": low, "ci_high": high},
    )


# --- parts from a factor's levels ------------------------------------------------------------


@dataclass(frozen=True)
class Contrast:
    claim: int
    topic: str
    name: str
    a: Callable[[Config], bool]
    b: Callable[[Config], bool]
    scope: Callable[[Config], bool] = lambda config: True
    little: bool = False  # the lecture says b adds little over a
    smaller_b: bool = False  # the claim compares b against a net with more parameters


def _data(config: Config) -> str:
    return config["data"]["name"]


def _augmented(config: Config) -> bool:
    return config["data"]["augment"] != "none" or _data(config) == "mnist-expanded"


def _no_conv(config: Config) -> bool:
    return not has_conv(config)


CONTRASTS = [
    Contrast(
        1, "CNN vs fully connected", "no conv → conv (MNIST-1D)", _no_conv, has_conv,
        scope=lambda c: _data(c) == "mnist1d", smaller_b=True,
    ),
    Contrast(
        2, "conv vs MLP", "no conv → conv (MNIST)", _no_conv, has_conv,
        scope=lambda c: _data(c) != "mnist1d",
    ),
    Contrast(
        3, "activation", "sigmoid → ReLU",
        lambda c: c["model"]["activation"] == "sigmoid",
        lambda c: c["model"]["activation"] == "relu",
    ),
    Contrast(
        3, "loss", "MSE → cross-entropy",
        lambda c: c["loss"] == "mse",
        lambda c: c["loss"] == "ce",
    ),
    Contrast(
        4, "augmentation", "no augmentation → augmentation",
        lambda c: not _augmented(c),
        _augmented,
    ),
    Contrast(
        4, "dropout", "no dropout → dropout",
        lambda c: c["model"]["dropout"] == 0,
        lambda c: c["model"]["dropout"] > 0,
    ),
    Contrast(
        5, "L2", "no L2 → L2",
        lambda c: c["optim"]["l2"] == 0,
        lambda c: c["optim"]["l2"] > 0,
        scope=has_conv,
        little=True,
    ),
]  # fmt: skip


def classify_levels(
    rows: pd.DataFrame, configs: list[Config], factor: str, contrast: Contrast
) -> tuple[list[Any], list[Any]]:
    """Levels of `factor` whose every trial is on side a, and those on side b."""
    side_a, side_b = [], []
    for level in dict.fromkeys(rows[factor]):
        members = [configs[i] for i in np.flatnonzero((rows[factor] == level).to_numpy())]
        if all(contrast.a(c) for c in members):
            side_a.append(level)
        elif all(contrast.b(c) for c in members):
            side_b.append(level)
    return side_a, side_b


def contrast_parts(trials: Trials, source: ResultsSource, contrast: Contrast) -> list[Part]:
    frame = trials.frame[trials.frame["source"] == source.name]
    positions = frame.index.to_numpy()
    configs = [trials.configs[i] for i in positions]
    in_scope = [c is not None and contrast.scope(c) for c in configs]
    rows = frame[in_scope].reset_index(drop=True)
    configs = [c for c, keep in zip(configs, in_scope, strict=True) if keep]
    factors = [f for f in source.factors if f != "param.preset" and f in rows]
    parts = []
    for factor in factors:
        side_a, side_b = classify_levels(rows, configs, factor, contrast)
        many = len(side_a[:1]) * len(side_b) > 1
        for level_a in side_a[:1]:
            for level_b in side_b:
                levels = (level_a, level_b)
                parts.append(factor_part(rows, source, factor, factors, levels, contrast, many))
    return parts


def factor_part(
    rows: pd.DataFrame,
    source: ResultsSource,
    factor: str,
    factors: list[str],
    levels: tuple[Any, Any],
    contrast: Contrast,
    many: bool = False,
) -> Part:
    """`many`: one of several parts of this factor, so its name says which two levels."""
    keys = [f for f in factors if f != factor] + ([SEED] if SEED in rows else [])
    metric = "test_acc_at_best_val"
    if metric not in rows or rows[metric].isna().any():
        metric = "test_acc"
    result = paired_difference(rows, factor, levels[0], levels[1], keys, metric=metric)
    low, high, mean = result["ci_low"], result["ci_high"], result["mean_diff"]
    if contrast.little:
        verdict = REPRODUCED if mean < LITTLE else NOT_REPRODUCED
    else:
        verdict = direction_verdict(low)
    name = factor.removeprefix("param.")
    label = f"{name} {levels[0]} → {levels[1]}" if many else name
    p_text = "" if math.isnan(result["p_value"]) else f", p = {result['p_value']:.3g}"
    measured = (
        f"{name} {levels[0]} → {levels[1]}: {_pct(result['mean_a'])} → {_pct(result['mean_b'])} "
        f"({metric}), paired difference {100 * mean:+.2f} points over {result['n_pairs']} pair(s), "
        f"{_interval(low, high)}{p_text}"
    )
    involved = rows[rows[factor].isin(levels)]
    params = [rows.loc[rows[factor] == level, "params"].mean() for level in levels]
    measured += f"; parameters {params[0]:,.0f} → {params[1]:,.0f}"
    notes = [_budget_remark(involved)]
    if contrast.smaller_b and not params[1] < params[0]:
        notes.append("the net without conv layers is not the larger one here")
    return Part(
        contrast.claim,
        contrast.topic,
        f"{contrast.name} [{source.name}: {label}]",
        verdict if result["n_pairs"] else NOT_RUN,
        measured,
        sources=source.name,
        note="; ".join(n for n in notes if n),
        numbers=result,
    )


# --- parts from trained networks -------------------------------------------------------------


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
    verdict = numbers_verdict(single.mean(), ensemble, (0.9960, 0.9967), math.nan, math.nan)
    low, high = t_interval(single)
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
        numbers={"ensemble": ensemble, "single_mean": float(single.mean())},
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


# --- the verdicts ----------------------------------------------------------------------------


def evaluate_parts(
    sources: list[ResultsSource], notes: dict[str, pd.Series], data_dir: Path | None
) -> list[Part]:
    trials = Trials.gather(sources, notes)
    parts: list[Part] = []
    for step in PRESET_STEPS:
        parts += [p for p in [preset_part(trials, step)] if p]
    parts += [p for p in [ensemble_part(trials, data_dir)] if p]
    for source in sources:
        if source.mode == "grid":
            for contrast in CONTRASTS:
                parts += contrast_parts(trials, source, contrast)
    parts += probe_parts(trials, data_dir)
    return sorted(parts, key=lambda p: p.claim)


def claim_verdict(claim: int, parts: list[Part]) -> str:
    ran = [p for p in parts if p.verdict != NOT_RUN]
    if not ran:
        return NOT_RUN
    if any(p.verdict == NOT_REPRODUCED for p in ran):
        return NOT_REPRODUCED
    complete = REQUIRED_TOPICS[claim] <= {p.topic for p in ran}
    if any(p.verdict == DIRECTION_ONLY for p in ran):
        return DIRECTION_ONLY if complete else f"{DIRECTION_ONLY} (partly run)"
    return REPRODUCED if complete else PARTLY


def missing_topics(claim: int, parts: list[Part]) -> list[str]:
    covered = {p.topic for p in parts if p.verdict != NOT_RUN}
    return sorted(REQUIRED_TOPICS[claim] - covered)


def claims_table(parts: list[Part]) -> pd.DataFrame:
    rows = []
    for claim, statement in STATEMENTS.items():
        mine = [p for p in parts if p.claim == claim]
        verdict = claim_verdict(claim, mine)
        measured = " | ".join(f"{p.name}: {p.verdict}" for p in mine) or "no evidence here"
        missing = missing_topics(claim, mine)
        to_run = f"{', '.join(missing)}: {PRODUCED_BY[claim]}" if missing else ""
        rows.append(
            {
                "claim": claim,
                "statement": statement,
                "lecture": LECTURE_NUMBERS[claim],
                "measured": measured,
                "verdict": verdict,
                "not run": to_run,
            }
        )
    return pd.DataFrame(rows)


def parts_table(parts: list[Part]) -> pd.DataFrame:
    columns = ["claim", "topic", "part", "verdict", "measured", "sources", "note"]
    rows = [[p.claim, p.topic, p.name, p.verdict, p.measured, p.sources, p.note] for p in parts]
    return pd.DataFrame(rows, columns=columns)
