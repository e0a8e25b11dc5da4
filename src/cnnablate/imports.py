"""Objects named by import path, "package.module:name" (a network factory, a data module).

As uvicorn and gunicorn do, the working folder is on the import path, so that `mynets.py` beside
the spec one runs from is found by `cnnablate` as it would be by `python -m`; PYTHONPATH and
installed packages work as always. Worker processes start in the same folder and find it too.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from typing import Any

from cnnablate.errors import UserError


def import_object(path: str, key: str) -> Any:
    """The object at `path`; a path that does not import is a UserError naming `key`."""
    module_name, _, attribute = path.partition(":")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        module = import_module(module_name)
    except ImportError as error:
        raise UserError(f"{key} {path!r}: cannot import {module_name!r} ({error})") from None
    except Exception as error:
        raise UserError(
            f"{key} {path!r}: importing {module_name!r} raised {one_line(error)}"
        ) from None
    found: Any = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise UserError(f"{key} {path!r}: {module_name!r} has no {attribute!r}")
        found = getattr(found, part)
    return found


def one_line(error: BaseException) -> str:
    """`Type: first line of the message`."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
