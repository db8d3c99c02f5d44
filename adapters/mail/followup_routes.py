"""'Did we fix it?' at `/f/<token>`: the page a follow-up e-mail links to, and its answer.

`GET /f/<token>` shows one small form (no JavaScript, the customer's language, labels, fieldsets), "yes"
preselected, or "no" with `?resolved=no`: opening a link records nothing, so mail scanners that open every
URL answer no survey. `POST /f/<token>` takes `resolved=yes|no`, `score` (optional, 0–10), `comment` and
`csrf` (a signed value bound to this token and the time the page was shown: a form on another site cannot
answer for the customer) and shows a thank-you page with the customer's own answer and nothing else.

Hygiene: every request is rate-limited per client IP (429 with Retry-After); every page is a sandboxed,
autoescaped template with a strict Content-Security-Policy, no-store and no-referrer (the token is in the
URL); an invalid link is 404, a used or expired one 410, a bad form 400, a bad CSRF value 403 — pages that
name no alert, no team, no customer.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from adapters.http_body import BodyTooLargeError, read_limited
from adapters.mail.routes import PAGE_HEADERS, mail_kit
from adapters.rate_limit import ClientRateLimit
from bot.context import Context
from bot.domain import utcnow
from bot.mail.followup_answer import Answer, LinkState, OpenedLink, open_link, read_answer, record
from bot.mail.kit import MailKit
from bot.mail.language import DEFAULT

FORM_LIMIT = 16 * 1024  # a comment of 2 000 characters, percent-encoded, fits many times


def _limiter(request: Request) -> ClientRateLimit:
    limiter: ClientRateLimit | None = getattr(request.app.state, "follow_up_limiter", None)
    if limiter is None:
        settings = request.app.state.ctx.settings
        limiter = request.app.state.follow_up_limiter = ClientRateLimit(
            per_minute=settings.public_page_per_minute, burst=settings.public_page_burst)
    return limiter


def _page(kit: MailKit, *, state: str, language: str, status: int = 200,
          headers: dict[str, str] | None = None, **variables: object) -> HTMLResponse:
    html = kit.templates.page("followup_page", language=language, state=state, **variables)
    return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})


def _throttled(request: Request, kit: MailKit) -> HTMLResponse | None:
    client = request.client.host if request.client else "unknown"
    wait = _limiter(request).retry_after(client)
    if wait is None:
        return None
    return _page(kit, state="busy", language=DEFAULT, status=429, headers={"Retry-After": str(wait)})


def _closed(kit: MailKit, link: OpenedLink) -> HTMLResponse:
    return _page(kit, state=link.state.value, language=link.language, status=link.status_code)


def _form(kit: MailKit, link: OpenedLink, *, token: str, chosen: str, status: int = 200,
          problem: str = "") -> HTMLResponse:
    csrf = kit.links.csrf_value(token, now=utcnow())
    return _page(kit, state="form", language=link.language, status=status, action=f"/f/{token}",
                 chosen=chosen, csrf=csrf, problem=problem)


def _thanks(kit: MailKit, link: OpenedLink, answer: Answer) -> HTMLResponse:
    return _page(kit, state="thanks", language=link.language, resolved=answer.resolved, score=answer.score,
                 comment=answer.comment or "")


async def _posted_form(request: Request) -> dict[str, str] | None:
    try:
        body = await read_limited(request, FORM_LIMIT)
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10))
    except (BodyTooLargeError, UnicodeDecodeError, ValueError):
        return None


async def _open(request: Request, token: str) -> tuple[MailKit, Context, OpenedLink | HTMLResponse]:
    """Both methods start alike: the rate limit, then the link (the page that says why it is closed)."""
    kit, ctx = mail_kit(request), request.app.state.ctx
    if (busy := _throttled(request, kit)) is not None:
        return kit, ctx, busy
    link = await open_link(ctx.sessions, kit, token=token, now=utcnow())
    return kit, ctx, link if link.state is LinkState.OPEN else _closed(kit, link)


def mount_follow_up(app: FastAPI) -> None:
    @app.get("/f/{token}", include_in_schema=False)
    async def follow_up_page(token: str, request: Request) -> HTMLResponse:
        kit, _, opened = await _open(request, token)
        if isinstance(opened, HTMLResponse):
            return opened
        link = opened
        chosen = "no" if request.query_params.get("resolved") == "no" else "yes"
        return _form(kit, link, token=token, chosen=chosen)

    @app.post("/f/{token}", include_in_schema=False)
    async def follow_up_answer(token: str, request: Request) -> HTMLResponse:
        kit, ctx, opened = await _open(request, token)
        if isinstance(opened, HTMLResponse):
            return opened
        link = opened
        form = await _posted_form(request)
        if form is None or not kit.links.csrf_ok(token, form.get("csrf", ""), now=utcnow()):
            return _form(kit, link, token=token, chosen="", status=403, problem="expired")
        answer = read_answer(form)
        if answer is None:
            return _form(kit, link, token=token, chosen="", status=400, problem="invalid")
        if not await record(ctx.sessions, await ctx.config.get(), link=link, answer=answer, now=utcnow()):
            return _closed(kit, OpenedLink(LinkState.USED, link.language))
        ctx.signal.notify()  # the thread line, the DM and the card updates it wrote
        return _thanks(kit, link, answer)
