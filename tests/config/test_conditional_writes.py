"""ETags on every mutable resource: a stale If-Match is 412 decided under the row lock, If-None-Match is 304, and
racing deletes answer one 204 and then 404."""

import pytest
from rest_framework.test import APIClient

from config import webhooks
from config.models import WebhookEndpoint
from leads.stages import Stage
from tests.factories import (
    CampaignFactory,
    ChannelFactory,
    ChannelSpendFactory,
    CheckInFactory,
    ComplaintFactory,
    CustomerFactory,
    FollowUpTaskFactory,
    KeyResultFactory,
    ObjectiveFactory,
    OrderFactory,
    lead_through,
    make_user,
)
from tests.races import each_at_once


def _check_in_url(check_in) -> str:
    return f"/api/v1/key-results/{check_in.key_result_id}/check-ins/{check_in.pk}/"


# resource: (make the object, its URL, a change to it with a value per attempt)
RESOURCES = {
    "customer": (CustomerFactory, lambda o: f"/api/v1/customers/{o.pk}/", lambda i: {"name": f"Name {i}"}),
    "order": (OrderFactory, lambda o: f"/api/v1/orders/{o.pk}/", lambda i: {"amount": f"{10 + i}.00"}),
    "lead": (
        lambda: lead_through(Stage.NEW),
        lambda o: f"/api/v1/leads/{o.pk}/",
        lambda i: {"note": f"note {i}"},
    ),
    "complaint": (ComplaintFactory, lambda o: f"/api/v1/complaints/{o.pk}/", lambda i: {"description": f"d {i}"}),
    "objective": (ObjectiveFactory, lambda o: f"/api/v1/objectives/{o.pk}/", lambda i: {"title": f"Objective {i}"}),
    "key result": (KeyResultFactory, lambda o: f"/api/v1/key-results/{o.pk}/", lambda i: {"title": f"KR {i}"}),
    "check-in": (CheckInFactory, _check_in_url, lambda i: {"comment": f"week {i}"}),
    "channel": (ChannelFactory, lambda o: f"/api/v1/channels/{o.pk}/", lambda i: {"name": f"Channel {i}"}),
    "campaign": (CampaignFactory, lambda o: f"/api/v1/campaigns/{o.pk}/", lambda i: {"name": f"Campaign {i}"}),
    "webhook endpoint": (
        lambda: WebhookEndpoint.objects.create(url="https://hooks.example.com/relay", secret=webhooks.new_secret()),
        lambda o: f"/api/v1/webhooks/{o.pk}/",
        lambda i: {"description": f"Endpoint {i}"},
    ),
    "channel spend": (
        ChannelSpendFactory,
        lambda o: f"/api/v1/channel-spend/{o.pk}/",
        lambda i: {"amount": f"{100 + i}.00"},
    ),
}


def _client(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.mark.django_db
@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_every_mutable_resource_has_an_etag_a_304_and_a_412(resource):
    make, url_of, change = RESOURCES[resource]
    api = _client(make_user("admin"))
    url = url_of(make())
    read = api.get(url)
    etag = read["ETag"]
    assert read.status_code == 200 and etag.startswith('"')
    not_modified = api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert (not_modified.status_code, not_modified["ETag"]) == (304, etag)
    assert api.patch(url, change(1), format="json", HTTP_IF_MATCH=etag).status_code == 200
    stale = api.patch(url, change(2), format="json", HTTP_IF_MATCH=etag)
    assert (stale.status_code, stale.json()["code"]) == (412, "stale")
    assert api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 200  # changed: the new version, not a 304


@pytest.mark.django_db
def test_follow_ups_send_an_etag_and_a_stale_completion_is_412():
    task = FollowUpTaskFactory()  # a follow-up is a task
    api = _client(make_user("admin"))
    etag = api.get(f"/api/v1/tasks/{task.pk}/")["ETag"]
    task.notes = "edited elsewhere"
    task.save()
    done = api.post(f"/api/v1/tasks/{task.pk}/done/", {"outcome": "Called"}, HTTP_IF_MATCH=etag)
    assert done.status_code == 412
    task.refresh_from_db()
    assert task.done_at is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_ten_racing_writes_with_one_etag_one_wins(resource):
    make, url_of, change = RESOURCES[resource]
    admin = make_user("admin")
    url = url_of(make())
    etag = _client(admin).get(url)["ETag"]
    clients = [_client(admin) for _ in range(10)]

    def patch(i):
        return clients[i].patch(url, change(i), format="json", HTTP_IF_MATCH=etag).status_code

    results = each_at_once(patch, 10)
    assert sorted(results) == [200] + [412] * 9, results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("make", "url_of"),
    [
        (ObjectiveFactory, lambda o: f"/api/v1/objectives/{o.pk}/"),
        (KeyResultFactory, lambda o: f"/api/v1/key-results/{o.pk}/"),
        (CheckInFactory, _check_in_url),
    ],
    ids=["objective", "key result", "check-in"],
)
def test_racing_deletes_answer_one_204_then_404(make, url_of):
    admin = make_user("admin")
    url = url_of(make())
    clients = [_client(admin) for _ in range(5)]
    results = each_at_once(lambda i: clients[i].delete(url).status_code, 5)
    assert sorted(results) == [204, 404, 404, 404, 404], results
