"""The report as plain data (sections of text, tables and figures), rendered twice: Markdown
and self-contained HTML."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class Text:
    text: str
    warning: bool = False


@dataclass
class Table:
    """A table written in full to `tables/NAME.csv` and shown in the report (as `shown` when
    given: a compact version for reading)."""

    name: str
    caption: str
    frame: pd.DataFrame
    shown: pd.DataFrame | None = None

    @property
    def display(self) -> pd.DataFrame:
        return self.frame if self.shown is None else self.shown


@dataclass
class Image:
    """A figure saved as `figures/NAME.png` and `.svg`."""

    name: str
    caption: str
    png: Path


@dataclass
class Section:
    title: str
    blocks: list[Text | Table | Image] = field(default_factory=list)
    level: int = 2

    def text(self, text: str, warning: bool = False) -> None:
        self.blocks.append(Text(text, warning))

    def add(self, block: Text | Table | Image) -> None:
        self.blocks.append(block)


@dataclass
class Document:
    title: str
    sections: list[Section] = field(default_factory=list)

    def section(self, title: str, level: int = 2) -> Section:
        section = Section(title, level=level)
        self.sections.append(section)
        return section

    @property
    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    @property
    def images(self) -> list[Image]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Image)]
