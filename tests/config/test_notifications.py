"""The bell and the inbox: unread notifications grouped by kind, opening one marks it read and follows its link on
this site only, mark-all-read per kind, and alert emails batched into one digest per person."""

import pytest
from django.core import mail
from django.urls import reverse

from config import notifications
from config.models import Notification
from tests.factories import NotificationFactory, make_user

pytestmark = pytest.mark.django_db


def _make(user, kind, n, url="/leads/"):
    return [NotificationFactory(recipient=user, kind=kind, message=f"{kind} #{i}", url=url) for i in range(n)]


# --- grouped by kind ------------------------------------------------------------------------------------------


def test_the_bell_menu_groups_unread_by_kind_with_the_newest_few(client_as):
    client = client_as("sales")
    handoffs = _make(client.user, "leads.sla.handoff", 5)
    assigned = _make(client.user, "leads.assigned", 2)
    NotificationFactory(recipient=client.user, kind="leads.assigned", read_at="2026-01-01T00:00Z")  # read
    _make(make_user("sales"), "leads.sla.handoff", 4)  # someone else's

    response = client.get(reverse("notifications-menu"))
    groups = response.context["groups"]
    # The kind with the newest notification first, each with its count and its 3 newest, newest first.
    assert [(g.kind, g.label, g.count) for g in groups] == [
        ("leads.assigned", "Lead assigned", 2),
        ("leads.sla.handoff", "Handoff past its accept SLA", 5),
    ]
    assert [n.pk for n in groups[0].latest] == [assigned[1].pk, assigned[0].pk]
    assert [n.pk for n in groups[1].latest] == [handoffs[4].pk, handoffs[3].pk, handoffs[2].pk]
    html = response.content.decode()
    assert "Handoff past its accept SLA" in html and f'href="/notifications/{handoffs[4].pk}/open/"' in html
    assert f"/notifications/{handoffs[1].pk}/open/" not in html  # only the newest few
    assert 'href="/notifications/?kind=leads.sla.handoff"' in html


def test_a_kind_nobody_named_shows_as_its_code(client_as):
    client = client_as("sales")
    _make(client.user, "custom.thing", 1)
    assert [g.label for g in client.get(reverse("notifications-menu")).context["groups"]] == ["custom.thing"]


def test_the_inbox_groups_unread_by_kind_and_filters_by_kind(client_as):
    client = client_as("service")
    breaches = _make(client.user, "feedback.complaint_resolution_breach", 2)
    insights = _make(client.user, "feedback.insight", 1)
    html = client.get(reverse("notifications")).content.decode()
    assert 'data-kind="feedback.complaint_resolution_breach"' in html and 'data-kind="feedback.insight"' in html
    assert html.count('data-testid="unread-count">3<') == 1  # the bell counts from the same query

    response = client.get(reverse("notifications"), {"kind": "feedback.insight"})
    assert [n.pk for n in response.context["page"]] == [insights[0].pk]
    assert "Insight from service" in response.content.decode()
    assert len(response.context["groups"]) == 2  # the unread summary still shows every kind
    assert all(f"/notifications/{n.pk}/open/" not in response.content.decode().split("<h2>")[-1] for n in breaches)


def test_mark_all_read_of_one_kind(client_as):
    client = client_as("sales")
    handoffs = _make(client.user, "leads.sla.handoff", 3)
    assigned = _make(client.user, "leads.assigned", 2)
    theirs = _make(make_user("sales"), "leads.sla.handoff", 1)
    response = client.post(reverse("notifications-read"), {"kind": "leads.sla.handoff", "next": "/notifications/"})
    assert response.status_code == 302 and response.url == "/notifications/"
    unread = set(Notification.objects.filter(read_at__isnull=True).values_list("pk", flat=True))
    assert unread == {n.pk for n in [*assigned, *theirs]}
    assert not unread & {n.pk for n in handoffs}
    assert 'data-testid="unread-count">2<' in client.get("/").content.decode()


@pytest.mark.parametrize("role", ["marketing", "service_manager", "admin"])
def test_every_role_has_a_bell_and_an_inbox(client_as, role):
    client = client_as(role)
    _make(client.user, "leads.high_intent", 1)
    assert 'data-testid="unread-count">1<' in client.get("/").content.decode()
    assert client.get(reverse("notifications")).status_code == 200
    assert client.get(reverse("notifications-menu")).status_code == 200


def test_anonymous_is_sent_to_login(client):
    for url in (reverse("notifications-menu"), reverse("notification-open", args=[1])):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


# --- opening one ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_opening_a_notification_marks_it_read_and_follows_its_link(client_as, method):
    client = client_as("sales")
    notification, other = _make(client.user, "leads.assigned", 2, url="/leads/42/")
    response = getattr(client, method)(reverse("notification-open", args=[notification.pk]))
    assert (response.status_code, response.url) == (302, "/leads/42/")
    notification.refresh_from_db()
    other.refresh_from_db()
    assert notification.read_at is not None and other.read_at is None
    first_read = notification.read_at
    client.get(reverse("notification-open", args=[notification.pk]))  # again: still read, same time
    notification.refresh_from_db()
    assert notification.read_at == first_read


@pytest.mark.parametrize("url", ["https://evil.example/phish", "//evil.example/", "http:evil.example", ""])
def test_opening_never_leaves_the_site(client_as, url):
    client = client_as("sales")
    notification = NotificationFactory(recipient=client.user, url=url)
    response = client.get(reverse("notification-open", args=[notification.pk]))
    assert (response.status_code, response.url) == (302, reverse("notifications"))
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_someone_elses_notification_is_a_404_and_stays_unread(client_as):
    theirs = NotificationFactory(recipient=make_user("sales"), url="/leads/1/")
    client = client_as("sales_manager")
    assert client.get(reverse("notification-open", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("notification-open", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_inbox_links_through_the_open_view(client_as):
    client = client_as("sales")
    (notification,) = _make(client.user, "leads.assigned", 1, url="/leads/7/")
    html = client.get(reverse("notifications")).content.decode()
    assert f'href="/notifications/{notification.pk}/open/"' in html and 'href="/leads/7/"' not in html


# --- a fixed number of queries --------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 30])
def test_bell_menu_and_inbox_queries_do_not_grow(client_as, django_assert_max_num_queries, n):
    client = client_as("sales")
    for kind in ("leads.sla.handoff", "leads.assigned", "feedback.insight", "custom"):
        _make(client.user, kind, n)
    # session, user, groups (the navigation), the unread by kind (also the bell's count)
    with django_assert_max_num_queries(4):
        assert client.get(reverse("notifications-menu")).status_code == 200
    # ... plus the page of rows
    with django_assert_max_num_queries(5):
        assert client.get(reverse("notifications"), {"kind": "leads.assigned"}).status_code == 200


# --- the digest email -----------------------------------------------------------------------------------------


def test_several_alerts_reach_a_person_as_one_email_grouped_by_kind(settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.RELAY_SURVEY_BASE_URL = "https://relay.example"
    seller, manager = make_user("sales", email="s@example.com"), make_user("sales_manager", email="m@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(3):
            notifications.notify(
                recipients=[seller, manager],
                kind="leads.sla.handoff",
                message=f"Lead #{i} has waited.",
                url=f"/leads/{i}/",
                dedupe_key=f"sla.{i}",
            )
        notifications.notify(recipients=[seller], kind="leads.assigned", message="Lead #9 is yours.", url="/leads/9/")
        notifications.notify(recipients=[manager], kind="feedback.insight", message="An insight.")
    assert sorted(m.to[0] for m in mail.outbox) == ["m@example.com", "s@example.com"]  # one email each
    seller_mail = next(m for m in mail.outbox if m.to == ["s@example.com"])
    assert seller_mail.subject == "4 new Relay notifications"
    sections = seller_mail.body.split("\n\n")
    assert [s.splitlines()[0] for s in sections] == ["Handoff past its accept SLA (3)", "Lead assigned (1)"]
    assert "- Lead #2 has waited." in sections[0] and "- Lead #9 is yours." in sections[1]
    opened = Notification.objects.get(recipient=seller, kind="leads.assigned")
    assert f"https://relay.example/notifications/{opened.pk}/open/" in sections[1]  # following it marks it read
    manager_mail = next(m for m in mail.outbox if m.to == ["m@example.com"])
    assert "Insight from service (1)\n- An insight." in manager_mail.body
    mail.outbox.clear()
    assert notifications.email_pending() == 0 and not mail.outbox  # nothing twice
