"""Which module handles which source kind. Add a platform: write its module, add one line here."""

from __future__ import annotations

from types import ModuleType

from adapters.sources import delighted, formbricks, generic, qualtrics, surveymonkey, typeform

ADAPTERS: dict[str, ModuleType] = {
    "generic": generic,
    "typeform": typeform,
    "formbricks": formbricks,
    "delighted": delighted,
    "qualtrics": qualtrics,  # parse → FetchNeeded; has fetch()
    "surveymonkey": surveymonkey,  # parse → FetchNeeded; has fetch()
}


def adapter_for(kind: str) -> ModuleType:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise KeyError(f"unknown source kind {kind!r}; known: {', '.join(sorted(ADAPTERS))}") from None
