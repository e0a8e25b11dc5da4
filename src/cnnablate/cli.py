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

from cnnablate.cli_parser import build_parser
from cnnablate.errors import Unavailable, UserError

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
    from cnnablate.config_file import dump_run, train_request

    request = train_request(
        args.preset, args.config, args.set or [], args.max_steps, args.max_epochs, args.seed
    )
    run = request.run
    from cnnablate.loggers import check_loggers

    loggers = check_loggers(args.logger or [])
    if args.print_config:
        print(dump_run(run), end="")
        return 0
    label = request.label
    out_dir = Path(args.out) if args.out else Path("runs") / label / f"seed{run.seed}"
    check_writable(out_dir, keep=False)
    if request.origin:
        print(request.origin)
    from cnnablate.checkpoints import checkpoint_line
    from cnnablate.data.fetch import resolve_data_dir
    from cnnablate.train import TrainOptions, train

    options = TrainOptions(
        accelerator=args.accelerator,
        data_dir=resolve_data_dir(args.data_dir),
        preset=run.preset,
        checkpoint=args.checkpoint,
        loggers=loggers,  # one run named OUT's name, experiment the preset, files in OUT
        step_cap=run.step_cap,
        label=label,
    )
    result = train(run.config, seed=run.seed, out_dir=out_dir, options=options)
    from cnnablate.summaries import summary_line

    print(summary_line(result))
    print(f"wrote {out_dir / 'result.json'} and {out_dir / 'metrics.csv'}")
    if args.checkpoint:
        print(checkpoint_line(out_dir, result))
    return 0 if result["status"] == "ok" else 1


def cmd_run(args: argparse.Namespace) -> int:
    from cnnablate.runner.spec import load_spec

    spec = load_spec(args.spec)
    from cnnablate.loggers import check_loggers

    check_loggers(spec.model.loggers, f"{args.spec}: loggers")
    extra_loggers = check_loggers(args.logger or [])
    if args.set:
        from cnnablate.runner.overrides import overrides_line, with_overrides

        spec = with_overrides(spec, args.set)
        print(overrides_line(spec, args.set))
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
        loggers=extra_loggers,
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


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "presets": cmd_presets,
    "data": cmd_data_fetch,
    "train": cmd_train,
    "run": cmd_run,
    "status": cmd_status,
    "report": cmd_report,
    "compare": cmd_compare,
    "bench": cmd_bench,
}


def run(argv: Sequence[str] | None, handler: Callable[[argparse.Namespace], int] | None = None):
    args = build_parser().parse_args(argv)
    return (handler or HANDLERS[args.command])(args)


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
