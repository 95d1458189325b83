"""`journeys/` (DESIGN.md "REST API contract", Journey payload): create, read, change, delete, activate, pause and
the enrolments with their step log; every bad input a 400 naming its field with nothing written; every role on
every path; lists at a fixed number of queries."""

from datetime import timedelta

import pytest

from marketing import journeys
from marketing.models import Enrolment, Journey, JourneyStatus, JourneyStep, StepRun
from tests.factories import ChannelFactory, ContentItemFactory, CustomerFactory, JourneyFactory, JourneyStepFactory
from tests.marketing.journey_support import NOW, content, frozen_clock, live_journey

pytestmark = pytest.mark.django_db

WRITERS = ["marketing", "marketing_manager", "admin"]
OTHERS = ["sales", "service", "sales_manager", "service_manager"]
MANAGERS = ["marketing_manager", "admin"]


@pytest.fixture
def clock(settings):
    yield from frozen_clock(settings)


def _payload(item, **changes):
    payload = {
        "name": "Welcome",
        "trigger": {"type": "signed_up"},
        "audience": {"stage": ["awareness"]},
        "steps": [
            {"kind": "send", "content": item.pk, "channel": "email"},
            {"kind": "wait", "hours": 48},
            {"kind": "task", "title": "Call them", "due_hours": 24, "assignee": "owner"},
            {"kind": "tag", "tag": "welcomed"},
            {"kind": "notify", "role": "marketing_manager"},
        ],
        "goal": "activated",
        "reentry": False,
    }
    payload.update(changes)
    return payload


def test_create_answers_the_journey_as_a_draft(clock, api_as):
    item = content()
    response = api_as("marketing").post("/api/v1/journeys/", _payload(item), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    steps = list(JourneyStep.objects.order_by("position"))
    assert body == {
        "id": body["id"],
        "name": "Welcome",
        "status": "draft",
        "trigger": {"type": "signed_up"},
        "audience": {"stage": ["awareness"]},
        "steps": [
            {"id": steps[0].pk, "position": 0, "kind": "send", "content": item.pk, "channel": "email"},
            {"id": steps[1].pk, "position": 1, "kind": "wait", "hours": 48},
            {
                "id": steps[2].pk,
                "position": 2,
                "kind": "task",
                "title": "Call them",
                "due_hours": 24,
                "assignee": "owner",
            },
            {"id": steps[3].pk, "position": 3, "kind": "tag", "tag": "welcomed"},
            {"id": steps[4].pk, "position": 4, "kind": "notify", "role": "marketing_manager"},
        ],
        "goal": "activated",
        "reentry": False,
        "counts": {"entered": 0, "active": 0, "converted": 0, "completed": 0, "exited": 0},
        "created_by": response.wsgi_request.user.pk,
        "created_at": NOW.isoformat(),
        "updated_at": NOW.isoformat(),
        "activated_at": None,
    }


def _loop_partner():
    """An active journey started by the tag "b" whose step tags "a"."""
    return live_journey([{"kind": "tag", "tag": "a"}], trigger={"type": "lead.tagged", "tag": "b"}, name="B")


BAD = [
    ("unknown trigger", {"trigger": {"type": "bogus"}}, "trigger.type"),
    ("trigger option it has not", {"trigger": {"type": "signed_up", "stage": "decision"}}, "trigger.stage"),
    ("unknown stage", {"trigger": {"type": "lifecycle.changed", "stage": "famous"}}, "trigger.stage"),
    ("unknown step kind", {"steps": [{"kind": "wait", "hours": 1}, {"kind": "teleport"}]}, "steps[1].kind"),
    ("send without content", {"steps": [{"kind": "send", "channel": "email"}]}, "steps[0].content"),
    (
        "send of missing content",
        {"steps": [{"kind": "send", "content": 999999, "channel": "email"}]},
        "steps[0].content",
    ),
    (
        "wait of -1",
        {"steps": [{"kind": "wait", "hours": 1}, {"kind": "wait", "hours": 2}, {"kind": "wait", "hours": -1}]},
        "steps[2].hours",
    ),
    ("wait of text", {"steps": [{"kind": "wait", "hours": "soon"}]}, "steps[0].hours"),
    ("unknown channel", {"steps": [{"kind": "send", "content": "stage", "channel": "fax"}]}, "steps[0].channel"),
    (
        "assignee neither owner nor a department",
        {"steps": [{"kind": "task", "title": "x", "due_hours": 1, "assignee": "finance"}]},
        "steps[0].assignee",
    ),
    ("task without title", {"steps": [{"kind": "task", "due_hours": 1, "assignee": "sales"}]}, "steps[0].title"),
    ("unknown notify role", {"steps": [{"kind": "notify", "role": "ceo"}]}, "steps[0].role"),
    ("a field of another kind", {"steps": [{"kind": "wait", "hours": 1, "tag": "x"}]}, "steps[0].tag"),
    (
        "tagging its own trigger",
        {"trigger": {"type": "lead.tagged", "tag": "VIP"}, "steps": [{"kind": "tag", "tag": "vip"}]},
        "steps[0].tag",
    ),
    (
        "a loop through an active journey",
        {
            "trigger": {"type": "lead.tagged", "tag": "a"},
            "steps": [{"kind": "wait", "hours": 1}, {"kind": "tag", "tag": "b"}],
        },
        "steps[1].tag",
    ),
    ("unknown goal", {"goal": "rich"}, "goal"),
    ("goal its own trigger", {"goal": "signed_up"}, "goal"),
    ("unknown audience filter", {"audience": {"mood": ["happy"]}}, "audience.mood"),
    ("unknown channel in the audience", {"audience": {"channel": ["nowhere"]}}, "audience.channel"),
    ("unknown segment in the audience", {"audience": {"segment": ["rich"]}}, "audience.segment[0]"),
    ("no name", {"name": ""}, "name"),
]


@pytest.mark.parametrize(("case", "changes", "field"), BAD, ids=[case for case, _c, _f in BAD])
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(clock, api_as, case, changes, field):
    item = content()
    if case == "a loop through an active journey":
        _loop_partner()
    before = (Journey.objects.count(), JourneyStep.objects.count())
    response = api_as("marketing").post("/api/v1/journeys/", _payload(item, **changes), format="json")
    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]][:1] == [field]
    assert (Journey.objects.count(), JourneyStep.objects.count()) == before


def test_activating_refuses_a_loop_another_journey_closed_since(clock, api_as):
    api = api_as("marketing")
    created = api.post(
        "/api/v1/journeys/",
        {"name": "A", "trigger": {"type": "lead.tagged", "tag": "a"}, "steps": [{"kind": "tag", "tag": "b"}]},
        format="json",
    )
    assert created.status_code == 201  # B is not active yet: no loop
    _loop_partner()
    response = api_as("marketing_manager").post(f"/api/v1/journeys/{created.json()['id']}/activate/")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == ("steps[0].tag", "loop")
    assert "“B”" in error["message"]
    assert Journey.objects.get(name="A").status == JourneyStatus.DRAFT


def test_activating_needs_steps_and_content_still_switched_on(clock, api_as):
    manager = api_as("marketing_manager")
    empty = JourneyFactory()
    response = manager.post(f"/api/v1/journeys/{empty.pk}/activate/")
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "steps")
    item = ContentItemFactory(is_active=False)
    JourneyStepFactory(journey=empty, kind="send", config={"content": item.pk, "channel": "email"})
    response = manager.post(f"/api/v1/journeys/{empty.pk}/activate/")
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "steps[0].content")


def test_activate_and_pause_are_state_changes_refused_twice(clock, api_as):
    manager = api_as("marketing_manager")
    journey = JourneyFactory()
    JourneyStepFactory(journey=journey)
    assert manager.post(f"/api/v1/journeys/{journey.pk}/pause/").json()["code"] == "invalid_transition"
    active = manager.post(f"/api/v1/journeys/{journey.pk}/activate/")
    assert (active.status_code, active.json()["status"], active.json()["activated_at"]) == (
        200,
        "active",
        NOW.isoformat(),
    )
    again = manager.post(f"/api/v1/journeys/{journey.pk}/activate/")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")
    assert manager.post(f"/api/v1/journeys/{journey.pk}/pause/").json()["status"] == "paused"
    assert manager.post(f"/api/v1/journeys/{journey.pk}/activate/").json()["status"] == "active"


def test_editing_the_steps_of_an_active_journey_keeps_removed_steps(clock, api_as):
    first, second = content("First"), content("Second")
    journey = live_journey(
        [
            {"kind": "send", "content": first.pk, "channel": "email"},
            {"kind": "wait", "hours": 24},
            {"kind": "send", "content": second.pk, "channel": "email"},
        ]
    )
    send_first, wait, send_second = JourneyStep.objects.filter(journey=journey).order_by("position")
    response = api_as("marketing").patch(
        f"/api/v1/journeys/{journey.pk}/",
        {
            "steps": [
                {"id": send_second.pk, "kind": "send", "content": second.pk, "channel": "sms"},
                {"kind": "notify", "role": "owner"},
                {"id": wait.pk, "kind": "wait", "hours": 12},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert [(s["id"], s["position"], s["kind"]) for s in response.json()["steps"]] == [
        (send_second.pk, 0, "send"),
        (response.json()["steps"][1]["id"], 1, "notify"),
        (wait.pk, 2, "wait"),
    ]
    send_first.refresh_from_db()
    assert send_first.is_removed and send_first.position == 0  # kept for the enrolments that ran it
    assert JourneyStep.objects.get(pk=send_second.pk).config == {"content": second.pk, "channel": "sms"}


@pytest.mark.parametrize(
    ("step", "field"),
    [({"id": 999999, "kind": "wait", "hours": 1}, "steps[0].id"), ({"kind": "tag", "tag": "x"}, None)],
)
def test_a_step_id_must_be_one_of_the_journey_and_keep_its_kind(clock, api_as, step, field):
    journey = live_journey([{"kind": "wait", "hours": 1}])
    wait = journey.steps.get()
    steps = [step] if field else [{"id": wait.pk, "kind": "tag", "tag": "x"}]
    response = api_as("marketing").patch(f"/api/v1/journeys/{journey.pk}/", {"steps": steps}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == (field or "steps[0].kind")
    assert list(JourneyStep.objects.values_list("kind", "is_removed")) == [("wait", False)]


def test_a_journey_that_ran_is_not_deleted(clock, api_as):
    ran = live_journey([{"kind": "wait", "hours": 1}])
    draft = JourneyFactory()
    api = api_as("marketing")
    response = api.delete(f"/api/v1/journeys/{ran.pk}/")
    assert (response.status_code, response.json()["code"]) == (409, "in_use")
    assert api.delete(f"/api/v1/journeys/{draft.pk}/").status_code == 204
    assert list(Journey.objects.values_list("pk", flat=True)) == [ran.pk]


def test_stale_if_match_is_412(clock, api_as):
    journey = JourneyFactory()
    api = api_as("marketing")
    etag = api.get(f"/api/v1/journeys/{journey.pk}/")["ETag"]
    clock.shift(timedelta(seconds=1))
    assert (
        api.patch(f"/api/v1/journeys/{journey.pk}/", {"name": "One"}, format="json", HTTP_IF_MATCH=etag).status_code
        == 200
    )
    stale = api.patch(f"/api/v1/journeys/{journey.pk}/", {"name": "Two"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    journey.refresh_from_db()
    assert journey.name == "One"


# ---------------------------------------------------------------- roles


@pytest.mark.parametrize("role", [*WRITERS, *OTHERS])
def test_everyone_reads(clock, api_as, role):
    journey = JourneyFactory()
    api = api_as(role)
    assert api.get("/api/v1/journeys/").status_code == 200
    assert api.get(f"/api/v1/journeys/{journey.pk}/").status_code == 200
    assert api.get(f"/api/v1/journeys/{journey.pk}/enrolments/").status_code == 200


def test_anonymous_reads_nothing(client):
    journey = JourneyFactory()
    assert client.get("/api/v1/journeys/").status_code in (401, 403)
    assert client.get(f"/api/v1/journeys/{journey.pk}/enrolments/").status_code in (401, 403)


@pytest.mark.parametrize("role", [*WRITERS, *OTHERS])
def test_marketing_drafts_and_edits(clock, api_as, role):
    api = api_as(role)
    allowed = role in WRITERS
    created = api.post("/api/v1/journeys/", {"name": "N", "trigger": {"type": "signed_up"}}, format="json")
    assert created.status_code == (201 if allowed else 403)
    journey = JourneyFactory()
    assert api.patch(f"/api/v1/journeys/{journey.pk}/", {"name": "M"}, format="json").status_code == (
        200 if allowed else 403
    )
    assert api.delete(f"/api/v1/journeys/{journey.pk}/").status_code == (204 if allowed else 403)


@pytest.mark.parametrize("role", [*WRITERS, *OTHERS])
def test_marketing_managers_activate_and_pause(clock, api_as, role):
    journey = JourneyFactory()
    JourneyStepFactory(journey=journey)
    api = api_as(role)
    allowed = role in MANAGERS
    assert api.post(f"/api/v1/journeys/{journey.pk}/activate/").status_code == (200 if allowed else 403)
    if not allowed:
        journey.status = JourneyStatus.ACTIVE
        journey.save()
    assert api.post(f"/api/v1/journeys/{journey.pk}/pause/").status_code == (200 if allowed else 403)
    journey.refresh_from_db()
    assert journey.status == (JourneyStatus.PAUSED if allowed else JourneyStatus.ACTIVE)


# ---------------------------------------------------------------- lists


def test_the_list_counts_enrolments_by_status(clock, api_as):
    journey = JourneyFactory(status=JourneyStatus.ACTIVE)
    for status in ["active", "active", "converted", "completed", "exited", "exited"]:
        Enrolment.objects.create(
            journey=journey,
            customer=CustomerFactory(),
            status=status,
            entered_at=NOW,
            trigger_key=f"k{status}{Enrolment.objects.count()}",
        )
    [row] = api_as("sales").get("/api/v1/journeys/?status=active").json()["results"]
    assert row["counts"] == {"entered": 6, "active": 2, "converted": 1, "completed": 1, "exited": 2}
    assert api_as("sales").get("/api/v1/journeys/?status=draft").json()["results"] == []


@pytest.mark.parametrize("n", [1, 20])
def test_the_list_queries_do_not_grow(clock, api_as, django_assert_max_num_queries, n):
    api = api_as("sales")
    channel = ChannelFactory()
    for _ in range(n):
        journey = JourneyFactory(audience={"channel": [channel.code]})
        JourneyStepFactory(journey=journey)
        JourneyStepFactory(journey=journey, kind="tag", config={"tag": "x"})
        Enrolment.objects.create(journey=journey, customer=CustomerFactory(), entered_at=NOW, trigger_key="k")
    with django_assert_max_num_queries(3):  # groups, journeys with their counts, their live steps
        response = api.get("/api/v1/journeys/?page_size=50")
    assert len(response.json()["results"]) == n


def _enrolled(journey, n):
    steps = list(journey.steps.order_by("position"))
    for index in range(n):
        enrolment = Enrolment.objects.create(
            journey=journey, customer=CustomerFactory(name=f"C{index}"), entered_at=NOW, trigger_key=f"k{index}"
        )
        for step in steps:
            StepRun.objects.create(enrolment=enrolment, step=step, started_at=NOW, status="done", note="ok")


def test_enrolments_come_with_their_step_log(clock, api_as):
    item = content()
    journey = live_journey([{"kind": "send", "content": item.pk, "channel": "email"}, {"kind": "wait", "hours": 2}])
    _enrolled(journey, 2)
    send, wait = journey.steps.order_by("position")
    body = api_as("service").get(f"/api/v1/journeys/{journey.pk}/enrolments/?page_size=1").json()
    [enrolment] = body["results"]
    assert body["next"] and enrolment["customer_name"] == "C1"  # newest first
    assert [(r["step"], r["position"], r["kind"], r["status"], r["message"]) for r in enrolment["runs"]] == [
        (send.pk, 0, "send", "done", None),
        (wait.pk, 1, "wait", "done", None),
    ]
    assert api_as("service").get(f"/api/v1/journeys/{journey.pk}/enrolments/?status=converted").json()["results"] == []
    bad = api_as("service").get(f"/api/v1/journeys/{journey.pk}/enrolments/?status=lost")
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (400, "status")


@pytest.mark.parametrize("n", [1, 25])
def test_enrolment_queries_do_not_grow(clock, api_as, django_assert_max_num_queries, n):
    journey = live_journey([{"kind": "wait", "hours": 1}, {"kind": "tag", "tag": "x"}])
    _enrolled(journey, n)
    api = api_as("sales")
    # groups, the journey (with its steps), the enrolments with their customers, their runs with steps and messages
    with django_assert_max_num_queries(5):
        response = api.get(f"/api/v1/journeys/{journey.pk}/enrolments/?page_size=50")
    assert len(response.json()["results"]) == n
    assert journeys.enrolments(journey.pk).count() == n


def test_journey_changes_are_in_the_audit_log_for_marketing_managers(clock, api_as):
    api = api_as("marketing")
    created = api.post("/api/v1/journeys/", {"name": "Old", "trigger": {"type": "signed_up"}}, format="json").json()
    api.patch(f"/api/v1/journeys/{created['id']}/", {"name": "New"}, format="json")
    manager = api_as("marketing_manager")
    log = manager.get("/api/v1/audit/", {"object": f"marketing.journey:{created['id']}"}).json()["results"]
    assert [(entry["action"], entry["entry_point"], entry["by"]["id"]) for entry in log] == [
        ("change", "api", api.user.pk),
        ("create", "api", api.user.pk),
    ]
    assert {"field": "name", "old": "Old", "new": "New"} in log[0]["changes"]
    assert (
        api_as("sales_manager").get("/api/v1/audit/", {"object": f"marketing.journey:{created['id']}"}).status_code
        == 403
    )
