"""Survey invitations: each customer's language, absolute links that open, the base URL checked at start."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from feedback import checks
from feedback.models import NpsInvitation
from tests.factories import CustomerFactory, CustomerIdentityFactory, NpsInvitationFactory

pytestmark = pytest.mark.django_db


def _with_email(**kwargs):
    customer = CustomerFactory(**kwargs)
    CustomerIdentityFactory(customer=customer, kind="email", value=f"c{customer.pk}@example.com")
    return customer


def test_bulk_invitations_follow_each_customers_language(client_as, django_capture_on_commit_callbacks):
    client = client_as("service")
    chinese = _with_email(name="王芳", city="Hangzhou")
    english = _with_email(name="Emma Ng", city="Hangzhou")
    chose_english = _with_email(name="李雷", city="Hangzhou")
    NpsInvitationFactory(customer=chose_english, language="en", email="old@example.com")  # service chose before
    page = client.get(reverse("feedback:invitation-list"))
    assert 'value="" selected' in page.content.decode()  # the default is the customer's own language

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("feedback:invitation-list"),
            {"bulk": "1", "bulk-city": "Hangzhou", "bulk-language": "", "bulk-not_surveyed_days": ""},
        )
    assert response.status_code == 302
    made = {i.customer_id: i.language for i in NpsInvitation.objects.filter(sent_at__isnull=False)}
    assert made == {chinese.pk: "zh-hans", english.pk: "en", chose_english.pk: "en"}
    subjects = {m.to[0]: m.subject for m in mail.outbox}
    assert subjects[f"c{chinese.pk}@example.com"] != subjects[f"c{english.pk}@example.com"]


def test_a_chosen_language_applies_to_everyone_and_an_unknown_one_is_refused(
    api_as, django_capture_on_commit_callbacks
):
    api = api_as("service")
    customer = _with_email(name="王芳")
    with django_capture_on_commit_callbacks(execute=True):
        ok = api.post("/api/v1/nps-invitations/", {"customer": customer.pk, "language": "en"}, format="json")
    assert ok.status_code == 201 and ok.json()[0]["language"] == "en"
    bad = api.post("/api/v1/nps-invitations/", {"customer": customer.pk, "language": "fr"}, format="json")
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json()["errors"]] == ["language"]
    with django_capture_on_commit_callbacks(execute=True):
        own = api.post("/api/v1/nps-invitations/", {"customer": _with_email(name="张伟").pk}, format="json")
    assert own.json()[0]["language"] == "zh-hans"


def test_the_emailed_link_is_absolute_and_opens_the_survey(
    api_as, client, settings, django_capture_on_commit_callbacks
):
    settings.RELAY_SURVEY_BASE_URL = "https://relay.example.com/"
    customer = _with_email(name="Emma Ng")
    with django_capture_on_commit_callbacks(execute=True):
        api_as("service").post("/api/v1/nps-invitations/", {"customer": customer.pk}, format="json")
    links = re.findall(r"\S+/survey/\S+", mail.outbox[0].body)
    invitation = NpsInvitation.objects.get()
    assert links == [f"https://relay.example.com/feedback/survey/{invitation.token}/"]
    assert client.get(links[0].removeprefix("https://relay.example.com")).status_code == 200


def test_invitation_page_names_the_language(client_as):
    NpsInvitationFactory(language="zh-hans")
    client = client_as("service")
    html = client.get(reverse("feedback:invitation-list")).content.decode()
    assert "Simplified Chinese" in html and "<td>zh-hans</td>" not in html
    zh = client.get(reverse("feedback:invitation-list"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "简体中文" in zh


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("https://relay.example.com", []),
        ("relay.example.com", ["feedback.E001"]),
        ("/feedback", ["feedback.E001"]),
        ("", ["feedback.E001"]),
    ],
)
def test_survey_base_url_must_be_absolute(settings, value, ids):
    settings.RELAY_SURVEY_BASE_URL = value
    assert [m.id for m in checks.survey_base_url()] == ids


def test_deploy_check_says_when_survey_links_point_to_localhost(settings):
    settings.RELAY_SURVEY_BASE_URL = "http://localhost:8000"
    assert [m.id for m in checks.survey_base_url_is_public()] == ["feedback.W001"]
    settings.RELAY_SURVEY_BASE_URL = "https://relay.example.com"
    assert checks.survey_base_url_is_public() == []
