"""The experiment pages and admin: every role on every path, the results page's chart, p-value and verdict, the
manager's declare button (with htmx), refusals shown in place, fixed query counts."""

import re
from datetime import datetime

import pytest
import time_machine
from django.urls import reverse

from marketing.models import Experiment, ExperimentStatus
from tests.factories import ContentItemFactory, ContentVariantFactory, ExperimentFactory
from tests.factories import experiment_messages as send

pytestmark = pytest.mark.django_db

ROLES = ["marketing", "sales", "service", "marketing_manager", "sales_manager", "service_manager", "admin"]
MARKETING = {"marketing", "marketing_manager", "admin"}
MANAGERS = {"marketing_manager", "admin"}
NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")


@pytest.fixture(autouse=True)
def _clock(settings):
    settings.RELAY_EXPERIMENT_MIN_SAMPLE = 100
    with time_machine.travel(NOW, tick=False):
        yield


def _significant():
    """A 120/1000 clicks vs B 150/1000: p = 0.0496 (tests/marketing/test_experiments.py)."""
    experiment = ExperimentFactory()
    send(experiment, "A", sent=1000, clicked=120)
    send(experiment, "B", sent=1000, clicked=150)
    return experiment


def _detail(experiment):
    return reverse("marketing:experiment-detail", args=[experiment.pk])


@pytest.mark.parametrize("role", ROLES)
def test_every_role_on_every_experiment_page(client_as, role):
    experiment = _significant()
    b = experiment.item.variants.get(key="B")
    spare = ExperimentFactory()
    item = ContentItemFactory()
    ContentVariantFactory(item=item, key="A")
    ContentVariantFactory(item=item, key="B")
    client = client_as(role)
    answers = {
        "list": client.get(reverse("marketing:experiment-list")).status_code,
        "detail": client.get(_detail(experiment)).status_code,
        "create": client.post(reverse("marketing:experiment-create"), {"item": item.pk, "goal": "click"}).status_code,
        "declare": client.post(
            reverse("marketing:experiment-declare", args=[experiment.pk]), {"variant": b.pk}
        ).status_code,
        "stop": client.post(reverse("marketing:experiment-stop", args=[spare.pk])).status_code,
    }
    assert answers == {
        "list": 200,
        "detail": 200,
        "create": 302 if role in MARKETING else 403,
        "declare": 302 if role in MANAGERS else 403,
        "stop": 302 if role in MARKETING else 403,
    }
    assert Experiment.objects.filter(item=item).exists() == (role in MARKETING)
    experiment.refresh_from_db()
    spare.refresh_from_db()
    assert (experiment.winner_id == b.pk) == (role in MANAGERS)
    assert (spare.status == ExperimentStatus.FINISHED) == (role in MARKETING)


def test_anonymous_visitors_are_sent_to_the_login(client):
    experiment = ExperimentFactory()
    for url in (reverse("marketing:experiment-list"), _detail(experiment)):
        answer = client.get(url)
        assert answer.status_code == 302 and "login" in answer["Location"]


def test_the_results_page_shows_the_chart_the_test_and_the_verdict(client_as):
    experiment = _significant()
    page = client_as("sales").get(_detail(experiment)).content.decode()
    svg = re.search(r'<svg class="xp-chart".*?</svg>', page, re.S).group(0)
    assert [key for key in re.findall(r'<g class="xp-row" data-key="(\w)"', svg)] == ["A", "B"]
    # Each variant: a bar, and an error bar of three lines (the whisker and its two caps).
    assert svg.count('class="xp-bar') == 2 and svg.count('class="xp-err"') == 6
    assert 'class="xp-bar best"' in svg  # B leads
    assert "Variant A: 12.0 % (95 % interval 10.1 % – 14.2 %), 1,000 sends" in svg  # Wilson of 120/1000
    assert "Two-proportion z-test on click rate: z = -1.963, p = 0.0496." in page
    assert "it can be declared the winner" in page
    assert 'data-testid="declare"' not in page  # sales may not declare
    assert "<script" not in svg and "style=" not in svg


def test_a_manager_declares_the_leading_variant_with_htmx(client_as):
    experiment = _significant()
    b = experiment.item.variants.get(key="B")
    client = client_as("marketing_manager")
    page = client.get(_detail(experiment)).content.decode()
    assert 'data-testid="declare"' in page and "Declare variant B the winner" in page
    answer = client.post(
        reverse("marketing:experiment-declare", args=[experiment.pk]), {"variant": b.pk}, HTTP_HX_REQUEST="true"
    )
    assert answer.status_code == 200 and answer.templates[0].name == "marketing/_experiment_results.html"
    body = answer.content.decode()
    assert 'data-testid="winner"' in body and "Variant B won on click rate" in body
    assert 'class="xp-bar winner"' in body and 'data-testid="declare"' not in body
    experiment.refresh_from_db()
    assert (experiment.winner, experiment.status) == (b, ExperimentStatus.FINISHED)


def test_a_refused_declaration_is_shown_in_place(client_as):
    experiment = _significant()
    a = experiment.item.variants.get(key="A")
    client = client_as("marketing_manager")
    url = reverse("marketing:experiment-declare", args=[experiment.pk])
    plain = client.post(url, {"variant": a.pk})
    assert plain.status_code == 409
    assert (
        'data-field="variant"' in plain.content.decode()
        and "does not have the best click rate" in plain.content.decode()
    )
    assert client.post(url, {"variant": a.pk}, HTTP_HX_REQUEST="true").status_code == 422
    assert client.post(url, {"variant": "x"}, HTTP_HX_REQUEST="true").status_code == 422
    assert Experiment.objects.get().winner is None


def test_too_few_sends_shows_no_declare_button_and_says_why(client_as):
    experiment = ExperimentFactory()
    send(experiment, "A", sent=40, clicked=2)
    send(experiment, "B", sent=40, clicked=30)
    page = client_as("marketing_manager").get(_detail(experiment)).content.decode()
    assert 'data-testid="declare-unavailable"' in page
    assert "every variant needs 100 sends before a winner can be declared, and the fewest so far is 40" in page


def test_the_create_form_offers_ready_items_and_names_the_field(client_as):
    ready = ContentItemFactory(title="Spring offer")
    for key in ("A", "B"):
        ContentVariantFactory(item=ready, key=key)
    lonely = ContentItemFactory(title="Only one variant")
    ContentVariantFactory(item=lonely, key="A")
    taken = ExperimentFactory().item
    client = client_as("marketing")
    page = client.get(reverse("marketing:experiment-list")).content.decode()
    assert "Spring offer (2 variants)" in page and "Only one variant" not in page and f">{taken.title} (" not in page
    refused = client.post(reverse("marketing:experiment-create"), {"item": lonely.pk, "goal": "click"})
    assert refused.status_code == 422 and 'data-field="item"' in refused.content.decode()
    made = client.post(reverse("marketing:experiment-create"), {"item": ready.pk, "goal": "open"})
    experiment = Experiment.objects.get(item=ready)
    assert made["Location"] == _detail(experiment) and experiment.goal == "open"
    assert (
        'data-testid="experiment-form"'
        not in client_as("sales").get(reverse("marketing:experiment-list")).content.decode()
    )


def test_the_list_filters_by_status_with_htmx(client_as):
    running = ExperimentFactory()
    ExperimentFactory(status=ExperimentStatus.FINISHED)
    answer = client_as("sales").get(reverse("marketing:experiment-list"), {"status": "running"}, HTTP_HX_REQUEST="true")
    assert answer.templates[0].name == "marketing/_experiment_rows.html"
    assert answer.content.decode().count('data-testid="experiment-row"') == 1
    assert running.item.title in answer.content.decode()
    assert "HX-Request" in answer["Vary"]


@pytest.mark.parametrize("n", [1, 30])
def test_the_list_page_queries_do_not_grow(client_as, django_assert_num_queries, n):
    for experiment in ExperimentFactory.create_batch(n):
        experiment.winner = experiment.item.variants.first()
        experiment.save()
    client = client_as("marketing")
    with django_assert_num_queries(6):  # session, user, groups, the bell, the page's rows, the form's items
        answer = client.get(reverse("marketing:experiment-list"))
    assert answer.content.decode().count('data-testid="experiment-row"') == n


@pytest.mark.parametrize(("keys", "per_variant"), [(["A", "B"], 10), (["A", "B", "C", "D"], 300)])
def test_the_results_page_queries_do_not_grow(client_as, django_assert_num_queries, keys, per_variant):
    experiment = ExperimentFactory(variant_keys=keys)
    for key in keys:
        send(experiment, key, sent=per_variant, clicked=per_variant // 4)
    client = client_as("marketing_manager")
    with django_assert_num_queries(6):  # session, user, groups, the bell, the experiment, the counts by variant
        answer = client.get(_detail(experiment))
    assert answer.status_code == 200


# ---------------------------------------------------------------- the admin


@pytest.mark.parametrize("role", ROLES)
def test_every_role_in_the_experiment_admin(client_as, role):
    experiment = _significant()
    client = client_as(role)
    pages = [
        reverse("admin:marketing_experiment_changelist"),
        reverse("admin:marketing_experiment_change", args=[experiment.pk]),
        reverse("admin:marketing_experiment_add"),
    ]
    answers = [client.get(page).status_code for page in pages]
    assert answers == [200, 200, 200 if role in MARKETING else 403]
    declared = client.post(
        reverse("admin:marketing_experiment_changelist"),
        {"action": "declare_leading_variant", "_selected_action": [experiment.pk]},
    )
    # Without the action (not a marketing manager) the changelist answers again and nothing happens.
    assert declared.status_code == (302 if role in MARKETING else 200)
    experiment.refresh_from_db()
    assert (experiment.winner is not None) == (role in MANAGERS)


def test_the_admin_starts_an_experiment_through_the_service_and_names_the_item(client_as):
    client = client_as("marketing")
    lonely = ContentItemFactory()
    ContentVariantFactory(item=lonely, key="A")
    refused = client.post(reverse("admin:marketing_experiment_add"), {"item": lonely.pk, "goal": "click"})
    assert refused.status_code == 200 and refused.context["adminform"].form.errors.keys() == {"item"}
    ContentVariantFactory(item=lonely, key="B")
    added = client.post(reverse("admin:marketing_experiment_add"), {"item": lonely.pk, "goal": "click"})
    assert added.status_code == 302
    experiment = Experiment.objects.get()
    assert (experiment.status, experiment.started_at) == (ExperimentStatus.RUNNING, NOW)


def test_the_admin_declare_action_names_the_experiment_that_blocks_it(client_as):
    ready = _significant()
    early = ExperimentFactory()
    send(early, "A", sent=10, clicked=1)
    send(early, "B", sent=10, clicked=9)
    answer = client_as("marketing_manager").post(
        reverse("admin:marketing_experiment_changelist"),
        {"action": "declare_leading_variant", "_selected_action": [ready.pk, early.pk]},
        follow=True,
    )
    assert f"Experiment #{early.pk}: Every variant needs 100 sends" in answer.content.decode()
    assert not Experiment.objects.filter(winner__isnull=False).exists()  # one transaction: none declared
