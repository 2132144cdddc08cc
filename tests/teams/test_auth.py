"""With TEAMS_APP_ID set, only activities carrying a valid Bot Framework token get in."""

from __future__ import annotations

import time

import pytest

from storage.models import Identity, ProcessedEvent
from tests.fakes.teams_connector import FakeConnector, new_key
from tests.teams.conftest import APP_ID, OUTBOUND_TOKEN
from tests.teams.world import TeamsWorld, roster_member


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda c: None, id="no-token"),
        pytest.param(lambda c: c.token(APP_ID, key=new_key()), id="signed-by-another-key"),
        pytest.param(lambda c: c.token("some-other-bot"), id="for-another-bot"),
        pytest.param(lambda c: c.token([APP_ID, "some-other-bot"]), id="audience-list"),
        pytest.param(lambda c: c.token(APP_ID, iss="https://sts.windows.net/x/"), id="issuer"),
        pytest.param(lambda c: c.token(APP_ID, exp=None), id="no-expiry"),
        pytest.param(lambda c: c.token(APP_ID, exp=int(time.time()) - 3600), id="expired"),
        pytest.param(lambda c: "not.a.token", id="garbage"),
    ],
)
async def test_a_request_without_a_valid_token_gets_401_and_changes_nothing(
    secured: TeamsWorld, connector: FakeConnector, forge: object
) -> None:
    user, _ = await roster_member(secured, "Kari Nordmann")
    token = forge(connector)  # type: ignore[operator]

    response = await secured.post(secured.message(user, "/pause"), token=token)

    assert response.status_code == 401
    assert await secured.count(Identity) == 0
    assert await secured.count(ProcessedEvent) == 0
    assert connector.calls == []


async def test_a_valid_token_gets_in_and_replies_carry_the_bots_own_token(
    secured: TeamsWorld, connector: FakeConnector
) -> None:
    user, _ = await roster_member(secured, "Kari Nordmann")

    response = await secured.post(secured.message(user, "/pause"))

    assert response.status_code == 202
    assert await secured.count(Identity) == 1
    assert connector.calls, "the member lookup and the reply reach the connector"
    assert {c.authorization for c in connector.calls} == {f"Bearer {OUTBOUND_TOKEN}"}
    assert "paused" in connector.sent(user.chat)[-1].body["text"].lower()
