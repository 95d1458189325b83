import threading

import pytest

from customers import services
from customers.models import Customer, CustomerIdentity, Order
from tests.factories import CustomerFactory, make_user
from tests.races import race


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_intakes_of_the_same_phone_make_one_customer():
    results, errors = race(lambda: services.resolve_customer(contact={"name": "Li", "phone": "13812345678"}, by=None))
    assert not errors
    assert Customer.objects.count() == 1 and CustomerIdentity.objects.count() == 1
    assert sorted(matched for _customer, matched in results) == [False, True]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_resent_order_races_into_one_row():
    from django.utils import timezone

    customer = CustomerFactory()
    at = timezone.now()
    results, errors = race(
        lambda: (
            services.place_order(customer=customer, amount="5", ordered_at=at, channel=None, external_id="X-1").order
        )
    )
    assert not errors and Order.objects.count() == 1
    assert len({order.pk for order in results}) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_crossed_merges_do_not_both_apply():
    a, b = CustomerFactory(), CustomerFactory()
    manager = make_user("sales_manager")
    pairs = iter([(a, b), (b, a)])
    lock = threading.Lock()

    def merge():
        with lock:
            survivor, duplicate = next(pairs)
        return services.merge_customers(survivor=survivor, duplicate=duplicate, by=manager)

    results, errors = race(merge)
    assert len(results) == 1 and len(errors) == 1
    assert Customer.objects.filter(merged_into__isnull=True).count() == 1
