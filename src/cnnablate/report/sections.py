"""Each results folder's section of the report: a grid's cells and factors, or an Optuna study's
search, then the figures both share. `front.py` writes the sections before them."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from torch import nn

from cnnablate.errors import UserError
from cnnablate.module import Classifier
from cnnablate.report import figures, optuna_study
from cnnablate.report.document import Document, Image, Section, Table
from cnnablate.report.modes import is_search
from cnnablate.report.sources import ResultsSource
from cnnablate.report.tables import (
    cell_table,
    cells_for_reading,
    factor_name,
    interactions,
    main_effects,
    paired_comparisons,
)
from cnnablate.report.timing import time_to_result
from cnnablate.report.trained import best_checkpointed, load_model, load_test_inputs, predict


@dataclass
class Context:
    """Where figures go and what every section needs to know."""

    figures_dir: Path
    data_dir: Path | None
    notes: dict[str, pd.Series]  # budget note per finished trial, by source name

    def figure(self, section: Section, figure: Figure, name: str, caption: str) -> None:
        png = figures.save(figure, self.figures_dir, name)
        section.add(Image(name, caption, png))


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-") or "results"


# --- one results folder ----------------------------------------------------------------------


def marked(trials: pd.DataFrame, notes: pd.Series) -> pd.DataFrame:
    trials = trials.copy()
    trials["budget"] = [f"† {n}" if n else "" for n in notes] if len(trials) else []
    return trials


def with_compute(source: ResultsSource, trials: pd.DataFrame) -> pd.DataFrame:
    """Training FLOPs = FLOPs per sample × samples seen (updates × mini-batch size)."""
    if "train_flops_per_sample" not in trials or trials["train_flops_per_sample"].isna().all():
        return trials
    batch = [c["data"]["batch_size"] if c else math.nan for c in source.finished_configs]
    trials = trials.copy()
    trials["train_flops"] = trials["train_flops_per_sample"] * trials["steps"] * batch
    return trials


def cell_labels(cells: pd.DataFrame, factors: list[str]) -> list[str]:
    names = [factor_name(f) for f in factors]
    if not names:
        return ["all trials"] * len(cells)
    if len(names) == 1:
        return [str(level) for level in cells[names[0]]]
    rows = cells.to_dict("records")
    return [", ".join(f"{n.split('.')[-1]}={row[n]}" for n in names) for row in rows]


def trial_labels(trials: pd.DataFrame, factors: list[str]) -> list[str]:
    # From the factor columns alone: a factor `param.preset` must not meet the trial's own
    # `preset` column under one name.
    levels = pd.DataFrame({factor_name(f): trials[f].to_numpy() for f in factors})
    return cell_labels(levels, factors)


def shown_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop columns with nothing in them (e.g. accuracy at best validation without a val split)."""
    keep = [c for c in frame.columns if not frame[c].isna().all() and not (frame[c] == "").all()]
    return frame[keep]


def grid_section(document: Document, source: ResultsSource, context: Context) -> None:
    section = document.section(f"{source.name}: cells and factors")
    name = slug(source.name)
    trials = with_compute(source, marked(source.finished, context.notes[source.name]))
    factors = source.factors
    orders = {f: source.level_order(f) for f in factors}
    cells = cell_table(trials, factors)
    cells["label"] = cell_labels(cells, factors)
    section.add(
        Table(
            f"{name}-cells",
            "Per cell: test accuracy over seeds (mean, std, 95% t-CI truncated to 0–100%, "
            "best), error, parameters, throughput, wall time",
            shown_columns(cells.drop(columns="label")),
            cells_for_reading(cells, factors),
        )
    )
    timing = time_to_result(trials, factors)
    if not timing.empty:
        section.add(
            Table(
                f"{name}-time",
                "Time to result: wall seconds per trial from the start of training to its final "
                "evaluation (compile and CUDA-graph capture included), evaluation apart; device "
                "minutes of the cell's trials (a pack counted once) and of the whole run",
                timing,
            )
        )
    effects = main_effects(trials, factors, orders)
    if not effects.empty:
        section.add(
            Table(
                f"{name}-main-effects",
                "Main effects: marginal mean per level and "
                "difference from the first level (Welch 95% CI)",
                effects,
            )
        )
        context.figure(
            section,
            figures.effects(effects),
            f"{name}-effects",
            "Factor effects with 95% confidence intervals",
        )
    paired = paired_comparisons(trials, factors, orders)
    if not paired.empty:
        section.add(
            Table(
                f"{name}-paired",
                "Two-level factors: b − a over cells equal in every "
                "other factor and seed (paired t)",
                paired,
            )
        )
    inter = interactions(trials, factors)
    if not inter.empty:
        section.add(
            Table(
                f"{name}-interactions",
                "Two-factor interactions: mean test accuracy per pair of levels",
                inter,
            )
        )
        named_orders = {factor_name(f): order for f, order in orders.items()}
        heatmaps = figures.interaction_heatmaps(inter, named_orders)
        context.figure(section, heatmaps, f"{name}-interactions", "Interaction heat maps")
    trials["cell"] = trial_labels(trials, factors)
    common_figures(section, source, trials, cells, context)


def optuna_section(document: Document, source: ResultsSource, context: Context) -> None:
    section = document.section(f"{source.name}: Optuna study")
    name = slug(source.name)
    trials = with_compute(source, marked(source.finished, context.notes[source.name]))
    study = source.study
    if study is None:
        section.text("The study itself (study.db) is not at hand: no search view.", warning=True)
    else:
        metric = source.spec.model.optuna.metric if source.spec else "objective"
        best = optuna_study.best_trials(study, trials)
        section.add(Table(f"{name}-best-trials", f"Best trials by {metric}", best))
        weights, problem = optuna_study.importances(study)
        if problem:
            section.text(problem, warning=True)
        else:
            section.add(Table(f"{name}-importances", "Parameter importances", weights))
            context.figure(
                section,
                figures.importances(weights),
                f"{name}-importances",
                "Parameter importances (fANOVA)",
            )
        context.figure(
            section,
            figures.optimisation_history(optuna_study.history(study), metric),
            f"{name}-history",
            "Objective per trial and best so far",
        )
    trials["cell"] = [f"trial {t}" for t in trials["trial"]]
    cells = cell_table(trials, ["trial"]).rename(columns={"trial": "cell"})
    cells["label"] = [f"trial {t}" for t in cells["cell"]]
    common_figures(section, source, trials, cells, context)


def common_figures(
    section: Section,
    source: ResultsSource,
    trials: pd.DataFrame,
    cells: pd.DataFrame,
    context: Context,
) -> None:
    name = slug(source.name)
    learning_curves(section, source, trials, cells, context)
    shown = cells.sort_values("test_acc_mean", ascending=False).head(figures.MAX_CELLS_SHOWN)
    if shown["params"].notna().any():
        context.figure(
            section,
            figures.accuracy_against(shown, "params", "parameters"),
            f"{name}-accuracy-params",
            "Test accuracy against parameter count",
        )
    if "train_flops" in cells and cells["train_flops"].notna().any():
        context.figure(
            section,
            figures.accuracy_against(shown, "train_flops", "training FLOPs"),
            f"{name}-accuracy-compute",
            "Test accuracy against training compute (FLOPs per sample × samples seen)",
        )
    else:
        section.text("No train_flops_per_sample in these results: no compute figure.")
    context.figure(
        section,
        figures.throughput(shown),
        f"{name}-throughput",
        "Throughput per cell (mean over seeds)",
    )
    best_model(section, source, context)


def learning_curves(
    section: Section,
    source: ResultsSource,
    trials: pd.DataFrame,
    cells: pd.DataFrame,
    context: Context,
) -> None:
    best = cells.sort_values("test_acc_mean", ascending=False)["label"].head(
        figures.MAX_CELLS_SHOWN
    )
    chosen = trials[trials["cell"].isin(set(best))]
    curves, metric = read_curves(source, chosen)
    if curves.empty:
        section.text("No metrics.csv found for these trials: no learning curves.", warning=True)
        return
    order = {label: i for i, label in enumerate(best)}
    curves = curves.sort_values("cell", key=lambda c: c.map(order), kind="stable")
    more = f" (the best {len(best)} of {len(cells)} cells)" if len(cells) > len(best) else ""
    context.figure(
        section,
        figures.learning_curves(curves, metric),
        f"{slug(source.name)}-learning-curves",
        f"{metric} per SGD update, mean and range over seeds{more}",
    )


def read_curves(source: ResultsSource, trials: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Validation accuracy per evaluation where every trial has it, else test accuracy."""
    frames = []
    for row in trials.to_dict("records"):
        directory = source.trial_dir(row)
        path = directory / "metrics.csv" if directory else None
        if path is None or not path.is_file():
            continue
        metrics = pd.read_csv(path)
        metrics["cell"], metrics["seed"] = row["cell"], row.get("seed")
        frames.append(metrics)
    if not frames:
        return pd.DataFrame(), "test_acc"
    every = all("val_acc" in f and f["val_acc"].notna().all() for f in frames)
    metric = "val_acc" if every else "test_acc"
    curves = pd.concat(frames, ignore_index=True)
    return curves.rename(columns={metric: "acc"})[["cell", "seed", "step", "acc"]], metric


def best_model(section: Section, source: ResultsSource, context: Context) -> None:
    row = best_checkpointed(source)
    if row is None:
        section.text(
            "No trial here kept its weights (the spec needs `checkpoint: true`), so the best "
            "model's misclassified inputs, kernels and confusion matrix are not shown."
        )
        return
    trained = load_model(source, row)
    section.text(f"Best model: {trained.label}, test accuracy {100 * row['test_acc']:.2f}%.")
    name = slug(source.name)
    weight, what = first_layer(trained.model)
    context.figure(section, figures.kernels(weight, what), f"{name}-kernels", what)
    try:
        x, y = load_test_inputs(trained, context.data_dir)
    except UserError as error:
        section.text(f"Test data unavailable ({error}): no error figures.", warning=True)
        return
    predicted = predict(trained.model, x)
    context.figure(
        section,
        figures.misclassified(x.numpy(), y, predicted),
        f"{name}-misclassified",
        "Misclassified test inputs of the best model",
    )
    context.figure(
        section,
        figures.confusion(y, predicted),
        f"{name}-confusion",
        "Confusion matrix of the best model on the test set",
    )


def first_layer(model: Classifier) -> tuple[np.ndarray, str]:
    """The first conv layer's kernels, or the first linear layer's weights shaped as inputs."""
    for module in model.net.modules():
        if isinstance(module, nn.Conv1d | nn.Conv2d):
            return module.weight.detach().numpy(), "Learned first-layer kernels (input channel 0)"
        if isinstance(module, nn.Linear):
            shape = tuple(model.hparams["input_shape"])
            weight = module.weight.detach().numpy().reshape(-1, *shape)
            return weight, "First-layer weights of each hidden unit (no conv layer), as inputs"
    raise ValueError("the network has no conv or linear layer")


def failures(source: ResultsSource) -> Table | None:
    failed = source.frame[source.frame["state"] == "FAIL"]
    if failed.empty:
        return None
    columns = [c for c in ("trial", "cell", "failure") if c in failed]
    caption = "Failed trials (a grid queues their cells again on the next run)"
    return Table(f"{slug(source.name)}-failures", caption, failed[columns])


def source_section(document: Document, source: ResultsSource, context: Context) -> None:
    if source.finished.empty:
        document.section(f"{source.name}").text("No finished trials yet.", warning=True)
    elif is_search(source):
        optuna_section(document, source, context)
    else:
        grid_section(document, source, context)
    failed = failures(source)
    if failed is not None:
        document.sections[-1].add(failed)
