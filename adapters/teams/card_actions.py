"""A card's buttons as Adaptive Card actions, inside the limits Teams and its renderer enforce.

Every button is an `Action.Execute` whose `verb` is an `ActionId` value and whose `data` is
`{"alert": <key>, "option": <option or "">}`, with an `Action.Submit` fallback carrying the same data
plus `"verb"`. A button whose route has a form (`bot.actions.table.form_for`) opens an `Action.ShowCard`
rendered from that neutral form, so Teams offers the same choices and limits as Slack's modal.
Reply is the exception: its form carries a draft for this customer signed by whoever clicks, and a card
is the same for everyone, so Reply is a plain `Action.Execute`; the bot answers that click (only the
clicker sees it) with the card plus the prefilled form (`with_open_form`), as Slack's modal does.

Layout (Teams shows at most `MAX_ACTIONS` actions; at phone width a row of five cuts its labels):

    [Claim] [Escalate] [Resolve]      the visible buttons (`Card.buttons`), their styles kept
    [Details] [More]                  Details: every answer and the whole comment (no round trip)
                                      More: the menu (`Card.menu`), one entry a line

Input ids are unique across the whole card, ShowCards included: `input_id(action, field)` gives
"resolve.note", "note.note", … and `adapters/teams/translate.py` reads them back by the clicked verb.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from adapters.teams.markup import Json, escape_markdown, fact_set, text_block
from bot.action_ids import ActionId, Arg
from bot.actions.forms import FALSE, TRUE, FieldKind, Form, FormField
from bot.actions.systemic_form import resolve_form_with
from bot.actions.table import form_for
from bot.cards.model import (
    SEVERITY_EMOJI,
    SNOOZE_CHOICES,
    Card,
    CardButton,
    answers_note,
    cut_note,
    listed_children,
    shown_answers,
    shown_children,
    shown_comment,
)
from bot.cards.systemic import ChildLine, child_state, children_title, unlisted_note
from bot.domain import AlertStatus

MAX_ACTIONS = 5  # top-level actions a Teams-like host shows (`actions.maxActions` in its host config)
ROW_MAX = 3  # buttons per row that keep labels like "Escalate" whole at phone width (360 px)
PEOPLE = "graph.microsoft.com/users"  # Teams' people picker searches the organisation's directory
ME = "me"  # the picker's one static choice: whoever sends the form (the reader's own Entra object id)
_STYLE = {"primary": "positive", "danger": "destructive"}
_SNOOZE_LABELS = dict(SNOOZE_CHOICES)


def input_id(action: ActionId, field: str) -> str:
    """The card-wide unique id of `field` in `action`'s form: "resolve.note", "snooze.until"."""
    return f"{action.value.removeprefix('alert.')}.{field}"


def button_data(button: CardButton) -> Json:
    key, _, option = button.value.partition("|")
    return {"alert": key, "option": option}


def execute(verb: ActionId, title: str, data: Json, *, style: str | None = None) -> Json:
    """An `Action.Execute` with its `Action.Submit` fallback (same data plus `verb`; unstyled, to spare
    bytes for the customer's words: only clients without Universal Actions show it)."""
    fallback: Json = {"type": "Action.Submit", "title": title, "data": {**data, "verb": verb.value}}
    action: Json = {"type": "Action.Execute", "title": title, "verb": verb.value, "data": data}
    if style:
        action["style"] = style
    action["fallback"] = fallback
    return action


def _show_card(
    title: str, body: list[Json], actions: list[Json] | None = None, style: str | None = None
) -> Json:
    card: Json = {"type": "AdaptiveCard", "body": body}
    if actions:
        card["actions"] = actions
    show: Json = {"type": "Action.ShowCard", "title": title, "card": card}
    return {**show, "style": style} if style else show


def _required(field: Json, spec: FormField) -> Json:
    return {**field, "isRequired": True, "errorMessage": spec.missing} if spec.required else field


def _people_picker(field_id: str, spec: FormField) -> Json:
    """Teams' people picker (a Teams extension, `choices.data`): the picked value is an Entra object id.
    The static choice "Me" keeps the choice list non-empty, as the Adaptive Cards renderer requires."""
    picker: Json = {
        "type": "Input.ChoiceSet",
        "id": field_id,
        "label": spec.label,
        "choices": [{"title": "Me", "value": ME}],
        "choices.data": {"type": "Data.Query", "dataset": PEOPLE},
    }
    if spec.placeholder:
        picker["placeholder"] = spec.placeholder
    return _required(picker, spec)


def form_input(action: ActionId, spec: FormField) -> Json:
    """One neutral form field as an Adaptive Card input."""
    field_id = input_id(action, spec.id)
    if spec.kind is FieldKind.BOOLEAN:  # `value` is what it starts as: a checked box sends "true" as is
        return {"type": "Input.Toggle", "id": field_id, "title": spec.placeholder or spec.label,
                "label": spec.label, "value": TRUE if spec.initial == TRUE else FALSE, "valueOn": TRUE,
                "valueOff": FALSE}
    if spec.kind is FieldKind.USER:
        return _people_picker(field_id, spec)
    if spec.kind is FieldKind.CHOICE:
        choices = [{"title": title, "value": value} for value, title in spec.choices]
        field: Json = {"type": "Input.ChoiceSet", "id": field_id, "label": spec.label, "style": "compact",
                       "choices": choices}
        if spec.placeholder:
            field["placeholder"] = spec.placeholder
        return _required(field, spec)
    field = {"type": "Input.Text", "id": field_id, "label": spec.label, "isMultiline": spec.multiline}
    if spec.max_length is not None:
        field["maxLength"] = spec.max_length
    if spec.placeholder:
        field["placeholder"] = spec.placeholder
    if spec.initial:
        field["value"] = spec.initial
    return _required(field, spec)


def _form_action(button: CardButton, form: Form) -> Json:
    """The button as an `Action.ShowCard` holding the form; its submit sends the inputs with the verb."""
    submit = execute(button.action, form.submit, button_data(button), style=_STYLE.get(form.style or ""))
    body = [form_input(button.action, spec) for spec in form.fields]
    body += [text_block(escape_markdown(spec.hint), isSubtle=True, size="Small", spacing="Small")
             for spec in form.fields if spec.hint]
    return _show_card(button.label, body, [submit], style=_STYLE.get(button.style or ""))


def _snooze_action(buttons: list[CardButton]) -> Json:
    """The snooze choices as one form: a list of durations and a Snooze button."""
    key = button_data(buttons[0])["alert"]
    codes = [button_data(b)["option"] for b in buttons]
    choices = [{"title": _SNOOZE_LABELS.get(code, code), "value": code} for code in codes]
    field = {"type": "Input.ChoiceSet", "id": input_id(ActionId.SNOOZE, Arg.UNTIL), "label": "Snooze for",
             "style": "compact", "choices": choices, "value": "1h" if "1h" in codes else codes[0],
             "isRequired": True, "errorMessage": "Pick how long"}
    return _show_card("Snooze", [field], [execute(ActionId.SNOOZE, "Snooze", {"alert": key, "option": ""})])


def _children_details(card: Card) -> list[Json]:
    """The children of a systemic issue the card face does not list, as many as `children_listed_max`
    allows, as a FactSet (key → customer, comment, state): the face stays in view above this ShowCard,
    and a FactSet is the lightest way to list many under Teams' size limit."""
    listed, hidden = listed_children(card)
    rest = listed[len(shown_children(card)[0]) :]
    if not rest and not hidden:
        return []
    rows = [(f"{SEVERITY_EMOJI.get(c.severity.value, '')} {c.key}", _child_fact(c)) for c in rest]
    body = [text_block(f"More of the {children_title(len(card.children))}", weight="Bolder", size="Small")]
    body += [fact_set(rows)] if rows else []
    if hidden:
        body.append(text_block(escape_markdown(unlisted_note(hidden)), isSubtle=True, spacing="Small"))
    return body


def open_children(card: Card) -> int:
    """The open alerts of a systemic issue's card (0 for any other card: it lists no children)."""
    return sum(1 for child in card.children if child.status is not AlertStatus.RESOLVED)


def _child_fact(child: ChildLine) -> str:
    nps = f"NPS {child.nps}" if child.nps is not None else None
    quoted = f"“{child.comment_start}”" if child.comment_start else None
    return " · ".join(p for p in (child.customer_name, nps, quoted, child_state(child)) if p)


def details_action(card: Card) -> Json:
    """Every answer and the whole comment, shown in place (read-only: no inputs, no round trip)."""
    body: list[Json] = _children_details(card)
    answers, hidden = shown_answers(card)
    if answers:  # a FactSet: the lightest way to list 30 answers under Teams' size limit
        body.append(text_block("Answers", weight="Bolder", size="Small"))
        body.append(fact_set([(a.question, f"⚠ {a.value} (low)" if a.is_low else a.value) for a in answers]))
    if hidden:
        body.append(text_block(escape_markdown(answers_note(hidden)), isSubtle=True, spacing="Small"))
    shown, cut_chars = shown_comment(card)
    if card.comment:
        body.append(text_block("Comment", weight="Bolder", size="Small"))
        body.append(text_block(escape_markdown(shown) or "…", spacing="Small"))
    if cut_chars:
        body.append(text_block(escape_markdown(cut_note(cut_chars)), isSubtle=True, spacing="Small"))
    if not body:
        body.append(text_block("The customer left no answers and no comment.", isSubtle=True))
    return _show_card("Details", body)


def with_open_form(content: Json, key: str, action: ActionId, form: Form) -> Json:
    """A card's content with `form` (prefilled: a Reply's draft) open at the end of its body; its submit
    sends the inputs with `action`'s verb. Input ids stay card-wide unique (`input_id`)."""
    submit = execute(action, form.submit, {"alert": key, "option": ""}, style=_STYLE.get(form.style or ""))
    items: list[Json] = [text_block(escape_markdown(form.title), weight="Bolder", separator=True)]
    items += [form_input(action, spec) for spec in form.fields]
    items += [text_block(escape_markdown(spec.hint), isSubtle=True, size="Small", spacing="Small")
              for spec in form.fields if spec.hint]
    items.append(_action_set([submit]))
    return {**content, "body": [*content.get("body", []), {"type": "Container", "items": items}]}


def button_action(card: Card, button: CardButton) -> Json:
    if button.action is ActionId.DETAILS:
        return details_action(card)
    if button.action is ActionId.REPLY:  # the form comes with the invoke answer, prefilled
        return execute(button.action, button.label, button_data(button), style=_STYLE.get(button.style or ""))
    form = form_for(button.action)
    if form is not None and button.action is ActionId.RESOLVE:  # a card is the same for every reader:
        form = resolve_form_with(form, open_children(card))  # its children say if the box is asked
    if form is not None:
        return _form_action(button, form)
    return execute(button.action, button.label, button_data(button), style=_STYLE.get(button.style or ""))


def _menu_entries(card: Card, buttons: tuple[CardButton, ...]) -> list[Json]:
    """The menu's buttons as actions: the snooze choices become one Snooze form, an action shown once."""
    entries: list[Json] = []
    seen: set[ActionId] = set()
    for action, group in groupby(buttons, key=lambda b: b.action):
        if action in seen:
            continue
        seen.add(action)
        members = list(group)
        snooze = action is ActionId.SNOOZE
        entries.append(_snooze_action(members) if snooze else button_action(card, members[0]))
    return entries


def _action_set(actions: list[Json], **extra: Any) -> Json:
    return {"type": "ActionSet", "actions": actions, **extra}


def more_action(card: Card, overflow: tuple[CardButton, ...] = ()) -> Json | None:
    """One "More" ShowCard holding the menu, one entry a line (a menu, not a row of cut labels)."""
    entries = _menu_entries(card, (*overflow, *card.menu))
    if not entries:
        return None
    return _show_card("More", [_action_set([entry], spacing="Small") for entry in entries])


def action_rows(card: Card) -> list[Json]:
    """The card's `ActionSet`s: the visible buttons, then Details and More; `MAX_ACTIONS` in all."""
    details = [b for b in card.buttons if b.action is ActionId.DETAILS][:1]
    visible = [b for b in card.buttons if b.action is not ActionId.DETAILS]
    room = MAX_ACTIONS - len(details) - (1 if card.menu else 0)
    if len(visible) > room:  # what does not fit goes under More
        room -= 0 if card.menu else 1
        visible, overflow = visible[:room], tuple(visible[room:])
    else:
        overflow = ()
    more = more_action(card, overflow)
    first = [button_action(card, b) for b in visible]
    second = [*(button_action(card, b) for b in details), *([more] if more else [])]
    rows = [first[i : i + ROW_MAX] for i in range(0, len(first), ROW_MAX)]
    return [_action_set(row) for row in [*rows, second] if row]
