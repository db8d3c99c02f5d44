"""What the `bot.chat.port.Chat` port promises, written once and run against every platform: the Slack
adapter on the loopback fake Web API and the Teams adapter on the loopback fake Bot Connector (real HTTP,
the adapters' real clients, no mocks). Failures each platform answers its own way (Slack error codes,
Teams HTTP statuses) are listed by the backends (tests/chat/backends.py) and run here, one test each.

Platform-only behaviour stays with its platform: Slack's labelled posts found again and its strict fake
(tests/adapters/slack/test_chat.py), Teams' thread start, 1:1 conversations, serviceUrl and UTF-16 size
measure (tests/adapters/teams/test_connector.py, tests/adapters/teams/test_wiring.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from bot.cards.model import AnswerLine, DigestCard, DigestItem
from bot.chat.port import CardPlace, Chat, ChatError, Posted
from bot.domain import AlertStatus, Severity
from tests.chat.backends import Backend, Expected, SlackBackend, TeamsBackend
from tests.factories import sample_card

BACKENDS = {"slack": SlackBackend, "teams": TeamsBackend}


def cases(kind: str) -> list[Any]:
    """(platform, case) for a failure each platform names its own way; the test id reads `teams-404`."""
    return [
        pytest.param(name, case, id=f"{name}-{case}")
        for name, backend in BACKENDS.items()
        for case in getattr(backend, kind)
    ]


def place_of(posted: Posted) -> CardPlace:
    return CardPlace(posted.channel, posted.message_id, posted.thread_id, posted.conversation_ref)


def assert_error(error: ChatError, expected: Expected, *, permanent: bool) -> None:
    assert re.search(expected.reason, error.reason), error.reason
    assert error.permanent is permanent
    assert error.unsent is expected.unsent


# ---- what a chat does ----------------------------------------------------------------------------


def test_implements_the_port(backend: Backend) -> None:
    assert isinstance(backend.chat, Chat)
    assert backend.chat.platform == backend.name
    assert backend.chat.digest_capacity > 0  # type: ignore[attr-defined]  # how the worker sizes digests


async def test_a_posted_card_gives_the_place_of_a_message_showing_it(backend: Backend) -> None:
    card = sample_card()
    posted = await backend.chat.post_card(channel=backend.channel, card=card)
    assert posted.channel == backend.channel and posted.message_id and posted.thread_id
    assert posted.extra == {"cut": False}
    assert backend.message(place_of(posted)) == backend.expected_card(card)
    assert backend.cards_in_channel() == 1


async def test_a_card_is_updated_in_place(backend: Backend) -> None:
    posted = await backend.chat.post_card(channel=backend.channel, card=sample_card())
    claimed = sample_card(status="claimed", owner_name="Fox Mulder", version=2)
    await backend.chat.update_card(place=place_of(posted), card=claimed)
    assert backend.message(place_of(posted)) == backend.expected_card(claimed)
    assert backend.cards_in_channel() == 1  # replaced, not posted again


async def test_replies_go_into_the_cards_thread_with_their_mention(backend: Backend) -> None:
    if isinstance(backend, SlackBackend):  # a card and three lines within a second: about threads
        backend.fake.without_tiers()
    posted = await backend.chat.post_card(channel=backend.channel, card=sample_card())
    place = place_of(posted)
    lines = [
        ("Escalated <to> managers", "channel"),
        ("Claimed by *Fox*", backend.user),
        ("call https://evil.example or @here", None),
    ]
    for text, mention in lines:
        await backend.chat.post_reply(place=place, text=text, mention=mention)
    assert backend.thread(place) == [backend.expected_reply(text, mention) for text, mention in lines]
    assert backend.message(place) == backend.expected_card(sample_card())  # the card itself is untouched
    assert backend.cards_in_channel() == 1


async def test_direct_messages_reach_the_person_alone(backend: Backend) -> None:
    card = sample_card()
    await backend.chat.send_direct(user=backend.user, text="HA-1001 was reassigned to you")
    await backend.chat.send_direct(user=backend.user, text="SLA breach on <your> alert", card=card)
    assert backend.direct(backend.user) == [
        *backend.expected_direct("HA-1001 was reassigned to you"),
        *backend.expected_direct("SLA breach on <your> alert", card),
    ]
    assert backend.cards_in_channel() == 0


async def test_a_digest_lists_its_alerts_and_is_updated_in_place(backend: Backend) -> None:
    capacity = backend.chat.digest_capacity  # type: ignore[attr-defined]
    summary = "NPS 2 — waited 40 minutes, the manager was rude " * 3
    items = tuple(DigestItem(f"HA-{i}", Severity.HIGH, summary, AlertStatus.OPEN) for i in range(capacity))
    digest = DigestCard(title="Burst", items=items, fallback_text=f"{capacity} hot alerts")
    posted = await backend.chat.post_digest(channel=backend.channel, digest=digest)
    assert backend.message(place_of(posted)) == backend.expected_digest(digest)  # the fake took it whole
    assert backend.digest_keys(posted) == [item.alert_key for item in items]
    fewer = DigestCard(title="Burst", items=items[:2], more=2)
    await backend.chat.update_digest(place=place_of(posted), digest=fewer)
    assert backend.message(place_of(posted)) == backend.expected_digest(fewer)
    assert backend.cards_in_channel() == 1


async def test_a_card_too_big_for_the_platform_is_posted_cut_and_says_so(backend: Backend) -> None:
    """The fakes refuse what the platforms refuse (Slack's Block Kit limits, Teams' 28 KB): the card is
    fitted first, so it is posted, and it says where the rest of the response is."""
    answers = tuple(AnswerLine(f"Question {i} " + "q" * 290, "v" * 300, i % 2 == 0) for i in range(60))
    huge = replace(sample_card(), comment="Rude *staff* [x](y) " * 1000, answers=answers, answers_max=60)
    posted = await backend.chat.post_card(channel=backend.channel, card=huge)
    assert posted.extra == {"cut": True}
    shown = backend.message(place_of(posted))
    assert shown == backend.expected_card(huge)
    said = json.dumps(shown, ensure_ascii=False)  # Slack: the Details modal; Teams: the thread
    assert "the full response is in this card" in said or "Details shows the full text" in said


# ---- how a chat fails: the delivery worker decides on these ----------------------------------------


async def test_a_rate_limit_gives_retry_after_and_loses_nothing(backend: Backend) -> None:
    card, claimed = sample_card(), sample_card(status="claimed", owner_name="Fox Mulder", version=2)
    expected = backend.rate_limit_next(retry_after=7)
    with pytest.raises(ChatError) as caught:
        await backend.chat.post_card(channel=backend.channel, card=card)
    assert_error(caught.value, expected, permanent=False)
    assert caught.value.retry_after == 7.0
    assert backend.attempts() == 1 and backend.cards_in_channel() == 0  # no retry in place
    posted = await backend.chat.post_card(channel=backend.channel, card=card)  # the worker's retry
    assert backend.cards_in_channel() == 1

    backend.rate_limit_next(retry_after=3)
    with pytest.raises(ChatError) as caught:
        await backend.chat.update_card(place=place_of(posted), card=claimed)
    assert caught.value.retry_after == 3.0 and not caught.value.permanent
    assert backend.message(place_of(posted)) == backend.expected_card(card)
    await backend.chat.update_card(place=place_of(posted), card=claimed)
    assert backend.message(place_of(posted)) == backend.expected_card(claimed)


@pytest.mark.parametrize(("backend", "refusal"), cases("content_refusals"), indirect=["backend"])
async def test_a_content_refusal_is_a_content_error_and_nothing_is_posted(
    backend: Backend, refusal: str
) -> None:
    """The same message never passes; the worker answers with a smaller one."""
    expected = backend.reject_content_next(refusal)
    with pytest.raises(ChatError) as caught:
        await backend.chat.post_card(channel=backend.channel, card=sample_card())
    assert_error(caught.value, expected, permanent=False)
    assert caught.value.content and caught.value.unsent
    assert backend.cards_in_channel() == 0
    posted = await backend.chat.post_card(channel=backend.channel, card=sample_card())  # the next passes
    assert posted.extra == {"cut": False}


@pytest.mark.parametrize(("backend", "status"), cases("transient_failures"), indirect=["backend"])
async def test_a_server_error_is_retryable(backend: Backend, status: int) -> None:
    expected = backend.transient_failure_next(status)
    with pytest.raises(ChatError) as caught:
        await backend.chat.post_card(channel=backend.channel, card=sample_card())
    assert_error(caught.value, expected, permanent=False)
    assert caught.value.retry_after is None and not caught.value.content
    assert backend.attempts() == 1  # the client did not retry in place
    posted = await backend.chat.post_card(channel=backend.channel, card=sample_card())  # the next passes

    backend.transient_failure_next(status)
    with pytest.raises(ChatError) as caught:
        await backend.chat.post_reply(place=place_of(posted), text="hi")
    assert not caught.value.permanent and caught.value.retry_after is None
    assert backend.cards_in_channel() == 1 and backend.thread(place_of(posted)) == []


@pytest.mark.parametrize(("backend", "refusal"), cases("permanent_refusals"), indirect=["backend"])
async def test_a_refusal_no_retry_can_fix_is_permanent(backend: Backend, refusal: str) -> None:
    """Even with a Retry-After header: a permanent error is never retried."""
    posted = await backend.chat.post_card(channel=backend.channel, card=sample_card())
    expected = backend.refuse_next(refusal)
    with pytest.raises(ChatError) as caught:
        await backend.chat.post_card(channel=backend.channel, card=sample_card())
    assert_error(caught.value, expected, permanent=True)
    assert caught.value.retry_after is None
    backend.refuse_next(refusal)
    with pytest.raises(ChatError) as caught:
        await backend.chat.update_card(place=place_of(posted), card=sample_card(status="claimed"))
    assert_error(caught.value, expected, permanent=True)
    assert caught.value.retry_after is None
    assert backend.cards_in_channel() == 1
    assert backend.message(place_of(posted)) == backend.expected_card(sample_card())


async def test_refused_credentials_are_permanent(backend: Backend) -> None:
    async with backend.wrong_credentials() as chat:
        with pytest.raises(ChatError) as caught:
            await chat.post_card(channel=backend.channel, card=sample_card())
    assert caught.value.permanent and re.search(backend.auth_reason, caught.value.reason)
    assert backend.cards_in_channel() == 0


async def test_a_timeout_is_retryable_and_may_have_reached_the_platform(backend: Backend) -> None:
    backend.delay_next(1.0)
    async with backend.with_timeout(0.3) as chat:
        with pytest.raises(ChatError) as caught:
            await chat.post_card(channel=backend.channel, card=sample_card())
    assert re.search(backend.timeout_reason, caught.value.reason), caught.value.reason
    assert not caught.value.permanent and not caught.value.unsent
    assert await backend.wait_attempts(1)  # the request did reach the platform


async def test_an_unreachable_platform_is_retryable(backend: Backend) -> None:
    async with backend.unreachable() as chat:
        for call in (
            lambda: chat.post_card(channel=backend.channel, card=sample_card()),
            lambda: chat.send_direct(user=backend.user, text="hi"),
        ):
            with pytest.raises(ChatError) as caught:
                await call()
            assert re.search(backend.unreachable_reason, caught.value.reason), caught.value.reason
            assert not caught.value.permanent
