"""Write a `Document`: `index.md` (figures linked), `index.html` (figures embedded as base64
PNG, no outside requests), and every table as `tables/NAME.csv`."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

import pandas as pd

from cnnablate.report.document import Document, Image, Table, Text

PERCENT_WORDS = ("acc", "error", "mean", "ci_low", "ci_high", "diff", "best", "importance")
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1150px;
       color: #1d1d1f; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.85rem;
        max-width: 100%; }
td { overflow-wrap: anywhere; }
th, td { border: 1px solid #d0d0d5; padding: 0.25rem 0.5rem; text-align: left;
         vertical-align: top; }
th { background: #f0f0f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; border: 1px solid #e0e0e5; }
figcaption, .caption { color: #555; font-size: 0.9rem; }
.scroll { overflow-x: auto; }
.warning { background: #fff4d6; border-left: 4px solid #e0a000; padding: 0.5rem 0.8rem; }
"""


# --- cell formatting -------------------------------------------------------------------------


def _is_fraction_column(column: str) -> bool:
    lowered = column.lower()
    if "samples" in lowered or lowered in ("n", "n_pairs", "n_seeds", "params"):
        return False
    return any(word in lowered for word in PERCENT_WORDS)


def format_value(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    lowered = column.lower()
    if lowered in ("p_value", "objective") or "relative" in lowered:
        return f"{value:.3g}"
    if "samples" in lowered or "flops" in lowered or lowered == "params":
        return f"{value:,.0f}"
    if lowered.endswith(("_s", " s")):
        return f"{value:.1f}"
    if isinstance(value, float) and _is_fraction_column(column) and abs(value) <= 1:
        return f"{100 * value:.2f}%"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4g}"
    return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))


def display_rows(frame: pd.DataFrame) -> list[list[str]]:
    return [
        [format_value(str(column), value) for column, value in zip(frame.columns, row, strict=True)]
        for row in frame.itertuples(index=False, name=None)
    ]


# --- Markdown --------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_(empty)_"
    header = "| " + " | ".join(_md_cell(str(c)) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in display_rows(frame)]
    return "\n".join([header, rule, *body])


def markdown(document: Document) -> str:
    lines = [f"# {document.title}", ""]
    for section in document.sections:
        lines += [f"{'#' * section.level} {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Text):
                lines += [f"> **Note.** {block.text}" if block.warning else block.text, ""]
            elif isinstance(block, Table):
                lines += [f"_{block.caption}_ ([csv](tables/{block.name}.csv))", ""]
                lines += [markdown_table(block.display), ""]
            elif isinstance(block, Image):
                lines += [f"![{block.caption}](figures/{block.name}.png)", ""]
                lines += [f"_{block.caption}_ ([svg](figures/{block.name}.svg))", ""]
    return "\n".join(lines)


# --- HTML ------------------------------------------------------------------------------------


def html_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p><em>(empty)</em></p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    body = []
    for row in display_rows(frame):
        cells = "".join(
            f'<td class="num">{html.escape(v)}</td>' if is_num else f"<td>{html.escape(v)}</td>"
            for v, is_num in zip(row, numeric, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_image(image: Image) -> str:
    data = base64.b64encode(image.png.read_bytes()).decode("ascii")
    caption = html.escape(image.caption)
    return (
        f'<figure id="{html.escape(image.name)}"><img alt="{caption}" '
        f'src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>'
    )


def html_block(block: Text | Table | Image) -> str:
    if isinstance(block, Text):
        css = ' class="warning"' if block.warning else ""
        return f"<p{css}>{html.escape(block.text)}</p>"
    if isinstance(block, Table):
        caption = html.escape(block.caption)
        link = f'<a href="tables/{html.escape(block.name)}.csv">csv</a>'
        table = html_table(block.display)
        return f'<p class="caption">{caption} ({link})</p><div class="scroll">{table}</div>'
    return html_image(block)


def to_html(document: Document) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(document.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(document.title)}</h1>",
    ]
    for section in document.sections:
        tag = f"h{section.level}"
        parts.append(f"<{tag}>{html.escape(section.title)}</{tag}>")
        parts += [html_block(block) for block in section.blocks]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_document(document: Document, folder: Path) -> None:
    """index.md, index.html and tables/*.csv into `folder` (figures are already there)."""
    tables = folder / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    for table in document.tables:
        table.frame.to_csv(tables / f"{table.name}.csv", index=False)
    (folder / "index.md").write_text(markdown(document))
    (folder / "index.html").write_text(to_html(document))
