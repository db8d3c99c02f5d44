"""Issue 16 §5: the security suite's injection corpus renders inert on every dashboard page, in a browser.

One response carries the chat corpus of tests/security/test_injection.py (Slack control sequences,
Markdown, `<at>`, Adaptive Card functions, invisible characters) plus the HTML one below (inline script,
event-handler attributes, `javascript:` and `data:` URLs, markup that closes an attribute or a textarea,
`<style>`, `<meta refresh>`, `<base>`, template syntax) in its comment, customer name, answers and
attributes (location, employee, product: what the figures group by). On the queue, the alert's page and
the figures page: no dialog opens, the DOM holds no script without `src`, no element with an `on…`
attribute, no `javascript:` link, no frame, style, meta or base element that the text brought, every
script comes from the page's own origin, the browser reports no CSP violation and the CSP header forbids
inline script and third-party origins. The hostile text is on the page, as text (the positive control).
Without a session, no page shows any of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.browser.conftest import Watched
from tests.browser.dashboard import ADMIN, Dashboard, sign_in
from tests.security.test_injection import EVIL

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (.[test])")

HTML_EVIL = [
    "<script>alert('script')</script>",
    "<img src=x onerror=alert('img')>",
    "<svg onload=alert('svg')><circle r=9 /></svg>",
    "\"><script>alert('attr')</script>",
    "'><img src=x onerror=alert('attr2')>",
    "javascript:alert('href')",
    "<a href=\"javascript:alert('a')\">click me</a>",
    "<iframe src=\"javascript:alert('frame')\"></iframe>",
    "</textarea></title><script>alert('closed')</script>",
    "<style>body{display:none}</style>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert('meta')\">",
    "<base href=\"https://evil.example/\">",
    "<body onload=alert('body')>",
    "<details open ontoggle=alert('toggle')>",
    "data:text/html,<script>alert('data')</script>",
    "{{ 7*7 }} {% if 1 %}jinja{% endif %} ${7*7}",
]
NAME = "Eve <img src=x onerror=alert('name')> \"Mallory\""
CORPUS = " ".join(EVIL + HTML_EVIL)
HOSTILE = {
    "id": "hostile-1",
    "nps": 1,
    "contact_requested": True,
    "customer": {"id": "c-<script>", "name": NAME, "email": "eve@example.com"},
    "comment": CORPUS,
    "answers": [{"question": "Staff <script>alert('q')</script> friendliness", "value": 1,
                 "scale_min": 1, "scale_max": 5},
                {"question": "Anything else <img src=x onerror=alert('q2')>?", "value": CORPUS}],
    "attributes": {"location": "042<script>alert('loc')</script>",
                   "employee": "<img src=x onerror=alert('emp')>",
                   "product": "javascript:alert('product')",
                   "<b onmouseover=alert('key')>": "<svg onload=alert('value')>"},
}
# what a rendered page may not hold unless the page itself put it there (which it must not either)
FORBIDDEN = ["script:not([src])", "iframe", "frame", "object", "embed", "style", "base", "meta[http-equiv]",
             "a[href^='javascript:' i]", "[href^='data:' i]", "[src^='javascript:' i]"]
HANDLERS = """() => [...document.querySelectorAll('*')]
  .filter(e => [...e.attributes].some(a => a.name.toLowerCase().startsWith('on')))
  .map(e => e.outerHTML.slice(0, 160))"""
SCRIPTS = "() => [...document.scripts].map(s => s.src)"
PAGES = ["/app", "/app/alerts/{key}", "/app/figures"]


@pytest.fixture(scope="module")
def hostile_key(board: Dashboard) -> Iterator[str]:
    yield board.new_alert(HOSTILE)


def check_csp(response: Response | None) -> None:
    assert response is not None
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "default-src 'self'" in policy, f"CSP: {policy!r}"
    for loose in ("'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"):
        directives = [d for d in policy.split(";") if d.strip().startswith(("script-src", "default-src"))]
        assert all(loose not in d.split()[1:] for d in directives), f"CSP allows {loose}: {policy!r}"


def check_inert(page: Page, origin: str) -> None:
    page.wait_for_timeout(300)  # let any broken image fire its onerror, any handler run
    present = {selector: page.locator(selector).count() for selector in FORBIDDEN}
    assert not any(present.values()), f"elements the page must not hold: {present}"
    assert page.evaluate(HANDLERS) == [], "elements with event-handler attributes"
    foreign = [src for src in page.evaluate(SCRIPTS) if not str(src).startswith(origin + "/")]
    assert not foreign, f"scripts from elsewhere: {foreign}"


@pytest.mark.parametrize("path", PAGES)
def test_the_injection_corpus_renders_inert(
    board: Dashboard, watched: Watched, hostile_key: str, path: str
) -> None:
    page = watched.page
    sign_in(board, page, ADMIN)
    response = page.goto(board.url + path.format(key=hostile_key))
    assert response is not None and response.status == 200, response and response.status
    check_csp(response)
    check_inert(page, board.url)
    assert not watched.confirms, watched.confirms
    text = page.locator("body").inner_text()
    if path != "/app/figures":  # the positive control: the customer's words are there, as words
        assert "<img src=x onerror=alert('name')>" in text
    if path.startswith("/app/alerts/"):
        # the words themselves, untouched: escaped for HTML, not evaluated as a template
        for shown in ("<script>alert('script')</script>", "javascript:alert('href')", "<!channel>",
                      "{{ 7*7 }}"):
            assert shown in text, shown
    watched.assert_clean()


@pytest.mark.parametrize("path", PAGES)
def test_without_a_session_no_page_shows_alert_data(
    board: Dashboard, watched: Watched, hostile_key: str, path: str
) -> None:
    page = watched.page
    response = page.goto(board.url + path.format(key=hostile_key))
    assert response is not None
    signed_out = response.status == 401 or "/app/login" in page.url or "sign in" in page.content().lower()
    assert signed_out, (response.status, page.url)
    text = page.content()
    for secret in (hostile_key, "Mallory", "eve@example.com", "042<", "Walter"):
        assert secret not in text, f"{secret!r} shown without a session on {path}"
    check_csp(response)
    check_inert(page, board.url)


def test_without_a_session_the_event_stream_and_the_actions_are_closed(
    board: Dashboard, hostile_key: str
) -> None:
    events = httpx.get(f"{board.url}/app/events", timeout=5, cookies={"hotloop_session": "forged"})
    assert events.status_code in (401, 303, 307), events.status_code
    assert hostile_key not in events.text
    claim = httpx.post(f"{board.url}/app/alerts/{hostile_key}/claim", data={"csrf_token": "x"}, timeout=5)
    assert claim.status_code in (401, 403, 303), claim.status_code
    assert board.card_updates(hostile_key) == [], "an action without a session moved the card"
