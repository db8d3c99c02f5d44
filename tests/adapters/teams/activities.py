"""Bot Framework activities for the /api/messages tests, built from the documented payload samples."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

from sqlalchemy import func, select
from sqlmodel import SQLModel

from tests.appserver import AppServer
from tests.fixtures import PAYLOADS

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CHANNEL = "19:managers0123456789@thread.tacv2"
TEAM_ID = "19:team0123456789@thread.tacv2"
CARD_ID = "1485983408600"
BOT = {"id": "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c", "name": "hotloop"}
MEGAN = {
    "id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39",
    "name": "Megan Bowen",
    "aadObjectId": "7faf8ab2-3d56-4244-b585-20c8a42ed2b8",
}
ADELE = {
    "id": "29:1AdeleVanceQWERTYUIOP0123456789",
    "name": "Adele Vance",
    "aadObjectId": "2b4c6d8e-0000-4000-8000-0123456789ab",
}
DETRACTOR = {
    "id": "r-1",
    "nps": 2,
    "contact_requested": True,
    "customer": {"name": "Dana", "email": "dana@example.com"},
    "comment": "Rude staff",
    "attributes": {"location": "042"},
}
_ids = itertools.count(1)


def sample() -> dict[str, Any]:
    """teams_message_activity.json, the documented personal-chat message."""
    data: dict[str, Any] = json.loads((PAYLOADS / "teams_message_activity.json").read_text())
    return data


def channel_conversation(thread: str = CARD_ID) -> dict[str, Any]:
    return {
        "conversationType": "channel",
        "isGroup": True,
        "id": f"{CHANNEL};messageid={thread}",
        "tenantId": TENANT,
    }


def channel_data() -> dict[str, Any]:
    return {
        "tenant": {"id": TENANT},
        "channel": {"id": CHANNEL, "name": "Store managers"},
        "team": {"id": TEAM_ID, "name": "Retail"},
    }


def base(service_url: str, *, user: dict[str, Any] = MEGAN, personal: bool = False) -> dict[str, Any]:
    activity = copy.deepcopy(sample())
    for key in ("text", "attachments", "textFormat", "localTimestamp"):
        activity.pop(key, None)
    activity.update(
        {"id": f"act-{next(_ids)}", "serviceUrl": service_url, "from": dict(user), "recipient": dict(BOT)}
    )
    if not personal:
        activity["conversation"] = channel_conversation()
        activity["channelData"] = channel_data()
    return activity


def execute(
    service_url: str, verb: str, key: str, *, user: dict[str, Any] = MEGAN, option: str = "", **inputs: Any
) -> dict[str, Any]:
    """An Action.Execute click as Teams sends it (teams_invoke_adaptiveCard_action_request_docs.txt):
    the card's inputs are merged into `data`."""
    activity = base(service_url, user=user)
    activity.update(
        {
            "type": "invoke",
            "name": "adaptiveCard/action",
            "replyToId": CARD_ID,
            "value": {
                "action": {
                    "type": "Action.Execute",
                    "id": "btn",
                    "verb": verb,
                    "data": {"alert": key, "option": option, **inputs},
                },
                "trigger": "manual",
            },
        }
    )
    return activity


def submit(
    service_url: str, verb: str, key: str, *, user: dict[str, Any] = MEGAN, **inputs: Any
) -> dict[str, Any]:
    """The Action.Submit fallback: a message whose `value` is the button's data plus `verb`."""
    activity = base(service_url, user=user)
    activity.update(
        {
            "type": "message",
            "replyToId": CARD_ID,
            "value": {"alert": key, "option": "", "verb": verb, **inputs},
        }
    )
    return activity


def message(
    service_url: str, text: str, *, user: dict[str, Any] = MEGAN, personal: bool = False, mention: bool = True
) -> dict[str, Any]:
    activity = base(service_url, user=user, personal=personal)
    activity["type"] = "message"
    if mention and not personal:
        tag = f"<at>{BOT['name']}</at>"
        activity["text"] = f"{tag} {text}"
        activity["entities"] = [{"type": "mention", "text": tag, "mentioned": dict(BOT)}]
    else:
        activity["text"] = text
    return activity


async def row_counts(server: AppServer) -> dict[str, int]:
    counts = {}
    async with server.ctx.sessions() as session:
        for table in SQLModel.metadata.sorted_tables:
            counts[table.name] = (await session.execute(select(func.count()).select_from(table))).scalar_one()
    return counts


def verbs(card: dict[str, Any]) -> set[str]:
    """Every Action.Execute verb anywhere in an Adaptive Card (ShowCard forms included)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute":
                found.add(node["verb"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found
