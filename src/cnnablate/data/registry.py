"""The data-set registry `DATAMODULES`: name → its `TensorDataModule` class.

The built-in entries are written as "module:Class" and imported on first read, so that naming
and checking a data set (the command line, config validation) imports neither torch nor
Lightning. A new data set is one line here, or `DATAMODULES[name] = SomeDataModule` at run time,
or an installed package's `cnnablate.datasets` entry point (`cnnablate.plugins`), added as its
"module:Class" string.
"""

from __future__ import annotations

from importlib import import_module

from cnnablate.errors import Unavailable
from cnnablate.plugins import DATASETS_GROUP, PluginRegistry, add_reference, describe


class LazyRegistry(PluginRegistry[type]):
    """A dict whose values may be given as "module:Class", imported when first read."""

    def __getitem__(self, name: str) -> type:
        entry = super().__getitem__(name)
        if isinstance(entry, str):
            entry = self._entries[name] = self._import(name, entry)
        return entry

    def _import(self, name: str, reference: str) -> type:
        module, _, attribute = reference.partition(":")
        try:
            return getattr(import_module(module), attribute)
        except Exception as error:
            origin = self._origins.get(name)
            if origin is None:
                raise  # a built-in entry that does not import is this package's bug
            raise Unavailable(
                f"data set '{name}' of {describe(origin)} cannot be imported "
                f"({type(error).__name__}: {error})"
            ) from None

    def copy(self) -> LazyRegistry:
        self.load_plugins()
        return LazyRegistry(self._entries)


DATAMODULES = LazyRegistry(
    {
        "mnist1d": "cnnablate.data.mnist1d:MNIST1DDataModule",
        "mnist": "cnnablate.data.mnist:MNISTDataModule",
        "mnist-expanded": "cnnablate.data.mnist:MNISTExpandedDataModule",
        "fashion-mnist": "cnnablate.data.mnist:FashionMNISTDataModule",
    },
    DATASETS_GROUP,
    add_reference,
)
