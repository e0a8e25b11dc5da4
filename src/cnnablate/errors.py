"""The exception types that reach the user as a single line, never as a traceback, and the one
line a failed validation of a config or spec becomes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class UserError(Exception):
    """Bad input from the user: printed as one line by the CLI, never as a traceback (exit 2)."""


class Unavailable(UserError):
    """Good input, but what it needs cannot be had: an unreachable database, data that is missing
    or corrupted. One line like a UserError, exit status 1."""


class Interrupted(Exception):
    """A run stopped by its time limit at an epoch end, its whole state saved for a resume."""


def format_validation_error(
    error: ValidationError, where: str = "config", allowed: list[str] | None = None
) -> str:
    """One line naming the first bad field, the value given and what is allowed (for an unknown
    top-level key: `allowed`). Used for configs and specs alike."""
    first = error.errors()[0]
    key = _error_key(first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        names = f" (allowed: {', '.join(allowed)})" if allowed and "." not in key else ""
        return f"{where}: unknown key '{key}'{names}"
    if first["type"] == "missing":
        return f"{where}: missing key '{key}'"
    if "input" in first and first["type"] not in ("value_error", "model_type"):
        return f"{where}: invalid value {first['input']!r} for '{key}': {message}"
    return f"{where}: invalid '{key}': {message}" if key else f"{where}: {message}"


def _error_key(loc: tuple) -> str:
    """The dotted key of an error's location, without pydantic's union and validator tags."""
    tags = ("function-", "list[", "float", "int", "categorical", "str", "constrained-str")
    return ".".join(str(part) for part in loc if not str(part).startswith(tags))
