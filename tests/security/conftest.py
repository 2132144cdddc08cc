"""The platform fakes the attacks run against, borrowed from the channels' own tests."""

from __future__ import annotations

from tests.slack.conftest import slack_api, slack_channel  # noqa: F401
from tests.telegram.conftest import telegram_api  # noqa: F401
from tests.web.conftest import browser  # noqa: F401
