"""The activation window (DESIGN.md "Activation window", Metrics `activation_rate`): a sign-up opens a window of
RELAY_ACTIVATION_WINDOW_HOURS, an `activated` event inside it closes it, and the beat raises `activation.missed`
exactly once per sign-up that passed its window unactivated."""

from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from config import events
from config.models import Notification
from customers.models import TeamRole
from marketing import services, tasks
from marketing.models import ActivationWindow
from tests.factories import AccountTeamMemberFactory, ChannelFactory, CustomerFactory, make_user
from tests.webhook_events import endpoints_for, sent

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")
URL = "/api/v1/events/"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _post(api, customer, type_: str, at: datetime):
    response = api.post(
        URL, {"customer": customer.pk, "type": type_, "at": at.isoformat(), "source": "web"}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_sign_up_opens_a_window_that_an_activation_inside_it_closes(api_as, settings):
    settings.RELAY_ACTIVATION_WINDOW_HOURS = 48
    api = api_as("marketing")
    early, late = CustomerFactory(), CustomerFactory()
    signed = NOW - timedelta(days=5)
    _post(api, early, "signed_up", signed)
    _post(api, late, "signed_up", signed)
    _post(api, early, "activated", signed + timedelta(hours=47, minutes=59))
    _post(api, late, "activated", signed + timedelta(hours=48, minutes=1))  # a minute too late

    windows = {w.customer_id: w for w in ActivationWindow.objects.all()}
    assert windows[early.pk].due_at == signed + timedelta(hours=48)
    assert windows[early.pk].activated_at == signed + timedelta(hours=47, minutes=59)
    assert windows[late.pk].activated_at is None


def test_an_activation_that_arrives_before_its_sign_up_still_counts(api_as):
    api = api_as("marketing")
    customer = CustomerFactory()
    signed = NOW - timedelta(days=2)
    _post(api, customer, "activated", signed + timedelta(hours=3))  # the feeds are not in order
    _post(api, customer, "activated", signed - timedelta(hours=1))  # before the sign-up: not this window's
    _post(api, customer, "signed_up", signed)
    assert ActivationWindow.objects.get().activated_at == signed + timedelta(hours=3)


def test_the_beat_raises_activation_missed_once_per_missed_sign_up(api_as, monkeypatch):
    heard = []
    monkeypatch.setitem(events._subscribers, "activation.missed", [lambda **data: heard.append(data)])
    wanted, others = endpoints_for("activation.missed")
    manager, marketer = make_user("marketing_manager"), make_user("marketing")
    make_user("sales_manager")
    api = api_as("marketing", user=marketer)
    missed, activated, pending = CustomerFactory(name="Missed Ma"), CustomerFactory(), CustomerFactory()
    AccountTeamMemberFactory(customer=missed, user=marketer, role=TeamRole.MARKETING)
    _post(api, missed, "signed_up", NOW - timedelta(hours=73))
    _post(api, activated, "signed_up", NOW - timedelta(hours=80))
    _post(api, activated, "activated", NOW - timedelta(hours=79))
    _post(api, pending, "signed_up", NOW - timedelta(hours=71))  # still inside its window

    tasks.raise_missed_activations.delay()
    tasks.raise_missed_activations.delay()  # a second run raises nothing again

    window = ActivationWindow.objects.get(customer=missed)
    assert window.missed_at == NOW
    assert ActivationWindow.objects.filter(missed_at__isnull=False).count() == 1
    assert heard == [{"customer": missed.pk, "signed_up_at": window.signed_up_at, "window": window.pk}]
    assert [data["window"] for _type, data in sent(wanted)] == [window.pk]
    assert all(t != "activation.missed" for t, _data in sent(others))
    alerts = Notification.objects.filter(kind="marketing.activation_missed")
    assert sorted(alerts.values_list("recipient_id", flat=True)) == sorted([manager.pk, marketer.pk])
    assert "Missed Ma" in alerts.first().message and "72 hours" in alerts.first().message

    # Its window passes later: the next run raises it, and only it.
    services.raise_missed_activations(now=NOW + timedelta(hours=2))
    assert [data["customer"] for data in heard] == [missed.pk, pending.pk]


def test_missed_activations_show_on_the_customer_timeline(client_as, api_as):
    customer = CustomerFactory()
    _post(api_as("marketing"), customer, "signed_up", NOW - timedelta(hours=100))
    services.raise_missed_activations()
    page = client_as("service").get(f"/customers/{customer.pk}/").content.decode()
    assert "Signed up (from web)" in page
    assert "Did not activate within the activation window" in page


# ---------------------------------------------------------------- the metric

START, END = date(2026, 3, 1), date(2026, 3, 8)


@pytest.fixture
def metric(api_as):
    api = api_as("marketing_manager")

    def get(name, start, end, **filters):
        response = api.get(f"/api/v1/metrics/{name}/", {"start": start.isoformat(), "end": end.isoformat(), **filters})
        assert response.status_code == 200, response.content
        return response.json()

    return get


def _local(day: int, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime(2026, 3, day, hour))


def test_activation_rate_is_the_share_of_the_periods_sign_ups_activated_in_their_window(api_as, metric):
    web = ChannelFactory(code="web")
    api = api_as("marketing")
    a, b, c, d, e, f = (CustomerFactory() for _ in range(6))
    a.source_channel = web
    a.save()
    _post(api, a, "signed_up", _local(1, 0))  # the period's first moment
    _post(api, a, "activated", _local(2))  # activated inside the window: counts
    _post(api, b, "signed_up", _local(2))
    _post(api, b, "activated", _local(6))  # 96 hours later: outside the window
    _post(api, c, "signed_up", _local(3))  # never activated
    _post(api, d, "signed_up", _local(1, 0) - timedelta(minutes=1))  # signed up before the period
    _post(api, d, "activated", _local(1, 6))
    _post(api, e, "signed_up", _local(8, 0))  # the period's end is exclusive
    _post(api, f, "signed_up", _local(4))  # signed up twice, one activation: one customer, activated
    _post(api, f, "signed_up", _local(5))
    _post(api, f, "activated", _local(5, 18))

    body = metric("activation_rate", START, END)
    # signed up in the period: a, b, c, f = 4 customers; activated in a window: a, f = 2
    assert body == {
        "metric": "activation_rate",
        "start": "2026-03-01",
        "end": "2026-03-08",
        "value": 0.5,
        "signed_up": 4,
        "activated": 2,
        "sample_size": 4,
    }
    assert metric("activation_rate", START, END, channel="web")["value"] == 1.0


def test_activation_rate_is_null_when_nobody_signed_up(api_as, metric):
    customer = CustomerFactory()
    _post(api_as("marketing"), customer, "activated", _local(2))
    body = metric("activation_rate", START, END)
    assert (body["value"], body["signed_up"]) == (None, 0)
