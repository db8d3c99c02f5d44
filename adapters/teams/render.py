"""Neutral card → Adaptive Card 1.5 for Microsoft Teams (pure functions, no I/O, no SDK).

Every button is an `Action.Execute` whose `verb` is an `ActionId` value and whose `data` is
`{"alert": <key>, "option": <option or "">}`, with an `Action.Submit` fallback carrying the same data
plus `"verb"`. A button whose route has a form (`bot.actions.table.form_for`) opens an `Action.ShowCard`
rendered from that neutral form; its inputs travel with the action under the field ids
(`bot.action_ids.Arg`: `note`, `reason`, `outcome`, `root_cause`, `follow_up`, `user`).
Customer text is escaped with `escape_markdown` before it reaches any `TextBlock`. The comment and the
answers show as much as `Card.comment_max` / `answers_max` allow and say what they leave out;
`adapters/teams/card_size.py` lowers those to keep a card under Teams' message size.
"""

from __future__ import annotations

import re
from typing import Any

from bot.action_ids import ActionId
from bot.actions.forms import FALSE, TRUE, FieldKind, Form, FormField
from bot.actions.table import form_for
from bot.cards.model import (
    SEVERITY_EMOJI,
    SNOOZE_CHOICES,
    Card,
    CardButton,
    DigestCard,
    DigestItem,
    answers_note,
    cut_note,
    shown_answers,
    shown_comment,
)
from bot.domain import AlertStatus

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"

Json = dict[str, Any]

_MARKDOWN_CHARS = frozenset("\\*_`[]()#>-+!|~<>&{}")
_ORDERED_LIST = re.compile(r"^(\s*\d+)\.", re.MULTILINE)
_STYLE = {"primary": "positive", "danger": "destructive"}


def escape_markdown(text: str) -> str:
    """Make arbitrary text inert in a Teams `TextBlock`: no links, emphasis, lists, headings, HTML or `<at>`.

    Markdown punctuation is backslash-escaped (CommonMark rendering shows it unchanged), line starts
    like `1.` lose their list meaning and `://` gets a zero-width space so URLs are not auto-linked.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    escaped = "".join(f"\\{ch}" if ch in _MARKDOWN_CHARS else ch for ch in text)
    escaped = _ORDERED_LIST.sub(r"\1\\.", escaped)
    return escaped.replace("://", ":\u200b//").replace("\n", "\n\n")


def _text(text: str, **extra: Any) -> Json:
    return {"type": "TextBlock", "text": text, "wrap": True, **extra}


def _data(button: CardButton) -> Json:
    key, _, option = button.value.partition("|")
    return {"alert": key, "option": option}


def execute(
    verb: ActionId, title: str, data: Json, *, style: str | None = None, mode: str | None = None
) -> Json:
    """An `Action.Execute` with its `Action.Submit` fallback (same data plus `verb`)."""
    fallback: Json = {"type": "Action.Submit", "title": title, "data": {**data, "verb": verb.value}}
    action: Json = {"type": "Action.Execute", "title": title, "verb": verb.value, "data": data}
    if style:
        action["style"] = fallback["style"] = style
    if mode:
        action["mode"] = mode
    action["fallback"] = fallback
    return action


def _header(card: Card) -> list[Json]:
    emoji = SEVERITY_EMOJI.get(card.severity.value, "")
    status = card.status.value.capitalize()
    return [
        _text(
            f"{emoji} **{escape_markdown(card.alert_key)}** · {escape_markdown(card.title)}",
            size="Medium",
            weight="Bolder",
        ),
        _text(f"{card.severity.value.capitalize()} hot alert · {status}", isSubtle=True, spacing="None"),
    ]


def _facts(card: Card) -> list[Json]:
    facts: list[tuple[str, str]] = []
    if card.nps is not None:
        facts.append(("Score", f"NPS {card.nps}"))
    if card.customer_name:
        facts.append(("Customer", card.customer_name))
    if card.audience == "team":
        facts.extend(("Contact", line) for line in card.contact)
    facts.extend(card.facts)
    if card.owner_name:
        facts.append(("Owner", card.owner_name))
    if card.resolution:
        facts.append(("Resolution", card.resolution))
    if not facts:
        return []
    return [
        {
            "type": "FactSet",
            "facts": [
                {"title": escape_markdown(title), "value": escape_markdown(value)} for title, value in facts
            ],
        }
    ]


def _sla(card: Card) -> list[Json]:
    if not card.sla_text:
        return []
    text = f"⏰ {escape_markdown(card.sla_text)}"
    if card.sla_overdue:
        return [_text(text, color="attention", weight="Bolder")]
    return [_text(text)]


def _answers(card: Card) -> list[Json]:
    blocks: list[Json] = []
    shown, hidden = shown_answers(card)
    for answer in shown:
        line = f"{escape_markdown(answer.question)}: **{escape_markdown(answer.value)}**"
        if answer.is_low:
            blocks.append(_text(f"⚠ {line} (low)", color="attention", spacing="Small"))
        else:
            blocks.append(_text(line, spacing="Small"))
    if hidden:
        blocks.append(_text(escape_markdown(answers_note(hidden)), isSubtle=True, spacing="Small"))
    return blocks


def _comment(card: Card) -> list[Json]:
    if not card.comment:
        return []
    shown, hidden = shown_comment(card)
    items = [_text("Comment", weight="Bolder", size="Small")]
    if shown:
        items.append(_text(escape_markdown(shown), spacing="Small"))
    if hidden:
        items.append(_text(escape_markdown(cut_note(hidden)), isSubtle=True, spacing="Small"))
    return [{"type": "Container", "style": "emphasis", "items": items}]


def _reasons(card: Card) -> list[Json]:
    if not card.reasons:
        return []
    why = " · ".join(escape_markdown(reason) for reason in card.reasons)
    return [_text(f"Why: {why}", isSubtle=True, size="Small")]


def _required(field: Json, spec: FormField) -> Json:
    return {**field, "isRequired": True, "errorMessage": spec.missing} if spec.required else field


def _input(spec: FormField) -> Json:
    """One neutral form field as an Adaptive Card input (its id is the field id)."""
    if spec.kind is FieldKind.BOOLEAN:
        return {"type": "Input.Toggle", "id": spec.id, "title": spec.placeholder or spec.label,
                "value": FALSE, "valueOn": TRUE, "valueOff": FALSE}
    if spec.kind is FieldKind.CHOICE:
        choices = [{"title": title, "value": value} for value, title in spec.choices]
        field: Json = {"type": "Input.ChoiceSet", "id": spec.id, "label": spec.label, "style": "compact",
                       "choices": choices}
        return _required(field, spec)
    label = spec.label
    if spec.kind is FieldKind.USER:  # the people picker (Data.Query) is outside Adaptive Cards 1.5
        label = f"{spec.label} (Entra object id)"
    field = {"type": "Input.Text", "id": spec.id, "label": label, "isMultiline": spec.multiline}
    if spec.max_length is not None:
        field["maxLength"] = spec.max_length
    if spec.placeholder and spec.kind is FieldKind.TEXT:
        field["placeholder"] = spec.placeholder
    return _required(field, spec)


def _form(button: CardButton, form: Form) -> Json:
    """The button as an `Action.ShowCard` holding the form; its submit sends the inputs with the verb."""
    submit = execute(button.action, form.submit, _data(button), style=_STYLE.get(form.style or ""))
    body = [_input(spec) for spec in form.fields]
    return {
        "type": "Action.ShowCard",
        "title": button.label,
        "card": {"type": "AdaptiveCard", "body": body, "actions": [submit]},
    }


def _snooze_form(buttons: list[CardButton]) -> Json:
    key = _data(buttons[0])["alert"]
    labels = dict(SNOOZE_CHOICES)
    options = [_data(b)["option"] for b in buttons]
    actions = [
        execute(ActionId.SNOOZE, labels.get(code, code), {"alert": key, "option": code}) for code in options
    ]
    body = [_text("Snooze this alert for:", size="Small")]
    return {
        "type": "Action.ShowCard",
        "title": "Snooze",
        "card": {"type": "AdaptiveCard", "body": body, "actions": actions},
    }


def _action(button: CardButton, *, secondary: bool) -> Json:
    form = form_for(button.action)
    if form is not None:
        return _form(button, form)
    style = _STYLE.get(button.style or "")
    return execute(
        button.action, button.label, _data(button), style=style, mode="secondary" if secondary else None
    )


def card_actions(card: Card) -> list[Json]:
    """Buttons first, then the overflow menu; snooze options collapse into one "Snooze" form."""
    actions: list[Json] = [_action(b, secondary=False) for b in card.buttons]
    seen = {b.action for b in card.buttons}
    snoozes = [b for b in card.menu if b.action is ActionId.SNOOZE]
    for button in card.menu:
        if button.action is ActionId.SNOOZE or button.action in seen:
            continue
        seen.add(button.action)
        actions.append(_action(button, secondary=form_for(button.action) is None))
    if snoozes:
        actions.append(_snooze_form(snoozes))
    return actions


def _envelope(body: list[Json], fallback_text: str) -> Json:
    card: Json = {
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "$schema": CARD_SCHEMA,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if fallback_text:
        card["fallbackText"] = fallback_text
    return card


def card_attachment_content(card: Card) -> Json:
    """The Adaptive Card for an alert card (the `content` of an attachment)."""
    body = [*_header(card), *_facts(card), *_sla(card), *_answers(card), *_comment(card), *_reasons(card)]
    actions = card_actions(card)
    if actions:
        body.append({"type": "ActionSet", "actions": actions})
    return _envelope(body, card.fallback_text)


def _digest_item(item: DigestItem, *, claim: bool) -> Json:
    emoji = SEVERITY_EMOJI.get(item.severity.value, "")
    text = (
        f"{emoji} **{escape_markdown(item.alert_key)}** · {item.severity.value} · "
        f"{escape_markdown(item.summary)} ({item.status.value})"
    )
    items: list[Json] = [_text(text)]
    actions: list[Json] = []
    if claim and item.status is AlertStatus.OPEN:
        actions.append(
            execute(
                ActionId.CLAIM,
                f"Claim {item.alert_key}",
                {"alert": item.alert_key, "option": ""},
                style="positive",
            )
        )
    if item.link and item.link.startswith(("https://", "http://")):
        actions.append({"type": "Action.OpenUrl", "title": "Open", "url": item.link})
    if actions:
        items.append({"type": "ActionSet", "actions": actions})
    return {"type": "Container", "separator": True, "items": items}


def digest_attachment_content(digest: DigestCard) -> Json:
    """One card listing several alerts, each with a Claim button while it is open."""
    body: list[Json] = [_text(escape_markdown(digest.title), size="Medium", weight="Bolder")]
    if digest.figures:
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": escape_markdown(k), "value": escape_markdown(v)} for k, v in digest.figures
                ],
            }
        )
    body.extend(_digest_item(item, claim=digest.with_claim_buttons) for item in digest.items)
    if digest.more:
        body.append(_text(f"… and {digest.more} more", isSubtle=True))
    return _envelope(body, digest.fallback_text or digest.title)


def attachment(content: Json) -> Json:
    return {"contentType": CONTENT_TYPE, "content": content}


def message_text(text: str, mention: str | None = None, *, mention_name: str | None = None) -> Json:
    """A thread-reply activity. A user `mention` becomes an `<at>` mention entity; not "channel"."""
    body = escape_markdown(text)
    activity: Json = {"type": "message", "textFormat": "markdown", "text": body}
    if mention and mention != "channel":
        name = escape_markdown(mention_name or "you")
        tag = f"<at>{name}</at>"
        activity["text"] = f"{tag} {body}"
        activity["entities"] = [{"type": "mention", "text": tag, "mentioned": {"id": mention, "name": name}}]
    return activity
