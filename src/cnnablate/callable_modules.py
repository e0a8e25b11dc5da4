"""`cnnablate.train(...)` and `cnnablate.report(...)`: modules that are also the Python API of
their name.

`cnnablate.train` and `cnnablate.report` are the modules that do the work; Python's import sets
a package's attribute to its submodule once that is imported, so a function of the same name in
the package would be replaced by the module at the first run. Instead the module itself is made
callable, forwarding to its API function (`train.train_table`, `report.report_table`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any


class CallableModule(ModuleType):
    __api__: Callable[..., Any]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__api__(*args, **kwargs)


def make_callable(module_name: str, function: Callable[..., Any]) -> None:
    """Calling the module `module_name` calls `function`."""
    module = sys.modules[module_name]
    module.__class__ = CallableModule
    module.__api__ = function
