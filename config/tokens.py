"""API tokens (django-rest-knox). The owner makes them on the "API tokens" page or with a password at
/api/v1/auth/token/; the plain token is shown once and only its SHA-512 digest is stored (plus its first
characters, for lookup); each expires; revoking deletes it, so the next request with it is a 401."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.models import AuthToken
from knox.settings import knox_settings

LIFETIME_DAYS = (7, 30, 90, 365)


def tokens_of(user):
    """The user's tokens, newest first; expired ones stay listed until revoked or swept (sweep_expired_tokens)."""
    return AuthToken.objects.filter(user=user).order_by("-created")


def issue_token(*, user, days: int | None = None) -> tuple[AuthToken, str]:
    """A new token for `user` valid `days` (default RELAY_API_TOKEN_DAYS); returns the row and the plain token."""
    return AuthToken.objects.create(user=user, expiry=timedelta(days=days) if days else knox_settings.TOKEN_TTL)


@transaction.atomic
def revoke_token(*, token: AuthToken, by) -> None:
    """Delete `token`. Raises PermissionDenied unless `by` owns it or is an admin."""
    if token.user_id != by.pk and not by.is_superuser:
        raise PermissionDenied(_("Only the owner of a token can revoke it."))
    AuthToken.objects.filter(pk=token.pk).delete()


def sweep_expired_tokens() -> int:
    """Delete every expired token (beat, hourly); the number deleted."""
    deleted, _by_model = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    return deleted


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's token authentication without its sweep of every other token of the user on each request (one
    query per API call, growing with the user's tokens); an expired token is still refused and deleted when
    used, and the rest are swept by `sweep_expired_tokens`."""

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class TokenScheme(KnoxTokenScheme):
    """The schema's security scheme for TokenAuthentication, as drf-spectacular documents knox's."""

    target_class = TokenAuthentication
