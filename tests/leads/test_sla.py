"""SLA alerts (Celery beat): each breach notifies the owner (or the sales managers) and the sales managers once."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from config.models import Notification
from leads import services, tasks
from leads.stages import Stage
from tests.factories import lead_through, make_user
from tests.races import each_at_once

HOURS = timedelta(hours=1)


def _recipients(kind):
    return sorted(Notification.objects.filter(kind=kind).values_list("recipient_id", flat=True))


@pytest.mark.django_db
@override_settings(RELAY_HANDOFF_SLA_HOURS=24, RELAY_CONTACT_SLA_HOURS=72)
def test_each_breach_notifies_once_even_when_the_check_runs_twice(mailoutbox, django_capture_on_commit_callbacks):
    manager, owner = make_user("sales_manager"), make_user("sales")
    now = timezone.now()
    late_handoff = lead_through(Stage.HANDED_OFF, owner=owner, now=now - 25 * HOURS)
    lead_through(Stage.HANDED_OFF, owner=owner, now=now - 23 * HOURS)  # not yet
    pool_lead = lead_through(Stage.HANDED_OFF, pool=True, now=now - 30 * HOURS)
    late_contact = lead_through(Stage.ACCEPTED, owner=owner, now=now - 73 * HOURS)
    lead_through(Stage.CONTACTED, owner=owner, now=now - 100 * HOURS)  # contacted in time: no alert

    with django_capture_on_commit_callbacks(execute=True):
        first = tasks.check_lead_slas.delay().get()
    with django_capture_on_commit_callbacks(execute=True):
        second = tasks.check_lead_slas.delay().get()
    assert (first, second) == (5, 0)
    handoff = Notification.objects.filter(kind="leads.sla.handoff")
    assert sorted(handoff.values_list("recipient_id", "dedupe_key")) == sorted(
        [
            (owner.pk, f"leads.sla.handoff.{late_handoff.pk}.{late_handoff.handed_off_at.isoformat()}"),
            (manager.pk, f"leads.sla.handoff.{late_handoff.pk}.{late_handoff.handed_off_at.isoformat()}"),
            (manager.pk, f"leads.sla.handoff.{pool_lead.pk}.{pool_lead.handed_off_at.isoformat()}"),
        ]
    )
    assert _recipients("leads.sla.contact") == sorted([owner.pk, manager.pk])
    assert Notification.objects.get(kind="leads.sla.contact", recipient=owner).url == f"/leads/{late_contact.pk}/"
    assert len([m for m in mailoutbox if "Lead #" in m.body or "Lead #" in m.subject]) >= 1


@pytest.mark.django_db
def test_a_new_handoff_after_a_rejection_is_a_new_breach():
    make_user("sales_manager")
    marketer, owner = make_user("marketing"), make_user("sales")
    now = timezone.now()
    lead = lead_through(Stage.HANDED_OFF, marketer=marketer, owner=owner, now=now - 30 * HOURS)
    assert services.check_lead_slas() == 2
    lead = services.reject_lead(lead=lead, by=owner, reason="no_need", now=now - 29 * HOURS)
    services.handoff_lead(lead=lead, by=marketer, assignee=owner, now=now - 26 * HOURS)
    assert services.check_lead_slas() == 2
    assert services.check_lead_slas() == 0


@pytest.mark.django_db
def test_decided_leads_raise_nothing():
    make_user("sales_manager")
    lead_through(Stage.ACCEPTED, now=timezone.now() - 30 * HOURS)
    lead_through(Stage.WON, now=timezone.now() - 300 * HOURS)
    assert services.check_lead_slas() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_checks_notify_once(mailoutbox):
    manager, owner = make_user("sales_manager"), make_user("sales")
    leads = [lead_through(Stage.HANDED_OFF, owner=owner, now=timezone.now() - 30 * HOURS) for _ in range(5)]
    results = each_at_once(lambda i: services.check_lead_slas(), n=4)
    assert not [r for r in results if isinstance(r, Exception)], results
    # (notify()'s return value may count a row another worker made; the rows and emails are what must be exact.)
    assert Notification.objects.filter(kind="leads.sla.handoff").count() == 10
    for lead in leads:
        assert Notification.objects.filter(kind="leads.sla.handoff", url=f"/leads/{lead.pk}/").count() == 2
    assert Notification.objects.filter(kind="leads.sla.handoff", recipient=manager).count() == 5
    # Emails are batched per person; across the racing checks each notification is emailed exactly once.
    for notification in Notification.objects.filter(kind="leads.sla.handoff").select_related("recipient"):
        to_them = [m.body for m in mailoutbox if m.to == [notification.recipient.email]]
        assert sum(body.count(notification.message) for body in to_them) == 1
