"""The data-set registry `DATAMODULES`: name → its `TensorDataModule` class.

The built-in entries are written as "module:Class" and imported on first read, so that naming
and checking a data set (the command line, config validation) imports neither torch nor
Lightning. A new data set is one line here, or `DATAMODULES[name] = SomeDataModule` at run time.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from importlib import import_module


class LazyRegistry(MutableMapping[str, type]):
    """A dict whose values may be given as "module:Class", imported when first read."""

    def __init__(self, entries: dict[str, str | type]) -> None:
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> type:
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attribute = entry.partition(":")
            entry = self._entries[name] = getattr(import_module(module), attribute)
        return entry

    def __setitem__(self, name: str, value: str | type) -> None:
        self._entries[name] = value

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    # Without these three, MutableMapping's would read (and so import) the entries.
    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def clear(self) -> None:
        self._entries.clear()

    def copy(self) -> LazyRegistry:
        return LazyRegistry(self._entries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._entries!r})"


DATAMODULES = LazyRegistry(
    {
        "mnist1d": "cnnablate.data.mnist1d:MNIST1DDataModule",
        "mnist": "cnnablate.data.mnist:MNISTDataModule",
        "mnist-expanded": "cnnablate.data.mnist:MNISTExpandedDataModule",
        "fashion-mnist": "cnnablate.data.mnist:FashionMNISTDataModule",
    }
)
