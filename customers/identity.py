"""Identity normalization: the one place that decides when two contact details are the same person.

Phones: E.164 via `phonenumbers`, China (+86) as the default region, so "138 1234 5678", "+86-138-1234-5678"
and "0086 13812345678" all become "+8613812345678". Emails: trimmed and lower-cased. WeCom/WeChat ids and
member cards: trimmed, otherwise exact.
"""

import functools
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


_FORMATTING = str.maketrans("", "", " -().\u00a0")
_CN_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[0-9]{10})")
_CN = phonenumbers.PhoneMetadata.metadata_for_region(DEFAULT_REGION)
_CN_GENERAL = re.compile(_CN.general_desc.national_number_pattern)
_CN_MOBILE_DESC = re.compile(_CN.mobile.national_number_pattern)
_CN_MOBILE_LENGTHS = frozenset(_CN.general_desc.possible_length) & frozenset(_CN.mobile.possible_length)
_MAX_PHONE_INPUT = 250  # phonenumbers refuses longer input as too long


def normalize_phone(raw: str) -> str | None:
    """E.164 form of a phone number, or None when it is not a valid number."""
    text = (raw or "").strip()
    if not text:
        return None
    return _mainland_mobile(text) or _parse_phone(text)


def _mainland_mobile(text: str) -> str | None:
    """The E.164 form of a plainly written valid Chinese mobile (however spaced), else None (then parse).

    Imports normalize 100,000 phones, and parsing plus `is_valid_number` is most of their cost. A number
    that fits the mobile pattern of phonenumbers' own metadata is valid (is_valid_number asks for a number
    type, and mobile is one), so this answers exactly what `_parse_phone` answers; anything else is parsed.
    """
    if len(text) > _MAX_PHONE_INPUT:
        return None
    mobile = _CN_MOBILE.fullmatch(text.translate(_FORMATTING))
    if mobile is None:
        return None
    national = mobile.group(1)
    if len(national) in _CN_MOBILE_LENGTHS and _CN_GENERAL.fullmatch(national) and _CN_MOBILE_DESC.fullmatch(national):
        return "+86" + national
    return None


def _parse_phone(text: str) -> str | None:
    """The full parse: any format phonenumbers reads, China as the default region."""
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_EMAIL_USER = re.compile(validate_email.user_regex.pattern, validate_email.user_regex.flags)


def normalize_email(raw: str) -> str | None:
    text = (raw or "").strip().lower()
    if not text or "@" not in text or len(text) > 320:
        return None
    # validate_email's own steps, with the domain check (a long regex) remembered: a file's addresses
    # share a handful of domains.
    user, domain = text.rsplit("@", 1)
    if not _EMAIL_USER.match(user) or not _valid_email_domain(domain):
        return None
    return text


@functools.lru_cache(maxsize=2048)
def _valid_email_domain(domain: str) -> bool:
    try:
        validate_email(f"a@{domain}")
    except ValidationError:
        return False
    return True


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
