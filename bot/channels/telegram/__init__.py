"""Telegram: python-telegram-bot 22 behind the Channel port, inbound updates, onboarding."""
