"""Which module handles which source kind. Add a platform: write its module, add one line here."""

from __future__ import annotations

from types import ModuleType

from adapters.sources import generic

ADAPTERS: dict[str, ModuleType] = {
    "generic": generic,
}


def adapter_for(kind: str) -> ModuleType:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise KeyError(f"unknown source kind {kind!r}; known: {', '.join(sorted(ADAPTERS))}") from None
