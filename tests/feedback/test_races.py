import pytest

from feedback import services
from feedback.errors import InvalidTransition
from feedback.models import Complaint
from tests.factories import CustomerFactory, make_user
from tests.races import at_once


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_racing_transitions_apply_once():
    owner = make_user("service")
    complaint = services.create_complaint(
        by=owner, owner=owner, customer=CustomerFactory(), category="product", description="x"
    )

    def move():
        services.transition_complaint(complaint=complaint, by=owner, status="in_progress")
        return "ok"

    outcomes = ["refused" if isinstance(o, InvalidTransition) else o for o in at_once(move, move)]
    assert sorted(outcomes) == ["ok", "refused"]
    assert Complaint.objects.get().status_changes.filter(to_status="in_progress").count() == 1
