"""Membership and tiers: through orders and cancellations (API), the nightly recompute (task), a member card, the
`tier.changed` event (webhooks, journeys) and the thresholds admins edit (admin). Default thresholds: member 0,
silver 5,000, gold 20,000, platinum 50,000 of trailing-12-month spend."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.urls import reverse

from config import events
from config.models import OutboxMessage
from customers import loyalty, tasks
from customers.models import Customer, IdentityKind, LoyaltyTier
from marketing.journeys import audience_filter
from marketing.models import Enrolment
from tests.customers.loyalty_support import NOW, at, cancel, frozen_clock, place
from tests.factories import CustomerFactory, CustomerIdentityFactory, OrderFactory, make_user
from tests.marketing.journey_support import live_journey
from tests.webhook_events import endpoints_for, sent

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(settings):
    yield from frozen_clock(settings)


def tier(customer) -> tuple[str, object]:
    customer.refresh_from_db()
    return customer.loyalty_tier, customer.member_since


@pytest.fixture
def heard(monkeypatch):
    """Every `tier.changed` published, as (customer, tier, previous)."""
    found = []

    def listen(customer, tier, previous, at):
        found.append((customer, tier, previous))

    monkeypatch.setitem(events._subscribers, "tier.changed", [*events.subscribers("tier.changed"), listen])
    return found


def test_orders_make_a_member_and_move_the_tier(clock, api_as, heard):
    sales = api_as("sales")
    customer = CustomerFactory()
    assert tier(customer) == ("", None)
    place(sales, customer, "1200.00", at("2025-11-20 15:00"))
    assert tier(customer) == ("member", at("2025-11-20 15:00"))  # member since the first order
    big = place(sales, customer, "3800.00", at("2026-03-09 11:00"))
    assert tier(customer) == ("silver", at("2025-11-20 15:00"))  # 1,200 + 3,800 = 5,000 reaches silver
    cancel(sales, big["id"])
    assert tier(customer) == ("member", at("2025-11-20 15:00"))  # 1,200 again
    assert heard == [(customer.pk, "member", ""), (customer.pk, "silver", "member"), (customer.pk, "member", "silver")]


def test_the_nightly_recompute_drops_spend_older_than_twelve_months(clock, heard):
    gold, old, card_holder, nobody = (CustomerFactory(name=n) for n in ("Gold", "Old", "Card", "Nobody"))
    OrderFactory(customer=gold, amount="15000.00", ordered_at=at("2025-03-10 10:00"))  # exactly 12 months: counts
    OrderFactory(customer=gold, amount="5000.00", ordered_at=at("2026-01-05 10:00"))
    OrderFactory(customer=old, amount="60000.00", ordered_at=at("2025-03-10 09:59"))  # just outside
    OrderFactory(customer=old, amount="10.00", ordered_at=at("2026-02-01 10:00"), cancelled_at=NOW)
    card = CustomerIdentityFactory(customer=card_holder, kind=IdentityKind.MEMBER_CARD, value="VIP-0042")
    assert tasks.recompute_tiers() == 3
    assert tier(gold) == ("gold", at("2025-03-10 10:00"))  # 15,000 + 5,000 = 20,000
    assert tier(old) == ("member", at("2025-03-10 09:59"))  # 0 in the window; the cancelled order counts nowhere
    assert tier(card_holder) == ("member", card.created_at)
    assert tier(nobody) == ("", None)
    assert sorted(heard) == sorted([(gold.pk, "gold", ""), (old.pk, "member", ""), (card_holder.pk, "member", "")])
    assert tasks.recompute_tiers() == 0  # nothing moved: nothing written, nothing published
    assert len(heard) == 3


def test_platinum_and_back_down_as_the_window_moves(clock):
    customer = CustomerFactory()
    OrderFactory(customer=customer, amount="50000.00", ordered_at=at("2025-12-01 10:00"))
    assert loyalty.recompute_tiers([customer.pk]) == [(customer.pk, "platinum", "")]
    assert loyalty.recompute_tiers([customer.pk], now=at("2026-12-01 10:00")) == []  # still inside
    later = at("2026-12-01 10:01")
    assert loyalty.recompute_tiers([customer.pk], now=later) == [(customer.pk, "member", "platinum")]
    assert tier(customer) == ("member", at("2025-12-01 10:00"))  # still a member: the order is theirs


def test_a_customer_whose_only_order_is_cancelled_is_no_member(clock, api_as):
    sales = api_as("sales")
    customer = CustomerFactory()
    order = place(sales, customer, "20.00", at("2026-03-01 10:00"))
    cancel(sales, order["id"])
    assert tier(customer) == ("", None)


def test_tier_changed_reaches_webhooks_with_its_data(clock):
    wanted, others = endpoints_for("tier.changed")
    customer = CustomerFactory()
    OrderFactory(customer=customer, amount="25000.00", ordered_at=at("2026-03-01 10:00"))
    loyalty.recompute_tiers([customer.pk])
    assert sent(wanted) == [
        ("tier.changed", {"customer": customer.pk, "tier": "gold", "previous": "", "at": "2026-03-10T02:00:00Z"})
    ]
    assert sent(others) == []


def test_a_journey_hears_tier_changes_and_its_audience_filters_by_tier(clock):
    gold_journey = live_journey(
        [{"kind": "wait", "hours": 1}], trigger={"type": "tier.changed"}, audience={"tier": "gold"}
    )
    gold, silver = CustomerFactory(name="Gold"), CustomerFactory(name="Silver")
    OrderFactory(customer=gold, amount="20000.00", ordered_at=at("2026-03-01 10:00"))
    OrderFactory(customer=silver, amount="5000.00", ordered_at=at("2026-03-01 10:00"))
    loyalty.recompute_tiers(None)
    assert list(Enrolment.objects.filter(journey=gold_journey).values_list("customer__name", flat=True)) == ["Gold"]
    in_audience = Customer.objects.filter(audience_filter({"tier": ["silver", "gold"]}))
    assert sorted(in_audience.values_list("name", flat=True)) == ["Gold", "Silver"]


def test_an_unknown_tier_in_a_journey_is_refused_naming_it(api_as):
    response = api_as("marketing").post(
        "/api/v1/journeys/",
        {
            "name": "Diamond club",
            "trigger": {"type": "tier.changed", "tier": "diamond"},
            "steps": [{"kind": "wait", "hours": 1}],
        },
        format="json",
    )
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "trigger.tier"
    response = api_as("marketing").post(
        "/api/v1/journeys/",
        {
            "name": "Diamond club",
            "trigger": {"type": "signed_up"},
            "audience": {"tier": ["gold", "diamond"]},
            "steps": [{"kind": "wait", "hours": 1}],
        },
        format="json",
    )
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "audience.tier[1]"


# --- thresholds (admins, in the admin) ---------------------------------------------------------------------------


def _edit(client, code: str, threshold: str):
    tier = LoyaltyTier.objects.get(code=code)
    return client.post(reverse("admin:customers_loyaltytier_change", args=[tier.pk]), {"threshold": threshold})


def test_an_admin_moves_a_threshold_and_everyone_is_recomputed(client_as, django_capture_on_commit_callbacks, clock):
    customer = CustomerFactory()
    OrderFactory(customer=customer, amount="5500.00", ordered_at=at("2026-03-01 10:00"))
    loyalty.recompute_tiers(None)
    assert tier(customer)[0] == "silver"
    client = client_as("admin")
    with django_capture_on_commit_callbacks(execute=True):
        response = _edit(client, "silver", "6000")
    assert response.status_code == 302
    assert LoyaltyTier.objects.get(code="silver").threshold == Decimal("6000.00")
    assert tier(customer)[0] == "member"  # the queued recompute ran (tasks run inline in tests)
    assert OutboxMessage.objects.filter(task="customers.tasks.recompute_tiers").count() == 1


@pytest.mark.parametrize(
    ("code", "threshold", "message"),
    [
        ("silver", "0", "above Member"),
        ("gold", "5000", "above Silver"),
        ("gold", "50000", "below Platinum"),
        ("member", "10", "starts at 0"),
        ("gold", "-1", "negative"),
    ],
)
def test_a_threshold_out_of_order_is_a_form_error_on_threshold(client_as, code, threshold, message):
    before = dict(LoyaltyTier.objects.values_list("code", "threshold"))
    response = _edit(client_as("admin"), code, threshold)
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors["threshold"])
    assert dict(LoyaltyTier.objects.values_list("code", "threshold")) == before


@pytest.mark.parametrize("role", ["sales_manager", "marketing_manager", "service_manager", "sales"])
def test_only_admins_edit_thresholds(client_as, role):
    client = client_as(role)
    silver = LoyaltyTier.objects.get(code="silver")
    page = client.get(reverse("admin:customers_loyaltytier_change", args=[silver.pk]))
    assert page.status_code in (200, 403)
    if page.status_code == 200:
        assert 'name="threshold"' not in page.content.decode()  # read-only
    assert _edit(client, "silver", "7000").status_code == 403
    assert LoyaltyTier.objects.get(code="silver").threshold == Decimal("5000.00")
    with pytest.raises(PermissionDenied):
        loyalty.set_tier_threshold(tier=silver, threshold="7000", by=make_user(role))


@pytest.mark.django_db(transaction=True)
def test_a_missing_tier_comes_back_after_migrate_and_flush_keeping_edited_thresholds():
    LoyaltyTier.objects.filter(code="gold").update(threshold=Decimal("25000"))
    LoyaltyTier.objects.filter(code="platinum").delete()
    call_command("migrate", verbosity=0)
    assert dict(LoyaltyTier.objects.values_list("code", "threshold")) == {
        "member": Decimal("0"),
        "silver": Decimal("5000"),
        "gold": Decimal("25000"),
        "platinum": Decimal("50000"),
    }
    call_command("flush", interactive=False, verbosity=0)  # as between transactional tests
    assert LoyaltyTier.objects.get(code="gold").threshold == Decimal("20000")
