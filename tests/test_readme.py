"""The README's map of the package ("What is here") is true to the tree: every module and
package is named there, and every name there exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "cnnablate"
ENTRY_POINTS = {"__init__.py", "__main__.py"}


def package_map() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## What is here", 1)[1]
    return section.split("```", 2)[1]


def named_modules(text: str) -> set[str]:
    names = set(re.findall(r"\b(\w+\.py)\b", text))
    for stem, first, last in re.findall(r"\b(\w+?)(\d+)\.py \.\.\. \1(\d+)\.py", text):
        names |= {f"{stem}{n}.py" for n in range(int(first), int(last) + 1)}
    return names


def test_every_module_and_package_is_on_the_map():
    text = package_map()
    modules = {p.name for p in PACKAGE.rglob("*.py")} - ENTRY_POINTS
    packages = {p.parent.name for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE}
    assert modules - named_modules(text) == set()
    assert {name for name in packages if f"{name}/" not in text} == set()


def test_every_module_on_the_map_exists():
    existing = {
        p.name for folder in ("src", "scripts", "bench") for p in (ROOT / folder).rglob("*.py")
    }
    assert named_modules(package_map()) - existing == set()


def test_the_range_notation_is_read():
    assert named_modules("claims/ (claim1.py ... claim3.py)") == {
        "claim1.py",
        "claim2.py",
        "claim3.py",
    }
