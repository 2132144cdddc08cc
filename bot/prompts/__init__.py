"""The bank of reflection prompts and pulse items, in bokmål, nynorsk and English."""

from bot.prompts.bank import (
    BankOption,
    BankPrompt,
    BankPulseItem,
    PromptBank,
    load_bank,
    localized,
)

__all__ = [
    "BankOption",
    "BankPrompt",
    "BankPulseItem",
    "PromptBank",
    "load_bank",
    "localized",
]
