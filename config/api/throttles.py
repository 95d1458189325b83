"""API throttles (settings REST_FRAMEWORK): per address without credentials, per person, per token.

A refusal is a 429 problem with `Retry-After` (config.api.problems)."""

from knox.models import AuthToken
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from config.security import client_ip


class _RelayRates:
    def get_rate(self):
        # DRF binds THROTTLE_RATES when it is imported; reading them per request lets a settings change apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        # Not DRF's X-Forwarded-For reading, which believes whatever the client sends.
        return client_ip(request) or ""


class AnonThrottle(_RelayRates, AnonRateThrottle):
    """Requests without credentials, per client address."""


class UserThrottle(_RelayRates, UserRateThrottle):
    """Every request of one person, whatever token or session it comes with."""


class TokenThrottle(_RelayRates, SimpleRateThrottle):
    """Every request made with one API token, so one busy integration cannot use up its owner's whole rate."""

    scope = "token"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, AuthToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.digest[:32]}
