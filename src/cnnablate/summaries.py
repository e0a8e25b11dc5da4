"""What the terminal shows at the end of `cnnablate train` (one line) and `cnnablate run` (the
table of cells)."""

from __future__ import annotations

from pathlib import Path


def summary_line(result: dict) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.2f}%"

    rate = result["train_samples_per_s"]
    name = result["preset"] or "custom"  # a config without a preset (train --config)
    return (
        f"{name} seed {result['seed']}: {result['status']}, "
        f"test acc {pct(result['test_acc'])} (at best val {pct(result['test_acc_at_best_val'])}), "
        f"train acc {pct(result['train_acc'])}, "
        f"{result['steps']} steps in {result['wall_s']:.1f} s, "
        f"{rate:,.0f} train samples/s, {result['params']:,} params, {result['device']}"
        if rate
        else f"{name}: {result['status']}, test acc {pct(result['test_acc'])}"
    )


def print_cell_summary(out_dir: Path, step_cap: int | None = None) -> None:
    """Each cell's test accuracy over its seeds (mean ± std, 95% CI) and training speed, from the
    trials done at the run's budget; the cells short of it are listed, not averaged."""
    import pandas as pd

    from cnnablate.report.tables import cell_table, cells_for_reading
    from cnnablate.runner.results import read_results

    try:
        trials = read_results(out_dir)
    except (OSError, ValueError):
        return
    short = trials[trials["short"].notna()]
    trials = trials[(trials["state"] == "COMPLETE") & trials["short"].isna()]
    if step_cap is not None:
        print(
            f"every trial capped at {step_cap:,} steps (--max-steps): a smoke run, not the spec's"
        )
    for row in short.to_dict("records"):
        print(f"short: trial {row['trial']} ({row['preset']}, seed {row['seed']}): {row['short']}")
    if trials.empty or "test_acc" not in trials:
        return
    factors = [c for c in trials.columns if c.startswith("param.")]
    shown = cells_for_reading(cell_table(trials, factors), factors)
    columns = [c for c in shown.columns if c not in ("best", "test error", "eval samples/s")]
    for column in ("params", "train samples/s"):
        shown[column] = shown[column].map(lambda v: f"{v:,.0f}")
    shown["wall s"] = shown["wall s"].map(lambda v: f"{v:,.1f}")
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(shown[columns].to_string(index=False))
