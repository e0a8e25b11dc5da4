"""The command line's parser: every command, flag and help text of `cnnablate` (the commands
themselves are in cli.py). Building it imports no ML library, so that `--help` and a bad flag
answer at once."""

from __future__ import annotations

import argparse

from cnnablate import __version__
from cnnablate.argtypes import Parser, fraction, non_negative_int, positive_float, positive_int
from cnnablate.data.registry import DATAMODULES
from cnnablate.loggers import LOGGERS
from cnnablate.perf.benchmarks import BENCHMARKS

DESCRIPTION = "presets, data, one training run, ablation matrices, reports, speed checks"


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        help="where data sets live (default: $CNNABLATE_DATA, else the user cache dir)",
    )


def add_logger(parser: argparse.ArgumentParser, also: str = "") -> None:
    parser.add_argument(
        "--logger",
        action="append",
        choices=LOGGERS,
        help=f"log each seed's run to this logger too (repeatable){also}; the extras "
        "cnnablate[tensorboard|mlflow|wandb] install their packages",
    )


def build_parser() -> Parser:
    parser = Parser(prog="cnnablate", description=f"`cnnablate`: {DESCRIPTION}")
    parser.add_argument("--version", action="version", version=f"cnnablate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    presets = sub.add_parser("presets", help="list the lecture's named networks")
    presets.add_argument("--json", action="store_true", help="print a JSON list")

    data = sub.add_parser("data", help="obtain data sets")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    fetch = data_sub.add_parser("fetch", help="fetch and verify a data set (SHA256)")
    fetch.add_argument("name", help=", ".join(DATAMODULES))
    fetch.add_argument("--from", dest="source", help="a local directory holding the files")
    add_data_dir(fetch)

    train = sub.add_parser("train", help="train one preset and write result.json")
    train.add_argument("preset", nargs="?", help="a preset name (see `cnnablate presets`)")
    train.add_argument(
        "--config",
        metavar="FILE",
        help="instead of a preset: rerun a trial's config.yaml or result.json, or train a "
        "config YAML (as --print-config prints it)",
    )
    train.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config and seed as YAML (for --config) and train nothing",
    )
    train.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config field, e.g. optim.lr=0.05 or model.hidden=[100,100]",
    )
    train.add_argument("--seed", type=non_negative_int, help="default: the --config file's, else 0")
    budget = train.add_mutually_exclusive_group()
    budget.add_argument("--max-steps", type=positive_int, help="budget in SGD updates")
    budget.add_argument("--max-epochs", type=positive_int, help="budget in epochs")
    train.add_argument("--accelerator", choices=["auto", "cpu", "gpu"], default="auto")
    train.add_argument("--out", help="output folder (default runs/PRESET/seedN)")
    train.add_argument(
        "--checkpoint", action="store_true", help="keep the best weights (OUT/best.ckpt)"
    )
    add_logger(train)
    add_data_dir(train)

    run = sub.add_parser("run", help="run an ablation spec (grid or Optuna study), resumable")
    run.add_argument("spec", help="an ablation spec, e.g. ablations/mnist1d-quick.yaml")
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override the spec's base in every cell (after base.set; factor levels still "
        "apply on top); the results folder's spec.yaml records it",
    )
    run.add_argument("--out", help="results folder (default results/NAME)")
    run.add_argument(
        "--storage",
        help="Optuna storage URL (default: $CNNABLATE_STORAGE, else SQLite in the results folder)",
    )
    run.add_argument("--workers", type=positive_int, default=1, help="processes on this machine")
    run.add_argument("--max-steps", type=positive_int, help="cap every trial (smoke runs)")
    run.add_argument("--dry-run", action="store_true", help="list the cells, train nothing")
    run.add_argument("--accelerator", choices=["auto", "cpu", "gpu"], help="override the spec's")
    run.add_argument(
        "--time-limit",
        type=positive_float,
        metavar="SECONDS",
        help="stop after this long: running trials stop at an epoch end with their state saved, "
        "and the same command resumes them",
    )
    add_logger(run, also=", beside the spec's loggers")
    add_data_dir(run)

    status = sub.add_parser("status", help="done / short / running / failed / pending per cell")
    status.add_argument("target", help="a spec file or a results folder")
    status.add_argument(
        "--storage",
        help="Optuna storage URL (default: $CNNABLATE_STORAGE, else the folder's SQLite)",
    )
    status.add_argument("--summary", action="store_true", help="counts only")
    status.add_argument(
        "--max-steps",
        type=positive_int,
        help="judge against a run capped at this many steps (default: the full budget)",
    )

    report = sub.add_parser("report", help="tables, figures and claim verdicts from results")
    report.add_argument("results", nargs="+", help="results folders (holding results.parquet)")
    report.add_argument("--out", help="report folder (default reports/NAME of the first)")
    add_data_dir(report)

    compare = sub.add_parser(
        "compare", help="two results folders of one spec: accuracy change per cell, speed ratio"
    )
    compare.add_argument("a", help="the reference results folder")
    compare.add_argument("b", help="the results folder to check")
    compare.add_argument(
        "--margin",
        type=fraction,
        default=0.02,
        help="equivalence margin in accuracy (default 0.02: 2 percentage points)",
    )
    compare.add_argument("--out", help="also write the table to this Markdown file")

    bench = sub.add_parser(
        "bench",
        help="speed regression check: A/B against a commit, or a calibrated stored baseline",
    )
    bench.add_argument("--against", metavar="REF", help="a git revision to A/B against")
    bench.add_argument(
        "--tolerance", type=fraction, default=0.10, help="slowdown to catch (default 0.10)"
    )
    bench.add_argument(
        "--max-seconds",
        type=positive_float,
        default=270.0,
        help="stop adding rounds after this long (default 270)",
    )
    bench.add_argument("--min-rounds", type=positive_int, default=5, help="default 5")
    bench.add_argument(
        "--benchmark", action="append", choices=list(BENCHMARKS), help="only these (repeatable)"
    )
    bench.add_argument(
        "--inject-slowdown",
        type=fraction,
        metavar="FRACTION",
        help="make every update of this tree that much slower (to measure the check's power)",
    )
    bench.add_argument("--save", metavar="NAME", help="save this tree's run as a baseline")
    bench.add_argument("--baseline", metavar="NAME", help="the baseline to compare with")
    bench.add_argument(
        "--baseline-dir", metavar="DIR", help="where baselines are (bench/baselines/normalised)"
    )
    bench.add_argument("--out", default="bench/results", help="where bench.md/json go")
    return parser
