"""The API against its own OpenAPI schema: schemathesis, in-process, every check, as an admin and as a sales user.

Any 5xx or schema violation fails; so does a run where fewer than 30 % of the calls reach 2xx (25 % as a sales
user), which would mean the generated requests only ever hit refusals. Ids and references are steered to real rows
nine times in ten (bounded examples); the tenth stays as generated, to probe 404s and unknown references. The
figures are printed (`-s`) for the stop notes.
"""

import itertools
from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import checks as core_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi import checks as openapi_checks

from config import tokens
from config.wsgi import application
from tests.factories import (
    ActivityFactory,
    CampaignFactory,
    ChannelFactory,
    ChannelSpendFactory,
    CheckInFactory,
    ComplaintFactory,
    ContentVariantFactory,
    CustomerEventFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    ExperimentFactory,
    FollowUpTaskFactory,
    InsightFactory,
    JourneyFactory,
    MessageFactory,
    NpsInvitationFactory,
    NpsResponseFactory,
    OrderFactory,
    TouchpointFactory,
    lead_through,
    make_user,
)

EXAMPLES_PER_OPERATION = 15
# A sales user is refused the managers' and admins' operations by design: about a third of their calls are 403s.
MIN_2XX_SHARE = {"admin": 0.30, "sales": 0.25}
# Signing in with a password: a wrong one is a refusal by design (tests/config/test_auth_security.py covers it).
SKIPPED_PATHS = {"/api/v1/auth/token/"}

ALL_CHECKS = [
    core_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
    openapi_checks.positive_data_acceptance,
    openapi_checks.missing_required_header,
    openapi_checks.unsupported_method,
    openapi_checks.ignored_auth,
]
# Schema-valid data may still break a business rule (an unknown channel code, a stage the lead is not in): that
# is a 4xx problem naming the field, which the other checks hold to the schema.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2XX", "400", "401", "403", "404", "409", "412", "422", "429"]
            }
        }
    }
)


@pytest.fixture
def _keep_the_test_connection():
    """The raw WSGI app closes "old" connections around each request; Django's test client switches that off
    for the test's transaction, and so must we."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _real_rows(owner) -> dict[str, dict[str, int]]:
    """Some rows of every kind, and which id each path's parameters may point at."""
    web = ChannelFactory(code="web")
    for code in ("wechat", "tmall"):
        ChannelFactory(code=code)
    customer = CustomerFactory()
    CustomerIdentityFactory(customer=customer)
    duplicate = CustomerFactory()
    order = OrderFactory(customer=customer)
    complaint = ComplaintFactory(customer=customer)
    lead = lead_through("contacted", owner=owner if owner.groups.filter(name="sales").exists() else None)
    check_in = CheckInFactory()
    variant = ContentVariantFactory()
    return {
        "customers": {"id": customer.pk, "duplicate": duplicate.pk},
        "orders": {"id": order.pk},
        "channels": {"id": ChannelFactory().pk, "code": "web"},  # code: channels/{code}/exclusion-list/
        "campaigns": {"id": CampaignFactory().pk},
        "channel-spend": {"id": ChannelSpendFactory().pk},
        "complaints": {"id": complaint.pk},
        "nps-responses": {"id": NpsResponseFactory(customer=customer).pk},
        "nps-invitations": {"id": NpsInvitationFactory(customer=customer).pk},
        "tasks": {"id": FollowUpTaskFactory(customer=customer).pk},
        "activities": {"id": ActivityFactory(lead=lead).pk},
        "insights": {"id": InsightFactory().pk},
        "leads": {"id": lead.pk},
        "objectives": {"id": check_in.key_result.objective_id},
        "key-results": {"id": check_in.key_result_id, "key_result_pk": check_in.key_result_id},
        "check-ins": {"id": check_in.pk},
        "users": {"id": owner.pk},
        "events": {"id": CustomerEventFactory(customer=customer).pk},
        "touchpoints": {"id": TouchpointFactory(customer=customer, channel=web).pk},
        "web-campaign": {"id": CampaignFactory(channel=web).pk},
        "content": {"id": variant.item_id},
        "variants": {"id": variant.pk, "content_pk": variant.item_id},
        "messages": {"id": MessageFactory(customer=customer, variant=variant).pk},
        "experiments": {"id": ExperimentFactory().pk},
        "journeys": {"id": JourneyFactory().pk},
        "reviews": {"quarter": "2026Q3"},
    }


def _steer(case, rows, index: int) -> None:
    """Nine cases in ten name real rows (path ids and references in the body); every tenth of an operation stays
    as generated. Counted, not drawn from the generated values: which values Hypothesis generates varies with
    the machine's speed, and the share of 2xx answers must not."""
    if index % 10 == 9:
        return
    parameters = case.path_parameters or {}
    parts = [p for p in case.operation.path.split("/") if p and not p.startswith("{")]
    resource = "check-ins" if "check-ins" in parts else parts[2] if len(parts) > 2 else ""
    if resource == "content" and "variants" in parts:
        resource = "variants"
    known = {**rows["key-results"], **rows["check-ins"]} if resource == "check-ins" else rows.get(resource, {})
    for name in parameters:
        if name in known:
            parameters[name] = known[name]
    if isinstance(case.query, dict) and {"start", "end"} <= case.query.keys():
        case.query.update(start="2026-11-01", end="2026-12-01")  # a period the limits take (metrics, overlap)
    if isinstance(case.body, dict):
        references = {
            "channel": "web",
            "source_channel": "web",
            "customer": rows["customers"]["id"],
            "duplicate": rows["customers"]["duplicate"],
            "order": rows["orders"]["id"],
            "lead": rows["leads"]["id"],
            "content": rows["content"]["id"],
            "campaign": rows["web-campaign"]["id"],  # a campaign of the channel "web" the body names
        }
        for name, value in references.items():
            if name in case.body:
                case.body[name] = value


def _run(role: str) -> tuple[Counter, list[str]]:
    user = make_user(role)
    rows = _real_rows(user)
    _row, token = tokens.issue_token(user=user)
    auth = {"Authorization": f"Token {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application, headers=auth, config=CONFIG)
    statuses: Counter = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIPPED_PATHS:
            continue

        counter = itertools.count()  # this operation's calls, for _steer

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case):
            _steer(case, rows, next(counter))  # noqa: B023 - call() runs within this iteration
            response = case.call_and_validate(headers=auth, checks=ALL_CHECKS)
            statuses[response.status_code] += 1

        try:
            call()
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - collected, reported together below
            failures.append(f"{operation.method.upper()} {operation.path}: {str(error)[:1500]}")
    return statuses, failures


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.usefixtures("_keep_the_test_connection")
@pytest.mark.parametrize("role", ["admin", "sales"])  # two tests, so two test processes share the work
def test_the_api_keeps_its_contract(settings, role):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    statuses, failures = _run(role)
    calls, ok = sum(statuses.values()), sum(n for code, n in statuses.items() if 200 <= code < 300)
    print(f"\ncontract as {role}: {calls} calls, {ok / max(calls, 1):.0%} 2xx, {dict(sorted(statuses.items()))}")
    assert not failures, f"{len(failures)} operations broke the contract:\n\n" + "\n\n".join(failures)
    assert ok / calls >= MIN_2XX_SHARE[role], statuses
