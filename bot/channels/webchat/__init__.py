"""The built-in web chat: a real channel that needs no platform account (demo and fallback)."""

PLATFORM = "webchat"
