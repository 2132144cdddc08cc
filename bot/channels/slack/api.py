"""Every Slack API method, event and command the code uses, and the scopes each needs.

`slack/manifest.yaml` must declare exactly these; a test checks both directions.
"""

from __future__ import annotations

# Web API methods -> bot scopes they need.
# bolt and slack-sdk call auth.test, oauth.v2.access (installs, authenticated by the app's
# client id and secret) and apps.connections.open (Socket Mode, with the app-level token,
# whose scope connections:write is not a bot scope).
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "oauth.v2.access": (),
    "apps.connections.open": (),
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "conversations.open": ("im:write", "mpim:write"),
    "views.open": (),
    "views.publish": (),
    "users.info": ("users:read", "users:read.email"),
    "users.lookupByEmail": ("users:read", "users:read.email"),
}

# Events API subscriptions -> bot scopes they need. Bolt listens for "message" and
# "app_home_opened"; Slack delivers "message" as message.im / message.mpim.
EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "message.im": ("im:history",),
    "message.mpim": ("mpim:history",),
    "app_home_opened": (),
}

COMMAND = "/tenkepause"
COMMAND_SCOPES: tuple[str, ...] = ("commands",)

# Coach and admin subcommands of /tenkepause (anything else is passed on as typed).
SUBCOMMANDS = ("help", "prompt", "pulse", "results", "groups")


def required_scopes() -> set[str]:
    """Return every bot scope the code needs."""
    scopes = set(COMMAND_SCOPES)
    for needed in (*METHOD_SCOPES.values(), *EVENT_SCOPES.values()):
        scopes.update(needed)
    return scopes


def bolt_event_types() -> set[str]:
    """Return the event types bolt listens for (message.im -> message)."""
    return {name.split(".")[0] for name in EVENT_SCOPES}
