"""The neutral form a button asks its inputs with, and the one reading of what came back.

Like `bot.cards.model.Card`, a `Form` says what to ask, not how: `adapters/slack/modals.py` renders it as a
modal and `adapters/teams/render.py` as an `Action.ShowCard`, so both platforms offer the same choices
and limits. `read_form` checks what either platform sent back with the same rules and messages
(Slack shows them beside the field; anywhere else they are the refusal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

TRUE = "true"
FALSE = "false"
_TRUTHY = frozenset({"true", "on", "1"})


class FieldKind(StrEnum):
    TEXT = "text"
    CHOICE = "choice"  # one of `choices`
    USER = "user"  # a person on the platform the form is shown on (their id)
    BOOLEAN = "boolean"  # "true" / "false"


@dataclass(frozen=True)
class FormField:
    id: str  # an `Arg`: the input's id on every platform and its `ActionRequest.args` key
    label: str
    kind: FieldKind = FieldKind.TEXT
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    max_length: int | None = None
    multiline: bool = False
    placeholder: str | None = None  # inside an empty field; for a boolean, the sentence beside its box
    hint: str | None = None  # under the field
    prompt: str | None = None  # said when a required field is empty or a choice is not one offered
    initial: str | None = None  # the value the field starts with (a reply's prefilled draft)

    @property
    def missing(self) -> str:
        return self.prompt or f"Fill in {self.label.lower()}"

    @property
    def too_long(self) -> str:
        return f"Keep the {self.label.lower()} under {self.max_length} characters"


@dataclass(frozen=True)
class Form:
    title: str  # what the form does ("Resolve"); Slack adds the alert key
    submit: str  # the button that sends it
    fields: tuple[FormField, ...]
    style: str | None = None  # of the submit button: "primary" | "danger" | None, as `CardButton.style`


@dataclass(frozen=True)
class FormInput:
    args: dict[str, str] = field(default_factory=dict)  # every field, cleaned ("" when left empty)
    errors: dict[str, str] = field(default_factory=dict)  # field id → what is wrong with it


def _read(spec: FormField, raw: str) -> tuple[str, str | None]:
    """(the cleaned value, the error or None) of one field."""
    if spec.kind is FieldKind.BOOLEAN:
        return (TRUE if raw.strip().lower() in _TRUTHY else FALSE), None
    value = raw.strip()
    if not value:
        return "", spec.missing if spec.required else None
    if spec.kind is FieldKind.CHOICE and value not in {choice for choice, _ in spec.choices}:
        return "", spec.missing
    if spec.max_length is not None and len(value) > spec.max_length:
        return "", spec.too_long
    return value, None


def read_form(form: Form, values: Mapping[str, str]) -> FormInput:
    """What a platform sent back for `form`, by field id → the cleaned args, or each field's error."""
    read = FormInput()
    for spec in form.fields:
        value, error = _read(spec, values.get(spec.id, ""))
        read.args[spec.id] = value
        if error is not None:
            read.errors[spec.id] = error
    return read
