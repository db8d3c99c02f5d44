"""Every button and command verb, and every input a button's form asks for. These strings live in
posted messages (Slack values, Teams verbs and card input ids): never rename."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    CLAIM = "alert.claim"
    UNCLAIM = "alert.unclaim"
    ESCALATE = "alert.escalate"
    RESOLVE = "alert.resolve"
    REOPEN = "alert.reopen"
    NOTE = "alert.note"
    SNOOZE = "alert.snooze"
    REASSIGN = "alert.reassign"
    NOT_ACTIONABLE = "alert.not_actionable"
    WAKE = "alert.wake"  # a snoozed alert back to its owner or the queue now
    DETAILS = "alert.details"  # read-only: the whole response (Slack: a modal; Teams: a ShowCard)
    REPLY = "alert.reply"  # an e-mail to the customer, from a prefilled draft; records the first contact
    LOG_CALL = "alert.log_call"  # a phone call made: records the contact, with a short note
    # the overflow menu on Slack carries these ids for its options; the value says which
    MORE = "alert.more"


class Arg(StrEnum):
    """An action's inputs: `ActionRequest.args` keys, form field ids (Slack block ids, Teams input ids)."""

    OUTCOME = "outcome"
    ROOT_CAUSE = "root_cause"
    NOTE = "note"
    FOLLOW_UP = "follow_up"
    REASON = "reason"
    USER = "user"
    USER_NAME = "user_name"  # the picked user's display name, looked up by the adapter
    UNTIL = "until"  # a snooze option: 30m, 1h, 4h, tomorrow
    MESSAGE = "message"  # the text of a reply to the customer
    CHILDREN = "children"  # resolving a systemic case: also resolve its open child alerts ("true")
