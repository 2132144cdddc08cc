"""Turn a prompt delivery into the view the composer renders, in the reader's language."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.compose import PromptView
from storage.models import Campaign, Delivery, Occurrence, Prompt


def pick_text(texts: dict[str, str] | None, locale: str) -> str | None:
    """Return the text in `locale`, else bokmål, else English, else any."""
    if not texts:
        return None
    for candidate in (locale, "nb", "en"):
        if texts.get(candidate):
            return texts[candidate]
    return next(iter(texts.values()), None)


async def prompt_view(session: AsyncSession, delivery: Delivery, locale: str) -> PromptView:
    """Load the question, follow-up and campaign for a prompt delivery."""
    prompt = await session.get(Prompt, delivery.prompt_id) if delivery.prompt_id else None
    campaign_title = None
    if delivery.occurrence_id is not None:
        occurrence = await session.get(Occurrence, delivery.occurrence_id)
        if occurrence is not None and occurrence.campaign_id is not None:
            campaign = await session.get(Campaign, occurrence.campaign_id)
            campaign_title = campaign.title if campaign is not None and campaign.title else None
    question = pick_text(prompt.text if prompt else None, locale) or ""
    return PromptView(
        delivery_id=delivery.id,
        question=question,
        locale=locale,
        default_visibility=str(delivery.payload.get("visibility", "coach")),
        follow_up=pick_text(prompt.follow_up if prompt else None, locale),
        reminder=delivery.kind == "reminder",
        group=delivery.kind == "group_prompt",
        campaign_title=campaign_title,
    )
