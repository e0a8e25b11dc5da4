"""The CLI's argument types and its parser: a usage error is one line and exit status 2."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

from cnnablate.errors import UserError

T = TypeVar("T", int, float)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (prog: error: ...) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message} (see --help)")


def checked(
    convert: Callable[[str], T], accepts: Callable[[T], bool], expected: str
) -> Callable[[str], T]:
    """An argparse type: `convert` the text, refuse what `accepts` rejects, saying `expected`."""

    def check(text: str) -> T:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accepts(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return check


positive_int = checked(int, lambda v: v > 0, "a positive integer")
non_negative_int = checked(int, lambda v: v >= 0, "an integer >= 0")
positive_float = checked(float, lambda v: v > 0 and math.isfinite(v), "a positive number")
fraction = checked(float, lambda v: 0 < v < 1, "a number in (0, 1)")
