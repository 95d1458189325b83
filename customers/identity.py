"""Identity normalization: the one place that decides when two contact details are the same person.

Phones: E.164 via `phonenumbers`, China (+86) as the default region, so "138 1234 5678", "+86-138-1234-5678"
and "0086 13812345678" all become "+8613812345678". Emails: trimmed and lower-cased. WeCom/WeChat ids and
member cards: trimmed, otherwise exact.
"""

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from customers.errors import InvalidIdentity
from customers.models import IdentityKind

DEFAULT_REGION = "CN"

# Keys of a contact dict (DESIGN.md lead payload) that are identities, with their kind.
CONTACT_IDENTITY_KEYS = {
    "phone": IdentityKind.PHONE,
    "email": IdentityKind.EMAIL,
    "wecom": IdentityKind.WECOM,
    "wechat": IdentityKind.WECHAT,
    "member_card": IdentityKind.MEMBER_CARD,
}

_INVALID_PHONE = _("Enter a valid phone number (for example 138 1234 5678 or +86 138 1234 5678).")
_INVALID_EMAIL = _("Enter a valid email address.")


_FORMATTING = str.maketrans("", "", " -().\u00a0\t")
_CN_MOBILE = re.compile(r"(?:\+86|0086|86)?(1\d{10})")


def normalize_phone(raw: str) -> str | None:
    """E.164 form of a phone number, or None when it is not a valid number."""
    text = (raw or "").strip()
    if not text:
        return None
    # Fast path for the common case (a Chinese mobile, however spaced): skip parsing, keep the validity
    # check of `phonenumbers`. Imports normalize 100,000 phones, and parsing is most of their cost.
    mobile = _CN_MOBILE.fullmatch(text.translate(_FORMATTING))
    if mobile:
        number = phonenumbers.PhoneNumber(country_code=86, national_number=int(mobile.group(1)))
        return "+86" + mobile.group(1) if phonenumbers.is_valid_number(number) else None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str | None:
    text = (raw or "").strip().lower()
    if not text:
        return None
    try:
        validate_email(text)
    except ValidationError:
        return None
    return text


def normalize(kind: str, raw: str) -> str | None:
    """The normalized value of an identity, or None when it is invalid (empty values are invalid too)."""
    if kind == IdentityKind.PHONE:
        return normalize_phone(raw)
    if kind == IdentityKind.EMAIL:
        return normalize_email(raw)
    text = (raw or "").strip()
    return text or None


def normalize_or_raise(kind: str, raw: str, *, field: str) -> str:
    """Like `normalize`, but raises InvalidIdentity naming `field`."""
    value = normalize(kind, raw)
    if value is None:
        message = _INVALID_PHONE if kind == IdentityKind.PHONE else _INVALID_EMAIL
        if kind not in (IdentityKind.PHONE, IdentityKind.EMAIL):
            message = _("This value may not be empty.")
        raise InvalidIdentity(str(message), field=field)
    return value


def contact_identities(contact: dict, *, field_prefix: str = "") -> list[tuple[str, str]]:
    """[(kind, normalized value)] for the identity keys present in a contact dict.

    Raises InvalidIdentity naming the first invalid field (e.g. "phone" or "contact.phone").
    """
    out: list[tuple[str, str]] = []
    for key, kind in CONTACT_IDENTITY_KEYS.items():
        raw = contact.get(key)
        if raw is None or not str(raw).strip():
            continue
        out.append((kind, normalize_or_raise(kind, str(raw), field=f"{field_prefix}{key}")))
    return out
