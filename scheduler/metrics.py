"""Prometheus metrics of the outbox, in a registry of their own that `/metrics` serves."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

SENT = Counter(
    "tenkepause_deliveries_sent_total",
    "Deliveries the platform accepted.",
    ["platform"],
    registry=REGISTRY,
)
FAILED = Counter(
    "tenkepause_deliveries_failed_total",
    "Deliveries given up for good, by reason (permanent, attempts, throttled, no_channel, render).",
    ["platform", "reason"],
    registry=REGISTRY,
)
EXPIRED = Counter(
    "tenkepause_deliveries_expired_total",
    "Deliveries claimed after their expiry and therefore not sent.",
    registry=REGISTRY,
)
RETRIED = Counter(
    "tenkepause_deliveries_retried_total",
    "Sends put back for a later attempt, by reason (rate_limited, temporary, timeout).",
    ["platform", "reason"],
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge(
    "tenkepause_outbox_depth",
    "Deliveries waiting to be sent (status pending), refreshed by each dispatcher loop.",
    registry=REGISTRY,
)
OUTBOX_CLAIMED = Gauge(
    "tenkepause_outbox_claimed",
    "Deliveries claimed by some instance and not yet recorded (in flight, or held by a "
    "dead instance until its heartbeat lapses).",
    registry=REGISTRY,
)
OLDEST_CLAIM_AGE = Gauge(
    "tenkepause_outbox_oldest_claim_seconds",
    "Age of the oldest claim; above a few heartbeats it means claims are stuck.",
    registry=REGISTRY,
)
CLAIM_LATENCY = Histogram(
    "tenkepause_claim_latency_seconds",
    "How long after it fell due (next_attempt_at) a delivery was claimed.",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600),
    registry=REGISTRY,
)
