"""`cnnablate report` end to end on tiny real runs: what it writes, what it names, how it
replaces a previous report, and the one-line answers to bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cnnablate import cli
from cnnablate.errors import UserError
from cnnablate.report import build_report


def test_report_writes_markdown_html_tables_and_figure_pairs(grid_report: Path):
    assert (grid_report / "index.md").is_file() and (grid_report / "index.html").is_file()
    tables = {p.stem for p in (grid_report / "tables").glob("*.csv")}
    assert tables >= {
        "provenance",
        "claims",
        "claim-evidence",
        "tiny-grid-cells",
        "tiny-grid-main-effects",
        "tiny-grid-paired",
        "tiny-grid-interactions",
    }
    pngs = {p.stem for p in (grid_report / "figures").glob("*.png")}
    svgs = {p.stem for p in (grid_report / "figures").glob("*.svg")}
    assert pngs == svgs
    expected = {
        "effects",
        "interactions",
        "learning-curves",
        "accuracy-params",
        "accuracy-compute",
        "throughput",
        "kernels",
        "misclassified",
        "confusion",
    }
    assert {f"tiny-grid-{name}" for name in expected} <= pngs
    markdown = (grid_report / "index.md").read_text()
    for png in pngs:
        assert f"figures/{png}.png" in markdown


def test_report_names_what_it_was_built_from(grid_results: Path, grid_report: Path):
    results = pd.read_parquet(grid_results / "results.parquet")
    markdown = (grid_report / "index.md").read_text()
    provenance = pd.read_csv(grid_report / "tables" / "provenance.csv").iloc[0]
    assert provenance["spec"] == "tiny-grid"
    assert len(provenance["spec hash"]) == 16 and provenance["spec hash"] in markdown
    assert results["commit"].iloc[0] in markdown
    assert results["device"].iloc[0] in markdown
    assert provenance["trials"].startswith("8 (8 COMPLETE")
    assert "Report made 20" in markdown


def test_short_budgets_are_announced_and_marked(grid_report: Path):
    markdown = (grid_report / "index.md").read_text()
    assert "trained less than their preset's own budget" in markdown
    assert "20 of udl-mlp's 6,000 steps" in markdown
    cells = pd.read_csv(grid_report / "tables" / "tiny-grid-cells.csv")
    assert cells["budget"].str.startswith("†").all()


def test_claims_table_has_a_row_and_a_verdict_per_claim(grid_report: Path):
    table = pd.read_csv(grid_report / "tables" / "claims.csv")
    assert list(table["claim"]) == list(range(1, 9))
    allowed = {"reproduced", "not reproduced", "not run", "reproduced (partly run)"}
    assert set(table["verdict"]) <= allowed
    not_run = table[table["verdict"] == "not run"]
    assert not_run["not run"].notna().all()  # each names what would produce its evidence
    assert "Verdict rule." in (grid_report / "index.md").read_text()


def test_optuna_study_and_a_folder_without_its_study(optuna_results, bare_results, tmp_path):
    out = build_report([optuna_results, bare_results], tmp_path / "report")
    markdown = (out / "index.md").read_text()
    best = pd.read_csv(out / "tables" / "tiny-tune-best-trials.csv")
    assert len(best) == 4 and {"optim.lr", "channels", "objective", "test_acc"} <= set(best)
    assert best["objective"].is_monotonic_decreasing  # best first (maximised)
    assert (out / "figures" / "tiny-tune-history.png").is_file()
    importances = out / "tables" / "tiny-tune-importances.csv"
    assert importances.is_file() or "parameter importances" in markdown
    assert "bare: no study.db" in markdown
    assert "## bare: cells and factors" in markdown  # the table alone still gives the cells


def test_a_table_of_failed_trials_still_gives_a_report(grid_results, tmp_path):
    results = pd.read_parquet(grid_results / "results.parquet")
    failed = results[["trial", "state", "seed", "dir"]].assign(
        state="FAIL", failure="RuntimeError: out of memory"
    )
    folder = tmp_path / "failed"
    folder.mkdir()
    failed.to_parquet(folder / "results.parquet")
    out = build_report([folder], tmp_path / "report")
    markdown = (out / "index.md").read_text()
    assert "No finished trials yet." in markdown
    assert "RuntimeError: out of memory" in markdown
    assert set(pd.read_csv(out / "tables" / "claims.csv")["verdict"]) == {"not run"}


def test_a_new_report_replaces_the_old_one_only_when_complete(grid_results, tmp_path, monkeypatch):
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.md").write_text("previous report\n")
    (out / "stale.txt").write_text("from the previous report\n")

    def interrupted(document, folder):
        (folder / "index.md").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr("cnnablate.report.build.write_document", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_report([grid_results], out)
    assert (out / "index.md").read_text() == "previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no temporary folder left

    monkeypatch.undo()
    build_report([grid_results], out)
    assert (out / "index.md").read_text().startswith("# Report: tiny-grid")
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_bad_input_is_one_line_and_exit_status_2(tmp_path, grid_results, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cases = {
        (str(tmp_path / "missing"),): "no such results folder",
        (str(empty),): "no results.parquet",
        (str(grid_results), "--out", str(blocker / "report")): "not writable",
        (str(grid_results), "--out", str(blocker)): "not a folder",
    }
    for args, message in cases.items():
        assert cli.main(["report", *args]) == 2
        error = capsys.readouterr().err
        assert message in error and error.count("\n") == 1, error
    with pytest.raises(UserError):
        build_report([], tmp_path / "out")


def test_default_out_is_reports_slash_the_first_results_name(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        "cnnablate.report.build_report", lambda results, out, data_dir: calls.append(out)
    )
    monkeypatch.chdir(tmp_path)
    for name in ("mnist1d-quick", "other"):
        (tmp_path / "results" / name).mkdir(parents=True)
        (tmp_path / "results" / name / "results.parquet").touch()
    assert cli.main(["report", "results/mnist1d-quick", "results/other"]) == 0
    assert calls == [Path("reports") / "mnist1d-quick"]
