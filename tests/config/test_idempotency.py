"""Idempotency-Key: one effect per key and user, whatever fails, races or dies in between."""

import os
import socket
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from config import outbox
from config.models import IdempotencyRecord
from leads.models import Lead
from tests.factories import ChannelFactory, make_user
from tests.races import each_at_once


def _payload(phone="13800000001"):
    return {"contact": {"name": "Li Lei", "phone": phone}, "source_channel": "web"}


def _session(user, **headers) -> APIClient:
    api = APIClient(**headers)
    api.force_login(user)
    return api


@pytest.fixture
def marketer(db):
    ChannelFactory(code="web")
    return make_user("marketing", username="mk")


def test_a_retry_replays_status_body_and_headers(marketer):
    api = _session(marketer, HTTP_IDEMPOTENCY_KEY="create-1")
    first = api.post("/api/v1/leads/", _payload(), format="json")
    again = api.post("/api/v1/leads/", _payload(), format="json")
    assert first.status_code == 201 and Lead.objects.count() == 1
    assert (again.status_code, again.content, again["ETag"]) == (201, first.content, first["ETag"])
    assert again["Idempotent-Replayed"] == "true"


def test_the_key_belongs_to_the_user_whether_session_or_token(marketer):
    token = APIClient().post("/api/v1/auth/token/", {"username": "mk", "password": "relay-test-pass"}).json()["token"]
    by_token = APIClient(HTTP_AUTHORIZATION=f"Token {token}", HTTP_IDEMPOTENCY_KEY="k")
    by_session = _session(marketer, HTTP_IDEMPOTENCY_KEY="k")
    assert by_token.post("/api/v1/leads/", _payload(), format="json").status_code == 201
    assert by_session.post("/api/v1/leads/", _payload(), format="json")["Idempotent-Replayed"] == "true"
    assert Lead.objects.count() == 1
    other = _session(make_user("marketing"), HTTP_IDEMPOTENCY_KEY="k")  # another user's same key is theirs
    assert other.post("/api/v1/leads/", _payload("13800000002"), format="json").status_code == 201
    assert Lead.objects.count() == 2


def test_a_refusal_is_not_stored_so_the_retry_runs_again(marketer):
    api = _session(marketer, HTTP_IDEMPOTENCY_KEY="bad-1")
    bad = {"contact": {"name": "Li"}, "source_channel": "nowhere"}
    first = api.post("/api/v1/leads/", bad, format="json")
    again = api.post("/api/v1/leads/", bad, format="json")
    assert first.status_code == again.status_code == 400
    assert not again.has_header("Idempotent-Replayed")
    assert not IdempotencyRecord.objects.exists() and not Lead.objects.exists()


def test_a_key_whose_holder_died_is_taken_over_and_completes_once(marketer):
    dead = f"{socket.gethostname()}:{2**22 + os.getpid()}"  # a pid this host does not run
    api = _session(marketer, HTTP_IDEMPOTENCY_KEY="crash-1")
    busy = api.post("/api/v1/leads/", _payload(), format="json")  # claims, then we pretend it crashed mid-way
    IdempotencyRecord.objects.update(
        is_complete=False, holder=f"{dead}/req", leased_until=timezone.now() + timedelta(minutes=5)
    )
    Lead.objects.all().delete()  # its transaction died with it: no effect stayed
    assert busy.status_code == 201
    retry = api.post("/api/v1/leads/", _payload(), format="json")
    assert retry.status_code == 201 and not retry.has_header("Idempotent-Replayed")
    assert Lead.objects.count() == 1
    assert api.post("/api/v1/leads/", _payload(), format="json")["Idempotent-Replayed"] == "true"


def test_a_live_holder_keeps_the_key_until_its_lease_ends(marketer):
    api = _session(marketer, HTTP_IDEMPOTENCY_KEY="slow-1")
    api.post("/api/v1/leads/", _payload(), format="json")
    alive = f"{outbox.worker_id()}/other-request"
    IdempotencyRecord.objects.update(
        is_complete=False, holder=alive, leased_until=timezone.now() + timedelta(minutes=1)
    )
    held = api.post("/api/v1/leads/", _payload(), format="json")
    assert (held.status_code, held.json()["code"]) == (409, "idempotency_in_progress")
    IdempotencyRecord.objects.update(leased_until=timezone.now() - timedelta(seconds=1))
    assert api.post("/api/v1/leads/", _payload(), format="json").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_failure_after_commit_is_replayed_not_redone(monkeypatch):
    ChannelFactory(code="web")
    user = make_user("marketing")

    def broker_gone(**_kwargs):
        raise ConnectionError("broker unreachable after the commit")

    monkeypatch.setattr(outbox, "dispatch_quietly", broker_gone)
    client = Client(raise_request_exception=False, HTTP_IDEMPOTENCY_KEY="after-commit")
    client.force_login(user)
    failed = client.post("/api/v1/leads/", _payload(), content_type="application/json")
    assert failed.status_code == 500 and Lead.objects.count() == 1  # committed, then the answer was lost
    monkeypatch.undo()
    retry = client.post("/api/v1/leads/", _payload(), content_type="application/json")
    assert (retry.status_code, retry["Idempotent-Replayed"]) == (201, "true")
    assert Lead.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_racing_posts_with_one_key_make_one_lead():
    ChannelFactory(code="web")
    user = make_user("marketing")
    clients = [_session(user, HTTP_IDEMPOTENCY_KEY="race-1") for _ in range(20)]
    results = each_at_once(lambda i: clients[i].post("/api/v1/leads/", _payload(), format="json").status_code, 20)
    assert Lead.objects.count() == 1
    assert set(results) <= {201, 409} and results.count(201) >= 1, results
