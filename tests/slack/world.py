"""A small programme for the Slack scenarios, and a client that posts signed requests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from itertools import count
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import (
    Audience,
    Campaign,
    CampaignPrompt,
    Cohort,
    CohortMembership,
    Delivery,
    GroupMembership,
    Identity,
    PeerGroup,
    Person,
    Prompt,
)
from tests.fakes import slack_signing
from tests.fakes.slack_api import TEAM, FakeSlackApi

# Monday 2025-03-03; 08:30 in Oslo is 07:30 UTC.
MONDAY = date(2025, 3, 3)
AFTER_FIRING = datetime(2025, 3, 3, 7, 31, tzinfo=UTC)
LEADERS = (("U1", "nb"), ("U2", "nn"), ("U3", "en"))
COACH = "U9"
QUESTION = {
    "nb": "Hva lærte du denne uka?",
    "nn": "Kva lærte du denne veka?",
    "en": "What did you learn this week?",
}
FOLLOW_UP = {
    "nb": "Hva gjør du annerledes neste uke?",
    "nn": "Kva gjer du annleis neste veke?",
    "en": "What will you do differently next week?",
}


@dataclass
class World:
    """Ids of what `build_world` created."""

    people: dict[str, int] = field(default_factory=dict)  # slack user -> person id
    group: str = "g1"
    campaign_id: int = 0


async def build_world(
    sessions: async_sessionmaker[AsyncSession], api: FakeSlackApi, *, link: bool = True
) -> World:
    """Create a cohort with three leaders (nb, nn, en), their coach and a Monday campaign.

    With `link`, every person already has a Slack identity (address: user only).
    """
    world = World()
    async with sessions() as session, session.begin():
        cohort = Cohort(name="c1", title="Kull 1")
        group = PeerGroup(name="g1", title="Gruppe 1")
        session.add_all([cohort, group])
        await session.flush()
        group.cohort_id = cohort.id
        everyone = [(user, locale, "participant") for user, locale in LEADERS]
        everyone.append((COACH, "nb", "coach"))
        for user, locale, role in everyone:
            email = f"{user.lower()}@kommune.example"
            api.add_user(user, email)
            person = Person(email=email, name=f"Leder {user}", role=role, locale=locale)
            session.add(person)
            await session.flush()
            world.people[user] = person.id
            session.add(CohortMembership(cohort_id=cohort.id, person_id=person.id, role=role))
            if role == "participant":
                session.add(GroupMembership(group_id=group.id, person_id=person.id))
            if link:
                session.add(
                    Identity(
                        person_id=person.id,
                        platform="slack",
                        external_id=user,
                        address={"user": user},
                    )
                )
        prompt = Prompt(key="learned", text=QUESTION, follow_up=FOLLOW_UP)
        campaign = Campaign(
            key="weekly",
            title="Ukentlig refleksjon",
            weekdays="mon",
            local_time=time(8, 30),
            start_date=MONDAY,
            default_visibility="coach",
        )
        session.add_all([prompt, campaign])
        await session.flush()
        session.add(CampaignPrompt(campaign_id=campaign.id, position=0, prompt_id=prompt.id))
        session.add(Audience(owner_kind="campaign", owner_id=campaign.id, cohort_id=cohort.id))
        world.campaign_id = campaign.id
    return world


async def delivered(
    sessions: async_sessionmaker[AsyncSession], api: FakeSlackApi, user: str, kind: str
) -> tuple[str, list[dict[str, Any]]]:
    """Return the ref and blocks of the message the fake holds for `user`'s `kind` delivery."""
    async with sessions() as session:
        ref = await session.scalar(
            select(Delivery.message_ref)
            .join(Identity, Identity.person_id == Delivery.person_id)
            .where(Identity.external_id == user, Delivery.kind == kind)
        )
    assert ref is not None
    channel, ts = ref.split(":", 1)
    return ref, api.messages[(channel, ts)]["blocks"]


class SlackClient:
    """Post requests to /slack/events signed exactly as Slack signs them."""

    def __init__(self, http: httpx.AsyncClient, signing_secret: str) -> None:
        self.http = http
        self.signing_secret = signing_secret
        self._ids = count(1)

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        retry_num: int | None = None,
        signing_secret: str | None = None,
    ) -> httpx.Response:
        """Sign `body` and post it."""
        headers = slack_signing.headers(
            signing_secret or self.signing_secret,
            body,
            content_type=content_type,
            timestamp=timestamp,
            retry_num=retry_num,
        )
        return await self.http.post("/slack/events", content=body, headers=headers)

    async def event(
        self, event: dict[str, Any], event_id: str | None = None, *, team: str = TEAM, **kw: Any
    ) -> httpx.Response:
        """Deliver an Events API callback from workspace `team`."""
        event_id = event_id or f"Ev{next(self._ids):06d}"
        body = slack_signing.event_body(event, event_id=event_id, team=team)
        return await self.post(body, "application/json", **kw)

    async def interact(self, payload: dict[str, Any], **kw: Any) -> httpx.Response:
        """Deliver an interactivity payload (block_actions, view_submission)."""
        return await self.post(slack_signing.payload_body(payload), slack_signing.FORM, **kw)

    async def command(self, user: str, text: str, channel: str = "C0GENERAL") -> httpx.Response:
        """Run /tenkepause with `text`."""
        trigger = f"{next(self._ids)}.command.trigger"
        body = slack_signing.command_body(
            "/tenkepause", text, user=user, channel=channel, trigger_id=trigger
        )
        return await self.post(body, slack_signing.FORM)

    def click(self, user: str, ref: str, button: dict[str, Any]) -> dict[str, Any]:
        """Return the block_actions payload of `user` clicking `button` in message `ref`."""
        channel, ts = ref.split(":", 1)
        n = next(self._ids)
        return {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T0000001"},
            "api_app_id": "A0000001",
            "team": {"id": "T0000001", "domain": "fake"},
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "channel": {"id": channel, "name": "directmessage"},
            "message": {"ts": ts, "type": "message"},
            "trigger_id": f"{n}.trigger",
            "response_url": "https://hooks.slack.test/actions/1",
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": button.get("block_id", "b"),
                    "value": button["value"],
                    "text": button["text"],
                    "action_ts": f"{1_700_000_000 + n}.{n:06d}",
                }
            ],
        }

    def submission(self, user: str, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        """Return the view_submission payload of `user` submitting the opened `view`."""
        return {
            "type": "view_submission",
            "team": {"id": "T0000001", "domain": "fake"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0000001"},
            "api_app_id": "A0000001",
            "trigger_id": f"{next(self._ids)}.trigger",
            "view": {**view, "state": {"values": values}},
        }


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return every button element of a message's blocks, with its block id."""
    found: list[dict[str, Any]] = []
    for block in blocks:
        if block["type"] == "actions":
            found.extend({**e, "block_id": block.get("block_id", "b")} for e in block["elements"])
    return found


def block_text(blocks: list[dict[str, Any]]) -> str:
    """Return all visible text of a message's blocks, for assertions."""
    return json.dumps(blocks, ensure_ascii=False)
