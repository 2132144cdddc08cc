"""All tables. Import from here so that every model is registered on the metadata."""

from storage.models.base import Base, utcnow
from storage.models.conversation import ConversationState
from storage.models.delivery import Answer, AnswerComment, Delivery
from storage.models.events import AuditEntry, ProcessedEvent, SchedulerLease
from storage.models.peers import PeerMatch, PeerMatchMember, PeerOptOut, PeerRound, PeerSeries
from storage.models.people import (
    Cohort,
    CohortMembership,
    GroupChat,
    GroupMembership,
    Identity,
    OneTimeCode,
    PeerGroup,
    Person,
)
from storage.models.programme import Audience, Campaign, CampaignPrompt, Occurrence, Prompt
from storage.models.pulses import PulseItem, PulseReceipt, PulseResponse, PulseRound, PulseSurvey
from storage.models.sessions import WebSession
from storage.models.slack_oauth import SlackBot, SlackInstallation, SlackOAuthState
from storage.models.webchat import WebChatMessage

__all__ = [
    "Answer",
    "AnswerComment",
    "Audience",
    "AuditEntry",
    "Base",
    "Campaign",
    "CampaignPrompt",
    "Cohort",
    "CohortMembership",
    "ConversationState",
    "Delivery",
    "GroupChat",
    "GroupMembership",
    "Identity",
    "Occurrence",
    "OneTimeCode",
    "PeerGroup",
    "PeerMatch",
    "PeerMatchMember",
    "PeerOptOut",
    "PeerRound",
    "PeerSeries",
    "Person",
    "ProcessedEvent",
    "Prompt",
    "PulseItem",
    "PulseReceipt",
    "PulseResponse",
    "PulseRound",
    "PulseSurvey",
    "SchedulerLease",
    "SlackBot",
    "SlackInstallation",
    "SlackOAuthState",
    "WebChatMessage",
    "WebSession",
    "utcnow",
]
