import threading

import pytest
from django.db import connection

from feedback import services
from feedback.errors import InvalidTransition
from feedback.models import Complaint
from tests.factories import CustomerFactory, make_user


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_racing_transitions_apply_once():
    owner = make_user("service")
    complaint = services.create_complaint(
        by=owner, owner=owner, customer=CustomerFactory(), category="product", description="x"
    )
    barrier, outcomes = threading.Barrier(2), []

    def move():
        try:
            barrier.wait()
            services.transition_complaint(complaint=complaint, by=owner, status="in_progress")
            outcomes.append("ok")
        except InvalidTransition:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=move) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert Complaint.objects.get().status_changes.filter(to_status="in_progress").count() == 1
