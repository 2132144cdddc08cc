"""Which Bot Connector an inbound activity may send the bot's replies (and its token) to.

The Bot Framework's rule: the activity's serviceUrl must equal the `serviceurl` claim of the
token it came with. A token without that claim (or no token, when anonymous calls are
allowed) leaves only the operator's allow-list of Bot Framework hosts. The SDK's own check
(`OutboundHostValidator`) compares hosts only, refuses loopback and plain HTTP outright, and
merely logs a mismatch while disabled, so the rule is kept here, before the SDK sees the
activity.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from yarl import URL

LOOPBACK_NAMES = frozenset({"localhost"})


class ServiceUrlRefused(ValueError):
    """The activity's serviceUrl may not receive the bot's replies; the reason says why."""


def is_loopback(host: str | None) -> bool:
    """Tell whether a host name or address is this machine."""
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_hosts(text: str) -> frozenset[str]:
    """Return the allow-list from "host,*.domain,…" (lower case, blanks dropped)."""
    parts = text.replace(" ", ",").split(",")
    return frozenset(part.strip().lower() for part in parts if part.strip())


def _url(value: str) -> URL:
    try:
        url = URL(value)
    except (TypeError, ValueError) as error:
        raise ServiceUrlRefused("serviceUrl is not a URL") from error
    if not url.is_absolute() or not url.host:
        raise ServiceUrlRefused("serviceUrl is not an absolute URL")
    if url.user or url.password:
        raise ServiceUrlRefused("serviceUrl carries credentials")
    if url.scheme != "https" and not (url.scheme == "http" and is_loopback(url.host)):
        raise ServiceUrlRefused("serviceUrl is not https")
    return url


def _endpoint(url: URL) -> tuple[str, str, int | None, str, str]:
    return (
        url.scheme.lower(),
        (url.host or "").lower().rstrip("."),
        url.port,
        url.path.rstrip("/"),
        url.query_string,
    )


def same_service(first: URL, second: URL) -> bool:
    """Tell whether two service URLs name the same endpoint (scheme, host, port, path)."""
    return _endpoint(first) == _endpoint(second)


@dataclass(frozen=True)
class ServiceUrlPolicy:
    """The claim-or-allow-list rule for the serviceUrl of inbound activities."""

    allowed_hosts: frozenset[str]

    @classmethod
    def from_setting(cls, text: str) -> ServiceUrlPolicy:
        """Return the policy for TEAMS_ALLOWED_SERVICE_HOSTS."""
        return cls(parse_hosts(text))

    def host_allowed(self, host: str) -> bool:
        """Tell whether a host is on the allow-list ("*.x" allows every name under x)."""
        host = host.lower().rstrip(".")
        for entry in self.allowed_hosts:
            if entry.startswith("*."):
                if host.endswith(entry[1:]):
                    return True
            elif host == entry:
                return True
        return False

    def check(self, service_url: object, claim: object) -> str:
        """Return the serviceUrl to keep, or raise ServiceUrlRefused.

        `claim` is the token's `serviceurl` claim, None when the token has none.
        """
        if not isinstance(service_url, str) or not service_url.strip():
            raise ServiceUrlRefused("the activity has no serviceUrl")
        activity_url = _url(service_url.strip())
        if claim is not None:
            if not isinstance(claim, str) or not same_service(_url(claim.strip()), activity_url):
                raise ServiceUrlRefused("serviceUrl differs from the token's serviceurl claim")
            return service_url
        if not self.host_allowed(str(activity_url.host)):
            raise ServiceUrlRefused("serviceUrl host is not an allowed Bot Framework host")
        return service_url
