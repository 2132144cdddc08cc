"""Microsoft Teams through the Microsoft 365 Agents SDK: cards, proactive sends, inbound turns."""

PLATFORM = "teams"
CHANNEL_ID = "msteams"
