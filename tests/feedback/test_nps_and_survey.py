from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from config.models import Task
from feedback import selectors, services
from feedback.models import NpsInvitation, NpsResponse
from tests.factories import CustomerFactory, CustomerIdentityFactory, NpsResponseFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("score", "category"),
    [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter"), (10, "promoter")],
)
def test_api_answer_is_classified_and_detractors_open_one_follow_up(api_as, settings, score, category):
    settings.RELAY_DETRACTOR_FOLLOW_UP_HOURS = 48
    make_user("service_manager")
    api = api_as("service")
    customer = CustomerFactory()
    response = api.post(
        "/api/v1/nps-responses/", {"customer": customer.pk, "score": score, "comment": "ok"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["category"] == category
    answer = NpsResponse.objects.get()
    assert answer.source == "api"
    tasks = Task.objects.filter(nps_response=answer)
    if category == "detractor":
        task = tasks.get()
        assert task.kind == "detractor" and task.about.customer == customer and task.notes == "ok"
        assert answer.answered_at + timedelta(hours=47) < task.due_at <= answer.answered_at + timedelta(hours=48)
        assert response.json()["follow_up"] == task.pk
    else:
        assert not tasks.exists()


def test_api_refuses_a_score_out_of_range_naming_it(api_as):
    api = api_as("service")
    response = api.post("/api/v1/nps-responses/", {"customer": CustomerFactory().pk, "score": 11}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "score"
    assert not NpsResponse.objects.exists()


def test_staff_enters_an_answer_on_the_page(client_as):
    client = client_as("service")
    customer = CustomerFactory()
    response = client.post(reverse("feedback:nps-list"), {"customer": customer.pk, "score": 3, "comment": "Slow"})
    assert response.status_code == 302
    answer = NpsResponse.objects.get()
    assert (answer.source, answer.entered_by, answer.score) == ("staff", client.user, 3)
    assert answer.tasks.get().kind == "detractor"
    bad = client.post(reverse("feedback:nps-list"), {"customer": customer.pk, "score": 12})
    assert bad.status_code == 422
    assert 'data-field="score"' in bad.content.decode()


def test_nps_counts_is_one_aggregate(django_assert_num_queries):
    now = timezone.now()
    for score in [10, 9, 8, 3, 0]:
        NpsResponseFactory(score=score, answered_at=now - timedelta(days=1))
    NpsResponseFactory(score=0, answered_at=now - timedelta(days=100))
    with django_assert_num_queries(1):
        counts = selectors.nps_counts(now - timedelta(days=30), now)
    assert counts == {"total": 5, "promoters": 2, "passives": 1, "detractors": 2}
    assert selectors.nps_score(counts) == 0
    assert selectors.nps_score(selectors.nps_counts(now, now + timedelta(days=1))) is None


def _invite(api, customer, language="en", capture=None):
    with capture(execute=True):
        response = api.post("/api/v1/nps-invitations/", {"customer": customer.pk, "language": language}, format="json")
    assert response.status_code == 201, response.json()
    return NpsInvitation.objects.get(pk=response.json()[0]["id"])


def test_invitation_emails_an_unguessable_single_use_link(api_as, client, django_capture_on_commit_callbacks):
    api = api_as("service")
    customer = CustomerFactory(name="Li Lei", company="Secret Corp")
    CustomerIdentityFactory(customer=customer, kind="email", value="lilei@example.com")
    invitation = _invite(api, customer, capture=django_capture_on_commit_callbacks)
    assert "token" not in api.get("/api/v1/nps-invitations/").json()["results"][0]
    assert len(invitation.token) >= 40
    assert invitation.sent_at is not None
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["lilei@example.com"]
    link = reverse("feedback:survey", args=[invitation.token])
    assert link in mail.outbox[0].body

    page = client.get(link)  # anonymous: no login needed
    assert page.status_code == 200
    html = page.content.decode()
    assert "How likely are you to recommend us" in html
    for private in ["Li Lei", "Secret Corp", "lilei@example.com", "/admin/", "/feedback/complaints/", "/customers/"]:
        assert private not in html

    answered = client.post(link, {"score": 4, "comment": "Late delivery"})
    assert answered.status_code == 200
    answer = NpsResponse.objects.get()
    assert (answer.customer, answer.score, answer.source, answer.invitation) == (customer, 4, "survey", invitation)
    assert answer.tasks.get().kind == "detractor"

    again = client.post(link, {"score": 10})
    assert again.status_code == 410
    assert client.get(link).status_code == 410
    assert NpsResponse.objects.count() == 1
    # the survey session grants nothing else
    assert client.get(reverse("feedback:complaint-list")).status_code == 302
    assert client.get("/api/v1/nps-responses/").status_code in (401, 403)


def test_survey_is_in_the_invitations_language(api_as, client, django_capture_on_commit_callbacks):
    api = api_as("service")
    customer = CustomerFactory()
    CustomerIdentityFactory(customer=customer, kind="email", value="zh@example.com")
    invitation = _invite(api, customer, language="zh-hans", capture=django_capture_on_commit_callbacks)
    page = client.get(reverse("feedback:survey", args=[invitation.token]))
    assert '<html lang="zh-hans">' in page.content.decode()


def test_expired_and_wrong_tokens_get_a_clear_page(client):
    customer = CustomerFactory()
    expired = NpsInvitation.objects.create(
        customer=customer, token="expired-token-" + "x" * 30, expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = client.get(reverse("feedback:survey", args=[expired.token]))
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert client.post(reverse("feedback:survey", args=[expired.token]), {"score": 9}).status_code == 410
    wrong = client.get(reverse("feedback:survey", args=["not-a-real-token"]))
    assert wrong.status_code == 404
    assert "not valid" in wrong.content.decode()
    assert not NpsResponse.objects.exists()


def test_bulk_invitation_for_a_filtered_list_skips_customers_without_email(
    client_as, django_capture_on_commit_callbacks
):
    client = client_as("service")
    in_city = [CustomerFactory(city="Hangzhou") for _ in range(3)]
    for c in in_city[:2]:
        CustomerIdentityFactory(customer=c, kind="email", value=f"c{c.pk}@example.com")
    elsewhere = CustomerFactory(city="Suzhou")
    CustomerIdentityFactory(customer=elsewhere, kind="email", value="s@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("feedback:invitation-list"),
            {"bulk": "1", "bulk-city": "hangzhou", "bulk-language": "en", "bulk-not_surveyed_days": 90},
        )
    assert response.status_code == 302
    assert set(NpsInvitation.objects.values_list("customer_id", flat=True)) == {c.pk for c in in_city[:2]}
    assert len(mail.outbox) == 2
    # run the send task again: nobody gets a second email
    from feedback import tasks

    tasks.send_nps_invitations.delay(list(NpsInvitation.objects.values_list("pk", flat=True)))
    assert len(mail.outbox) == 2


@pytest.mark.parametrize("n", [1, 20])
def test_nps_lists_queries_do_not_grow(client_as, api_as, django_assert_max_num_queries, n):
    for i in range(n):
        services.record_nps_response(by=make_user("service"), customer=CustomerFactory(), score=i % 11)
    client = client_as("marketing")
    with django_assert_max_num_queries(11):
        assert client.get(reverse("feedback:nps-list")).status_code == 200
    api = api_as("sales")
    with django_assert_max_num_queries(4):
        assert len(api.get("/api/v1/nps-responses/").json()["results"]) == n
    service = client_as("service")
    with django_assert_max_num_queries(10):  # session, user, groups, unread, 2 perms, owners, rows (keyset: no COUNT)
        assert service.get(reverse("feedback:follow-up-list")).status_code == 200


def test_nps_page_shows_the_metrics_value_with_its_rounding(client_as):
    # 2 promoters, 5 passives, 1 detractor of 8: 12.5, rounded half away from zero like the nps metric → 13
    customer = CustomerFactory()
    for score in [10, 9, 8, 8, 7, 7, 7, 3]:
        NpsResponseFactory(customer=customer, score=score, answered_at=timezone.now() - timedelta(days=1))
    page = client_as("service").get(reverse("feedback:nps-list"))
    assert '<strong data-testid="nps-score">13</strong>' in page.content.decode()
    assert selectors.nps_score({"total": 8, "promoters": 0, "detractors": 1}) == -13
