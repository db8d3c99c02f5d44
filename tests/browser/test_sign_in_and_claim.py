"""Issue 16 §5: a manager signs in from chat and acts from the page, in a real browser, and Slack follows.

`/hotloop web` in Slack answers the caller alone with a link; the link's page has a "Sign in" button (a
GET alone — Slack's link preview fetching it — signs nobody in and does not use it up); pressing it lands
on the queue; the alert's page claims it through a plain form carrying its CSRF field, the page then shows
the owner, and the alert's Slack card is rewritten (chat.update) with the claimer as owner. A claim made
in Slack reaches an open alert page by itself (server-sent events). A form with a forged CSRF field is
refused and changes nothing.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.browser.conftest import Watched, watch
from tests.browser.dashboard import ADMIN, MANAGER, Dashboard, sign_in, sign_in_with

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (.[test])")
from playwright.sync_api import expect

DETRACTOR = {"nps": 2, "contact_requested": True,
             "customer": {"name": "Walter Skinner", "email": "walter@example.com"},
             "comment": "Waited 40 minutes and nobody came.", "attributes": {"location": "042"}}


def owner_shown(name: str) -> re.Pattern[str]:
    """The page says who owns the alert: "Claimed by <name>", "Owner <name>"… (not merely the signed-in
    user's name in the navigation bar: the word before it matters)."""
    return re.compile(rf"\b(claimed|owner|owned)(\s+by)?[\s:·]*{re.escape(name)}\b", re.IGNORECASE)


def claimed_on_card(board: Dashboard, key: str, user_id: str) -> bool:
    return any(f"<@{user_id}>" in json.dumps(update) for update in board.card_updates(key))


def test_sign_in_from_slack_then_claim_on_the_page_and_the_slack_card_follows(
    board: Dashboard, watched: Watched
) -> None:
    key = board.new_alert({"id": "claim-1", **DETRACTOR})
    page = watched.page
    sign_in(board, page, ADMIN)
    expect(page.locator("body")).to_contain_text("Walter Skinner")  # the queue lists it
    page.locator(f'a[href$="/app/alerts/{key}"]').first.click()
    page.wait_for_url(f"{board.url}/app/alerts/{key}")
    claim = page.locator('form[action$="/claim"]')
    expect(claim).to_have_count(1)
    assert (claim.get_attribute("method") or "").lower() == "post"
    expect(claim.locator('input[type="hidden"][name="csrf_token"]')).to_have_count(1)
    assert not claimed_on_card(board, key, ADMIN["id"])
    claim.locator('button, input[type="submit"]').first.click()
    page.wait_for_url(re.compile(re.escape(f"{board.url}/app/alerts/{key}")))
    expect(page.locator("main, body").first).to_contain_text(owner_shown(ADMIN["name"]))
    expect(page.locator('form[action$="/claim"]')).to_have_count(0)  # claimed: no second claim offered
    assert board.slack.wait_for(lambda: claimed_on_card(board, key, ADMIN["id"]), timeout=10), (
        f"no chat.update of {key}'s card naming <@{ADMIN['id']}>: {board.card_updates(key)}"
    )


def test_a_link_preview_fetching_the_link_does_not_sign_in_or_use_it_up(
    board: Dashboard, watched: Watched
) -> None:
    link = board.signin_link(MANAGER)
    preview = httpx.get(link, timeout=10)  # what Slack's unfurler does with a link in a message
    assert preview.status_code == 200, preview.status_code
    assert "hotloop_session" not in preview.headers.get("set-cookie", "")
    sign_in_with(link, board, watched.page)
    assert "hotloop_session" in {c["name"] for c in watched.page.context.cookies()}


def test_each_web_command_gets_its_own_link(board: Dashboard) -> None:
    # twice in a row, as fast as it goes (the same second, usually): two requests, two answers, two links
    first, second = board.signin_link(MANAGER), board.signin_link(MANAGER)
    assert first != second


def test_a_sign_in_link_works_once(board: Dashboard, watched: Watched, browser: Browser) -> None:
    link = board.signin_link(MANAGER)
    sign_in_with(link, board, watched.page)
    other = browser.new_context()
    try:
        again = watch(other.new_page())
        again.page.goto(link)
        buttons = again.page.get_by_role("button", name="Sign in")
        if buttons.count():
            with again.page.expect_response(lambda r: r.request.method == "POST") as posted:
                buttons.click()
            assert posted.value.status in (400, 401, 403, 404, 410), posted.value.status
        assert not any(c["name"] == "hotloop_session" for c in other.cookies()), "a used link signed in again"
        again.assert_clean()
    finally:
        other.close()


def test_a_claim_made_in_slack_reaches_an_open_alert_page_by_itself(
    board: Dashboard, watched: Watched
) -> None:
    key = board.new_alert({"id": "sse-1", **DETRACTOR})
    page = watched.page
    sign_in(board, page, ADMIN)
    page.goto(f"{board.url}/app/alerts/{key}")
    expect(page.locator('form[action$="/claim"]')).to_have_count(1)
    clicked = board.click_card(MANAGER, "alert.claim", key)
    assert clicked.status_code == 200, clicked.text
    # no page.reload() here: the server pushes the change (server-sent events) and the page shows it
    expect(page.locator("main, body").first).to_contain_text(owner_shown(MANAGER["name"]))


def test_a_form_with_a_forged_csrf_field_is_refused_and_changes_nothing(
    board: Dashboard, watched: Watched
) -> None:
    key = board.new_alert({"id": "csrf-1", **DETRACTOR})
    page = watched.page
    sign_in(board, page, ADMIN)
    page.goto(f"{board.url}/app/alerts/{key}")
    # the form as sent, with its CSRF field replaced on the way (the live region may swap the form's DOM
    # in between, so the field is not edited in the page)
    page.route("**/claim", lambda route: route.continue_(
        post_data=re.sub(r"csrf_token=[^&]*", "csrf_token=forged", route.request.post_data or "")))
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.locator('form[action$="/claim"] button[type="submit"]').first.click()
    page.unroute("**/claim")
    assert posted.value.status == 403, posted.value.status
    page.goto(f"{board.url}/app/alerts/{key}")
    expect(page.locator('form[action$="/claim"]')).to_have_count(1)  # still unclaimed
    assert not claimed_on_card(board, key, ADMIN["id"]), "a refused form still moved the Slack card"
