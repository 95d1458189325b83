import os

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from config import outbox
from tests import clock
from tests.factories import make_user

ROLES = ["marketing", "sales", "service", "marketing_manager", "sales_manager", "service_manager", "admin"]


def pytest_addoption(parser):
    parser.addoption(
        "--now",
        default=os.environ.get(clock.VARIABLE),
        help=f"run under this clock (ISO 8601 with offset); default ${clock.VARIABLE}",
    )


def _broker_of_this_process(url: str) -> str:
    """Under pytest-xdist, process gwN takes Redis database (the given one + N) % 16, so that the worker one test
    process starts never takes another's messages. Celery reads CELERY_BROKER_URL from the environment whenever
    it connects, and the workers the tests start inherit it."""
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    base, _slash, number = url.rpartition("/")
    if not index or not url.startswith("redis://") or not number.isdigit() or base.count("/") < 2:
        return url
    return f"{base}/{(int(number) + index) % 16}"


def pytest_configure(config):
    clock.start(config.getoption("--now"))
    if os.environ.get("CELERY_BROKER_URL"):
        os.environ["CELERY_BROKER_URL"] = _broker_of_this_process(os.environ["CELERY_BROKER_URL"])


# Tests that start servers and workers of their own, and time them: under pytest-xdist they all run in one process
# (`--dist loadgroup`, Makefile), one at a time, so that two of them never compete for the two cores.
PROCESS_MODULES = ("tests/demo/test_bench.py",)
# The tests that read one shared demo (tests/demo/seeded/conftest.py).
SHARED_DEMO = "tests/demo/seeded/"


def pytest_report_header(config):
    if clock.is_travelling():
        return f"clock: {config.getoption('--now')} (ticking)"
    return None


@pytest.fixture(autouse=True)
def _fast_and_english(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()  # what one test's server remembered (e.g. "no webhook endpoints") never leaks into the next
    settings.LANGUAGE_CODE = "en"
    settings.SECURE_SSL_REDIRECT = False
    # Throttles stay on but out of reach; tests/config/test_auth_security.py lowers them to see a 429.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100000/minute", "user": "100000/minute", "token": "100000/minute"},
    }
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _broker_reachable(monkeypatch):
    """A refusal in one test must not make the next one skip dispatching (config.outbox's back-off)."""
    monkeypatch.setattr(outbox, "_broker_refused_until", 0.0)


@pytest.fixture(autouse=True, scope="session")
def _eager_celery():
    """Tasks run inline in tests; tests marked `worker` use a real worker instead."""
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


@pytest.fixture
def client_as(client, db):
    """`client_as("sales")` → a test client logged in as a new user of that role (or `user=`)."""

    def login(role: str = "sales", user=None):
        user = user or make_user(role)
        client.force_login(user)
        client.user = user
        return client

    return login


@pytest.fixture
def api_as(db):
    """`api_as("sales")` → a DRF APIClient authenticated as a new user of that role (or `user=`)."""

    def login(role: str = "sales", user=None):
        user = user or make_user(role)
        api = APIClient()
        api.force_authenticate(user)
        api.user = user
        return api

    return login


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's, which reads the xdist_group marks (`--dist loadgroup`)
def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need row locks and real concurrency; skip them on SQLite. Process tests go to one
    xdist group (PROCESS_MODULES), the shared demo's tests to another."""
    from django.db import connection

    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if item.get_closest_marker("worker") or item.nodeid.startswith(PROCESS_MODULES):
            item.add_marker(pytest.mark.xdist_group("processes"))
        elif item.nodeid.startswith(SHARED_DEMO):
            item.add_marker(pytest.mark.xdist_group("demo"))  # one process, so the shared demo is seeded once
        if "postgres" in item.keywords and connection.vendor != "postgresql":
            item.add_marker(skip)
