"""Two people moving the same lead: one wins, the other is told the lead changed; history stays whole."""

import pytest

from leads import services
from leads.errors import LeadChanged
from leads.models import Lead, LeadStageChange
from leads.stages import InvalidTransition, Stage
from tests.factories import lead_through, make_user
from tests.races import each_at_once


@pytest.mark.django_db
def test_reads_send_an_etag_and_a_stale_if_match_is_412(api_as):
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    api = api_as(user=seller)
    etag = api.get(f"/api/v1/leads/{lead.pk}/")["ETag"]
    assert etag
    ok = api.post(f"/api/v1/leads/{lead.pk}/move/", {"stage": "qualified"}, format="json", HTTP_IF_MATCH=etag)
    assert ok.status_code == 200 and ok["ETag"] != etag
    stale = api.post(f"/api/v1/leads/{lead.pk}/move/", {"stage": "proposal"}, format="json", HTTP_IF_MATCH=etag)
    assert (stale.status_code, stale.json()["code"]) == (412, "stale")
    lead.refresh_from_db()
    assert lead.stage == Stage.QUALIFIED
    assert LeadStageChange.objects.filter(lead=lead).count() == 5  # created, handoff, accept, contacted, qualified


@pytest.mark.django_db
def test_stale_page_form_is_told_the_lead_changed(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    client = client_as(user=seller)
    services.move_lead(lead=lead, by=seller, stage=Stage.PROPOSAL)
    # The form was drawn while the lead was "contacted".
    response = client.post(f"/leads/{lead.pk}/move/", {"seen_stage": "contacted", "move-stage": "qualified"})
    assert response.status_code == 409
    assert "changed while you were working on it" in response.content.decode()
    lead.refresh_from_db()
    assert lead.stage == Stage.PROPOSAL


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_racing_moves_one_applies():
    seller, manager = make_user("sales"), make_user("sales_manager")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    read = [Lead.objects.get(pk=lead.pk), Lead.objects.get(pk=lead.pk)]  # both saw "contacted"
    targets = [Stage.QUALIFIED, Stage.PROPOSAL]
    users = [seller, manager]
    results = each_at_once(lambda i: services.move_lead(lead=read[i], by=users[i], stage=targets[i]))
    applied = [r for r in results if isinstance(r, Lead)]
    refused = [r for r in results if isinstance(r, LeadChanged | InvalidTransition)]
    assert len(applied) == 1 and len(refused) == 1, results
    lead.refresh_from_db()
    assert lead.stage == applied[0].stage
    moves = LeadStageChange.objects.filter(lead=lead, from_stage=Stage.CONTACTED)
    assert moves.count() == 1 and moves.get().to_stage == lead.stage


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_racing_api_moves_one_is_409(api_as):
    seller = make_user("sales")
    lead = lead_through(Stage.CONTACTED, owner=seller)
    clients = [api_as(user=seller), api_as(user=seller)]
    targets = ["qualified", "proposal"]
    results = each_at_once(
        lambda i: clients[i].post(f"/api/v1/leads/{lead.pk}/move/", {"stage": targets[i]}, format="json").status_code
    )
    assert sorted(results) in ([200, 409], [200, 200]), results
    lead.refresh_from_db()
    # Whatever the interleaving, the history is a chain: each change starts where the previous ended.
    changes = list(LeadStageChange.objects.filter(lead=lead).order_by("at", "pk"))
    assert all(a.to_stage == b.from_stage for a, b in zip(changes, changes[1:], strict=False))
    assert changes[-1].to_stage == lead.stage
    # The move that waited for the lock knows when the other one put the lead in its stage.
    assert all(b.entered_at == a.at for a, b in zip(changes, changes[1:], strict=False))
    assert lead.stage_entered_at == changes[-1].at


@pytest.mark.django_db
def test_etag_flow_on_update_activity_and_handoff(api_as):
    """The write's ETag is the next read's; any write (package edit, note) makes the old one stale (412)."""
    marketer = make_user("marketing")
    lead = lead_through(Stage.NEW, marketer=marketer)
    api = api_as(user=marketer)
    first = api.get(f"/api/v1/leads/{lead.pk}/")["ETag"]
    edited = api.patch(f"/api/v1/leads/{lead.pk}/", {"note": "first"}, format="json", HTTP_IF_MATCH=first)
    assert edited.status_code == 200 and edited["ETag"] == api.get(f"/api/v1/leads/{lead.pk}/")["ETag"] != first
    lost = api.patch(f"/api/v1/leads/{lead.pk}/", {"note": "second"}, format="json", HTTP_IF_MATCH=first)
    assert (lost.status_code, lost.json()["code"]) == (412, "stale")
    before_note = edited["ETag"]
    assert api.post(f"/api/v1/leads/{lead.pk}/activities/", {"kind": "note", "body": "x"}, format="json").status_code
    stale = api.post(f"/api/v1/leads/{lead.pk}/handoff/", {"assignee": None}, format="json", HTTP_IF_MATCH=before_note)
    assert stale.status_code == 412
    fresh = api.get(f"/api/v1/leads/{lead.pk}/")["ETag"]
    weak = api.post(f"/api/v1/leads/{lead.pk}/handoff/", {"assignee": None}, format="json", HTTP_IF_MATCH=f"W/{fresh}")
    assert weak.status_code == 200 and weak.json()["stage"] == "handed_off"
    lead.refresh_from_db()
    assert lead.note == "first"
    assert LeadStageChange.objects.filter(lead=lead).count() == 2  # created, handed off: the stale one did nothing


@pytest.mark.django_db
def test_an_edit_of_a_version_that_changed_since_it_was_read_is_refused():
    marketer = make_user("marketing")
    lead = lead_through(Stage.NEW, marketer=marketer)
    read = Lead.objects.get(pk=lead.pk)  # what the second editor saw (and checked If-Match against)
    services.update_lead(lead=lead, by=marketer, note="first", expected_updated_at=lead.updated_at)
    with pytest.raises(LeadChanged):
        services.update_lead(lead=read, by=marketer, note="second", expected_updated_at=read.updated_at)
    lead.refresh_from_db()
    assert lead.note == "first"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_racing_edits_with_the_same_if_match_one_applies(api_as):
    marketer = make_user("marketing")
    lead = lead_through(Stage.NEW, marketer=marketer)
    clients = [api_as(user=marketer), api_as(user=marketer)]
    etag = clients[0].get(f"/api/v1/leads/{lead.pk}/")["ETag"]
    notes = ["from one", "from two"]
    results = each_at_once(
        lambda i: (
            clients[i]
            .patch(f"/api/v1/leads/{lead.pk}/", {"note": notes[i]}, format="json", HTTP_IF_MATCH=etag)
            .status_code
        )
    )
    assert sorted(results) == [200, 412], results  # the loser's precondition failed, before or under the lock
    lead.refresh_from_db()
    assert lead.note == notes[results.index(200)]
