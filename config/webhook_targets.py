"""Where a webhook may go (DESIGN.md "webhooks"): an https URL (http only where RELAY_WEBHOOKS_ALLOW_HTTP),
without credentials, whose host resolves only to public addresses.

The rule is checked when an endpoint is saved (the model field's validator, so the API and the admin refuse
alike) and again before every send, where the connection then goes to the address just checked: a name that
was public at registration and points inside later (DNS rebinding) is refused at send time.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services. Both are already link-local / unique-local; named so that no setting or change in
# Python's tables can open them.
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
# IPv6 ranges that carry an IPv4 address a gateway may translate to an internal one (NAT64, 6to4), and ranges
# Python 3.11 does not yet call private.
EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(net)
    for net in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "192.0.0.0/24", "192.88.99.0/24", "3fff::/20")
)


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to `address`, say `host_header` in Host (and `hostname` in TLS SNI)."""

    scheme: str
    hostname: str
    port: int
    host_header: str
    path: str
    address: str


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback and settings.RELAY_WEBHOOKS_ALLOW_LOOPBACK:
        return True
    return not (
        address in METADATA_ADDRESSES
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global
        or any(address in net for net in EXTRA_BLOCKED)
    )


def resolve(hostname: str, port: int) -> list[IPAddress]:
    """Every address the name resolves to (an IP literal resolves to itself). Raises OSError."""
    infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def check(url: str) -> Target:
    """The URL's checked target. Raises ValidationError (codes https_required, credentials, invalid,
    unresolvable, private_address)."""
    parts = urlsplit(str(url).strip())
    allowed = ("https", "http") if settings.RELAY_WEBHOOKS_ALLOW_HTTP else ("https",)
    if parts.scheme.lower() not in allowed:
        raise ValidationError(_("Use an https:// URL."), code="https_required")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(_("Remove the user name and password from the URL."), code="credentials")
    try:
        hostname, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number in range
        hostname = port = None
    if not hostname or port == 0:
        raise ValidationError(_("Enter a URL with a host name."), code="invalid")
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        addresses = resolve(hostname, port)
    except (OSError, UnicodeError, ValueError):
        addresses = []
    if not addresses:
        raise ValidationError(
            _("The host name %(host)s does not resolve."), code="unresolvable", params={"host": hostname}
        )
    refused = next((a for a in addresses if not is_public(a)), None)
    if refused is not None:
        raise ValidationError(
            _("%(host)s points to %(address)s, which is not a public address; webhooks go only to public addresses."),
            code="private_address",
            params={"host": hostname, "address": str(refused)},
        )
    path = parts.path or "/"
    return Target(
        scheme=parts.scheme.lower(),
        hostname=hostname,
        port=port,
        host_header=parts.netloc,
        path=f"{path}?{parts.query}" if parts.query else path,
        address=str(addresses[0]),
    )


def validate_url(value: str) -> None:
    """The model field's validator: the registration check."""
    check(value)
