"""Reports on results folders: tables, figures and a verdict on every lecture claim."""

from cnnablate.report.build import build_report

__all__ = ["build_report"]
