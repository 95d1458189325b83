"""System checks of the service loop: the survey links emailed to customers must open from their inbox."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}  # nosec B104


def survey_base_url(app_configs=None, **kwargs):
    """RELAY_SURVEY_BASE_URL is the public origin put in front of each survey path in the NPS emails."""
    value = settings.RELAY_SURVEY_BASE_URL
    parts = urlsplit(value or "")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return [
            checks.Error(
                f"RELAY_SURVEY_BASE_URL must be an absolute http(s) URL such as https://relay.example.com, "
                f"not {value!r}: the NPS emails would carry links that do not open.",
                id="feedback.E001",
            )
        ]
    return []


def survey_base_url_is_public(app_configs=None, **kwargs):
    parts = urlsplit(settings.RELAY_SURVEY_BASE_URL or "")
    if parts.hostname in _LOCAL_HOSTS:
        return [
            checks.Warning(
                f"RELAY_SURVEY_BASE_URL points to {parts.hostname}: customers cannot open the NPS survey links. "
                "Set it to the portal's public origin.",
                id="feedback.W001",
            )
        ]
    return []
