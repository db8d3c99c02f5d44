"""Every button and command verb, in one enum. These strings live in posted messages: never rename."""

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
    # the overflow menu on Slack carries these ids for its options; the value says which
    MORE = "alert.more"
