"""POST /api/v1/auth/token/ {"username", "password"}: a new API token for scripts that cannot visit the
"API tokens" page. Guarded like the login page (django-axes: a locked-out username and address is a 429)."""

from axes.helpers import get_cool_off
from axes.utils import reset as reset_login_failures
from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config import tokens
from config.security import client_ip


class TokenInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenOutput(serializers.Serializer):
    token = serializers.CharField(help_text=gettext_lazy("Shown this once; send it as `Authorization: Token <token>`."))
    expiry = serializers.DateTimeField()


class ObtainTokenView(APIView):
    authentication_classes = []  # the password is the credential
    permission_classes = [AllowAny]

    @extend_schema(request=TokenInput, responses=TokenOutput)
    def post(self, request):
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        # The DRF request, so axes marks a lockout on it and the answer stays a problem document.
        user = authenticate(request, **data.validated_data)
        if user is None:
            if getattr(request, "axes_locked_out", False):
                cool_off = get_cool_off(request)
                raise exceptions.Throttled(
                    wait=cool_off.total_seconds() if cool_off else None,
                    detail=_("Too many failed logins for this username from this address. Try again later."),
                    code="login_locked",
                )
            raise exceptions.ValidationError(
                {"non_field_errors": [_("Unable to log in with provided credentials.")]}, code="authorization"
            )
        # What a login on the page does (AXES_RESET_ON_SUCCESS, last login), without opening a session.
        reset_login_failures(ip=client_ip(request), username=user.get_username())
        update_last_login(None, user)
        token, plain = tokens.issue_token(user=user)
        body = TokenOutput({"token": plain, "expiry": token.expiry}).data
        return Response(body, headers={"Cache-Control": "no-store"})
