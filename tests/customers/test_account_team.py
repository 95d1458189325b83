"""Account teams (issue 15): a key customer's people across departments, on the customer page, the API and the
admin; they hear of the customer's complaints, detractor answers and large orders, each person once."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from config.errors import Conflict
from config.models import Notification
from customers import selectors, services
from customers.models import AccountTeamMember, TeamRole
from tests.factories import (
    AccountTeamMemberFactory,
    ChannelFactory,
    CustomerFactory,
    UserFactory,
    make_user,
)
from tests.races import race

pytestmark = pytest.mark.django_db

ROLES = ["marketing", "sales", "service", "marketing_manager", "sales_manager", "service_manager", "admin"]


def _team_url(customer, member=None):
    base = f"/api/v1/customers/{customer.pk}/team/"
    return f"{base}{member.pk}/" if member else base


def _team(customer):
    return sorted(AccountTeamMember.objects.filter(customer=customer).values_list("user_id", "role"))


# ---------------------------------------------------------------------------------------------------------------
# Who may add and remove (customers.permissions TEAM)


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("marketing", 201),
        ("sales", 201),
        ("service", 201),
        ("marketing_manager", 201),
        ("sales_manager", 201),
        ("service_manager", 201),
        ("admin", 400),  # an admin is in no department, so no team role fits
    ],
)
def test_staff_join_a_team_themselves_in_their_departments_role(api_as, role, status):
    customer = CustomerFactory()
    api = api_as(role)
    department = "sales" if role == "admin" else role.removesuffix("_manager")
    response = api.post(_team_url(customer), {"user": api.user.pk, "role": department}, format="json")
    assert response.status_code == status, response.content
    if status == 201:
        body = response.json()
        assert (body["user"], body["role"], body["department"], body["customer"]) == (
            api.user.pk,
            department,
            department,
            customer.pk,
        )
        assert _team(customer) == [(api.user.pk, department)]
    else:
        assert response.json()["errors"][0]["field"] == "user" and _team(customer) == []


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("marketing", 403),
        ("sales", 403),  # even a colleague of their own department
        ("service", 403),
        ("marketing_manager", 403),
        ("sales_manager", 201),  # the person's department's manager
        ("service_manager", 403),
        ("admin", 201),
    ],
)
def test_only_the_persons_department_manager_or_an_admin_adds_someone_else(api_as, role, status):
    customer = CustomerFactory()
    colleague = make_user("sales")
    response = api_as(role).post(_team_url(customer), {"user": colleague.pk, "role": "account_owner"}, format="json")
    assert response.status_code == status, response.content
    assert _team(customer) == ([(colleague.pk, "account_owner")] if status == 201 else [])


@pytest.mark.parametrize("role", ["marketing", "sales", "service"])
def test_staff_may_not_make_themselves_account_owner_or_take_another_departments_role(api_as, role):
    customer = CustomerFactory()
    api = api_as(role)
    owner = api.post(_team_url(customer), {"user": api.user.pk, "role": "account_owner"}, format="json")
    assert owner.status_code == 403
    other = next(r for r in ("marketing", "sales", "service") if r != role)
    assert api.post(_team_url(customer), {"user": api.user.pk, "role": other}, format="json").status_code == 403
    assert _team(customer) == []


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("marketing", 403),
        ("sales", 403),
        ("service", 403),
        ("marketing_manager", 403),
        ("sales_manager", 204),
        ("service_manager", 403),
        ("admin", 204),
    ],
)
def test_removing_someone_else_follows_the_same_rule(api_as, role, status):
    member = AccountTeamMemberFactory(role=TeamRole.SALES)
    response = api_as(role).delete(_team_url(member.customer, member))
    assert response.status_code == status
    assert AccountTeamMember.objects.filter(pk=member.pk).exists() == (status != 204)


def test_a_member_leaves_the_team_themselves(api_as):
    member = AccountTeamMemberFactory(role=TeamRole.SALES)
    assert api_as("sales", user=member.user).delete(_team_url(member.customer, member)).status_code == 204
    assert not AccountTeamMember.objects.exists()


def test_a_member_of_another_customer_is_not_found(api_as):
    member = AccountTeamMemberFactory()
    other = CustomerFactory()
    assert api_as("admin").delete(_team_url(other, member)).status_code == 404
    assert api_as("admin").get(_team_url(other, member)).status_code == 404
    assert AccountTeamMember.objects.filter(pk=member.pk).exists()


# ---------------------------------------------------------------------------------------------------------------
# Rules


def test_one_account_owner_per_customer(api_as):
    customer = CustomerFactory()
    first, second = make_user("sales"), make_user("service")
    api = api_as("admin")
    assert api.post(_team_url(customer), {"user": first.pk, "role": "account_owner"}, format="json").status_code == 201
    again = api.post(_team_url(customer), {"user": second.pk, "role": "account_owner"}, format="json")
    assert (again.status_code, again.json()["code"], again.json()["errors"][0]["field"]) == (
        409,
        "account_owner_taken",
        "role",
    )
    assert first.get_full_name() in again.json()["detail"]
    assert _team(customer) == [(first.pk, "account_owner")]


def test_the_same_person_in_the_same_role_once(api_as):
    member = AccountTeamMemberFactory(role=TeamRole.SALES)
    again = api_as("admin").post(_team_url(member.customer), {"user": member.user_id, "role": "sales"}, format="json")
    assert (again.status_code, again.json()["code"], again.json()["errors"][0]["field"]) == (
        409,
        "already_on_team",
        "user",
    )
    # Another role is another place on the team.
    owner = api_as("admin").post(
        _team_url(member.customer), {"user": member.user_id, "role": "account_owner"}, format="json"
    )
    assert owner.status_code == 201


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_racing_owners_one_wins_and_the_other_is_told_why():

    customer = CustomerFactory()
    admin = make_user("admin")
    people = iter([make_user("sales"), make_user("service")])
    results, errors = race(
        lambda: services.add_team_member(customer=customer, user=next(people), role="account_owner", by=admin)
    )
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], Conflict) and errors[0].code == "account_owner_taken"
    assert AccountTeamMember.objects.filter(customer=customer).count() == 1


def test_the_database_holds_both_rules_too():

    member = AccountTeamMemberFactory(role=TeamRole.ACCOUNT_OWNER)
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountTeamMemberFactory(customer=member.customer, role=TeamRole.ACCOUNT_OWNER)
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountTeamMemberFactory(customer=member.customer, user=member.user, role=TeamRole.ACCOUNT_OWNER)


@pytest.mark.parametrize(
    ("payload", "field", "status"),
    [
        ({"role": "sales"}, "user", 400),
        ({"user": 999999, "role": "sales"}, "user", 400),
        ({"user": "abc", "role": "sales"}, "user", 400),
        ({"user": "SELF", "role": "captain"}, "role", 400),
        ({"user": "SELF", "role": "service"}, "role", 400),  # a sales person in the service role
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(api_as, payload, field, status):
    customer = CustomerFactory()
    person = make_user("sales")
    payload = {k: person.pk if v == "SELF" else v for k, v in payload.items()}
    response = api_as("sales_manager").post(_team_url(customer), payload, format="json")
    assert response.status_code == status, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert _team(customer) == []


def test_an_inactive_person_cannot_join(api_as):
    customer = CustomerFactory()
    person = make_user("sales", is_active=False)
    response = api_as("admin").post(_team_url(customer), {"user": person.pk, "role": "sales"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "user"


def test_a_merged_customers_team_is_read_only(api_as):
    survivor = CustomerFactory()
    tombstone = CustomerFactory(merged_into=survivor)
    api = api_as("admin")
    response = api.post(_team_url(tombstone), {"user": make_user("sales").pk, "role": "sales"}, format="json")
    assert (response.status_code, response.json()["errors"][0]["field"]) == (409, "merged_into")


def test_the_added_person_is_told_unless_they_added_themselves(api_as):
    customer = CustomerFactory(name="Globex")
    person = make_user("sales")
    api_as("sales_manager").post(_team_url(customer), {"user": person.pk, "role": "sales"}, format="json")
    told = Notification.objects.get(recipient=person)
    assert (told.kind, told.url) == ("customers.account_team", reverse("customers:customer-detail", args=[customer.pk]))
    assert "Globex" in told.message
    api = api_as("service")
    api.post(_team_url(customer), {"user": api.user.pk, "role": "service"}, format="json")
    assert not Notification.objects.filter(recipient=api.user).exists()


# ---------------------------------------------------------------------------------------------------------------
# Reading the team


def test_api_lists_the_team_for_everyone_signed_in(api_as):
    customer = CustomerFactory()
    owner = AccountTeamMemberFactory(customer=customer, role=TeamRole.ACCOUNT_OWNER)
    AccountTeamMemberFactory(customer=customer, role=TeamRole.SALES)
    AccountTeamMemberFactory()  # another customer's
    for role in ROLES:
        body = api_as(role).get(_team_url(customer)).json()
        assert {"results", "next", "previous"} <= set(body)
        assert sorted(m["role"] for m in body["results"]) == ["account_owner", "sales"]
    filtered = api_as("sales").get(_team_url(customer), {"role": "account_owner"}).json()["results"]
    assert [(m["id"], m["name"], m["username"]) for m in filtered] == [
        (owner.pk, owner.user.get_full_name(), owner.user.username)
    ]
    assert api_as("sales").get(_team_url(customer), {"user": "x"}).status_code == 400
    assert api_as("sales").get("/api/v1/customers/99999999/team/").status_code == 404


@pytest.mark.parametrize("n", [1, 15])
def test_api_team_list_queries_do_not_grow(api_as, django_assert_max_num_queries, n):
    customer = CustomerFactory()
    AccountTeamMemberFactory.create_batch(n, customer=customer)
    api = api_as("marketing")
    with django_assert_max_num_queries(4):  # groups, the customer, members with their people and departments
        response = api.get(_team_url(customer), {"page_size": 50})
    assert len(response.json()["results"]) == n


def test_account_team_is_one_query_owner_first(django_assert_num_queries):
    customer = CustomerFactory()
    sales = AccountTeamMemberFactory(customer=customer, role=TeamRole.SALES)
    owner = AccountTeamMemberFactory(customer=customer, role=TeamRole.ACCOUNT_OWNER)
    marketer = AccountTeamMemberFactory(
        customer=customer, role=TeamRole.MARKETING, user=make_user("marketing", first_name="Zed")
    )
    with django_assert_num_queries(1):
        team = selectors.account_team(customer.pk)
        labels = [(m.pk, m.user.username, m.member_department) for m in team]
    assert [pk for pk, _u, _d in labels] == [owner.pk, sales.pk, marketer.pk]
    assert [d for _pk, _u, d in labels] == ["sales", "sales", "marketing"]


# ---------------------------------------------------------------------------------------------------------------
# The customer page


def test_the_customer_page_shows_the_team_with_actions_only_where_allowed(client_as):
    customer = CustomerFactory()
    owner = AccountTeamMemberFactory(customer=customer, role=TeamRole.ACCOUNT_OWNER)
    service_person = make_user("service", first_name="Wang", last_name="Fang")
    AccountTeamMemberFactory(customer=customer, user=service_person, role=TeamRole.SERVICE)
    url = reverse("customers:customer-detail", args=[customer.pk])
    html = client_as("marketing").get(url).content.decode()
    assert html.count('data-testid="team-member"') == 2
    assert owner.user.get_full_name() in html and "Account owner" in html and "Wang Fang" in html
    assert 'data-testid="team-remove"' not in html  # a marketer removes no one but themselves
    assert 'data-testid="team-add"' in html and 'hx-get="/pick/staff/?field=user"' in html
    html = client_as("sales_manager").get(url).content.decode()
    assert html.count('data-testid="team-remove"') == 1  # the sales owner, not the service person
    html = client_as("service", user=service_person).get(url).content.decode()
    assert html.count('data-testid="team-remove"') == 1  # themselves
    assert client_as("admin").get(url).content.decode().count('data-testid="team-remove"') == 2


def test_adding_on_the_page_with_htmx_swaps_the_team_partial(client_as):
    customer = CustomerFactory()
    client = client_as("sales")
    response = client.post(
        reverse("customers:team-add", args=[customer.pk]),
        {"user": client.user.pk, "role": "sales"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and response.templates[0].name == "customers/_account_team.html"
    html = response.content.decode()
    assert html.startswith('<div id="account-team"') and html.count('data-testid="team-member"') == 1
    assert "HX-Request" in response["Vary"]
    refused = client.post(
        reverse("customers:team-add", args=[customer.pk]),
        {"user": client.user.pk, "role": "sales"},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 422  # htmx swaps 422 only: the message shows on the user field
    assert 'data-field="user"' in refused.content.decode() and "already has this role" in refused.content.decode()


def test_adding_and_removing_without_javascript(client_as):
    customer = CustomerFactory()
    person = make_user("service")
    client = client_as("service_manager")
    added = client.post(reverse("customers:team-add", args=[customer.pk]), {"user": person.pk, "role": "service"})
    assert added.status_code == 302
    assert added.url == reverse("customers:customer-detail", args=[customer.pk]) + "#account-team"
    member = AccountTeamMember.objects.get()
    wrong = client.post(reverse("customers:team-add", args=[customer.pk]), {"user": person.pk, "role": "sales"})
    assert wrong.status_code == 422 and "role" in wrong.context["team_form"].errors
    missing = client.post(reverse("customers:team-add", args=[customer.pk]), {"role": "sales"})
    assert missing.status_code == 422 and "user" in missing.context["team_form"].errors
    removed = client.post(reverse("customers:team-remove", args=[customer.pk, member.pk]))
    assert removed.status_code == 302 and not AccountTeamMember.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_page_permissions_per_role(client_as, role):
    customer = CustomerFactory()
    colleague = make_user("sales")
    member = AccountTeamMemberFactory(customer=customer, user=colleague, role=TeamRole.SALES)
    client = client_as(role)
    may = role in ("sales_manager", "admin")
    add = client.post(
        reverse("customers:team-add", args=[customer.pk]), {"user": colleague.pk, "role": "account_owner"}
    )
    assert add.status_code == (302 if may else 403)
    remove = client.post(reverse("customers:team-remove", args=[customer.pk, member.pk]))
    assert remove.status_code == (302 if may else 403)
    assert _team(customer) == ([(colleague.pk, "account_owner")] if may else [(colleague.pk, "sales")])


def test_the_team_pages_need_a_staff_member(client):

    customer = CustomerFactory()
    client.force_login(UserFactory())  # signed in, in no department
    assert client.post(reverse("customers:team-add", args=[customer.pk]), {"role": "sales"}).status_code == 403


def test_the_customer_page_costs_one_query_for_the_team_whatever_its_size(client_as, django_assert_max_num_queries):
    client = client_as("sales_manager")
    small, big = CustomerFactory(), CustomerFactory()
    AccountTeamMemberFactory(customer=small, role=TeamRole.ACCOUNT_OWNER)
    AccountTeamMemberFactory(customer=big, role=TeamRole.ACCOUNT_OWNER)
    for role in ("marketing", "sales", "service"):
        for _ in range(3):
            AccountTeamMemberFactory(customer=big, role=role, user=make_user(role))
    client.get(reverse("customers:customer-detail", args=[small.pk]))  # warm caches
    # 27: the 25 of the 360 before commerce, the loyalty panel's points entries and "Recommended next".
    with django_assert_max_num_queries(27) as small_queries:
        client.get(reverse("customers:customer-detail", args=[small.pk]))
    team_queries = [q for q in small_queries.captured_queries if "customers_accountteammember" in q["sql"]]
    assert len(team_queries) == 1
    with django_assert_max_num_queries(len(small_queries.captured_queries)):
        response = client.get(reverse("customers:customer-detail", args=[big.pk]))
    assert response.content.decode().count('data-testid="team-member"') == 10


# ---------------------------------------------------------------------------------------------------------------
# The admin


def _admin_change_data(customer, rows):
    data = {
        "name": customer.name,
        "company": customer.company,
        "city": customer.city,
        "language": customer.language,
        "source_channel": "",
        "identities-TOTAL_FORMS": "0",
        "identities-INITIAL_FORMS": "0",
        "team_members-TOTAL_FORMS": str(len(rows)),
        "team_members-INITIAL_FORMS": str(sum(1 for row in rows if "id" in row)),
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"team_members-{index}-{key}"] = value
        data[f"team_members-{index}-customer"] = customer.pk
    return data


def test_admin_inline_adds_through_the_service(client_as):
    customer = CustomerFactory(language="")
    person = make_user("sales")
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    client = client_as("sales_manager")
    assert 'id="team_members-group"' in client.get(url).content.decode()
    response = client.post(url, _admin_change_data(customer, [{"user": person.pk, "role": "account_owner"}]))
    assert response.status_code == 302, response.content.decode()[:3000]
    member = AccountTeamMember.objects.get()
    assert (member.user, member.role, member.added_by) == (person, "account_owner", client.user)


@pytest.mark.parametrize(
    ("role", "saved"),
    [
        ("marketing", False),
        ("sales", False),
        ("service", False),
        ("marketing_manager", False),
        ("sales_manager", True),
        ("service_manager", False),
        ("admin", True),
    ],
)
def test_admin_inline_permissions_per_role(client_as, role, saved):
    customer = CustomerFactory(language="")
    person = make_user("sales")
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    response = client_as(role).post(url, _admin_change_data(customer, [{"user": person.pk, "role": "sales"}]))
    assert (response.status_code == 302) == saved
    if not saved:
        assert response.status_code in (200, 403)
    assert AccountTeamMember.objects.exists() == saved


def test_admin_inline_refuses_a_second_owner_on_the_form(client_as):
    customer = CustomerFactory(language="")
    AccountTeamMemberFactory(customer=customer, role=TeamRole.ACCOUNT_OWNER)
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    existing = AccountTeamMember.objects.get()
    rows = [
        {"id": existing.pk, "user": existing.user_id, "role": "account_owner"},
        {"user": make_user("sales").pk, "role": "account_owner"},
    ]
    response = client_as("admin").post(url, _admin_change_data(customer, rows))
    assert response.status_code == 200 and "is the account owner; remove them first" in response.content.decode()
    assert AccountTeamMember.objects.count() == 1
    # Removing the owner in the same save makes room for the new one.
    rows[0]["DELETE"] = "on"
    response = client_as("admin").post(url, _admin_change_data(customer, rows))
    assert response.status_code == 302
    assert AccountTeamMember.objects.get().user_id == rows[1]["user"]


# ---------------------------------------------------------------------------------------------------------------
# Who hears what


def _team_of(customer):
    owner = make_user("sales")
    marketer = make_user("marketing")
    AccountTeamMemberFactory(customer=customer, user=owner, role=TeamRole.ACCOUNT_OWNER)
    AccountTeamMemberFactory(customer=customer, user=owner, role=TeamRole.SALES)  # two roles, told once
    AccountTeamMemberFactory(customer=customer, user=marketer, role=TeamRole.MARKETING)
    AccountTeamMemberFactory(customer=customer, user=make_user("sales", is_active=False), role=TeamRole.SALES)
    return owner, marketer


def _told(kind):
    return sorted(Notification.objects.filter(kind=kind).values_list("recipient_id", flat=True))


def test_a_new_complaint_reaches_each_team_member_once(api_as):
    customer = CustomerFactory(name="Initech")
    owner, marketer = _team_of(customer)
    api = api_as("service")
    AccountTeamMemberFactory(customer=customer, user=api.user, role=TeamRole.SERVICE)  # the one who logs it
    ChannelFactory(code="phone")
    response = api.post(
        "/api/v1/complaints/",
        {"customer": customer.pk, "category": "price", "severity": "high", "channel": "phone", "description": "x"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert _told("feedback.account_complaint") == sorted([owner.pk, marketer.pk])
    told = Notification.objects.filter(kind="feedback.account_complaint").first()
    assert "Initech" in told.message
    assert told.url == reverse("feedback:complaint-detail", args=[response.json()["id"]])


def test_other_customers_teams_hear_nothing(api_as):
    customer, other = CustomerFactory(), CustomerFactory()
    _team_of(other)
    ChannelFactory(code="phone")
    api_as("service").post(
        "/api/v1/complaints/",
        {"customer": customer.pk, "category": "price", "severity": "low", "channel": "phone", "description": "x"},
        format="json",
    )
    assert _told("feedback.account_complaint") == []


def test_a_detractor_answer_reaches_each_team_member_once(api_as):
    customer = CustomerFactory()
    owner, marketer = _team_of(customer)
    service_member = make_user("service")  # told as the service team already, not twice
    AccountTeamMemberFactory(customer=customer, user=service_member, role=TeamRole.SERVICE)
    api = api_as("service")
    response = api.post(
        "/api/v1/nps-responses/", {"customer": customer.pk, "score": 3, "comment": "bad"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert _told("feedback.account_detractor") == sorted([owner.pk, marketer.pk])
    assert Notification.objects.filter(recipient=service_member).count() == 1
    assert Notification.objects.filter(recipient=owner).count() == 1
    promoter = api.post("/api/v1/nps-responses/", {"customer": customer.pk, "score": 10}, format="json")
    assert promoter.status_code == 201
    assert len(_told("feedback.account_detractor")) == 2  # promoters tell no one


def test_a_large_order_reaches_each_team_member_once(api_as, settings):
    settings.RELAY_LARGE_ORDER_AMOUNT = 10000
    customer = CustomerFactory(name="Umbrella")
    owner, marketer = _team_of(customer)
    ChannelFactory(code="shop")
    api = api_as("sales")
    AccountTeamMemberFactory(customer=customer, user=api.user, role=TeamRole.SALES)  # records it: not told

    def order(amount, external_id):
        payload = {
            "customer": customer.pk,
            "amount": amount,
            "ordered_at": "2026-03-02T10:00:00+08:00",
            "channel": "shop",
            "external_id": external_id,
        }
        return api.post("/api/v1/orders/", payload, format="json")

    assert order("9999.99", "A-1").status_code == 201
    assert _told("customers.large_order") == []
    assert order("10000.00", "A-2").status_code == 201
    assert _told("customers.large_order") == sorted([owner.pk, marketer.pk])
    assert order("10000.00", "A-2").status_code == 200  # the feed resends it: nobody is told twice
    assert _told("customers.large_order") == sorted([owner.pk, marketer.pk])
    assert "Umbrella" in Notification.objects.filter(kind="customers.large_order").first().message


def test_the_threshold_is_a_setting(api_as, settings):
    settings.RELAY_LARGE_ORDER_AMOUNT = 500
    customer = CustomerFactory()
    owner, _marketer = _team_of(customer)

    services.place_order(customer=customer, amount=Decimal("500.00"), ordered_at="2026-03-02", by=None)
    assert owner.pk in _told("customers.large_order")
