"""Tracking of messages (DESIGN.md "Content"): signed links, opens, clicks and conversions.

Each message carries its own links, signed with SECRET_KEY and a purpose (django.core.signing, one salt per
purpose), so a token of one message never opens, clicks or unsubscribes another, and a token cannot be made up:

* the open pixel `/m/o/<token>.gif` stamps `opened_at` once;
* the click redirect `/m/c/<token>/?u=<url>` answers 302 only to one of the item's own URLs (compared after
  `normalize_url`), stamping `clicked_at` (and `opened_at`, a click being an open) once; anything else is a 404,
  never an open redirect;
* the unsubscribe link `/m/u/<token>/` (marketing.sending.unsubscribe).

A conversion is the messaged customer creating a lead, placing an order or sending the journey's goal event within
RELAY_ATTRIBUTION_DAYS of a sent message: the most recent such message is stamped, once (`record_conversion`,
subscribed in marketing/subscriptions.py).
"""

import re
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing
from django.db.models import DateTimeField, Q, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from marketing.models import Message, MessageStatus

OPEN, CLICK, UNSUBSCRIBE = "open", "click", "unsubscribe"
_SALT = "relay.marketing.%s"
_DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2000

# Conversion kinds (Message.conversion_kind).
LEAD, ORDER, GOAL = "lead", "order", "goal"


# --- signed tokens ------------------------------------------------------------------------------------------------


def token(message_id: int, purpose: str) -> str:
    """The signed token of one message for one purpose (OPEN, CLICK, UNSUBSCRIBE)."""
    return signing.Signer(salt=_SALT % purpose).sign(str(message_id))


def message_id_of(value: str, purpose: str) -> int | None:
    """The message id a token carries, or None when it is malformed, forged or made for another purpose."""
    if not value or len(value) > 200:
        return None
    try:
        raw = signing.Signer(salt=_SALT % purpose).unsign(value)
    except signing.BadSignature:
        return None
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) <= 18 else None


def _absolute(path: str) -> str:
    return settings.RELAY_TRACKING_BASE_URL.rstrip("/") + path


def open_url(message_id: int) -> str:
    return _absolute(reverse("track:open", args=[token(message_id, OPEN)]))


def click_url(message_id: int, url: str) -> str:
    return _absolute(reverse("track:click", args=[token(message_id, CLICK)])) + "?" + urlencode({"u": url})


def unsubscribe_url(message_id: int) -> str:
    return _absolute(reverse("track:unsubscribe", args=[token(message_id, UNSUBSCRIBE)]))


# --- link targets -------------------------------------------------------------------------------------------------


def normalize_url(raw) -> str | None:
    """An absolute http(s) URL in one spelling (scheme and host in lower case, no default port, "/" for an empty
    path), or None when `raw` is not one (no host, another scheme, credentials, spaces, control characters)."""
    if not isinstance(raw, str):
        return None
    value = raw.strip()
    if not value or len(value) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None or "\\" in value:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, parts.fragment))


_LINK = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"


def rewrite_links(text: str, *, message_id: int, allowed: list[str]) -> tuple[str, list[dict]]:
    """`text` with each link to one of the item's `allowed` URLs replaced by the message's click link, and the
    links made (`{"url", "tracking_url"}`, each URL once, in order of appearance). Other links stay as written:
    the redirect would refuse them."""
    allowed_set = set(allowed)
    links: dict[str, str] = {}

    def replace(match: re.Match) -> str:
        found = match.group(0)
        tail = ""
        while found and found[-1] in _TRAILING:  # "see https://x.example/a." ends the sentence, not the URL
            found, tail = found[:-1], found[-1] + tail
        url = normalize_url(found)
        if url is None or url not in allowed_set:
            return match.group(0)
        links.setdefault(url, click_url(message_id, url))
        return links[url] + tail

    rewritten = _LINK.sub(replace, text)
    return rewritten, [{"url": url, "tracking_url": tracking} for url, tracking in links.items()]


# --- opens and clicks ---------------------------------------------------------------------------------------------


def record_open(*, token_value: str, now: datetime | None = None) -> bool:
    """Stamp the sent message's first open (a later open changes nothing). False for a bad token. One query."""
    message_id = message_id_of(token_value, OPEN)
    if message_id is None:
        return False
    Message.objects.filter(pk=message_id, status=MessageStatus.SENT, opened_at__isnull=True).update(
        opened_at=now or timezone.now()
    )
    return True


def record_click(*, token_value: str, url: str, now: datetime | None = None) -> str | None:
    """The item's URL to redirect to, after stamping the message's first click (and first open); None for a bad
    token, a message never sent, or a URL that is not one of the item's. Two queries."""
    message_id = message_id_of(token_value, CLICK)
    target = normalize_url(url)
    if message_id is None or target is None:
        return None
    now = now or timezone.now()
    row = Message.objects.filter(pk=message_id, status=MessageStatus.SENT).values("item__urls").first()
    if row is None or target not in (row["item__urls"] or []):
        return None
    Message.objects.filter(pk=message_id, clicked_at__isnull=True).update(
        clicked_at=now, opened_at=Coalesce("opened_at", Value(now, output_field=DateTimeField()))
    )
    return target


# --- conversions --------------------------------------------------------------------------------------------------


def _moment(value, default: datetime) -> datetime:
    """An event's time as published (a datetime, or ISO 8601 text from a payload)."""
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return parsed or default


def record_conversion(*, customer_id: int, kind: str, at: datetime, goal: str = "") -> int | None:
    """Stamp the customer's most recent message sent within RELAY_ATTRIBUTION_DAYS before `at` as converted
    (`kind`: LEAD, ORDER or GOAL), unless it already is. With `goal` (an event type), only messages of journeys
    whose goal it is count. The message's id when one was stamped, else None. Two queries."""
    window = Q(
        customer_id=customer_id,
        status=MessageStatus.SENT,
        sent_at__lte=at,
        sent_at__gte=at - timedelta(days=settings.RELAY_ATTRIBUTION_DAYS),
    )
    if goal:
        window &= Q(journey__goal=goal)
    latest = Message.objects.filter(window).order_by("-sent_at", "-pk").values_list("pk", flat=True).first()
    if latest is None:
        return None
    stamped = Message.objects.filter(pk=latest, converted_at__isnull=True).update(converted_at=at, conversion_kind=kind)
    return latest if stamped else None


def lead_created(*, customer: int, at=None, **_event) -> None:
    """`lead.created`: the customer's new lead converts their latest message."""
    record_conversion(customer_id=customer, kind=LEAD, at=_moment(at, timezone.now()))


def order_placed(*, customer: int, ordered_at=None, **_event) -> None:
    """`order.placed`: the order converts the customer's latest message sent before it was placed."""
    record_conversion(customer_id=customer, kind=ORDER, at=_moment(ordered_at, timezone.now()))


def customer_event(*, customer: int, type: str, at=None, **_event) -> None:
    """`customer.event`: an event that is a journey's goal converts that journey's latest message."""
    if type:
        record_conversion(customer_id=customer, kind=GOAL, at=_moment(at, timezone.now()), goal=type)
