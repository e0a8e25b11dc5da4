"""Plugins without a fork: an installed package adds presets, data sets and activations through
entry points (its `pyproject.toml`, `[project.entry-points."GROUP"]`; examples/tinynets is one).

- `cnnablate.presets`: each entry point names a module (or an object in one, "module:attr");
  loading it imports the module, whose `@cnnablate.presets.register(...)` calls add the presets.
  The entry point's own name is free (the package's name, say).
- `cnnablate.datasets`: name = the data set's name, value = "module:Class", a `TensorDataModule`
  subclass. It goes into `DATAMODULES` as that string: nothing is imported until it is used.
- `cnnablate.activations`: name = the activation's name, value = "module:attr", a class or a
  zero-argument callable returning an `nn.Module`. A config may name it without importing torch
  (the name is read from the package's metadata, like `config.BUILTIN_ACTIVATIONS`).

Each registry (`PRESETS`, `DATAMODULES`, `ACTIVATIONS`) reads its group the first time it is
read (a listing, a lookup, `name in REGISTRY`), in every process that reads it: the command line
and each worker of a run alike. Reading the metadata imports nothing; loading imports only the
plugin's own modules (torch-free where the plugin is).

A plugin that fails to load is skipped with one warning line on stderr naming the entry point
and its distribution (whatever it had registered is taken back): a broken third-party package
breaks no command. A name that is already taken (a built-in, or an earlier plugin's) is refused
with a warning line; the first one stays.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TypeVar

PRESETS_GROUP = "cnnablate.presets"
DATASETS_GROUP = "cnnablate.datasets"
ACTIVATIONS_GROUP = "cnnablate.activations"

V = TypeVar("V")


@cache
def plugin_entry_points(group: str) -> tuple[EntryPoint, ...]:
    """The installed entry points of `group`, read once per process."""
    return tuple(entry_points(group=group))


def plugin_names(group: str) -> tuple[str, ...]:
    return tuple(ep.name for ep in plugin_entry_points(group))


def describe(ep: EntryPoint) -> str:
    dist = ep.dist
    owner = f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"
    return f"plugin {ep.group} '{ep.name} = {ep.value}' of {owner}"


def warn(message: str) -> None:
    print(f"cnnablate: warning: {' '.join(message.split())}", file=sys.stderr)


def import_module_of(registry: PluginRegistry, ep: EntryPoint) -> None:
    """`cnnablate.presets`: importing the module registers its entries."""
    ep.load()


def add_reference(registry: PluginRegistry, ep: EntryPoint) -> None:
    """`cnnablate.datasets`: the entry as its "module:Class" string, imported when first read."""
    registry[ep.name] = ep.value


def add_object(registry: PluginRegistry, ep: EntryPoint) -> None:
    """`cnnablate.activations`: the object the entry point names."""
    registry[ep.name] = ep.load()


Loader = Callable[["PluginRegistry", EntryPoint], None]


class PluginRegistry(MutableMapping[str, V]):
    """A dict of named entries that takes in the entry points of `group` when first read.

    Writing does not load the plugins (the built-ins register by writing); any read does. While
    a plugin loads, a name already present is refused with a warning and the first one stays.
    """

    def __init__(
        self, entries: Mapping[str, V], group: str | None = None, loader: Loader = add_object
    ) -> None:
        self._entries: dict[str, V] = dict(entries)
        self._group, self._loader = group, loader
        self._pending = group is not None
        self._loading: EntryPoint | None = None
        self._origins: dict[str, EntryPoint] = {}

    def load_plugins(self) -> None:
        """Take in the plugins now (once; the first read does it)."""
        if not self._pending or self._group is None:
            return
        self._pending = False  # first: a plugin may read the registry while it loads
        for ep in plugin_entry_points(self._group):
            self._load(ep)

    def _load(self, ep: EntryPoint) -> None:
        before = set(self._entries)
        self._loading = ep
        try:
            self._loader(self, ep)
        except Exception as error:
            for name in set(self._entries) - before:
                del self._entries[name]
                self._origins.pop(name, None)
            warn(f"{describe(ep)} failed to load ({type(error).__name__}: {error}); skipped")
        finally:
            self._loading = None

    def origin(self, name: str) -> EntryPoint | None:
        """The entry point that added `name`, None for a built-in or one added at run time."""
        self.load_plugins()
        return self._origins.get(name)

    def __setitem__(self, name: str, value: V) -> None:
        if self._loading is not None:
            if name in self._entries:
                warn(f"{describe(self._loading)}: '{name}' is taken; refused, the first stays")
                return
            self._origins[name] = self._loading
        self._entries[name] = value

    def __getitem__(self, name: str) -> V:
        self.load_plugins()
        return self._entries[name]

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        self.load_plugins()
        return iter(self._entries)

    def __len__(self) -> int:
        self.load_plugins()
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        self.load_plugins()
        return name in self._entries

    def clear(self) -> None:
        self._pending = False
        self._entries.clear()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._entries!r})"
