"""complaint.opened, complaint.resolved and nps.received are published once, where they happen."""

import pytest

from feedback import services
from tests.factories import CustomerFactory, NpsInvitationFactory, make_user
from tests.webhook_events import endpoints_for, sent

pytestmark = pytest.mark.django_db


def _complaint(by):
    return services.create_complaint(
        by=by, customer=CustomerFactory(), category="product", severity="high", description="It broke."
    )


def test_logging_a_complaint_publishes_complaint_opened():
    agent = make_user("service")
    wanted, others = endpoints_for("complaint.opened")
    complaint = _complaint(agent)
    [(event_type, data)] = sent(wanted)
    assert event_type == "complaint.opened"
    assert (data["complaint"], data["customer"], data["severity"], data["by"]) == (
        complaint.pk,
        complaint.customer_id,
        "high",
        agent.pk,
    )
    assert sent(others, "complaint.opened") == []


def test_resolving_publishes_complaint_resolved_each_time_it_is_resolved():
    agent = make_user("service")
    complaint = _complaint(agent)
    wanted, others = endpoints_for("complaint.resolved")
    services.transition_complaint(complaint=complaint, by=agent, status="in_progress")
    assert sent(wanted) == []
    services.transition_complaint(complaint=complaint, by=agent, status="resolved", resolution="Replaced it.")
    [(event_type, data)] = sent(wanted)
    assert (event_type, data["complaint"], data["by"]) == ("complaint.resolved", complaint.pk, agent.pk)
    services.transition_complaint(complaint=complaint, by=agent, status="open")
    services.transition_complaint(complaint=complaint, by=agent, status="in_progress")
    services.transition_complaint(complaint=complaint, by=agent, status="resolved", resolution="Refunded.")
    assert len(sent(wanted)) == 2
    assert sent(others, "complaint.resolved") == []


def test_an_nps_answer_entered_by_staff_publishes_nps_received():
    agent, customer = make_user("service"), CustomerFactory()
    wanted, others = endpoints_for("nps.received")
    response = services.record_nps_response(by=agent, customer=customer, score=3)
    [(event_type, data)] = sent(wanted)
    assert event_type == "nps.received"
    assert (data["response"], data["customer"], data["score"], data["category"]) == (
        response.pk,
        customer.pk,
        3,
        "detractor",
    )
    assert sent(others, "nps.received") == []


def test_a_survey_answer_publishes_nps_received():
    invitation = NpsInvitationFactory()
    wanted, _others = endpoints_for("nps.received")
    response = services.answer_survey(token=invitation.token, score=10)
    [(event_type, data)] = sent(wanted)
    assert (event_type, data["response"], data["category"], data["source"]) == (
        "nps.received",
        response.pk,
        "promoter",
        "survey",
    )
