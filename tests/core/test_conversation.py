"""The pure conversation model: which text is a command, and what free text answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.conversation import (
    AnswerTo,
    Awaiting,
    Command,
    OpenPrompt,
    Policy,
    Purpose,
    ShowMenu,
    expect,
    parse_command,
    route,
)
from bot.core.visibility import narrower, resolve

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
POLICY = Policy()

# Each command as a leader types it in bokmål, nynorsk and English.
TYPED = [
    ("hjelp", "help"),
    ("help", "help"),
    ("Hjelp!", "help"),
    ("?", "help"),
    ("/help", "help"),
    ("/hjelp", "help"),
    ("/start", "help"),
    ("pause", "pause"),
    ("Pause 2w", "pause"),
    ("fortsett", "resume"),
    ("hald fram", "resume"),
    ("resume", "resume"),
    ("språk", "language"),
    ("språk nn", "language"),
    ("language en", "language"),
    ("mine svar", "mine"),
    ("svara mine", "mine"),
    ("my answers", "mine"),
    ("/mine", "mine"),
    ("dashboard", "dashboard"),
    ("stopp", "stop"),
    ("stop", "stop"),
    ("/stop", "stop"),
    ("angre", "undo"),
    ("undo", "undo"),
    ("endre", "edit"),
    ("avbryt", "cancel"),
    ("/prompt g1 Hva lærte dere?", "prompt"),
    ("/anything", "anything"),
]


@pytest.mark.parametrize(("text", "name"), TYPED)
def test_a_command_is_recognised_in_every_language(text: str, name: str) -> None:
    command = parse_command(text)
    assert command is not None and command.name == name


def test_slash_commands_keep_their_arguments() -> None:
    assert parse_command("/pause 2027-05-01") == Command("pause", ("2027-05-01",), slash=True)
    assert parse_command("/") == Command("help", (), slash=True)


@pytest.mark.parametrize(
    "text",
    [
        "Pause i møtene hjalp teamet mitt å tenke.",
        "Hjelp til å prioritere var det jeg trengte",
        "Stopp opp og lytt, det lærte jeg",
        "Jeg tok en pause",
        "mine ansatte var fornøyde",
        "",
        "   ",
    ],
)
def test_a_sentence_that_starts_with_a_command_word_is_free_text(text: str) -> None:
    assert parse_command(text) is None


def test_free_text_answers_the_open_prompt_within_the_answer_window() -> None:
    fresh = OpenPrompt(7, NOW - timedelta(hours=23))
    assert route(None, fresh, NOW, POLICY) == AnswerTo(Purpose.ANSWER, 7, implicit=True)
    stale = OpenPrompt(7, NOW - timedelta(hours=24))
    assert route(None, stale, NOW, POLICY) == ShowMenu(expired=False, open_delivery_id=7)


def test_nothing_awaiting_shows_the_menu() -> None:
    assert route(None, None, NOW, POLICY) == ShowMenu()


def test_a_stored_state_waits_until_it_expires() -> None:
    state = expect(Purpose.EDIT, 3, NOW, POLICY)
    assert state.until == NOW + timedelta(minutes=30)  # edits wait shorter than answers
    assert route(state, None, NOW + timedelta(minutes=29), POLICY) == AnswerTo(Purpose.EDIT, 3)
    assert route(state, None, NOW + timedelta(minutes=30), POLICY) == ShowMenu(expired=True)


def test_the_newest_thing_asked_wins() -> None:
    editing = expect(Purpose.EDIT, 3, NOW, POLICY)
    newer_prompt = OpenPrompt(9, NOW + timedelta(minutes=1))
    later = NOW + timedelta(minutes=2)
    assert route(editing, newer_prompt, later, POLICY) == AnswerTo(Purpose.ANSWER, 9, True)
    older_prompt = OpenPrompt(9, NOW - timedelta(minutes=1))
    assert route(editing, older_prompt, later, POLICY) == AnswerTo(Purpose.EDIT, 3)


def test_the_windows_are_configurable() -> None:
    short = Policy(answer_window=timedelta(hours=1))
    state = expect(Purpose.FOLLOW_UP, 4, NOW, short)
    assert state == Awaiting(Purpose.FOLLOW_UP, 4, NOW, NOW + timedelta(hours=1))


def test_without_a_choice_the_narrower_visibility_wins() -> None:
    assert narrower("group", "private", "coach") == "private"
    assert resolve(None, None, "private") == "private"
    # The form preselected "coach" but the parent is private: leaving it is no choice.
    assert resolve("coach", "coach", "private") == "private"
    # Changing the preselection is an explicit choice, which may widen.
    assert resolve("coach", "private", "private") == "coach"
    assert resolve("private", "coach", "coach") == "private"
