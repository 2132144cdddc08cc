"""Dashboard access rules on both backends: scope, 404s, private answers, CSRF, login links."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.runtime import Runtime
from bot.web.dashboard.auth import COOKIE, SESSION_TTL, NotStaff
from storage.models import Answer, AnswerComment, AuditEntry, Delivery, Occurrence, Person
from tests.web import world as w


@dataclass
class Site:
    """The running dashboard, its world, and a client per role."""

    runtime: Runtime
    world: w.World
    http: httpx.AsyncClient

    @property
    def clock(self) -> FrozenClock:
        """Return the runtime's frozen clock."""
        assert isinstance(self.runtime.clock, FrozenClock)
        return self.runtime.clock


@pytest.fixture
async def site(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[Site]:
    """Seed the world and serve the app in-process."""
    world = await w.build_world(sessions)
    runtime = w.make_runtime(engine, sessions, db_url)
    async with w.client(w.make_app(runtime)) as http:
        yield Site(runtime, world, http)


async def signed_in(site: Site, who: Person) -> httpx.AsyncClient:
    """Sign `who` in on the site's client and return it."""
    response = await w.sign_in(site.http, await w.login_link(site.runtime, who))
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/"
    return site.http


def cohort_pages(world: w.World, cohort: int, person: int) -> list[str]:
    """Return every GET page of a cohort."""
    base = f"/dashboard/cohorts/{cohort}"
    return [base, f"{base}/people/{person}", f"{base}/pulses/{world.survey}"]


def workbook_text(response: httpx.Response) -> str:
    """Return every cell of a downloaded .xlsx workbook as text."""
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    return "\n".join(
        str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row
    )


async def count(runtime: Runtime, model: type, *where: object) -> int:
    """Count rows of a table."""
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def test_coach_of_cohort_a_gets_404_for_cohort_b_pages_and_exports(site: Site) -> None:
    http = await signed_in(site, site.world.coach_a)
    home = await http.get("/dashboard/")
    assert "Kull A" in home.text and "kull-b" not in home.text
    for path in cohort_pages(site.world, site.world.cohort_b, site.world.leader_b.id):
        response = await http.get(path)
        assert response.status_code == 404, path
        assert w.COHORT_B_TEXT not in response.text
    # A leader of B under A's own cohort id is out of scope too.
    response = await http.get(
        f"/dashboard/cohorts/{site.world.cohort_a}/people/{site.world.leader_b.id}"
    )
    assert response.status_code == 404
    token = w.csrf_token(home.text)
    for kind in ("answers", "pulses", "deliveries"):
        response = await http.post(
            f"/dashboard/cohorts/{site.world.cohort_b}/export",
            data={"csrf_token": token, "kind": kind, "format": "csv"},
        )
        assert response.status_code == 404, kind
    comment = await http.post(
        f"/dashboard/cohorts/{site.world.cohort_b}/answers/{site.world.answer_b}/comment",
        data={"csrf_token": token, "comment": "hei"},
    )
    assert comment.status_code == 404
    # A's cohort id with B's answer: still not visible.
    comment = await http.post(
        f"/dashboard/cohorts/{site.world.cohort_a}/answers/{site.world.answer_b}/comment",
        data={"csrf_token": token, "comment": "hei"},
    )
    assert comment.status_code == 404
    assert await count(site.runtime, AnswerComment) == 0
    own = await http.get(f"/dashboard/cohorts/{site.world.cohort_a}")
    assert own.status_code == 200


async def test_admin_sees_every_cohort(site: Site) -> None:
    http = await signed_in(site, site.world.admin)
    home = await http.get("/dashboard/")
    assert "Kull A" in home.text and "kull-b" in home.text
    page = await http.get(
        f"/dashboard/cohorts/{site.world.cohort_b}/people/{site.world.leader_b.id}"
    )
    assert page.status_code == 200 and w.COHORT_B_TEXT in page.text


async def test_private_answers_appear_in_no_page_and_no_export(site: Site) -> None:
    for who in (site.world.coach_a, site.world.admin):
        http = await signed_in(site, who)
        cohort = site.world.cohort_a
        home = await http.get(f"/dashboard/cohorts/{cohort}")
        token = w.csrf_token(home.text)
        bodies = [home.text]
        async with site.runtime.sessions() as session:
            people = [a.person_id for a in await session.scalars(select(Answer))]
        for person in people:
            bodies.append((await http.get(f"/dashboard/cohorts/{cohort}/people/{person}")).text)
        bodies.append(
            (await http.get(f"/dashboard/cohorts/{cohort}/pulses/{site.world.survey}")).text
        )
        for kind in ("answers", "pulses", "deliveries"):
            for fmt in ("csv", "xlsx", "json"):
                for research in ("", "1"):
                    response = await http.post(
                        f"/dashboard/cohorts/{cohort}/export",
                        data={
                            "csrf_token": token,
                            "kind": kind,
                            "format": fmt,
                            "research": research,
                        },
                    )
                    assert response.status_code == 200
                    bodies.append(workbook_text(response) if fmt == "xlsx" else response.text)
        everything = "\n".join(bodies)
        assert w.SHARED_TEXT in everything and w.GROUP_TEXT in everything
        assert w.PRIVATE_TEXT not in everything
        # The private answer's author is listed, but their timeline shows nothing private.
        timeline = await http.get(f"/dashboard/cohorts/{cohort}/people/{people[1]}")
        assert timeline.status_code == 200


async def test_private_answer_cannot_be_commented_on(site: Site) -> None:
    http = await signed_in(site, site.world.coach_a)
    home = await http.get("/dashboard/")
    response = await http.post(
        f"/dashboard/cohorts/{site.world.cohort_a}/answers/{site.world.private_answer}/comment",
        data={"csrf_token": w.csrf_token(home.text), "comment": "Fint!"},
    )
    assert response.status_code == 404
    assert await count(site.runtime, Delivery, Delivery.kind == "comment") == 0


async def test_post_without_or_with_a_wrong_csrf_token_is_rejected(site: Site) -> None:
    http = await signed_in(site, site.world.coach_a)
    cohort = site.world.cohort_a
    data = {"group_id": str(site.world.group_a), "text": "Hva lærte du?", "when": "now"}
    missing = await http.post(f"/dashboard/cohorts/{cohort}/prompt", data=data)
    assert missing.status_code == 403
    wrong = await http.post(
        f"/dashboard/cohorts/{cohort}/prompt", data={**data, "csrf_token": "0" * 64}
    )
    assert wrong.status_code == 403
    export = await http.post(
        f"/dashboard/cohorts/{cohort}/export", data={"kind": "answers", "format": "csv"}
    )
    assert export.status_code == 403 and w.SHARED_TEXT not in export.text
    assert await count(site.runtime, Occurrence) == 1  # only the campaign's own
    page = await http.get(f"/dashboard/cohorts/{cohort}")
    accepted = await http.post(
        f"/dashboard/cohorts/{cohort}/prompt", data={**data, "csrf_token": w.csrf_token(page.text)}
    )
    assert accepted.status_code == 303
    assert await count(site.runtime, Occurrence) == 2


async def test_a_token_from_another_session_is_rejected(site: Site) -> None:
    http = await signed_in(site, site.world.coach_a)
    first = w.csrf_token((await http.get("/dashboard/")).text)
    await signed_in(site, site.world.coach_a)  # a new session: new id, new token
    response = await http.post(
        f"/dashboard/cohorts/{site.world.cohort_a}/export",
        data={"csrf_token": first, "kind": "answers", "format": "csv"},
    )
    assert response.status_code == 403


async def test_a_used_login_link_is_refused(site: Site) -> None:
    link = await w.login_link(site.runtime, site.world.coach_a)
    page = await site.http.get(link)
    token, code = w.csrf_token(page.text), link.split("code=")[1]
    first = await site.http.post("/dashboard/login", data={"csrf_token": token, "code": code})
    assert first.status_code == 303
    site.http.cookies.clear()
    again = await site.http.get(link)
    assert again.status_code == 410 and "already been used" in again.text
    # Replaying the form post with a fresh anonymous session is refused too.
    fresh = await site.http.get("/dashboard/login?code=nothing")
    assert fresh.status_code == 410
    site.http.cookies.clear()
    other = await w.login_link(site.runtime, site.world.coach_b)
    anonymous = await site.http.get(other)
    replay = await site.http.post(
        "/dashboard/login", data={"csrf_token": w.csrf_token(anonymous.text), "code": code}
    )
    assert replay.status_code == 410
    assert COOKIE not in replay.headers.get("set-cookie", "")


async def test_an_expired_login_link_is_refused(site: Site) -> None:
    link = await w.login_link(site.runtime, site.world.coach_a)
    page = await site.http.get(link)
    site.clock.advance(minutes=16)
    response = await site.http.post(
        "/dashboard/login",
        data={"csrf_token": w.csrf_token(page.text), "code": link.split("code=")[1]},
    )
    assert response.status_code == 410 and "expired" in response.text
    assert (await site.http.get("/dashboard/")).status_code == 401
    assert (await site.http.get(link)).status_code == 410


async def test_sessions_expire_and_cookies_are_hardened(site: Site) -> None:
    response = await w.sign_in(site.http, await w.login_link(site.runtime, site.world.coach_a))
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=28800" in cookie
    assert (await site.http.get("/dashboard/")).status_code == 200
    site.clock.advance(seconds=SESSION_TTL.total_seconds() - 60)
    assert (await site.http.get("/dashboard/")).status_code == 200
    site.clock.advance(minutes=2)
    assert (await site.http.get("/dashboard/")).status_code == 401


async def test_a_tampered_session_cookie_is_ignored(site: Site) -> None:
    await signed_in(site, site.world.coach_a)
    value = site.http.cookies.get(COOKIE, path="/dashboard")
    assert value
    site.http.cookies.set(COOKIE, value[:-2] + "xx", path="/dashboard")
    assert (await site.http.get("/dashboard/")).status_code == 401


async def test_leaders_get_no_dashboard(site: Site) -> None:
    with pytest.raises(NotStaff):
        await w.login_link(site.runtime, site.world.leader)


async def test_timeline_views_are_audited(site: Site) -> None:
    http = await signed_in(site, site.world.coach_a)
    leader = site.world.leader.id
    page = await http.get(f"/dashboard/cohorts/{site.world.cohort_a}/people/{leader}")
    assert w.SHARED_TEXT in page.text
    async with site.runtime.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "answers.view"))
    assert entry is not None
    assert entry.actor_id == site.world.coach_a.id and entry.subject == f"person:{leader}"


async def test_unknown_timeline_leaves_no_audit(site: Site) -> None:
    http = await signed_in(site, site.world.coach_a)
    await http.get(f"/dashboard/cohorts/{site.world.cohort_b}/people/{site.world.leader_b.id}")
    assert await count(site.runtime, AuditEntry, AuditEntry.action == "answers.view") == 0


async def test_pages_follow_the_browser_language_before_sign_in(site: Site) -> None:
    english = await site.http.get("/dashboard/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    norwegian = await site.http.get("/dashboard/", headers={"Accept-Language": "nb-NO,nb;q=0.9"})
    assert english.status_code == norwegian.status_code == 401
    assert '<html lang="en">' in english.text and "Please sign in" in english.text
    assert '<html lang="nb">' in norwegian.text and "Logg inn" in norwegian.text


async def test_comment_is_stored_and_queued_for_the_leader(site: Site) -> None:
    http = await signed_in(site, site.world.coach_a)
    cohort, leader = site.world.cohort_a, site.world.leader.id
    page = await http.get(f"/dashboard/cohorts/{cohort}/people/{leader}")
    response = await http.post(
        f"/dashboard/cohorts/{cohort}/answers/{site.world.shared_answer}/comment",
        data={"csrf_token": w.csrf_token(page.text), "comment": "Godt reflektert – prøv igjen!"},
    )
    assert response.status_code == 303
    async with site.runtime.sessions() as session:
        delivery = await session.scalar(select(Delivery).where(Delivery.kind == "comment"))
    assert delivery is not None and delivery.person_id == leader
    assert "Godt reflektert" not in str(delivery.payload)
    again = await http.get(response.headers["location"])
    assert "Godt reflektert" in again.text


async def test_a_scheduled_prompt_in_the_past_is_refused_with_a_labelled_error(site: Site) -> None:
    http = await signed_in(site, site.world.coach_a)
    cohort = site.world.cohort_a
    page = await http.get(f"/dashboard/cohorts/{cohort}")
    past = (w.NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = await http.post(
        f"/dashboard/cohorts/{cohort}/prompt",
        data={
            "csrf_token": w.csrf_token(page.text),
            "group_id": str(site.world.group_a),
            "text": "Hva lærte du?",
            "when": "later",
            "send_at": past,
        },
    )
    assert response.status_code == 400
    assert 'aria-describedby="send_at-error"' in response.text
    assert await count(site.runtime, Occurrence) == 1


async def test_downloads_open_in_the_coachs_excel(site: Site) -> None:
    async with site.runtime.sessions() as session, session.begin():
        coach = await session.get(Person, site.world.coach_a.id)
        assert coach is not None
        coach.locale = "nb"
    http = await signed_in(site, site.world.coach_a)
    cohort = site.world.cohort_a
    token = w.csrf_token((await http.get(f"/dashboard/cohorts/{cohort}")).text)

    async def download(fmt: str) -> httpx.Response:
        response = await http.post(
            f"/dashboard/cohorts/{cohort}/export",
            data={"csrf_token": token, "kind": "answers", "format": fmt},
        )
        assert response.status_code == 200
        return response

    norwegian = await download("csv")
    assert norwegian.headers["content-type"] == "text/csv; charset=utf-8"
    assert norwegian.content.startswith(b"\xef\xbb\xbf")
    header = norwegian.content.decode("utf-8-sig").split("\r\n", 1)[0]
    assert ";" in header and "," not in header
    assert w.SHARED_TEXT in norwegian.content.decode("utf-8-sig")

    async with site.runtime.sessions() as session, session.begin():
        coach = await session.get(Person, site.world.coach_a.id)
        assert coach is not None
        coach.locale = "en"
    english = await download("csv")
    assert english.content.startswith(b"\xef\xbb\xbf")
    header = english.content.decode("utf-8-sig").split("\r\n", 1)[0]
    assert "," in header and ";" not in header

    workbook = await download("xlsx")
    assert workbook.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert 'filename="tenkepause-answers-' in workbook.headers["content-disposition"]
    assert w.SHARED_TEXT in workbook_text(workbook)
