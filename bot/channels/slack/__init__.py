"""Slack: Block Kit messages, modals, App Home and `/tenkepause`, over slack-bolt."""
