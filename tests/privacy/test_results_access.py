"""Attacks through what coaches and admins are shown: open-round differencing, other cohorts.

Differencing: a coach looks at an open round, one leader answers, the coach looks again.
Through the dashboard page, the dashboard export, `tenkepause export pulses` and the chat
`results` command, the two looks may differ in the response rate and nothing else.
Cohort reach: a coach of cohort A gets nothing of cohort B, in chat or in the automatic
summary when a round closes; an admin gets both.
"""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import FrozenClock
from bot.core.conversation import Policy
from bot.core.messages import Interaction, InteractionKind
from bot.handlers.registry import build_router
from bot.services.pulse_closing import queue_coach_summaries
from bot.services.pulses import close_round
from bot.services.render import load_renderers, render
from storage.models import Delivery, Person
from tests.privacy import world as pw
from tests.services.test_exports import run_cli
from tests.web import world as w

RATE = re.compile(r"Answered: \d+ of \d+ \(\d+ %\)")
_events = iter(range(10**6))


async def chat(sessions: async_sessionmaker[AsyncSession], who: Person, command: str) -> str:
    """Send a chat command as `who` through the real router; return the reply text."""
    router = build_router(sessions, FrozenClock(pw.OPENS), pw.SECRET, Policy())
    replies = await router.handle(
        Interaction(
            platform="webchat",
            external_user=f"person-{who.id}",
            kind=InteractionKind.COMMAND,
            command=command,
            event_id=f"privacy-{next(_events)}",
        )
    )
    return "\n".join(r.message.text for r in replies)


async def looks(
    http: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    programme: pw.Programme,
    backend: str,
    db_url: str,
) -> dict[str, str]:
    """Take every look a coach of cohort A has at the open round."""
    base = f"/dashboard/cohorts/{programme.cohort_a}"
    page = await http.get(f"{base}/pulses/{programme.survey}?round=1")
    assert page.status_code == 200
    token = w.csrf_token((await http.get(base)).text)
    export = await http.post(
        f"{base}/export", data={"csrf_token": token, "kind": "pulses", "format": "json"}
    )
    assert export.status_code == 200
    seen = {
        "page": page.text.replace(token, "TOKEN"),
        "export": export.text,
        "chat": RATE.sub("RATE", await chat(sessions, programme.coach_a, "results")),
    }
    if backend == "sqlite":  # the CLI is a separate process; once is enough
        done = run_cli(db_url, "export", "pulses", "--format", "json")
        assert done.returncode == 0, done.stderr
        seen["cli"] = re.sub(r'"(exported_at|generated_at)": "[^"]*"', "", done.stdout)
    return seen


async def test_an_open_round_looks_the_same_before_and_after_one_more_answer(
    backend: str,
    db_url: str,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    programme = await pw.build_programme(sessions)
    await pw.answer(sessions, programme, programme.leaders_a[:10])
    runtime = w.make_runtime(engine, sessions, db_url)
    async with w.client(w.make_app(runtime)) as http:
        await w.sign_in(http, await w.login_link(runtime, programme.coach_a))
        before = await looks(http, sessions, programme, backend, db_url)
        await pw.answer(sessions, programme, [programme.leaders_a[10]])
        after = await looks(http, sessions, programme, backend, db_url)
    for name in before:
        assert before[name] == after[name], f"the {name} changed with one answer"
    # Not equal because empty: the page and exports say why they hold no figures.
    assert "Hidden while the round is open" in before["page"]
    assert '"withheld_reason": "round_open"' in before["export"]
    assert "Results are shown when the round closes" in before["chat"]
    newcomer = str(programme.answers[programme.leaders_a[10].id]["note"])
    assert all(newcomer not in seen for seen in after.values())
    # The rate is what may change, and it does.
    rates = RATE.findall(await chat(sessions, programme.coach_a, "results"))
    assert rates == ["Answered: 11 of 22 (50 %)"]


async def test_a_coach_of_cohort_a_gets_nothing_of_cohort_b(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    programme = await pw.build_programme(sessions)
    await pw.answer(sessions, programme, programme.leaders)
    async with sessions() as session:
        await close_round(session, programme.round_id, secret=pw.SECRET)
        await queue_coach_summaries(session, [programme.round_id], pw.OPENS)
        await session.commit()
    b_notes = [str(programme.answers[p.id]["note"]) for p in programme.leaders_b]
    a_notes = [str(programme.answers[p.id]["note"]) for p in programme.leaders_a]

    coach_a = await chat(sessions, programme.coach_a, "results")
    assert "kull-a" in coach_a and "kull-b" not in coach_a
    assert "Answered: 22 of 22 (100 %)" in coach_a  # cohort A's rate, not the round's 30
    assert all(note in coach_a for note in a_notes)
    assert not any(note in coach_a for note in b_notes)
    # Cohort B answered "walk" and topic "c" only; A never did.
    assert "walk: 0" in coach_a and "C: 0" in coach_a

    load_renderers()
    async with sessions() as session:
        summaries = {
            d.person_id: (await render(session, d)).text
            for d in await session.scalars(select(Delivery).where(Delivery.kind == "pulse_closing"))
        }
    assert set(summaries) == {programme.coach_a.id, programme.coach_b.id}
    summary_a = summaries[programme.coach_a.id]
    assert "kull-b" not in summary_a and not any(note in summary_a for note in b_notes)
    summary_b = summaries[programme.coach_b.id]
    assert "kull-a" not in summary_b and not any(note in summary_b for note in a_notes)
    assert all(note in summary_b for note in b_notes)

    admin = await chat(sessions, programme.admin, "results")
    assert "Answered: 30" in admin and "kull-b: 8 answers" in admin
