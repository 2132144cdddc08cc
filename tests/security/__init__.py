"""Attacks by outsiders and insiders on secrets, logs, HTTP, exports and chat payloads."""
