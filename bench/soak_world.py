"""What bench/soak.py runs the bot against: a roster, a programme, fake platforms, leaders.

The fakes are the test suite's own (tests/fakes/), served from the soak's process on
127.0.0.1. Leaders answer through the bot's real HTTP routes, signed as the platforms sign:
Telegram updates carry the webhook secret, Slack requests a v0 signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import json
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiohttp import web

from tests.fakes import slack_signing
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser
from tests.slack.world import SlackClient
from tests.slack.world import buttons as slack_buttons

OSLO = ZoneInfo("Europe/Oslo")
DOMAIN = "soak.example"
COHORT_SIZE = 25
GROUP_SIZE = 5
# Made-up credentials shared by the soak's fakes and the bot it starts.
SIGNING_SECRET = "soak-signing-secret"  # noqa: S105
WEBHOOK_SECRET = "soak-webhook-secret-0123456789-abcdefgh"  # noqa: S105
TELEGRAM_TOKEN = "123456:soak-token"  # noqa: S105
FIRST_TELEGRAM_ID = 7_000_000
BANK = [f"{theme}-{n:02d}" for theme in ("listening", "engaging") for n in range(1, 11)]


@dataclass(frozen=True)
class Leader:
    """One person of the soak roster and where they are reached."""

    index: int
    email: str
    platform: str  # "slack" or "telegram"
    slack_id: str = ""
    telegram_id: int = 0
    responder: bool = False  # answers prompts and presses pulse buttons


def make_leaders(count: int, responders: float, seed: int) -> list[Leader]:
    """Return `count` leaders, half on Slack and half on Telegram."""
    rng = random.Random(seed)
    leaders = []
    for i in range(count):
        email = f"leder.{i}@{DOMAIN}"
        responder = rng.random() < responders
        if i % 2 == 0:
            leaders.append(Leader(i, email, "slack", slack_id=f"USOAK{i:06d}", responder=responder))
        else:
            leaders.append(
                Leader(i, email, "telegram", telegram_id=FIRST_TELEGRAM_ID + i, responder=responder)
            )
    return leaders


def roster_csv(leaders: list[Leader]) -> str:
    """Return the roster: cohorts of 25 (the first of each is its coach), groups of 5."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = "email,name,role,unit,manager_email,cohort,group,locale,timezone,slack_id"
    writer.writerow([*columns.split(","), "telegram_username"])
    for leader in leaders:
        cohort_no, position = divmod(leader.index, COHORT_SIZE)
        cohort = f"kull-{cohort_no + 1}"
        role, group = "participant", f"{cohort}-gruppe-{(position - 1) // GROUP_SIZE + 1}"
        if position == 0:
            role, group = "coach", ""
        locale = ("nb", "nn", "en")[leader.index % 3]
        unit = f"Enhet {leader.index // 40 + 1}"
        row = [leader.email, f"Leder {leader.index}", role, unit, "", cohort, group, locale]
        writer.writerow([*row, "Europe/Oslo", leader.slack_id, ""])
    return buffer.getvalue()


def cohorts_of(leaders: list[Leader]) -> list[str]:
    """Return every cohort name of the roster."""
    return sorted({f"kull-{leader.index // COHORT_SIZE + 1}" for leader in leaders})


def programme_yaml(
    cohorts: list[str], start: datetime, minutes: int, every: int, pulse_every: int
) -> str:
    """Return a programme whose campaigns fire every `every` and pulses every `pulse_every` min.

    Schedules have minute resolution in local time, so each firing is its own campaign (or
    survey) on today's weekday; prompts differ so that a repeated message is a duplicate.
    """
    local = start.astimezone(OSLO)
    day, weekday = local.date().isoformat(), local.strftime("%a").lower()
    audience = json.dumps({"cohorts": cohorts})
    lines = ["title: Soak", "campaigns:"]
    for n, offset in enumerate(range(1, minutes + 1, every)):
        at = (local + timedelta(minutes=offset)).strftime("%H:%M")
        lines += [
            f"  - key: soak-c{n}",
            f"    title: Soak {n}",
            f"    audience: {audience}",
            f'    schedule: {{weekdays: [{weekday}], time: "{at}", start: {day}, '
            "skip_holidays: false}",
            "    default_visibility: coach",
            f"    prompts: [{BANK[n % len(BANK)]}]",
        ]
    lines.append("pulses:")
    for n, offset in enumerate(range(2, minutes + 1, pulse_every)):
        at = (local + timedelta(minutes=offset)).strftime("%H:%M")
        lines += [
            f"  - key: soak-p{n}",
            f"    title: {{nb: Puls {n}, nn: Puls {n}, en: Pulse {n}}}",
            f"    audience: {audience}",
            "    anonymous: true",
            "    open_for: 2h",
            f'    schedule: {{weekdays: [{weekday}], time: "{at}", start: {day}, '
            "skip_holidays: false}",
            "    items: [energy, workload, recommend]",
        ]
    return "\n".join(lines) + "\n"


def text_key(chat: str | int, text: str) -> str:
    """Return what identifies one outbox message at the fake: its chat and a hash of its text."""
    return f"{chat}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


@dataclass
class SendLog:
    """Every new message the fakes accepted, counted by chat and text (for duplicates)."""

    counts: Counter[str] = field(default_factory=Counter)
    closed_pulses: int = 0  # pulse cards that arrived without buttons
    pulse_cards: int = 0

    def duplicates(self, excluded_chats: set[str]) -> int:
        """Return how many sends repeated one already made, outside `excluded_chats`."""
        return sum(
            n - 1
            for key, n in self.counts.items()
            if n > 1 and key.split(":")[0] not in excluded_chats
        )


@dataclass
class Platforms:
    """The fake Slack and Telegram servers, and what arrived at them."""

    slack: FakeSlackApi
    telegram: FakeTelegramAPI
    log: SendLog = field(default_factory=SendLog)

    @classmethod
    async def start(cls, leaders: list[Leader]) -> Platforms:
        """Serve both fakes on loopback and teach Slack's fake the roster's users."""
        slack = FakeSlackApi()
        for leader in leaders:
            if leader.platform == "slack":
                slack.add_user(leader.slack_id, leader.email)
        await slack.start()
        telegram = FakeTelegramAPI(token=TELEGRAM_TOKEN)
        await telegram.start()
        platforms = cls(slack, telegram)
        platforms._watch()
        return platforms

    async def stop(self) -> None:
        """Stop both fakes."""
        await self.slack.stop()
        await self.telegram.stop()

    def _watch(self) -> None:
        """Count every new message as it is accepted (wrapping the fakes' own handlers)."""
        log, slack_post, telegram_send = self.log, self.slack._post_message, None
        telegram = self.telegram
        telegram_send = telegram._api_sendMessage

        async def post_message(args: dict[str, Any]) -> dict[str, Any]:
            result = await slack_post(args)
            if result.get("ok"):
                blocks = args.get("blocks") or []
                if isinstance(blocks, str):
                    blocks = json.loads(blocks)
                text = str(args.get("text", "")) + json.dumps(blocks, sort_keys=True)
                log.counts[text_key(result["channel"], text)] += 1
                _count_pulse(log, text, any(b.get("type") == "actions" for b in blocks))
            return result

        async def send_message(params: dict[str, Any]) -> web.Response:
            response = await telegram_send(params)
            if response.status == 200:
                markup = params.get("reply_markup") or {}
                log.counts[text_key(params["chat_id"], params["text"])] += 1
                _count_pulse(log, params["text"], bool(markup.get("inline_keyboard")))
            return response

        self.slack._post_message = post_message  # type: ignore[method-assign]
        telegram._api_sendMessage = send_message  # type: ignore[method-assign]

    def slack_messages(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Return (channel, ts, message) of every message Slack's fake holds."""
        return [(c, ts, m) for (c, ts), m in list(self.slack.messages.items())]


PULSE_MARKERS = ("Puls ", "Pulse ")
REF_RECORDED_WITHIN = 30.0  # seconds after a send by which its outbox row names it


def _count_pulse(log: SendLog, text: str, has_buttons: bool) -> None:
    if any(marker in text for marker in PULSE_MARKERS):
        log.pulse_cards += 1
        log.closed_pulses += int(not has_buttons)


@dataclass
class Responders:
    """Leaders who answer: they reply to prompts and press pulse buttons, via the bot's routes."""

    http: httpx.AsyncClient
    platforms: Platforms
    leaders: list[Leader]
    seed: int
    # Which of these message references are the bot's outbox sends (prompts, pulse cards)?
    # Leaders answer those, not the bot's replies to their answers.
    outbox_refs: Callable[[list[str]], Awaitable[set[str]]]
    answered: set[str] = field(default_factory=set)
    _first_seen: dict[str, float] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    _ids: int = 0
    _turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Builds interactivity payloads as the Slack tests do (its HTTP client is not used).
    _slack: SlackClient = field(default_factory=lambda: SlackClient(None, SIGNING_SECRET))  # type: ignore[arg-type]

    @property
    def excluded_chats(self) -> set[str]:
        """Return the chats whose messages include bot replies to answers (not outbox sends)."""
        chats = {str(leader.telegram_id) for leader in self.leaders if leader.responder}
        chats |= {f"D{leader.slack_id[1:]}" for leader in self.leaders if leader.responder}
        return chats

    @contextlib.asynccontextmanager
    async def quiet(self) -> AsyncIterator[None]:
        """Hold the leaders back (after their posts in flight) while the block runs."""
        async with self._turn:
            yield

    async def run(self, stop: asyncio.Event) -> None:
        """Answer new messages every second until `stop` is set."""
        rng = random.Random(self.seed)
        while not stop.is_set():
            async with self._turn:
                try:
                    await self._answer_telegram(rng)
                    await self._answer_slack(rng)
                except httpx.HTTPError as error:
                    self.errors[type(error).__name__] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def _worth_answering(self, refs: list[str]) -> set[str]:
        """Return the refs that are outbox sends; forget the bot's replies after a while."""
        if not refs:
            return set()
        sends = await self.outbox_refs(refs)
        now = time.monotonic()
        for ref in refs:
            first = self._first_seen.setdefault(ref, now)
            if ref not in sends and now - first > REF_RECORDED_WITHIN:
                self.answered.add(ref)  # a reply of the bot's, not a prompt or a pulse
        return sends

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    async def _answer_telegram(self, rng: random.Random) -> None:
        responders = {leader.telegram_id for leader in self.leaders if leader.responder}
        fake = self.platforms.telegram
        new = {
            f"{chat_id}:{message_id}": message
            for (chat_id, message_id), message in list(fake.messages.items())
            if chat_id in responders and f"{chat_id}:{message_id}" not in self.answered
        }
        for key in await self._worth_answering(list(new)):
            message, chat_id = new[key], int(key.split(":")[0])
            self.answered.add(key)
            user = FakeUser(id=chat_id, first_name=f"Leder {chat_id}")
            buttons = fake.buttons(message)
            if buttons:
                update = fake.click_update(user, message, index=rng.randrange(len(buttons)))
                self.counts["telegram_click"] += 1
            else:
                text = "Jeg lyttet mer enn jeg snakket i møtet, og det hjalp."
                update = fake.text_update(user, text, reply_to=message)
                self.counts["telegram_reply"] += 1
            await self._post_telegram(update)
            if rng.random() < 0.1:  # Telegram redelivers: the same update_id is stored once
                await self._post_telegram(update)
                self.counts["telegram_redelivered"] += 1

    async def _post_telegram(self, update: dict[str, Any]) -> None:
        headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        response = await self.http.post("/telegram/webhook", json=update, headers=headers)
        if response.status_code >= 300:
            self.errors[f"telegram {response.status_code}"] += 1

    async def _answer_slack(self, rng: random.Random) -> None:
        responders = {
            f"D{leader.slack_id[1:]}": leader for leader in self.leaders if leader.responder
        }
        new = {
            f"{channel}:{ts}": (channel, ts, message)
            for channel, ts, message in self.platforms.slack_messages()
            if channel in responders
            and f"{channel}:{ts}" not in self.answered
            and not message.get("thread_ts")
        }
        for key in await self._worth_answering(list(new)):
            channel, ts, message = new[key]
            leader = responders[channel]
            self.answered.add(key)
            blocks = message.get("blocks") or []
            buttons = slack_buttons(blocks)
            shown = str(message.get("text", "")) + json.dumps(blocks)
            if buttons and any(marker in shown for marker in PULSE_MARKERS):
                button = rng.choice(buttons)
                click = self._slack.click(leader.slack_id, f"{channel}:{ts}", button)
                body = slack_signing.payload_body(click)
                await self._post_slack(body, slack_signing.FORM)
                self.counts["slack_click"] += 1
            else:
                event = {
                    "type": "message",
                    "channel_type": "im",
                    "channel": channel,
                    "user": leader.slack_id,
                    "text": "Jeg ba teamet om innspill før jeg bestemte meg.",
                    "ts": f"{1_800_000_000 + self._next_id()}.000100",
                }
                event_id = f"EvSoak{self._next_id():08d}"
                body = slack_signing.event_body(event, event_id=event_id)
                await self._post_slack(body, "application/json")
                self.counts["slack_reply"] += 1
                if rng.random() < 0.1:  # Slack retries an event: stored once
                    await self._post_slack(body, "application/json", retry_num=1)
                    self.counts["slack_retried"] += 1

    async def _post_slack(self, body: str, content_type: str, retry_num: int | None = None) -> None:
        headers = slack_signing.headers(
            SIGNING_SECRET, body, content_type=content_type, retry_num=retry_num
        )
        response = await self.http.post("/slack/events", content=body, headers=headers)
        if response.status_code >= 300:
            self.errors[f"slack {response.status_code}"] += 1
