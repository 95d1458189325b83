"""The lead page as its users meet it: a refused action stays in view, names read as people's names."""

import re

import pytest

from leads.stages import Stage
from tests.factories import ComplaintFactory, lead_through, make_user

pytestmark = pytest.mark.django_db


def _details_for(body: str, form_id: str) -> str:
    """The <details ...> opening tag that wraps the action form with this id."""
    start = body.index(f'id="{form_id}"')
    return re.findall(r"<details[^>]*>", body[:start])[-1]


def test_reject_other_without_text_shows_the_error_with_the_form_open(client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.HANDED_OFF, owner=seller)
    client = client_as(user=seller)
    assert "open" not in _details_for(client.get(f"/leads/{lead.pk}/").content.decode(), "reject")

    response = client.post(
        f"/leads/{lead.pk}/reject/", {"reject-reason": "other", "reject-reason_text": "", "seen_stage": "handed_off"}
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert "open" in _details_for(body, "reject")
    assert "Say why the lead is rejected." in body
    lead.refresh_from_db()
    assert lead.stage == Stage.HANDED_OFF


def test_rejected_lead_goes_to_marketing_nurture_and_can_be_handed_off_again(client_as):
    marketer, seller = make_user("marketing"), make_user("sales")
    lead = lead_through(Stage.HANDED_OFF, marketer=marketer, owner=seller)
    response = client_as(user=seller).post(
        f"/leads/{lead.pk}/reject/",
        {"reject-reason": "other", "reject-reason_text": "Moved abroad", "seen_stage": "handed_off"},
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.reject_reason == "other" and lead.reject_reason_text == "Moved abroad"

    marketing = client_as(user=marketer)
    queue = marketing.get("/leads/queue/").content.decode()
    rejected = queue[queue.index('data-section="rejected"') :]
    assert f"/leads/{lead.pk}/" in rejected[: rejected.find("</section>")]
    page = marketing.get(f"/leads/{lead.pk}/").content.decode()
    assert "Other: Moved abroad" in page and 'id="handoff"' in page
    again = marketing.post(
        f"/leads/{lead.pk}/handoff/",
        {
            "handoff-source_channel": lead.source_channel_id or "",
            "handoff-campaign": lead.campaign_id or "",
            "handoff-interest": lead.interest or "Solar panels",
            "handoff-note": lead.note or "Called back, budget now approved",
            "handoff-tags": [t.name for t in lead.tags.all()] or ["warm"],
            "seen_stage": "new",
        },
    )
    assert again.status_code == 302, again.content.decode()[:3000]
    lead.refresh_from_db()
    assert lead.stage == Stage.HANDED_OFF


def test_stage_history_and_activities_name_people_by_full_name_like_the_package(client_as):
    marketer = make_user("marketing", first_name="Sophie", last_name="Wang")
    seller = make_user("sales", first_name="Michael", last_name="Zhou")
    lead = lead_through(Stage.ACCEPTED, marketer=marketer, owner=seller)
    body = client_as(user=seller).get(f"/leads/{lead.pk}/").content.decode()
    history = body[body.index("Stage history") :]
    history = history[: history.index("</table>")]
    assert "Sophie Wang" in history and "Michael Zhou" in history
    assert marketer.username not in history and seller.username not in history


@pytest.mark.parametrize("url", ["/leads/", "/leads/board/"])
def test_filters_fold_away_unless_one_is_set(client_as, url):
    client = client_as("sales")
    folded = client.get(url).content.decode()
    assert re.search(r'<details class="filter-box" data-testid="filters">', folded)
    for query in ("?stage=won", "?created_after=2024-01-01", "?high_intent=true"):
        filtered = client.get(url + query).content.decode()
        assert re.search(r'<details class="filter-box" data-testid="filters" open>', filtered), query
    assert 'data-testid="filters">' in client.get(url + "?q=&stage=&after=2").content.decode()


def test_a_lead_just_rejected_tops_the_marketers_rejected_section(client_as):
    from django.utils import timezone

    from leads import services
    from leads.models import Lead

    marketer, seller = make_user("marketing"), make_user("sales")
    oldest = lead_through(Stage.HANDED_OFF, marketer=marketer, owner=seller)
    Lead.objects.filter(pk=oldest.pk).update(created_at=timezone.now() - timezone.timedelta(days=90))
    # More rejected leads than the section shows, all created after the one rejected last.
    for _ in range(26):
        lead = lead_through(Stage.NEW, marketer=marketer)
        Lead.objects.filter(pk=lead.pk).update(reject_reason="no_need")
    services.reject_lead(lead=Lead.objects.get(pk=oldest.pk), by=seller, reason="no_budget")
    queue = client_as(user=marketer).get("/leads/queue/").content.decode()
    rejected = queue[queue.index('data-section="rejected"') :]
    rejected = rejected[: rejected.index("</section>")]
    assert f'href="/leads/{oldest.pk}/"' in rejected


def test_a_won_lead_shows_no_empty_actions_card_and_links_its_customer(client_as):
    seller = make_user("sales")
    won = lead_through(Stage.WON, owner=seller)
    body = client_as(user=seller).get(f"/leads/{won.pk}/").content.decode()
    assert 'class="card actions"' not in body
    assert f'href="/customers/{won.customer_id}/" data-testid="customer-link"' in body


def test_the_close_form_says_what_its_button_does(client_as):
    seller = make_user("sales")
    open_lead = lead_through(Stage.NEGOTIATION, owner=seller)
    body = client_as(user=seller).get(f"/leads/{open_lead.pk}/").content.decode()
    assert 'class="card actions"' in body
    assert ">Save the outcome</button>" in body


def test_the_customer_page_links_each_complaint(client_as):
    complaint = ComplaintFactory()
    body = client_as("service").get(f"/customers/{complaint.customer_id}/").content.decode()
    assert f'href="/feedback/complaints/{complaint.pk}/"' in body


# --- the deal value and the weighted value (the pipeline board's numbers, for one lead) ------------------------


@pytest.fixture
def _cny(settings):
    settings.RELAY_CURRENCY = "CNY"


def _value_cell(body: str, testid: str) -> str:
    return re.search(rf'<dd data-testid="{testid}">(.*?)</dd>', body, re.S).group(1)


@pytest.mark.parametrize(
    "role, may_set",
    [
        ("owner", True),
        ("sales", False),  # another seller: not theirs
        ("sales_manager", True),
        ("marketing", False),  # marketing's package was handed off
        ("marketing_manager", False),
        ("service", False),
        ("service_manager", False),
        ("admin", True),
    ],
)
def test_the_page_shows_the_deal_value_weighted_by_the_stage_and_who_may_change_it(_cny, client_as, role, may_set):
    seller = make_user("sales")
    lead = lead_through(Stage.PROPOSAL, owner=seller, deal_value="12500.00")
    client = client_as(user=seller) if role == "owner" else client_as(role)
    body = client.get(f"/leads/{lead.pk}/").content.decode()
    assert _value_cell(body, "deal-value").startswith("CNY\u00a012,500.00")
    weighted = _value_cell(body, "weighted-value")
    assert "CNY\u00a07,500.00" in weighted and "× 60 %" in weighted  # a proposal is won six times in ten
    edit = f'href="/leads/{lead.pk}/edit/" data-testid="edit-deal-value">Change the deal value</a>'
    assert (edit in body) is may_set


def test_a_lead_without_a_value_says_so_and_its_owner_sets_one_from_the_page(_cny, client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.NEGOTIATION, owner=seller)
    client = client_as(user=seller)
    body = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "No value" in _value_cell(body, "deal-value") and "Set the deal value</a>" in body
    assert _value_cell(body, "weighted-value").startswith("—")
    form = client.get(f"/leads/{lead.pk}/edit/")
    assert list(form.context["form"].fields) == ["deal_value"]  # sales edits the value, not marketing's package
    assert client.post(f"/leads/{lead.pk}/edit/", {"deal_value": "40000"}).status_code == 302
    body = client.get(f"/leads/{lead.pk}/").content.decode()
    assert _value_cell(body, "deal-value").startswith("CNY\u00a040,000.00")
    assert "CNY\u00a032,000.00" in _value_cell(body, "weighted-value")  # negotiation: 80 %


def test_a_won_lead_shows_its_estimate_beside_the_amount_won_and_no_weighted_value(_cny, client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.WON, owner=seller, deal_value="5000.00")
    body = client_as(user=seller).get(f"/leads/{lead.pk}/").content.decode()
    assert _value_cell(body, "deal-value") == "CNY\u00a05,000.00"  # closed: nobody changes the estimate any more
    assert 'data-testid="weighted-value"' not in body and 'data-testid="won-amount"' in body


def test_the_values_read_in_the_readers_language(_cny, client_as):
    seller = make_user("sales")
    lead = lead_through(Stage.QUALIFIED, owner=seller, deal_value="1234567.50")
    client = client_as(user=seller)
    body = client.get(f"/leads/{lead.pk}/", headers={"accept-language": "zh-hans"}).content.decode()
    assert _value_cell(body, "deal-value").startswith("¥1,234,567.50")
    assert "¥493,827.00" in _value_cell(body, "weighted-value")  # 40 %
