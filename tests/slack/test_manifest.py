"""slack/manifest.yaml declares exactly what the Slack code uses, in both directions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.channels.slack import api
from bot.channels.slack.installations import REDIRECT_PATH

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bot" / "channels" / "slack"
# Methods bolt and slack-sdk call by themselves rather than our code.
CALLED_BY_BOLT = {"auth.test", "oauth.v2.access", "apps.connections.open"}


def _manifest() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "slack" / "manifest.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _source() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in PACKAGE.glob("*.py"))


def _methods_called_in_code() -> set[str]:
    """Return Web API methods called as client.<group>_<method>(…), e.g. chat_postMessage."""
    names = re.findall(r"\bclient\.([a-z]+)_([A-Za-z]+)\(", _source())
    return {f"{group}.{method}" for group, method in names}


def test_the_manifest_is_valid_yaml_with_the_parts_slack_requires() -> None:
    manifest = _manifest()
    assert manifest["display_information"]["name"] == "Tenkepause"
    assert manifest["features"]["bot_user"]["display_name"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_declared_scopes_are_exactly_the_scopes_the_code_needs() -> None:
    declared = set(_manifest()["oauth_config"]["scopes"]["bot"])
    assert declared == api.required_scopes()


def test_declared_events_are_exactly_the_events_the_code_listens_to() -> None:
    declared = set(_manifest()["settings"]["event_subscriptions"]["bot_events"])
    assert declared == set(api.EVENT_SCOPES)
    listened = set(re.findall(r'app\.event\("([a-z_]+)"\)', _source()))
    assert listened == api.bolt_event_types()


def test_declared_commands_are_exactly_the_commands_the_code_registers() -> None:
    commands = _manifest()["features"]["slash_commands"]
    assert [c["command"] for c in commands] == [api.COMMAND]
    assert "app.command(COMMAND)" in _source()
    hint = commands[0]["usage_hint"]
    assert all(word in hint for word in api.SUBCOMMANDS)
    for url in (
        commands[0]["url"],
        _manifest()["settings"]["event_subscriptions"]["request_url"],
        _manifest()["settings"]["interactivity"]["request_url"],
    ):
        assert url.endswith("/slack/events")


def test_every_method_the_code_calls_is_listed_and_every_listed_method_is_called() -> None:
    called = _methods_called_in_code()
    assert called, "the scan found the client calls"
    assert called <= set(api.METHOD_SCOPES), called - set(api.METHOD_SCOPES)
    assert set(api.METHOD_SCOPES) - CALLED_BY_BOLT == called


def test_the_oauth_redirect_url_is_the_path_the_code_serves() -> None:
    (url,) = _manifest()["oauth_config"]["redirect_urls"]
    assert url.endswith(REDIRECT_PATH)
