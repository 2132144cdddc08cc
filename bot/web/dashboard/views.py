"""The dashboard's pages and form handlers.

Each handler gets a `Page`: the request, a database session, the signed-in coach (or
None), the language and the time. Anything outside the coach's cohorts raises
`NotVisible` and answers 404, so a coach cannot even learn that another cohort exists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.services import comments, exports, group_prompts, review
from bot.services.coaching import coached_groups, is_staff
from bot.services.one_time_codes import CodeProblem, find_code, problem_with
from bot.services.web_sessions import SessionKind, end_session, find_session, start_session
from bot.web.dashboard import csrf
from bot.web.dashboard.auth import (
    LOGIN_PURPOSE,
    SESSION_TTL,
    DashboardSession,
    SessionCookies,
    redeem_login,
)
from bot.web.dashboard.pulse_page import pulse_view
from bot.web.dashboard.templating import choose_locale, render
from storage.models import Cohort, Person

BASE = "/dashboard"
MAX_PROMPT_LENGTH = 2000


class NotVisible(Exception):
    """The page asked for is outside the viewer's cohorts (or does not exist)."""


@dataclass
class Page:
    """Everything a handler needs about one request."""

    runtime: Runtime
    request: Request
    session: AsyncSession
    cookies: SessionCookies
    dash: DashboardSession | None
    viewer: Person | None
    locale: str
    now: datetime
    form: FormData | None = None

    def _(self, message: str) -> str:
        """Translate a message into the page's language."""
        return gettext_for(self.locale).gettext(message)

    @property
    def me(self) -> Person:
        """Return the signed-in viewer (handlers that need one are only reached signed in)."""
        assert self.viewer is not None
        return self.viewer

    def html(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        """Render a page with what every template needs."""
        token = csrf.token_for(self.runtime.secret, self.dash.sid) if self.dash else ""
        body = render(
            f"dashboard/{template}",
            self.locale,
            {"viewer": self.viewer, "csrf_token": token, "base": BASE, **context},
        )
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    def field(self, name: str) -> str:
        """Return a submitted form field as text ('' when absent)."""
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else ""


# The dashboard needs no third-party origin at all, so the policy can forbid every one.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

Handler = Callable[[Page], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def endpoint(runtime: Runtime, handler: Handler, *, signed_in: bool = True) -> Endpoint:
    """Wrap a handler: session, viewer, language, CSRF on POST, 401/403/404 pages."""
    secure = runtime.settings.public_url.startswith("https://")
    cookies = SessionCookies(runtime.secret, secure)

    async def run(request: Request) -> Response:
        async with runtime.sessions() as session:
            now = runtime.clock.now()
            dash = cookies.read(request, now)
            viewer = None
            if dash is not None and dash.person_id is not None:
                found = await find_session(session, dash.sid, SessionKind.DASHBOARD, now)
                if found and found.person.id == dash.person_id and is_staff(found.person):
                    viewer = found.person
                else:
                    # Revoked, expired or no longer staff: it only binds CSRF tokens now.
                    dash = DashboardSession(dash.sid, None, dash.issued)
            locale = (
                viewer.locale if viewer else choose_locale(request.headers.get("accept-language"))
            )
            page = Page(runtime, request, session, cookies, dash, viewer, locale, now)
            if request.method == "POST":
                page.form = await request.form()
                if not csrf.is_valid(
                    runtime.secret, dash.sid if dash else None, page.field(csrf.FIELD)
                ):
                    return page.html("refused.html", 403, reason="csrf")
            if signed_in and viewer is None:
                return page.html("signed_out.html", 401)
            try:
                response = await handler(page)
            except NotVisible:
                # Render before the rollback, which expires the viewer's loaded columns.
                missing = page.html("not_found.html", 404)
                await session.rollback()
                return missing
            await session.commit()
            return response

    return run


def redirect(path: str) -> RedirectResponse:
    """Answer a form post with a redirect to a page (303: fetch it with GET)."""
    return RedirectResponse(path, status_code=303, headers={"Cache-Control": "no-store"})


# Signing in and out.


async def login_page(page: Page) -> Response:
    """Show the sign-in button for a link's code, or why the code cannot be used."""
    code = page.request.query_params.get("code", "")
    problem = problem_with(await find_code(page.session, LOGIN_PURPOSE, code), page.now)
    if problem is not None and page.viewer is not None:
        return redirect(f"{BASE}/")  # an old link in a signed-in browser: carry on there
    if problem is not None:
        return page.html("refused.html", 410, reason=problem.value)
    fresh = page.dash is None
    if page.dash is None:
        # A session without a person, so the sign-in form can carry a CSRF token.
        page.dash = page.cookies.new(None, page.now)
    response = page.html("login.html", code=code)
    if fresh:
        page.cookies.attach(response, page.dash)
    return response


async def login_submit(page: Page) -> Response:
    """Use the code once and start a signed-in session."""
    found = await redeem_login(page.session, page.field("code"), page.now)
    if isinstance(found, CodeProblem) and page.viewer is not None:
        return redirect(f"{BASE}/")
    if isinstance(found, CodeProblem):
        return page.html("refused.html", 410, reason=found.value)
    token = await start_session(page.session, found, SessionKind.DASHBOARD, page.now, SESSION_TTL)
    response = redirect(f"{BASE}/")
    page.cookies.start(response, token, found.id, page.now)
    return response


async def logout(page: Page) -> Response:
    """End the session here and on the server, so a copy of the cookie is worthless too."""
    if page.dash is not None:
        await end_session(page.session, page.dash.sid)
    page.viewer = None
    response = page.html("signed_out.html", 200, signed_out=True)
    page.cookies.end(response)
    return response


# Pages.


async def home(page: Page) -> Response:
    """List the cohorts the viewer reviews."""
    cohorts = await review.visible_cohorts(page.session, page.me)
    return page.html("home.html", cohorts=cohorts)


async def _cohort(page: Page) -> Cohort:
    cohort = await review.visible_cohort(
        page.session, page.me, int(page.request.path_params["cohort_id"])
    )
    if cohort is None:
        raise NotVisible
    return cohort


async def cohort_page(page: Page) -> Response:
    """Show a cohort's participation, attention list, meetings, surveys and forms."""
    cohort = await _cohort(page)
    return await _cohort_html(page, cohort)


async def _cohort_html(
    page: Page, cohort: Cohort, status: int = 200, errors: dict[str, str] | None = None
) -> Response:
    summary = await review.overview(page.session, cohort, page.now)
    groups = [g for g in await coached_groups(page.session, page.me) if g.cohort_id == cohort.id]
    local = page.now.astimezone(ZoneInfo(page.me.timezone))
    return page.html(
        "cohort.html",
        status,
        cohort=cohort,
        overview=summary,
        groups=groups,
        errors=errors or {},
        values={
            "group_id": page.field("group_id"),
            "text": page.field("text"),
            "when": page.field("when") or "now",
            "send_at": page.field("send_at")
            or (local + timedelta(hours=1)).strftime("%Y-%m-%dT%H:00"),
        },
        posted=page.request.query_params.get("posted"),
        timezone=page.me.timezone,
    )


async def post_prompt(page: Page) -> Response:
    """Post a prompt to one of the cohort's groups, now or at a local time."""
    cohort = await _cohort(page)
    groups = {
        str(g.id): g
        for g in await coached_groups(page.session, page.me)
        if g.cohort_id == cohort.id
    }
    errors: dict[str, str] = {}
    group = groups.get(page.field("group_id"))
    if group is None:
        errors["group_id"] = page._("Choose one of the cohort's peer groups.")
    text = page.field("text").strip()
    if not text:
        errors["text"] = page._("Write the prompt you want to post.")
    elif len(text) > MAX_PROMPT_LENGTH:
        errors["text"] = page._("Keep the prompt under {count} characters.").format(
            count=MAX_PROMPT_LENGTH
        )
    send_at = page.now
    if page.field("when") == "later":
        when = _local_time(page.field("send_at"), page.me.timezone)
        if when is None:
            errors["send_at"] = page._("Give a date and time, like 2027-03-01 09:00.")
        elif when < page.now - timedelta(minutes=1):
            errors["send_at"] = page._("Choose a time in the future.")
        else:
            send_at = when
    if errors or group is None:
        return await _cohort_html(page, cohort, 400, errors)
    await group_prompts.post_group_prompt(page.session, page.me, group, text, send_at=send_at)
    return redirect(f"{BASE}/cohorts/{cohort.id}?posted={group.id}")


def _local_time(value: str, timezone: str) -> datetime | None:
    try:
        naive = datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)


async def timeline_page(page: Page) -> Response:
    """Show a leader's answers shared with coaches or the group; the view is audited."""
    cohort = await _cohort(page)
    person_id = int(page.request.path_params["person_id"])
    found = await review.visible_leader(page.session, page.me, cohort.id, person_id)
    entries = await review.leader_timeline(page.session, page.me, cohort.id, person_id, page.now)
    if found is None or entries is None:
        raise NotVisible
    return page.html(
        "timeline.html",
        cohort=cohort,
        leader=found[1],
        entries=entries,
        commented=page.request.query_params.get("commented"),
    )


async def comment(page: Page) -> Response:
    """Store a private comment on an answer and queue it for its author."""
    cohort = await _cohort(page)
    answer_id = int(page.request.path_params["answer_id"])
    answer = await review.visible_answer(page.session, page.me, answer_id)
    if answer is None or not await review.is_cohort_member(
        page.session, cohort.id, answer.person_id
    ):
        raise NotVisible
    text = page.field("comment")
    if not text.strip():
        return redirect(f"{BASE}/cohorts/{cohort.id}/people/{answer.person_id}?commented=empty")
    await comments.add_comment(page.session, page.me, answer_id, text, page.now)
    return redirect(
        f"{BASE}/cohorts/{cohort.id}/people/{answer.person_id}?commented={answer_id}#answer-{answer_id}"
    )


async def pulse_page(page: Page) -> Response:
    """Show a survey's results for the cohort: distributions, trend, withheld explanations."""
    cohort = await _cohort(page)
    survey_id = int(page.request.path_params["survey_id"])
    surveys = {s.id: s for s in await review.cohort_surveys(page.session, cohort.id)}
    survey = surveys.get(survey_id)
    if survey is None:
        raise NotVisible
    number = page.request.query_params.get("round", "")
    view = await pulse_view(
        page.session,
        cohort,
        survey,
        int(number) if number.isdigit() else None,
        page.locale,
        page._,
    )
    return page.html("pulse.html", cohort=cohort, view=view)


async def export_download(page: Page) -> Response:
    """Send an export of the cohort as a file; the export is audited."""
    cohort = await _cohort(page)
    try:
        kind = exports.ExportKind(page.field("kind"))
        fmt = exports.ExportFormat(page.field("format"))
    except ValueError:
        raise NotVisible from None
    request = exports.ExportRequest(kind, cohort=cohort.name, research=bool(page.field("research")))
    export = await exports.build_export(
        page.session, request, secret=page.runtime.secret, now=page.now, actor=page.me
    )
    # Coaches open downloads in a spreadsheet program, in the language they read the page in.
    body = exports.export_bytes(export, fmt, exports.excel_csv(page.locale))
    media = exports.MEDIA_TYPES[fmt]
    filename = f"tenkepause-{kind.value}-{cohort.id}.{fmt.value}"
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
