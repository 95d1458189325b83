"""Who is asking: the client address that login lockout (django-axes) and API throttles key on."""

import functools
import ipaddress

from django.conf import settings


def _address(value: str):
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


@functools.cache
def _networks(configured: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(network, strict=False) for network in configured)


def _is_trusted_proxy(address) -> bool:
    """Parsed once per setting (every request asks), still following a changed setting in tests."""
    return address is not None and any(address in net for net in _networks(tuple(settings.RELAY_TRUSTED_PROXIES)))


def client_ip(request) -> str | None:
    """REMOTE_ADDR; when that is a trusted proxy (RELAY_TRUSTED_PROXIES), the nearest X-Forwarded-For hop that is not.

    Hops are read from the right: each trusted proxy appends the address it saw, and whatever lies left of the first
    untrusted hop was written by the client, so it is never believed."""
    remote = request.META.get("REMOTE_ADDR") or None
    if not _is_trusted_proxy(_address(remote or "")):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return remote  # a proxy that writes something else is misconfigured: fall back to what we know
        if not _is_trusted_proxy(address):
            return str(address)
    return str(_address(hops[0])) if hops else remote
