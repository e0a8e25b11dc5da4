"""`cnnablate`: presets, data, one training run, ablation matrices, reports, speed checks.

Bad input ends with one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cnnablate import __version__
from cnnablate.argtypes import Parser, fraction, non_negative_int, positive_float, positive_int
from cnnablate.data.registry import DATAMODULES
from cnnablate.errors import Unavailable, UserError
from cnnablate.perf.benchmarks import BENCHMARKS

EXIT_UNAVAILABLE = 1  # good input, but a database or data set could not be had
EXIT_USAGE = 2
STORAGE_ENV = "CNNABLATE_STORAGE"


def cmd_presets(args: argparse.Namespace) -> int:
    from cnnablate.presets import list_presets

    rows = [
        {
            "name": p.name,
            "dataset": p.dataset,
            "params": p.params,
            "description": p.description,
            "source": p.source,
            "claimed": p.claimed,
        }
        for p in list_presets()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']:<20} {row['dataset']:<15} {row['params']:>10,}  {row['description']}")
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from cnnablate.data import fetch_dataset
    from cnnablate.data.fetch import resolve_data_dir

    local = Path(args.source) if args.source else None
    path = fetch_dataset(args.name, resolve_data_dir(args.data_dir), local_dir=local)
    print(f"{args.name}: ready in {path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from cnnablate.config import apply_overrides, with_budget
    from cnnablate.presets import get_preset

    preset = get_preset(args.preset)
    config = apply_overrides(preset.config, args.set or [])
    config = with_budget(config, args.max_steps, args.max_epochs)
    out_dir = Path(args.out) if args.out else Path("runs") / preset.name / f"seed{args.seed}"
    check_writable(out_dir, keep=False)
    from cnnablate.checkpoints import checkpoint_line
    from cnnablate.data.fetch import resolve_data_dir
    from cnnablate.train import TrainOptions, train

    options = TrainOptions(
        accelerator=args.accelerator,
        data_dir=resolve_data_dir(args.data_dir),
        preset=preset.name,
        checkpoint=args.checkpoint,
    )
    result = train(config, seed=args.seed, out_dir=out_dir, options=options)
    from cnnablate.summaries import summary_line

    print(summary_line(result))
    print(f"wrote {out_dir / 'result.json'} and {out_dir / 'metrics.csv'}")
    if args.checkpoint:
        print(checkpoint_line(out_dir, result))
    return 0 if result["status"] == "ok" else 1


def cmd_run(args: argparse.Namespace) -> int:
    from cnnablate.runner.spec import load_spec

    spec = load_spec(args.spec)
    from cnnablate.runner.plans import make_plan

    if args.dry_run:
        from cnnablate.runner.status import print_plan

        print_plan(make_plan(spec, args.max_steps))
        return 0
    from cnnablate.data.fetch import resolve_data_dir
    from cnnablate.runner.execute import RunOptions, run_spec
    from cnnablate.runner.status import print_status
    from cnnablate.runner.storage import default_storage_url

    out_dir = Path(args.out) if args.out else Path("results") / spec.name
    check_writable(out_dir)
    options = RunOptions(
        out_dir=out_dir,
        storage_url=storage_arg(args) or default_storage_url(out_dir),
        workers=args.workers,
        step_cap=args.max_steps,
        accelerator=args.accelerator,
        data_dir=resolve_data_dir(args.data_dir),
        progress="bar" if sys.stderr.isatty() else "lines",
        deadline=time.time() + args.time_limit if args.time_limit else None,
    )
    study = run_spec(spec, options)
    counts = print_status(study, make_plan(spec, args.max_steps))
    from cnnablate.summaries import print_cell_summary

    print_cell_summary(out_dir, args.max_steps)
    print(
        f"results: {out_dir / 'results.parquet'} (and results.csv); storage: {options.storage_url}"
    )
    print(f"report: cnnablate report {out_dir}")
    if options.out_of_time():
        print(
            f"stopped by --time-limit {args.time_limit:g} s: cut-off trials saved their state; "
            "run the same command again to go on"
        )
    unfinished = ("pending", "running", "short")
    return 1 if any(counts.get(state, 0) for state in unfinished) else 0


def storage_arg(args: argparse.Namespace) -> str | None:
    """`--storage`, else `$CNNABLATE_STORAGE` (e.g. a PostgreSQL URL kept out of the shell
    history), else None: the results folder's SQLite."""
    return args.storage or os.environ.get(STORAGE_ENV) or None


def cmd_status(args: argparse.Namespace) -> int:
    if not Path(args.target).is_dir():
        from cnnablate.runner.spec import load_spec

        load_spec(Path(args.target))  # a bad spec answers before optuna and pandas load
    from cnnablate.runner.status import locate_study, print_status

    study, plan = locate_study(args.target, storage_arg(args), args.max_steps)
    counts = print_status(study, plan, per_cell=not args.summary)
    return 0 if counts.get("failed", 0) == 0 else 1


def cmd_report(args: argparse.Namespace) -> int:
    from cnnablate.record import results_table

    results = [Path(r) for r in args.results]
    for folder in results:
        results_table(folder)  # a wrong folder answers before the report's stack loads
    from cnnablate.data.fetch import resolve_data_dir
    from cnnablate.report import build_report

    out_dir = Path(args.out) if args.out else Path("reports") / results[0].resolve().name
    build_report(results, out_dir, data_dir=resolve_data_dir(args.data_dir))
    print(f"report: {out_dir / 'index.html'} (and index.md, tables/, figures/)")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.save and args.against:
        raise UserError("--save: saves this tree's baseline; it cannot go with --against")
    from cnnablate.perf.ab import BenchOptions, markdown, prepare, progress_line, run_bench

    options = BenchOptions(
        against=args.against,
        tolerance=args.tolerance,
        max_seconds=args.max_seconds,
        min_rounds=args.min_rounds,
        slowdown=args.inject_slowdown or 0.0,
        benchmarks=args.benchmark or BenchOptions().benchmarks,
        out=Path(args.out),
        save=args.save,
        baseline=args.baseline,
        baseline_dir=Path(args.baseline_dir) if args.baseline_dir else None,
    )
    plan = prepare(options)
    if args.save is None:
        check_writable(options.out)
    result, status = run_bench(plan, options, say=progress_line)
    if args.save is None:
        print(markdown(result))
        print(f"written to {options.out / 'bench.md'} and bench.json")
    return status


def cmd_compare(args: argparse.Namespace) -> int:
    from cnnablate.record import results_table

    for folder in (args.a, args.b):
        results_table(Path(folder))
    from cnnablate.atomic import write_text
    from cnnablate.report.compare import WORSE, compare, markdown

    a, b = Path(args.a), Path(args.b)
    table = compare(a, b, args.margin)
    text = markdown(table, a, b, args.margin)
    print(text)
    if args.out:
        write_text(Path(args.out), text)
    worse = int((table["verdict"] == WORSE).sum())
    print(
        f"{len(table)} cells: {worse} worse beyond the margin"
        if worse
        else f"{len(table)} cells: none worse"
    )
    return 1 if worse else 0


def check_writable(out_dir: Path, keep: bool = True) -> None:
    """Refuse an output folder we cannot write before any work starts; the folder is made
    (and, with keep=False, removed again if it was not there before)."""
    existed = out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as error:
        raise UserError(f"--out {out_dir}: not writable ({error.strerror})") from None
    if not keep and not existed:
        out_dir.rmdir()


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        help="where data sets live (default: $CNNABLATE_DATA, else the user cache dir)",
    )


def build_parser() -> Parser:
    parser = Parser(prog="cnnablate", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cnnablate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    presets = sub.add_parser("presets", help="list the lecture's named networks")
    presets.add_argument("--json", action="store_true", help="print a JSON list")
    presets.set_defaults(func=cmd_presets)

    data = sub.add_parser("data", help="obtain data sets")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    fetch = data_sub.add_parser("fetch", help="fetch and verify a data set (SHA256)")
    fetch.add_argument("name", help=", ".join(DATAMODULES))
    fetch.add_argument("--from", dest="source", help="a local directory holding the files")
    add_data_dir(fetch)
    fetch.set_defaults(func=cmd_data_fetch)

    train = sub.add_parser("train", help="train one preset and write result.json")
    train.add_argument("preset", help="a preset name (see `cnnablate presets`)")
    train.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config field, e.g. optim.lr=0.05 or model.hidden=[100,100]",
    )
    train.add_argument("--seed", type=non_negative_int, default=0)
    budget = train.add_mutually_exclusive_group()
    budget.add_argument("--max-steps", type=positive_int, help="budget in SGD updates")
    budget.add_argument("--max-epochs", type=positive_int, help="budget in epochs")
    train.add_argument("--accelerator", choices=["auto", "cpu", "gpu"], default="auto")
    train.add_argument("--out", help="output folder (default runs/PRESET/seedN)")
    train.add_argument(
        "--checkpoint", action="store_true", help="keep the best weights (OUT/best.ckpt)"
    )
    add_data_dir(train)
    train.set_defaults(func=cmd_train)

    run = sub.add_parser("run", help="run an ablation spec (grid or Optuna study), resumable")
    run.add_argument("spec", help="an ablation spec, e.g. ablations/mnist1d-quick.yaml")
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
    add_data_dir(run)
    run.set_defaults(func=cmd_run)

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
    status.set_defaults(func=cmd_status)

    report = sub.add_parser("report", help="tables, figures and claim verdicts from results")
    report.add_argument("results", nargs="+", help="results folders (holding results.parquet)")
    report.add_argument("--out", help="report folder (default reports/NAME of the first)")
    add_data_dir(report)
    report.set_defaults(func=cmd_report)

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
    compare.set_defaults(func=cmd_compare)

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
    bench.set_defaults(func=cmd_bench)
    return parser


def run(argv: Sequence[str] | None, handler: Callable[[argparse.Namespace], int] | None = None):
    args = build_parser().parse_args(argv)
    return (handler or args.func)(args)


def quiet_logging() -> None:
    """Log warnings and errors only, to stderr: Lightning's start-up banner (GPU available,
    tips, at INFO) is noise in a summary-first CLI. Lightning is not imported for this (it takes
    seconds): with a handler on the root logger, Lightning's import adds no handler of its own,
    and its INFO records stop at ours. Where it is imported already, its loggers are quietened."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setLevel(logging.WARNING)
        root.addHandler(handler)
    if "pytorch_lightning" in sys.modules:
        from cnnablate.callbacks import quiet_lightning

        quiet_lightning()


def main(argv: Sequence[str] | None = None) -> int:
    quiet_logging()
    try:
        return run(argv)
    except UserError as error:
        print(f"cnnablate: error: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE if isinstance(error, Unavailable) else EXIT_USAGE
    except KeyboardInterrupt:
        print("cnnablate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
