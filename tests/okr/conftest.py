from datetime import date, datetime, time

import pytest
from django.utils import timezone

from leads.stages import Stage
from tests.factories import LeadFactory, LeadStageChangeFactory


def at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """An aware local datetime (the metrics' periods are local dates)."""
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def history(*steps, lead=None, **lead_kwargs):
    """`history((None, "new", t0), ("new", "handed_off", t1), ...)` → a lead with those stage changes."""
    lead = lead or LeadFactory(**lead_kwargs)
    for from_stage, to_stage, when in steps:
        LeadStageChangeFactory(lead=lead, from_stage=from_stage or "", to_stage=to_stage, at=when)
    last = steps[-1][1] if steps else Stage.NEW
    type(lead).objects.filter(pk=lead.pk).update(stage=last)
    return lead


@pytest.fixture
def metric(api_as):
    """`metric("close_rate", date(...), date(...), channel="web")` → the API's JSON body (asserting 200)."""
    api = api_as("marketing")

    def get(name, start, end, **filters):
        params = {"start": start.isoformat(), "end": end.isoformat(), **filters}
        response = api.get(f"/api/v1/metrics/{name}/", params)
        assert response.status_code == 200, response.content
        return response.json()

    return get
