"""`experiments/`, `experiments/{id}/results/` and `experiments/{id}/declare/` (DESIGN.md "REST API contract"):
every role on every path, refusals as problems naming their field, results with the hand-computed test, fixed
query counts."""

import math
from datetime import datetime, timedelta

import pytest
import time_machine

from marketing.models import Experiment, ExperimentStatus
from tests.factories import ContentItemFactory, ContentVariantFactory, ExperimentFactory
from tests.factories import experiment_messages as send

pytestmark = pytest.mark.django_db

ROLES = ["marketing", "sales", "service", "marketing_manager", "sales_manager", "service_manager", "admin"]
MARKETING = {"marketing", "marketing_manager", "admin"}
MANAGERS = {"marketing_manager", "admin"}
NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")
URL = "/api/v1/experiments/"


@pytest.fixture(autouse=True)
def _clock(settings):
    settings.RELAY_EXPERIMENT_MIN_SAMPLE = 100
    with time_machine.travel(NOW, tick=False):
        yield


def _significant():
    """A 120/1000 clicks vs B 150/1000: z = −1.963…, p = 0.0496… (tests/marketing/test_experiments.py)."""
    experiment = ExperimentFactory()
    send(experiment, "A", sent=1000, opened=400, clicked=120)
    send(experiment, "B", sent=1000, opened=410, clicked=150, converted=15)
    return experiment


def _item_with_variants(*keys):
    item = ContentItemFactory()
    for key in keys:
        ContentVariantFactory(item=item, key=key)
    return item


def _problem(answer, status, field, code=None):
    assert answer.status_code == status, answer.content
    assert answer["content-type"] == "application/problem+json"
    errors = answer.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    if code:
        assert errors[0]["code"] == code


@pytest.mark.parametrize("role", ROLES)
def test_every_role_on_every_experiment_path(api_as, role):
    experiment = _significant()
    b = experiment.item.variants.get(key="B")
    spare = ExperimentFactory()  # nothing sent: it may change and be deleted
    item = _item_with_variants("A", "B")
    api = api_as(role)
    answers = {
        "list": api.get(URL).status_code,
        "read": api.get(f"{URL}{experiment.pk}/").status_code,
        "results": api.get(f"{URL}{experiment.pk}/results/").status_code,
        "create": api.post(URL, {"item": item.pk, "goal": "click"}, format="json").status_code,
        "change": api.patch(f"{URL}{spare.pk}/", {"goal": "open"}, format="json").status_code,
        "declare": api.post(f"{URL}{experiment.pk}/declare/", {"variant": b.pk}, format="json").status_code,
        "delete": api.delete(f"{URL}{spare.pk}/").status_code,
    }
    writes = 201 if role in MARKETING else 403
    assert answers == {
        "list": 200,
        "read": 200,
        "results": 200,
        "create": writes,
        "change": 200 if role in MARKETING else 403,
        "declare": 200 if role in MANAGERS else 403,
        "delete": 204 if role in MARKETING else 403,
    }
    assert Experiment.objects.filter(item=item).exists() == (role in MARKETING)
    assert Experiment.objects.filter(pk=spare.pk).exists() == (role not in MARKETING)
    experiment.refresh_from_db()
    assert (experiment.winner_id == b.pk) == (role in MANAGERS)


def test_create_answers_the_experiment_and_starts_it_now(api_as):
    item = _item_with_variants("A", "B")
    answer = api_as("marketing").post(URL, {"item": item.pk, "goal": "conversion"}, format="json")
    assert answer.status_code == 201
    body = answer.json()
    experiment = Experiment.objects.get()
    assert body == {
        "id": experiment.pk,
        "item": item.pk,
        "item_title": item.title,
        "goal": "conversion",
        "status": "running",
        "started_at": "2026-03-10T10:00:00+08:00",
        "winner": None,
        "winner_key": None,
        "declared_by": None,
        "declared_at": None,
        "updated_at": body["updated_at"],
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"goal": "click"}, "item"),
        ({"item": 999999, "goal": "click"}, "item"),
        ({"item": "one", "goal": "click"}, "item"),
        ({"item": True, "goal": "click"}, "item"),
        ({"item": "ITEM", "goal": "revenue"}, "goal"),
        ({"item": "ITEM"}, "goal"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_as, payload, field):
    item = _item_with_variants("A", "B")
    payload = {key: item.pk if value == "ITEM" else value for key, value in payload.items()}
    _problem(api_as("marketing").post(URL, payload, format="json"), 400, field)
    assert not Experiment.objects.exists()


def test_an_item_needs_two_variants_and_gets_one_experiment(api_as):
    api = api_as("marketing")
    lonely = _item_with_variants("A")
    _problem(api.post(URL, {"item": lonely.pk, "goal": "click"}, format="json"), 400, "item", "too_few_variants")
    item = _item_with_variants("A", "B")
    assert api.post(URL, {"item": item.pk, "goal": "click"}, format="json").status_code == 201
    _problem(api.post(URL, {"item": item.pk, "goal": "open"}, format="json"), 409, "item", "exists")
    assert Experiment.objects.count() == 1


def test_results_carry_counts_rates_wilson_intervals_and_the_z_test(api_as):
    experiment = _significant()
    a, b = experiment.item.variants.order_by("key")
    body = api_as("sales").get(f"{URL}{experiment.pk}/results/").json()
    variants = body.pop("variants")
    assert body == {
        "experiment": experiment.pk,
        "item": experiment.item_id,
        "goal": "click",
        "status": "running",
        "started_at": "2026-03-10T10:00:00+08:00",
        "test": "two_proportion_z",
        "z": pytest.approx(-1.963049807622355, abs=1e-9),
        "chi2": None,
        "dof": None,
        "p_value": pytest.approx(0.0496403868653688, abs=1e-9),
        "min_sample": 100,
        "best": "B",
        "can_declare": True,
        "verdict": "significant",
        "winner": None,
        "winner_key": None,
        "declared_at": None,
    }
    assert [(v["variant"], v["key"], v["sent"], v["opened"], v["clicked"], v["converted"]) for v in variants] == [
        (a.pk, "A", 1000, 400, 120, 0),
        (b.pk, "B", 1000, 410, 150, 15),
    ]
    assert [(v["open_rate"], v["click_rate"], v["conversion_rate"]) for v in variants] == [
        (0.4, 0.12, 0.0),
        (0.41, 0.15, 0.015),
    ]
    # Wilson for 120/1000 (worked out in test_experiments.py): [0.101299…, 0.141609…]
    assert variants[0]["click_rate_interval"] == {
        "low": pytest.approx(0.10129926060130913, abs=1e-12),
        "high": pytest.approx(0.14160907584771273, abs=1e-12),
    }
    assert set(variants[1]) >= {"open_rate_interval", "conversion_rate_interval"}


def test_results_of_three_variants_carry_the_chi_squared_test(api_as):
    experiment = ExperimentFactory(variant_keys=["A", "B", "C"])
    send(experiment, "A", sent=100, clicked=10)
    send(experiment, "B", sent=100, clicked=20)
    send(experiment, "C", sent=100, clicked=30)
    body = api_as("service").get(f"{URL}{experiment.pk}/results/").json()
    # χ² = 12.5 on 2 degrees of freedom, p = exp(−6.25) (worked out in test_experiments.py)
    assert (body["test"], body["z"], body["dof"], body["best"]) == ("chi_squared", None, 2, "C")
    assert body["chi2"] == pytest.approx(12.5) and body["p_value"] == pytest.approx(math.exp(-6.25))


def test_a_variant_without_sends_has_null_rates(api_as):
    experiment = ExperimentFactory()
    body = api_as("marketing").get(f"{URL}{experiment.pk}/results/").json()
    assert [v["sent"] for v in body["variants"]] == [0, 0]
    assert {v["click_rate"] for v in body["variants"]} == {None}
    assert {v["click_rate_interval"] for v in body["variants"]} == {None}
    assert (body["p_value"], body["verdict"], body["can_declare"]) == (None, "no_sends", False)


def test_declaring_answers_the_finished_experiment_and_results_show_the_winner(api_as):
    experiment = _significant()
    b = experiment.item.variants.get(key="B")
    api = api_as("marketing_manager")
    answer = api.post(f"{URL}{experiment.pk}/declare/", {"variant": b.pk}, format="json")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["winner"], body["winner_key"], body["declared_by"], body["declared_at"]) == (
        "finished",
        b.pk,
        "B",
        api.user.pk,
        "2026-03-10T10:00:00+08:00",
    )
    results = api.get(f"{URL}{experiment.pk}/results/").json()
    assert (results["winner_key"], results["verdict"], results["can_declare"]) == ("B", "declared", False)
    again = api.post(f"{URL}{experiment.pk}/declare/", {"variant": b.pk}, format="json")
    _problem(again, 409, "variant", "invalid_transition")


def test_declaring_is_refused_naming_the_variant(api_as, settings):
    api = api_as("marketing_manager")
    experiment = _significant()
    a, b = experiment.item.variants.order_by("key")
    _problem(api.post(f"{URL}{experiment.pk}/declare/", {"variant": a.pk}, format="json"), 409, "variant", "not_best")
    _problem(api.post(f"{URL}{experiment.pk}/declare/", {}, format="json"), 400, "variant")
    _problem(api.post(f"{URL}{experiment.pk}/declare/", {"variant": 999999}, format="json"), 400, "variant")
    stranger = ContentVariantFactory()
    _problem(api.post(f"{URL}{experiment.pk}/declare/", {"variant": stranger.pk}, format="json"), 400, "variant")
    settings.RELAY_EXPERIMENT_MIN_SAMPLE = 1001
    answer = api.post(f"{URL}{experiment.pk}/declare/", {"variant": b.pk}, format="json")
    _problem(answer, 409, "variant", "too_few_sends")
    settings.RELAY_EXPERIMENT_MIN_SAMPLE = 100
    close = ExperimentFactory()
    send(close, "A", sent=1000, clicked=120)
    send(close, "B", sent=1000, clicked=135)
    b_close = close.item.variants.get(key="B")
    answer = api.post(f"{URL}{close.pk}/declare/", {"variant": b_close.pk}, format="json")
    _problem(answer, 409, "variant", "not_significant")
    assert not Experiment.objects.filter(winner__isnull=False).exists()


def test_stopping_finishes_without_a_winner_and_a_finished_experiment_no_longer_changes(api_as):
    experiment = ExperimentFactory()
    api = api_as("marketing")
    stopped = api.patch(f"{URL}{experiment.pk}/", {"status": "finished"}, format="json")
    assert (stopped.status_code, stopped.json()["status"], stopped.json()["winner"]) == (200, "finished", None)
    _problem(api.patch(f"{URL}{experiment.pk}/", {"goal": "open"}, format="json"), 409, "goal", "invalid_transition")
    answer = api.patch(f"{URL}{experiment.pk}/", {"status": "running"}, format="json")
    _problem(answer, 409, "status", "invalid_transition")
    _problem(api.patch(f"{URL}{experiment.pk}/", {"goal": "revenue"}, format="json"), 400, "goal")
    assert Experiment.objects.get().status == ExperimentStatus.FINISHED


def test_an_experiment_with_messages_is_not_deleted(api_as):
    experiment = ExperimentFactory()
    send(experiment, "A", sent=1)
    _problem(api_as("marketing").delete(f"{URL}{experiment.pk}/"), 409, "messages", "in_use")
    assert Experiment.objects.filter(pk=experiment.pk).exists()


def test_reads_send_an_etag_and_a_stale_write_is_412(api_as):
    experiment = ExperimentFactory()
    api = api_as("marketing")
    read = api.get(f"{URL}{experiment.pk}/")
    etag = read["ETag"]
    assert api.get(f"{URL}{experiment.pk}/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):  # the change stamps a new version
        changed = api.patch(f"{URL}{experiment.pk}/", {"goal": "open"}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200 and changed.json()["updated_at"] == "2026-03-10T10:01:00+08:00"
    stale = api.patch(f"{URL}{experiment.pk}/", {"goal": "conversion"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert Experiment.objects.get().goal == "open"


def test_the_list_filters_by_status_goal_and_item(api_as):
    running = ExperimentFactory(goal="open")
    stopped = ExperimentFactory(status=ExperimentStatus.FINISHED)
    api = api_as("sales")
    assert [r["id"] for r in api.get(URL, {"status": "running"}).json()["results"]] == [running.pk]
    assert [r["id"] for r in api.get(URL, {"goal": "click"}).json()["results"]] == [stopped.pk]
    assert [r["id"] for r in api.get(URL, {"item": stopped.item_id}).json()["results"]] == [stopped.pk]
    _problem(api.get(URL, {"status": "paused"}), 400, "status")


@pytest.mark.parametrize("n", [1, 30])
def test_the_list_queries_do_not_grow(api_as, django_assert_num_queries, n):
    for experiment in ExperimentFactory.create_batch(n):
        send(experiment, "A", sent=2, clicked=1)
    api = api_as("sales")
    api.get(URL)  # the user's groups, read once per user
    with django_assert_num_queries(1):  # the page
        answer = api.get(URL)
    assert len(answer.json()["results"]) == n


@pytest.mark.parametrize(("keys", "per_variant"), [(["A", "B"], 10), (["A", "B", "C", "D", "E"], 400)])
def test_results_are_two_queries_whatever_the_variants_and_messages(
    api_as, django_assert_num_queries, keys, per_variant
):
    experiment = ExperimentFactory(variant_keys=keys)
    for key in keys:
        send(experiment, key, sent=per_variant, opened=per_variant // 2, clicked=per_variant // 5)
    api = api_as("marketing")
    api.get(URL)  # the user's groups, read once per user
    with django_assert_num_queries(2):  # the experiment, the counts grouped by variant
        answer = api.get(f"{URL}{experiment.pk}/results/")
    assert [v["sent"] for v in answer.json()["variants"]] == [per_variant] * len(keys)
