"""The customer events page (filters, keyset paging, htmx rows, every role, a fixed number of queries), the
marketing menu, and the read-only admin of events and activation windows."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from marketing import services
from marketing.models import ActivationWindow, CustomerEvent
from tests.conftest import ROLES
from tests.factories import CustomerEventFactory, CustomerFactory, make_user

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")
LIST = reverse("marketing:event-list")


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _rows(response) -> list[int]:
    return [event.pk for event in response.context["page"]]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_events_page_and_finds_it_in_the_menu(client_as, role):
    event = CustomerEventFactory(customer=CustomerFactory(name="Chen Jing"), type="custom:webinar_attended")
    response = client_as(role).get(LIST)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Chen Jing" in page and "custom:webinar_attended" in page
    assert _rows(response) == [event.pk]
    assert 'data-testid="nav-marketing"' in page


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(LIST)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_filters_narrow_the_rows_and_htmx_gets_the_rows_alone(client_as):
    ana, bo = CustomerFactory(), CustomerFactory()
    at = NOW - timedelta(days=3)
    signed = CustomerEventFactory(customer=ana, type="signed_up", source="web", at=at)
    viewed = CustomerEventFactory(customer=ana, type="page_view", source="app", at=at + timedelta(hours=1))
    other = CustomerEventFactory(customer=bo, type="page_view", source="web", at=at + timedelta(hours=2))
    client = client_as("marketing")
    assert _rows(client.get(LIST)) == [other.pk, viewed.pk, signed.pk]
    assert _rows(client.get(LIST, {"customer": ana.pk})) == [viewed.pk, signed.pk]
    assert _rows(client.get(LIST, {"type": "page_view", "source": "web"})) == [other.pk]
    window = {"at_after": "2026-03-07T10:30", "at_before": "2026-03-07T11:30"}  # local times, as the form sends
    assert _rows(client.get(LIST, window)) == [viewed.pk]

    partial = client.get(LIST, {"type": "signed_up"}, HTTP_HX_REQUEST="true")
    assert _rows(partial) == [signed.pk]
    assert "<html" not in partial.content.decode() and 'data-testid="event-row"' in partial.content.decode()
    assert partial["Vary"].count("HX-Request") == 1

    bad = client.get(LIST, {"customer": "abc"})
    assert bad.status_code == 200 and 'data-field="customer"' in bad.content.decode()
    assert _rows(bad) == [other.pk, viewed.pk, signed.pk]  # the whole list, with the filter's error shown


def test_the_page_walks_forward_and_back_without_repeats(client_as):
    customer = CustomerFactory()
    made = [CustomerEventFactory(customer=customer, at=NOW - timedelta(minutes=i // 2)) for i in range(7)]
    client = client_as("marketing")
    first = client.get(LIST, {"size": 3})
    second = client.get(first.context["next_url"])
    third = client.get(second.context["next_url"])
    expected = [e.pk for e in sorted(made, key=lambda e: (e.at, e.pk), reverse=True)]
    assert _rows(first) + _rows(second) + _rows(third) == expected
    assert not third.context["next_url"]
    assert _rows(client.get(second.context["previous_url"])) == _rows(first)


@pytest.mark.parametrize("n", [1, 30])
def test_the_page_queries_do_not_grow(client_as, django_assert_max_num_queries, n):
    client = client_as("marketing")
    CustomerEventFactory.create_batch(n)
    # session, user, groups, unread notifications, rows with their customers
    with django_assert_max_num_queries(6):
        response = client.get(LIST)
    assert len(_rows(response)) == n


# ---------------------------------------------------------------- admin


def test_the_admin_lists_and_searches_events_and_windows_but_never_writes_them(client_as):
    customer = CustomerFactory(name="Sun Li")
    recorded = services.record_event(
        by=make_user("marketing"), customer=customer, type="signed_up", at=NOW - timedelta(hours=1), source="web"
    )
    CustomerEventFactory(customer=CustomerFactory(name="Somebody Else"))
    client = client_as("marketing_manager")
    for name in ("customerevent", "activationwindow"):
        changelist = reverse(f"admin:marketing_{name}_changelist")
        found = client.get(changelist, {"q": "Sun Li"})
        assert found.status_code == 200
        assert len(found.context["cl"].result_list) == 1
        assert client.get(reverse(f"admin:marketing_{name}_add")).status_code == 403
    event_page = client.get(reverse("admin:marketing_customerevent_change", args=[recorded.event.pk]))
    assert event_page.status_code == 200
    client.post(
        reverse("admin:marketing_customerevent_change", args=[recorded.event.pk]),
        {"type": "purchase", "source": "hacked"},
    )
    assert CustomerEvent.objects.get(pk=recorded.event.pk).type == "signed_up"
    assert ActivationWindow.objects.count() == 1


@pytest.mark.parametrize("role", ["sales", "service", "admin"])
def test_every_department_views_the_event_admin(client_as, role):
    CustomerEventFactory()
    assert client_as(role).get(reverse("admin:marketing_customerevent_changelist")).status_code == 200
