"""The actions an alert page offers, as plain HTML forms, from the same table chat uses.

Each action of `bot.actions.table.ROUTES` (but Details, which only reads) is offered under its short
name, the part of its id after "alert." (`alert.claim` → /app/alerts/HA-1001/claim). Its form is the
route's neutral form (`Route.form`, rendered by templates/_macros.j2); a route that asks nothing has
an empty form (a button), and a route whose inputs chat asks with a menu instead of a form (Snooze: one
menu option per duration) gets the equivalent form here, from the same choices. A new action in the
table therefore gets its form on the page with no change here.

What a page posts is read with the table's own `read_form`, so the web refuses exactly what chat
refuses, with the same words (422 here, before anything runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.action_ids import ActionId, Arg
from bot.actions.forms import FieldKind, Form, FormField, read_form
from bot.actions.table import ROUTES
from bot.cards.states import SNOOZE_CHOICES

SNOOZE_REASON_MAX = 255  # Alert.snooze_reason
NOTE_MAX = 3000
PREFIX = "alert."
NOT_OFFERED = frozenset({ActionId.DETAILS, ActionId.MORE})  # the page shows everything Details shows

# forms for routes that declare inputs but no form: chat asks for them another way
EXTRA_FORMS: dict[ActionId, Form] = {
    ActionId.SNOOZE: Form("Snooze", "Snooze", fields=(
        FormField(Arg.UNTIL, "Snooze for", FieldKind.CHOICE, required=True, choices=SNOOZE_CHOICES,
                  prompt="Pick how long to snooze"),
        FormField(Arg.REASON, "Reason", max_length=SNOOZE_REASON_MAX, placeholder="waiting for callback"),
    )),
    ActionId.NOT_ACTIONABLE: Form("Not actionable", "Not actionable", fields=(
        FormField(Arg.NOTE, "Note", max_length=NOTE_MAX, placeholder="Why nothing can be done"),
    )),
}
# a person picked by id on the page: the name shown on the card comes with it (Slack looks it up)
USER_NAME_FIELD = FormField(Arg.USER_NAME, "Their name", max_length=255)


@dataclass(frozen=True)
class WebAction:
    name: str  # the last path segment of the form's action
    action: ActionId
    form: Form  # fields may be empty: the form is one button


def _title(action: ActionId) -> str:
    return action.value.removeprefix(PREFIX).replace("_", " ").capitalize()


def _web_action(action: ActionId) -> WebAction:
    route = ROUTES[action]
    form = route.form or EXTRA_FORMS.get(action) or Form(_title(action), _title(action), fields=())
    return WebAction(name=action.value.removeprefix(PREFIX), action=action, form=form)


def web_actions() -> dict[str, WebAction]:
    """Every action the page can offer, by its short name, in the table's order."""
    return {wa.name: wa for wa in (_web_action(a) for a in ROUTES if a not in NOT_OFFERED)}


def with_form(web_action: WebAction, form: Form) -> WebAction:
    """`web_action` showing `form` (a route's prefilled form: Reply with its draft)."""
    return WebAction(web_action.name, web_action.action, form)


def read_posted(web_action: WebAction, posted: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """(the action's args, the first error or None) from a posted form — `web_action` as shown for this
    alert (its route's `prefill`): its fields read and checked as chat's are; a person's name comes with a
    picked person; nothing else posted is passed on."""
    read = read_form(web_action.form, posted)
    if read.errors:
        return {}, next(iter(read.errors.values()))
    args = dict(read.args)
    if any(f.kind is FieldKind.USER for f in web_action.form.fields):
        name, error = _user_name(posted)
        if error is not None:
            return {}, error
        args[Arg.USER_NAME] = name or args.get(Arg.USER, "")
    return args, None


def _user_name(posted: Mapping[str, str]) -> tuple[str, str | None]:
    read = read_form(Form("", "", (USER_NAME_FIELD,)), posted)
    return read.args[Arg.USER_NAME], next(iter(read.errors.values()), None)
