"""Merging with a preview (issue 15): pick the duplicate, see both customers side by side with what moves, choose
whose name, company, city and language survive, then confirm; the API's `keep` does the same."""

import pytest
from django.urls import reverse

from customers import services
from customers.models import AccountTeamMember, Customer, MergeRecord, TeamRole
from leads.models import Lead
from tests.factories import (
    AccountTeamMemberFactory,
    ComplaintFactory,
    CustomerFactory,
    CustomerIdentityFactory,
    LeadFactory,
    NpsResponseFactory,
    OrderFactory,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair():
    survivor = CustomerFactory(name="Li Na", company="", city="Shanghai", language="zh-hans")
    duplicate = CustomerFactory(name="Li Na (WeChat)", company="ACME Trading", city="Beijing", language="en")
    CustomerIdentityFactory(customer=survivor, kind="phone", value="+8613812345678")
    CustomerIdentityFactory(customer=duplicate, kind="phone", value="+8613900000001")
    CustomerIdentityFactory(customer=duplicate, kind="wechat", value="wx_lina")
    LeadFactory.create_batch(2, customer=duplicate, contact=False)
    LeadFactory(customer=survivor, contact=False)
    OrderFactory(customer=duplicate)
    ComplaintFactory.create_batch(3, customer=duplicate)
    NpsResponseFactory(customer=duplicate)
    return survivor, duplicate


def _merge_url(survivor):
    return reverse("customers:customer-merge", args=[survivor.pk])


def _confirm(survivor, duplicate, **choices):
    data = {"duplicate": duplicate.pk, "confirm": "1", "name": "survivor", "company": "survivor"}
    data.update({"city": "survivor", "language": "survivor"}, **choices)
    return data


def _count(preview, label):
    return next(c for c in preview.counts if c.label == label)


def test_the_preview_shows_both_values_and_what_moves(client_as, pair):
    survivor, duplicate = pair
    response = client_as("sales_manager").get(_merge_url(survivor), {"duplicate": duplicate.pk})
    assert response.status_code == 200
    html = response.content.decode()
    for value in ("Shanghai", "Beijing", "Li Na (WeChat)", "ACME Trading", "English", "Simplified Chinese"):
        assert value in html
    preview = response.context["preview"]
    assert (_count(preview, "Leads").survivor, _count(preview, "Leads").duplicate, _count(preview, "Leads").after) == (
        1,
        2,
        3,
    )
    assert _count(preview, "Orders").duplicate == 1
    assert _count(preview, "Complaints").duplicate == 3
    assert _count(preview, "NPS responses").duplicate == 1
    assert '<td data-testid="moves"><strong>3</strong></td>' in html  # the complaints
    # The duplicate's phone collides in kind with the survivor's (both are kept); its WeChat id just moves.
    moves = {m.identity.value: [i.value for i in m.same_kind] for m in preview.identities}
    assert moves == {"+8613900000001": ["+8613812345678"], "wx_lina": []}
    assert html.count('data-testid="identity-collides"') == 1
    # Defaults: the survivor's non-empty values, the duplicate's company (the survivor has none).
    assert {row["field"]: row["choice"] for row in response.context["rows"]} == {
        "name": "survivor",
        "company": "duplicate",
        "city": "survivor",
        "language": "survivor",
    }
    assert 'name="company" value="duplicate" checked' in html and 'name="city" value="survivor" checked' in html
    assert not Customer.objects.get(pk=duplicate.pk).merged_into_id  # looking merges nothing


def test_get_never_merges_even_with_every_field_of_the_confirmation(client_as, pair):
    survivor, duplicate = pair
    response = client_as("sales_manager").get(_merge_url(survivor), _confirm(survivor, duplicate, city="duplicate"))
    assert response.status_code == 200 and "preview" in response.context
    assert not Customer.objects.get(pk=duplicate.pk).merged_into_id
    assert not MergeRecord.objects.exists()


def test_a_post_without_confirm_shows_the_preview_instead_of_merging(client_as, pair):
    """The data quality page's "Merge #2 into #1" buttons post the pair: they land on the preview."""
    survivor, duplicate = pair
    next_url = reverse("customers:data-quality")
    response = client_as("marketing_manager").post(_merge_url(survivor), {"duplicate": duplicate.pk, "next": next_url})
    assert response.status_code == 200 and response.context["preview"].duplicate == duplicate
    assert f'name="next" value="{next_url}"' in response.content.decode()
    assert not MergeRecord.objects.exists()


def test_choosing_the_duplicates_city_makes_it_survive_and_the_record_keeps_the_choice(client_as, pair):
    survivor, duplicate = pair
    client = client_as("service_manager")
    response = client.post(_merge_url(survivor), _confirm(survivor, duplicate, city="duplicate"))
    assert response.status_code == 302 and response.url == reverse("customers:customer-detail", args=[survivor.pk])
    survivor.refresh_from_db()
    assert (survivor.name, survivor.company, survivor.city, survivor.language) == ("Li Na", "", "Beijing", "zh-hans")
    record = MergeRecord.objects.get()
    assert record.chosen["city"] == {"kept": "duplicate", "survivor": "Shanghai", "duplicate": "Beijing"}
    assert record.chosen["company"]["kept"] == "survivor"
    assert set(Lead.objects.values_list("customer_id", flat=True)) == {survivor.pk}
    assert Customer.objects.get(pk=duplicate.pk).merged_into_id == survivor.pk


def test_undo_gives_the_survivor_its_own_values_back(client_as, pair):
    survivor, duplicate = pair
    manager = make_user("sales_manager")
    record = services.merge_customers(
        survivor=survivor, duplicate=duplicate, by=manager, keep={"city": "duplicate", "name": "duplicate"}
    )
    survivor.refresh_from_db()
    assert (survivor.name, survivor.city) == ("Li Na (WeChat)", "Beijing")
    client_as("sales_manager", user=manager).post(reverse("customers:merge-undo", args=[record.pk]))
    survivor.refresh_from_db()
    assert (survivor.name, survivor.city) == ("Li Na", "Shanghai")
    assert Customer.objects.get(pk=duplicate.pk).city == "Beijing"


def test_api_merge_takes_keep_and_defaults_the_rest(api_as, pair):
    survivor, duplicate = pair
    response = api_as("marketing_manager").post(
        f"/api/v1/customers/{survivor.pk}/merge/",
        {"duplicate": duplicate.pk, "keep": {"language": "duplicate"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["city"], body["company"], body["language"]) == ("Shanghai", "ACME Trading", "en")
    assert body["merge"]["chosen"]["language"] == {"kept": "duplicate", "survivor": "zh-hans", "duplicate": "en"}
    assert body["merge"]["chosen"]["company"]["kept"] == "duplicate"  # the survivor had none


def test_api_merge_without_keep_still_works_as_the_contract_says(api_as, pair):
    survivor, duplicate = pair
    response = api_as("sales_manager").post(
        f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk}, format="json"
    )
    assert response.status_code == 200 and response.json()["city"] == "Shanghai"


@pytest.mark.parametrize(
    ("keep", "field"),
    [
        ({"name": "sideways"}, "keep.name"),
        ({"city": None}, "keep.city"),
        ({"phone": "duplicate"}, "keep.phone"),
        ("duplicate", "keep.non_field_errors"),
    ],
)
def test_api_bad_keep_is_a_400_naming_the_field(api_as, pair, keep, field):
    survivor, duplicate = pair
    response = api_as("sales_manager").post(
        f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk, "keep": keep}, format="json"
    )
    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field.replace(".non_field_errors", "")]
    assert not MergeRecord.objects.exists()


def test_keeping_an_empty_name_is_refused_and_nothing_moves(api_as, pair):
    """One transaction: a refusal found after the rows started moving leaves everything where it was."""
    survivor, duplicate = pair
    Customer.objects.filter(pk=duplicate.pk).update(name="")
    response = api_as("sales_manager").post(
        f"/api/v1/customers/{survivor.pk}/merge/",
        {"duplicate": duplicate.pk, "keep": {"name": "duplicate", "city": "duplicate"}},
        format="json",
    )
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "keep.name"
    survivor.refresh_from_db()
    assert survivor.city == "Shanghai" and not MergeRecord.objects.exists()
    assert Lead.objects.filter(customer=duplicate).count() == 2


def test_merging_into_itself_is_refused_on_the_duplicate_field(client_as, pair):
    survivor, _duplicate = pair
    client = client_as("sales_manager")
    preview = client.get(_merge_url(survivor), {"duplicate": survivor.pk})
    assert preview.status_code == 409
    assert preview.context["form"].errors["duplicate"] == ["A customer cannot be merged into itself."]
    assert 'data-field="duplicate"' in preview.content.decode()
    confirm = client.post(_merge_url(survivor), _confirm(survivor, survivor))
    assert confirm.status_code == 409 and "duplicate" in confirm.context["form"].errors
    assert not MergeRecord.objects.exists()


def test_an_already_merged_duplicate_is_refused_on_the_duplicate_field(client_as, api_as, pair):
    survivor, duplicate = pair
    services.merge_customers(survivor=survivor, duplicate=duplicate, by=make_user("admin"))
    other = CustomerFactory()
    preview = client_as("service_manager").get(_merge_url(other), {"duplicate": duplicate.pk})
    assert preview.status_code == 409
    assert preview.context["form"].errors["duplicate"] == [f"Customer #{duplicate.pk} was already merged."]
    api = api_as("service_manager").post(
        f"/api/v1/customers/{other.pk}/merge/", {"duplicate": duplicate.pk, "keep": {}}, format="json"
    )
    assert (api.status_code, api.json()["code"], api.json()["errors"][0]["field"]) == (
        409,
        "already_merged",
        "duplicate",
    )


def test_a_missing_duplicate_is_a_form_error(client_as, pair):
    survivor, _duplicate = pair
    response = client_as("sales_manager").get(_merge_url(survivor), {"duplicate": 99999999})
    assert response.status_code == 422 and response.context["form"].errors["duplicate"] == ["No such customer."]


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("marketing", 403),
        ("sales", 403),
        ("service", 403),
        ("marketing_manager", 200),
        ("sales_manager", 200),
        ("service_manager", 200),
        ("admin", 200),
    ],
)
def test_only_managers_and_admins_see_the_preview_or_confirm(client_as, pair, role, status):
    survivor, duplicate = pair
    client = client_as(role)
    assert client.get(_merge_url(survivor)).status_code == status
    assert client.get(_merge_url(survivor), {"duplicate": duplicate.pk}).status_code == status
    confirm = client.post(_merge_url(survivor), _confirm(survivor, duplicate))
    assert confirm.status_code == (302 if status == 200 else 403)
    assert bool(Customer.objects.get(pk=duplicate.pk).merged_into_id) == (status == 200)


def test_the_customer_page_leads_to_step_one_then_the_preview(client_as, pair):
    survivor, duplicate = pair
    client = client_as("sales_manager")
    step_one = client.get(_merge_url(survivor))
    assert step_one.status_code == 200 and 'data-testid="merge-pick"' in step_one.content.decode()
    assert 'hx-get="/pick/customers/?field=duplicate"' in step_one.content.decode()
    step_two = client.get(_merge_url(survivor), {"duplicate": duplicate.pk})
    assert 'data-testid="merge-preview"' in step_two.content.decode()
    assert 'name="confirm" value="1"' in step_two.content.decode()


def test_merge_moves_the_duplicates_team_without_duplicates_and_undo_brings_it_back(client_as, pair):
    survivor, duplicate = pair
    owner, other_owner = make_user("sales"), make_user("sales")
    both, service_person = make_user("sales"), make_user("service")
    AccountTeamMemberFactory(customer=survivor, user=owner, role=TeamRole.ACCOUNT_OWNER)
    AccountTeamMemberFactory(customer=survivor, user=both, role=TeamRole.SALES)
    AccountTeamMemberFactory(customer=duplicate, user=other_owner, role=TeamRole.ACCOUNT_OWNER)
    AccountTeamMemberFactory(customer=duplicate, user=both, role=TeamRole.SALES)
    AccountTeamMemberFactory(customer=duplicate, user=service_person, role=TeamRole.SERVICE)
    AccountTeamMemberFactory(customer=duplicate, user=owner, role=TeamRole.SALES)  # moves: a role they lack there
    manager = make_user("sales_manager")
    client = client_as("sales_manager", user=manager)
    preview = client.get(_merge_url(survivor), {"duplicate": duplicate.pk})
    plan = {(m.member.user_id, m.member.role): m.collision for m in preview.context["preview"].team}
    assert plan == {
        (other_owner.pk, "account_owner"): "owner_taken",
        (both.pk, "sales"): "already_on_team",
        (service_person.pk, "service"): "",
        (owner.pk, "sales"): "",
    }
    assert client.post(_merge_url(survivor), _confirm(survivor, duplicate)).status_code == 302

    def team(customer):
        return sorted(AccountTeamMember.objects.filter(customer=customer).values_list("user_id", "role"))

    assert team(survivor) == sorted(
        [(owner.pk, "account_owner"), (both.pk, "sales"), (service_person.pk, "service"), (owner.pk, "sales")]
    )
    assert team(duplicate) == sorted([(other_owner.pk, "account_owner"), (both.pk, "sales")])  # stayed behind
    services.undo_merge(record=MergeRecord.objects.get(), by=manager)
    assert team(duplicate) == sorted(
        [(other_owner.pk, "account_owner"), (both.pk, "sales"), (service_person.pk, "service"), (owner.pk, "sales")]
    )
    assert team(survivor) == sorted([(owner.pk, "account_owner"), (both.pk, "sales")])


def _loaded_pair(n):
    survivor, duplicate = CustomerFactory(), CustomerFactory()
    for index in range(n):
        CustomerIdentityFactory(customer=duplicate)
        CustomerIdentityFactory(customer=survivor)
        LeadFactory(customer=duplicate, contact=False)
        OrderFactory(customer=duplicate)
        ComplaintFactory(customer=duplicate)
        NpsResponseFactory(customer=survivor)
        role = TeamRole.SALES if index else TeamRole.ACCOUNT_OWNER
        AccountTeamMemberFactory(customer=duplicate, role=role)
        AccountTeamMemberFactory(customer=survivor, role=role)
    return survivor, duplicate


def test_preview_queries_do_not_grow(client_as, django_assert_max_num_queries):
    client = client_as("sales_manager")
    small, big = _loaded_pair(1), _loaded_pair(12)
    client.get(_merge_url(small[0]), {"duplicate": small[1].pk})  # warm caches (content types, sessions)
    # The page's own: survivor, duplicate, both customers with a count per related model, identities, both teams.
    with django_assert_max_num_queries(12) as small_queries:
        client.get(_merge_url(small[0]), {"duplicate": small[1].pk})
    with django_assert_max_num_queries(len(small_queries.captured_queries)):
        response = client.get(_merge_url(big[0]), {"duplicate": big[1].pk})
    assert response.status_code == 200
    assert len(response.context["preview"].identities) == 12 and len(response.context["preview"].team) == 12
