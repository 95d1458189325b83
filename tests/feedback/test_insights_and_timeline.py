import pytest
from django.urls import reverse

from config import todo
from config.models import Notification
from feedback import selectors, services
from feedback.models import Insight
from tests.factories import CustomerFactory, make_user

pytestmark = pytest.mark.django_db


def test_complaint_insight_is_routed_to_marketing_once(client_as):
    marketing_manager = make_user("marketing_manager")
    client = client_as("service")
    complaint = services.create_complaint(
        by=client.user, owner=client.user, customer=CustomerFactory(), category="delivery", description="Late again"
    )
    url = reverse("feedback:complaint-insight", args=[complaint.pk])
    for _ in range(2):
        response = client.post(url, {"tag": "delivery", "note": "Courier X is slow"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
    insight = Insight.objects.get()
    assert (insight.customer, insight.tag, insight.note) == (complaint.customer, "delivery", "Courier X is slow")
    assert Notification.objects.filter(recipient=marketing_manager, kind="feedback.insight").count() == 1

    marketing = client_as("marketing")
    feed = marketing.get(reverse("feedback:insight-list"))
    assert "Courier X is slow" in feed.content.decode()
    assert marketing.post(reverse("feedback:insight-acknowledge", args=[insight.pk])).status_code == 302
    assert Insight.objects.get().acknowledged_by == marketing.user


def test_sales_cannot_route_or_acknowledge(client_as):
    service = make_user("service")
    answer = services.record_nps_response(by=service, customer=CustomerFactory(), score=5, comment="Too pricey")
    insight = services.route_insight(by=service, nps_response=answer, tag="price", note="Too pricey")
    client = client_as("sales")
    assert client.post(reverse("feedback:nps-insight", args=[answer.pk]), {"tag": "product"}).status_code == 403
    assert client.post(reverse("feedback:insight-acknowledge", args=[insight.pk])).status_code == 403
    assert Insight.objects.count() == 1 and Insight.objects.get().acknowledged_at is None


def test_timeline_shows_status_changes_follow_ups_and_insights(django_assert_max_num_queries):
    service = make_user("service")
    customer = CustomerFactory()
    complaint = services.create_complaint(
        by=service, owner=service, customer=customer, category="product", description="x"
    )
    services.transition_complaint(complaint=complaint, by=service, status="in_progress")
    answer = services.record_nps_response(by=service, customer=customer, score=1, comment="Bad")
    services.route_insight(by=service, complaint=complaint, tag="product", note="Hinge breaks")
    todo.complete_task(task=answer.tasks.get(), by=service, outcome="Called back")
    with django_assert_max_num_queries(4):
        events = selectors.timeline_events(customer.pk, limit=50)
    kinds = [e.kind for e in events]
    assert {"complaint.opened", "complaint.status_changed", "nps.answered", "insight.routed"} <= set(kinds)
    assert "follow_up.detractor.opened" in kinds and "follow_up.detractor.done" in kinds
    assert all(e.department == "service" for e in events)
    assert [e.at for e in events] == sorted((e.at for e in events), reverse=True)
    assert len(selectors.timeline_events(customer.pk, limit=2)) == 2
