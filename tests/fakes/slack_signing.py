"""Build requests exactly as Slack sends them: bodies and v0 signatures.

Slack signs ``v0:{timestamp}:{raw body}`` with HMAC-SHA256 under the app's signing
secret and sends ``v0=<hex>`` in `X-Slack-Signature`. This is written out here rather
than borrowed from slack-sdk, so the tests do not check the verifier against itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

FORM = "application/x-www-form-urlencoded"


def signature(secret: str, timestamp: int | str, body: str) -> str:
    """Return the `X-Slack-Signature` value for `body` sent at `timestamp`."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def headers(
    secret: str,
    body: str,
    *,
    content_type: str = "application/json",
    timestamp: int | None = None,
    retry_num: int | None = None,
) -> dict[str, str]:
    """Return the headers Slack sends with `body` (optionally as a retry)."""
    ts = int(time.time()) if timestamp is None else timestamp
    result = {
        "content-type": content_type,
        "x-slack-request-timestamp": str(ts),
        "x-slack-signature": signature(secret, ts, body),
    }
    if retry_num is not None:
        result["x-slack-retry-num"] = str(retry_num)
        result["x-slack-retry-reason"] = "http_timeout"
    return result


def event_body(event: dict[str, Any], *, event_id: str, team: str = "T0000001") -> str:
    """Return the JSON body of an Events API callback carrying `event`."""
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": team,
            "api_app_id": "A0000001",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [
                {"team_id": team, "user_id": "UBOT0001", "is_bot": True, "enterprise_id": None}
            ],
        }
    )


def payload_body(payload: dict[str, Any]) -> str:
    """Return the form body of an interactivity request (block_actions, view_submission)."""
    return urlencode({"payload": json.dumps(payload)})


def command_body(
    command: str, text: str, *, user: str, channel: str, trigger_id: str, team: str = "T0000001"
) -> str:
    """Return the form body of a slash command."""
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": team,
            "channel_id": channel,
            "user_id": user,
            "command": command,
            "text": text,
            "api_app_id": "A0000001",
            "response_url": "https://hooks.slack.test/commands/1",
            "trigger_id": trigger_id,
        }
    )
