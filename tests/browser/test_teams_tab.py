"""The Teams "Alerts" tab (/app/tab) in a real browser: alone (outside Teams) it stays a plain link and
breaks nothing; framed by a host page that answers TeamsJS's messages as Teams does, it initializes,
reports success (without which Teams warns on its *.cloud.microsoft hosts), and opens the dashboard
through the host (`app.openLink`), so the browser — where the session cookie is sent — shows it.

The host page is served by Playwright's routing under this origin (the CSP's `frame-ancestors 'self'`
lets it frame the tab); its answers follow TeamsJS's window messaging: a request `{id, uuidAsString,
func, args}` to `window.parent`, answered `{id, uuidAsString, args}` (the initialize answer's args: frame
context, host client type, runtime config JSON, supported SDK version)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tests.browser.conftest import Watched
from tests.browser.dashboard import Dashboard

if TYPE_CHECKING:
    from playwright.sync_api import Route

HOST_PATH = "/app/teams-host-for-tests"  # answered by the test's route, never by hotloop
# TeamsJS asks Microsoft's CDN for the list of valid host origins on every load (no switch turns it off);
# the CSP blocks it (connect-src 'self': no third-party origin) and TeamsJS uses the list it carries.
TEAMSJS_CDN = "https://res.cdn.office.net/teams-js/validDomains/json/validDomains.json"
RUNTIME = {"apiVersion": 4, "isLegacyTeams": False,
           "hostVersionsInfo": {"adaptiveCardSchemaVersion": {"majorVersion": 1, "minorVersion": 5}},
           "supports": {"app": {}, "appInstallDialog": {}, "teamsCore": {}, "dialog": {},
                        "pages": {"appButton": {}, "tabs": {}, "config": {}, "backStack": {}}}}

HOST_PAGE = """<!doctype html><html><body>
<iframe id="tab" src="/app/tab" style="width:900px;height:600px"></iframe>
<script>
window.seen = [];
window.addEventListener("message", function (event) {
  var frame = document.getElementById("tab").contentWindow;
  if (event.source !== frame || !event.data || !event.data.func) return;
  var request = event.data;
  window.seen.push({func: request.func, args: request.args});
  var args = [];
  if (request.func === "initialize") {
    args = ["content", "web", RUNTIME_JSON, "2.58.0"];
  } else if (request.func === "executeDeepLink") {
    args = OPEN_LINK_ANSWER;  // [success, reason]
  }
  frame.postMessage({id: request.id, uuidAsString: request.uuidAsString, uuid: request.uuid, args: args},
                    event.origin);
});
</script></body></html>"""


def _host_page(open_link_answer: list[Any]) -> str:
    return (HOST_PAGE.replace("RUNTIME_JSON", json.dumps(json.dumps(RUNTIME)))
            .replace("OPEN_LINK_ANSWER", json.dumps(open_link_answer)))


def test_alone_the_tab_is_a_plain_link_to_the_dashboard(board: Dashboard, watched: Watched) -> None:
    page = watched.page
    watched.blocked_on_purpose.append(TEAMSJS_CDN)
    watched.blocked_on_purpose.append(TEAMSJS_CDN)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{board.url}/app/tab")
    page.wait_for_function("document.documentElement.dataset.teams !== undefined")
    assert page.evaluate("document.documentElement.dataset.teams") == "absent"
    link = page.locator("a[data-open-in-browser]")
    assert link.get_attribute("href") == "/app" and link.get_attribute("target") == "_blank"
    assert page.evaluate("typeof window.microsoftTeams.app.initialize") == "function"  # served from here
    assert errors == []


def _open_from_a_framed_tab(board: Dashboard, watched: Watched, answer: list[Any]) -> list[dict[str, Any]]:
    """The tab framed by the host page, initialized, its button clicked: the host's messages."""
    page = watched.page
    watched.blocked_on_purpose.append(TEAMSJS_CDN)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def host(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=_host_page(answer))

    page.route(f"{board.url}{HOST_PATH}", host)
    page.goto(f"{board.url}{HOST_PATH}")
    frame = page.frame(url=f"{board.url}/app/tab")
    assert frame is not None
    frame.wait_for_function("document.documentElement.dataset.teams === 'ready'")
    page.frame_locator("#tab").locator("a[data-open-in-browser]").click()
    page.wait_for_function("window.seen.some(m => m.func === 'executeDeepLink')")
    page.wait_for_timeout(500)  # time for a window the tab would open itself
    assert errors == []
    seen: list[dict[str, Any]] = page.evaluate("window.seen")
    return seen


def test_in_teams_the_tab_initializes_and_opens_the_dashboard_through_the_host(
    board: Dashboard, watched: Watched
) -> None:
    seen = _open_from_a_framed_tab(board, watched, [True])
    funcs = [message["func"] for message in seen]
    assert funcs == ["initialize", "appInitialization.success", "executeDeepLink"], funcs
    assert seen[2]["args"] == [f"{board.url}/app"]
    assert len(watched.page.context.pages) == 1  # the host opened it, not a window of the tab's own


def test_when_the_host_refuses_the_link_the_tab_opens_the_dashboard_itself(
    board: Dashboard, watched: Watched
) -> None:
    _open_from_a_framed_tab(board, watched, [False, "not allowed here"])
    urls = [opened.url for opened in watched.page.context.pages]
    assert urls[1:] == [f"{board.url}/app"], urls
