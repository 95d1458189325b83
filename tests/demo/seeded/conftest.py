"""The tests of this package read one demo, seeded once (seeding is the slow part): in a transaction rolled back
after the package's last test, each test in a savepoint inside it (pytest-django's `db`), so what one test writes
is gone before the next. The package runs in one test process (tests/conftest.py), so it is seeded once."""

import pytest
from django.db import transaction
from django.test import override_settings

from tests.demo.support import seed


@pytest.fixture(scope="package", autouse=True)
def demo(request, django_db_blocker):
    request.getfixturevalue("django_db_setup")  # the test database, created before the seed
    rules = {
        # The rules tests/demo/seeded/test_commerce.py computes its expected figures with.
        "RELAY_POINTS_PER_UNIT": 1,
        "RELAY_POINTS_EXPIRE_MONTHS": 12,
        "RELAY_AFFINITY_MIN_SUPPORT": 5,
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],  # as every test has (tests/conftest.py)
    }
    with django_db_blocker.unblock(), override_settings(**rules), transaction.atomic():
        seed()
        yield
        transaction.set_rollback(True)
