"""Authentication and browser hardening: login lockout per (username, address), API tokens (hashed, expiring,
revocable by their owner), throttles, 401 challenges, who may read the API docs, session idle expiry, CSP,
Permissions-Policy and the proxy header."""

import os
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.test import APIClient

from config import tasks as config_tasks
from config import tokens
from config.env import env_networks, env_rate
from config.security import client_ip
from tests import clock
from tests.factories import UserFactory, make_user

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
PASSWORD = "relay-test-pass"
ROOT = Path(__file__).resolve().parents[2]


def _log_in(client, username, password, address):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# Login throttling (django-axes) -------------------------------------------------------------------------------


def test_ten_failures_lock_that_username_from_that_address_only():
    make_user("sales", username="mei")
    make_user("sales", username="li")
    office = Client()
    for _ in range(9):
        assert _log_in(office, "mei", "wrong", "10.0.0.1").status_code == 200  # the form, with its error
    tenth = _log_in(office, "mei", "wrong", "10.0.0.1")
    assert tenth.status_code == 429
    eleventh = _log_in(office, "mei", PASSWORD, "10.0.0.1")  # the right password no longer helps
    assert eleventh.status_code == 429
    assert int(eleventh["Retry-After"]) == 30 * 60
    assert "Too many failed logins" in eleventh.content.decode()
    assert not _signed_in(office)

    elsewhere = Client()  # the same username from another address
    assert _log_in(elsewhere, "mei", PASSWORD, "10.0.0.2").status_code == 302
    assert _signed_in(elsewhere)
    colleague = Client()  # another username from the same (shared office) address
    assert _log_in(colleague, "li", PASSWORD, "10.0.0.1").status_code == 302
    assert _signed_in(colleague)


def test_a_lockout_ends_after_the_cool_off():
    make_user("sales", username="mei")
    client = Client()
    for _ in range(10):
        _log_in(client, "mei", "wrong", "10.0.0.1")
    assert _log_in(client, "mei", PASSWORD, "10.0.0.1").status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
        assert _log_in(client, "mei", PASSWORD, "10.0.0.1").status_code == 302


def test_a_successful_login_clears_the_failures():
    make_user("sales", username="mei")
    for _ in range(5):
        _log_in(Client(), "mei", "wrong", "10.0.0.1")
    assert _log_in(Client(), "mei", PASSWORD, "10.0.0.1").status_code == 302
    client = Client()
    assert [_log_in(client, "mei", "wrong", "10.0.0.1").status_code for _ in range(10)] == [200] * 9 + [429]


def test_a_forged_forwarded_for_does_not_escape_the_lockout_without_a_trusted_proxy():
    make_user("sales", username="mei")
    client = Client()
    for n in range(10):
        client.post(
            reverse("login"),
            {"username": "mei", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
    response = client.post(
        reverse("login"),
        {"username": "mei", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.99",
    )
    assert response.status_code == 429


def test_the_token_endpoint_is_locked_out_the_same_way_with_a_problem_document():
    make_user("sales", username="bot")
    api = APIClient(REMOTE_ADDR="10.0.0.1")
    for _ in range(10):
        api.post("/api/v1/auth/token/", {"username": "bot", "password": "wrong"}, format="json")
    locked = api.post("/api/v1/auth/token/", {"username": "bot", "password": PASSWORD}, format="json")
    assert locked.status_code == 429
    assert locked["Content-Type"] == PROBLEM
    assert locked.json()["code"] == "login_locked"
    assert int(locked["Retry-After"]) == 30 * 60
    elsewhere = APIClient(REMOTE_ADDR="10.0.0.2")
    assert elsewhere.post("/api/v1/auth/token/", {"username": "bot", "password": PASSWORD}).status_code == 200


def test_the_client_address_comes_from_forwarded_for_only_behind_a_trusted_proxy(settings):
    factory = RequestFactory()
    forged = factory.get("/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(forged) == "198.51.100.7"
    settings.RELAY_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(forged) == "198.51.100.7"  # not sent by our proxy
    proxied = factory.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7, 10.0.0.9")
    assert client_ip(proxied) == "198.51.100.7"  # the nearest hop that is not ours; 1.2.3.4 is the client's word
    assert client_ip(factory.get("/", REMOTE_ADDR="10.0.0.5")) == "10.0.0.5"


# 401 and the API docs ----------------------------------------------------------------------------------------


def test_missing_credentials_are_a_401_with_a_challenge():
    response = APIClient().get("/api/v1/users/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response["Content-Type"] == PROBLEM
    assert response.json()["status"] == 401


def test_schema_and_docs_need_a_login(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 401
    assert schema["Content-Type"] == PROBLEM
    docs = client.get("/api/docs/")
    assert docs.status_code == 302
    assert docs["Location"] == f"{reverse('login')}?next=/api/docs/"
    outsider = APIClient()
    outsider.force_authenticate(UserFactory())  # signed in, but in no department
    assert outsider.get("/api/schema/").status_code == 403


def test_a_setting_makes_schema_and_docs_public(client, settings):
    settings.RELAY_PUBLIC_API_DOCS = True
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/docs/?script").status_code == 200


def test_the_docs_page_runs_no_inline_script_and_relaxes_styles_only(client_as):
    client = client_as("sales")
    response = client.get("/api/docs/")
    html = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" in policy["style-src"]
    script = client.get("/api/docs/?script")
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


# API tokens ----------------------------------------------------------------------------------------------------


def _make_token_on_the_page(client, days=30) -> str:
    response = client.post(reverse("api-tokens"), {"days": days})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    return re.search(r'class="token-value"[^>]*value="([^"]+)"', response.content.decode()).group(1)


def _stored_text() -> str:
    """Every row of every table, as text."""
    return "\n".join(str(row) for model in apps.get_models() for row in model.objects.values_list())


def test_a_token_made_on_the_page_is_shown_once_and_stored_only_hashed(client_as):
    client = client_as("sales")
    plain = _make_token_on_the_page(client)
    assert plain.startswith("relay_")
    token = AuthToken.objects.get()
    assert token.digest == hash_token(plain)
    assert plain not in _stored_text()  # only the digest and the first characters, for lookup
    assert plain not in client.get(reverse("api-tokens")).content.decode()  # never shown again
    api = APIClient(HTTP_AUTHORIZATION=f"Token {plain}")
    assert api.get("/api/v1/users/me/").json()["username"] == client.user.username


def test_a_token_expires(client_as):
    client = client_as("sales")
    plain = _make_token_on_the_page(client, days=7)
    assert AuthToken.objects.get().expiry.date() == (timezone.now() + timedelta(days=7)).date()
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1), tick=False):
        response = APIClient(HTTP_AUTHORIZATION=f"Token {plain}").get("/api/v1/users/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response["Content-Type"] == PROBLEM


def test_the_owner_revokes_a_token_and_it_is_refused_from_then_on(client_as):
    client = client_as("sales")
    plain = _make_token_on_the_page(client)
    api = APIClient(HTTP_AUTHORIZATION=f"Token {plain}")
    assert api.get("/api/v1/users/me/").status_code == 200
    response = client.post(reverse("api-token-revoke"), {"token": AuthToken.objects.get().digest})
    assert response.status_code == 302
    assert not AuthToken.objects.exists()
    assert api.get("/api/v1/users/me/").status_code == 401


def test_nobody_else_sees_or_revokes_a_token_on_the_page(client_as):
    owner = make_user("sales")
    token, plain = tokens.issue_token(user=owner)
    other = client_as("sales_manager")
    assert "token-row" not in other.get(reverse("api-tokens")).content.decode()
    assert other.post(reverse("api-token-revoke"), {"token": token.digest}).status_code == 404
    assert APIClient(HTTP_AUTHORIZATION=f"Token {plain}").get("/api/v1/users/me/").status_code == 200


def test_the_page_lists_own_tokens_and_marks_expired_ones(client_as):
    client = client_as("service")
    live, _plain = tokens.issue_token(user=client.user)
    old, _plain = tokens.issue_token(user=client.user, days=7)
    AuthToken.objects.filter(pk=old.pk).update(expiry=timezone.now() - timedelta(days=1))
    html = client.get(reverse("api-tokens")).content.decode()
    assert html.count('data-testid="token-row"') == 2
    assert live.token_key[:10] in html and "expired" in html
    assert reverse("api-tokens") in client.get(reverse("home")).content.decode()  # linked from the user menu


def test_a_wrong_lifetime_is_a_form_error(client_as):
    response = client_as("sales").post(reverse("api-tokens"), {"days": 10000})
    assert response.status_code == 422
    assert not AuthToken.objects.exists()


def test_in_the_admin_staff_see_and_revoke_their_own_tokens_and_admins_everyone(client_as):
    mine, _plain = tokens.issue_token(user=make_user("sales"))
    theirs, _plain = tokens.issue_token(user=make_user("marketing"))
    changelist = reverse("admin:knox_authtoken_changelist")
    owner = client_as("sales", user=mine.user)
    html = owner.get(changelist).content.decode()
    assert mine.user.username in html and theirs.user.username not in html
    assert owner.get(reverse("admin:knox_authtoken_delete", args=[theirs.pk])).status_code in (302, 403, 404)
    assert owner.post(reverse("admin:knox_authtoken_delete", args=[mine.pk]), {"post": "yes"}).status_code == 302
    assert list(AuthToken.objects.all()) == [theirs]
    admin = Client()
    admin.force_login(make_user("admin"))
    assert theirs.user.username in admin.get(changelist).content.decode()
    admin.post(changelist, {"action": "delete_selected", "_selected_action": [theirs.pk], "post": "yes"})
    assert not AuthToken.objects.exists()


# Throttles -----------------------------------------------------------------------------------------------------


def _rates(settings, **rates):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "1000/minute", "user": "1000/minute", "token": "1000/minute", **rates},
    }


def test_a_person_over_their_rate_gets_429_with_retry_after(api_as, settings):
    _rates(settings, user="2/minute")
    api = api_as("sales")
    assert [api.get("/api/v1/users/me/").status_code for _ in range(2)] == [200, 200]
    refused = api.get("/api/v1/users/me/")
    assert refused.status_code == 429
    assert refused["Content-Type"] == PROBLEM
    assert refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert api_as("sales").get("/api/v1/users/me/").status_code == 200  # someone else is not affected


def test_each_token_has_its_own_rate(settings):
    _rates(settings, token="1/minute")
    user = make_user("sales")
    first = APIClient(HTTP_AUTHORIZATION=f"Token {tokens.issue_token(user=user)[1]}")
    second = APIClient(HTTP_AUTHORIZATION=f"Token {tokens.issue_token(user=user)[1]}")
    assert first.get("/api/v1/users/me/").status_code == 200
    assert first.get("/api/v1/users/me/").status_code == 429
    assert second.get("/api/v1/users/me/").status_code == 200


def test_requests_without_credentials_are_throttled_per_address(settings):
    _rates(settings, anon="1/minute")
    body = {"username": "nobody", "password": "wrong"}
    assert APIClient(REMOTE_ADDR="10.0.0.1").post("/api/v1/auth/token/", body).status_code == 400
    assert APIClient(REMOTE_ADDR="10.0.0.1").post("/api/v1/auth/token/", body).status_code == 429
    assert APIClient(REMOTE_ADDR="10.0.0.2").post("/api/v1/auth/token/", body).status_code == 400


# Sessions ------------------------------------------------------------------------------------------------------


def test_a_session_ends_after_a_working_day_idle_but_not_while_in_use(settings):
    assert 9 * 3600 <= settings.SESSION_COOKIE_AGE <= 10 * 3600
    make_user("sales", username="mei")
    client = Client()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _log_in(client, "mei", PASSWORD, "10.0.0.1")
    for hours in (8, 16, 24):  # a request every 8 hours keeps it alive
        with time_machine.travel(start + timedelta(hours=hours), tick=False):
            assert client.get(reverse("home")).status_code == 200, hours
    with time_machine.travel(start + timedelta(hours=24 + 10, minutes=1), tick=False):
        response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_session_in_use_is_written_at_most_every_few_minutes(client_as):
    client = client_as("sales")
    start = timezone.now()

    def session_writes(minutes: int) -> int:
        moment = start + timedelta(minutes=minutes)
        with time_machine.travel(moment, tick=False), CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("home")).status_code == 200
        return sum('UPDATE "django_session"' in query["sql"] for query in queries.captured_queries)

    assert [session_writes(minutes) for minutes in (1, 2, 4, 6, 7)] == [0, 0, 0, 1, 0]


# Response headers ----------------------------------------------------------------------------------------------


def _policy(response) -> dict[str, list[str]]:
    directives = [part.strip().split() for part in response["Content-Security-Policy"].split(";") if part.strip()]
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("path", ["/", "/leads/", "/customers/", "/okr/", "/notifications/", "/account/tokens/"])
def test_pages_send_a_csp_without_inline_scripts_and_a_permissions_policy(client_as, path):
    response = client_as("sales_manager").get(path)
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert set(policy["img-src"]) == {"'self'", "data:"}
    features = response["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in features


def test_the_login_page_has_the_policy_too(client):
    response = client.get(reverse("login"))
    assert _policy(response)["script-src"] == ["'self'"]
    assert "camera=()" in response["Permissions-Policy"]


# Email bodies are read by mail clients, not served under the site's policy, and mail clients need inline styles.
TEMPLATES = sorted(path for path in (ROOT / "templates").rglob("*.html") if "email" not in path.parent.parts)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(ROOT / "templates")))
def test_templates_carry_no_inline_script_handler_or_style(template):
    """What the policy refuses: inline <script> and <style>, on…= handlers, style= attributes, javascript: links."""
    html = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "move the script to static/js/"
    assert not re.search(r"<style\b", html), "move the style to static/css/"
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html), "bind the handler in static/js/relay.js"
    assert not re.search(r"<[^>]*\sstyle\s*=", html), "use a class from static/css/"
    assert "javascript:" not in html


def _settings_value(name: str, **env) -> str:
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    result = subprocess.run(
        clock.command("-c", code),
        cwd=ROOT,
        env=clock.environment({"DJANGO_SETTINGS_MODULE": "config.settings", **_base_env(), **env}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _base_env() -> dict:
    return {key: value for key, value in os.environ.items() if key != "RELAY_TRUSTED_PROXIES"}


def test_the_proxy_https_header_is_believed_only_with_a_trusted_proxy():
    assert _settings_value("SECURE_PROXY_SSL_HEADER") == "None"
    assert _settings_value("SECURE_PROXY_SSL_HEADER", RELAY_TRUSTED_PROXIES="10.0.0.5") == (
        "('HTTP_X_FORWARDED_PROTO', 'https')"
    )


def test_proxy_addresses_and_rates_from_the_environment_fail_loudly(monkeypatch):
    monkeypatch.setenv("RELAY_TRUSTED_PROXIES", "10.0.0.5, 10.1.0.0/16")
    assert env_networks("RELAY_TRUSTED_PROXIES") == ["10.0.0.5", "10.1.0.0/16"]
    monkeypatch.setenv("RELAY_TRUSTED_PROXIES", "proxy.internal")
    with pytest.raises(ImproperlyConfigured, match="RELAY_TRUSTED_PROXIES"):
        env_networks("RELAY_TRUSTED_PROXIES")
    monkeypatch.setenv("RELAY_API_RATE_USER", "lots")
    with pytest.raises(ImproperlyConfigured, match="RELAY_API_RATE_USER"):
        env_rate("RELAY_API_RATE_USER", "600/minute")


def test_expired_tokens_are_swept_by_the_hourly_task_and_live_ones_kept(client_as):
    owner = make_user("sales")
    live, plain = tokens.issue_token(user=owner)
    old, _old_plain = tokens.issue_token(user=owner, days=7)
    with time_machine.travel(timezone.now() + timedelta(days=8), tick=False):
        # Using the live token neither needs nor does a sweep of the owner's other tokens.
        assert APIClient(HTTP_AUTHORIZATION=f"Token {plain}").get("/api/v1/users/me/").status_code == 200
        assert AuthToken.objects.filter(pk=old.pk).exists()
        assert config_tasks.sweep_expired_tokens.delay().get() == 1
    assert list(AuthToken.objects.values_list("pk", flat=True)) == [live.pk]
    assert "relay-token-sweep" in settings.CELERY_BEAT_SCHEDULE


def test_the_schema_documents_token_authentication(client_as):
    schema = client_as("admin").get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert schema["components"]["securitySchemes"]["knoxApiToken"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }
