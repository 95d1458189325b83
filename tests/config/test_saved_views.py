"""Saved views: a person saves a list's filters and sort under a name, opens them from the list's dropdown and
deletes them; nobody else ever sees or deletes them."""

import re
from html import unescape

import pytest
from django.urls import reverse

from config.models import SavedView
from tests.conftest import ROLES
from tests.factories import CustomerFactory, LeadFactory, UserFactory, make_user
from tests.paging import assert_fixed_queries

pytestmark = pytest.mark.django_db
SAVE = reverse("saved-view-create")
LISTS = {
    "leads": reverse("leads:lead-list"),
    "customers": reverse("customers:customer-list"),
    "orders": reverse("customers:order-list"),
    "campaigns": reverse("customers:campaign-list"),
    "spend": reverse("customers:spend-list"),
    "complaints": reverse("feedback:complaint-list"),
    "nps": reverse("feedback:nps-list"),
}


def _views_on(html: str) -> dict[str, str]:
    found = re.findall(r'<a href="\?([^"]*)" data-testid="saved-view">([^<]+)</a>', html)
    return {unescape(name): unescape(query) for query, name in found}


@pytest.mark.parametrize("key", LISTS)
def test_every_list_saves_its_filters_and_sort_and_offers_them_back(client_as, key):
    client = client_as("sales")
    query = "sort=-id&q=Li"
    response = client.post(SAVE, {"list_key": key, "name": "Mine", "query_string": query})
    assert response.status_code == 302
    assert response["Location"] == f"{LISTS[key]}?{query}"
    page = client.get(LISTS[key])
    assert page.status_code == 200
    assert _views_on(page.content.decode()) == {"Mine": query}


def test_the_form_on_the_list_carries_its_current_filters_and_sort(client_as):
    html = client_as("sales").get(LISTS["leads"], {"stage": "new", "sort": "-updated", "after": "5"}).content.decode()
    assert '<input type="hidden" name="list_key" value="leads">' in html
    assert '<input type="hidden" name="query_string" value="stage=new&amp;sort=-updated">' in html  # not the page


def test_saving_a_name_again_replaces_that_view_and_paging_keys_are_dropped(client_as):
    client = client_as("marketing")
    client.post(SAVE, {"list_key": "leads", "name": "New ones", "query_string": "stage=new"})
    client.post(SAVE, {"list_key": "leads", "name": "New ones", "query_string": "stage=won&after=9&before=3"})
    view = SavedView.objects.get()
    assert (view.user, view.list_key, view.name, view.query_string) == (client.user, "leads", "New ones", "stage=won")


def test_a_person_never_sees_another_persons_views(client_as):
    other = make_user("sales")
    SavedView.objects.create(user=other, list_key="leads", name="Theirs", query_string="stage=won")
    client = client_as("sales")
    SavedView.objects.create(user=client.user, list_key="leads", name="Mine", query_string="stage=new")
    SavedView.objects.create(user=client.user, list_key="customers", name="Other list", query_string="q=a")
    assert _views_on(client.get(LISTS["leads"]).content.decode()) == {"Mine": "stage=new"}


def test_a_person_deletes_their_own_view_but_never_anothers(client_as):
    theirs = SavedView.objects.create(user=make_user("sales"), list_key="leads", name="Theirs")
    client = client_as("sales")
    mine = SavedView.objects.create(user=client.user, list_key="leads", name="Mine")
    assert client.post(reverse("saved-view-delete", args=[theirs.pk])).status_code == 404
    response = client.post(reverse("saved-view-delete", args=[mine.pk]))
    assert (response.status_code, response["Location"]) == (302, LISTS["leads"])
    assert list(SavedView.objects.values_list("name", flat=True)) == ["Theirs"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"list_key": "leads", "name": "  "}, "Name the view."),
        ({"list_key": "leads", "name": "x" * 101}, "Use at most 100 characters."),
        ({"list_key": "leads", "name": "Long", "query_string": "q=" + "x" * 2000}, "These filters are too long"),
    ],
)
def test_a_refused_save_says_why_on_the_list(client_as, data, message):
    client = client_as("sales")
    response = client.post(SAVE, data, follow=True)
    assert response.status_code == 200
    assert any(message in str(m) for m in response.context["messages"])
    assert not SavedView.objects.exists()


def test_an_unknown_list_is_404(client_as):
    assert client_as("sales").post(SAVE, {"list_key": "secrets", "name": "x"}).status_code == 404
    assert not SavedView.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_every_role_saves_and_deletes_its_own_views(client_as, role):
    client = client_as(role)
    assert (
        client.post(SAVE, {"list_key": "complaints", "name": "Open", "query_string": "status=open"}).status_code == 302
    )
    view = SavedView.objects.get(user=client.user)
    assert client.post(reverse("saved-view-delete", args=[view.pk])).status_code == 302
    assert not SavedView.objects.exists()


def test_outsiders_cannot_save_or_delete(client):
    view = SavedView.objects.create(user=make_user("sales"), list_key="leads", name="Kept")
    response = client.post(SAVE, {"list_key": "leads", "name": "x"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(UserFactory())  # signed in, in no department
    assert client.post(SAVE, {"list_key": "leads", "name": "x"}).status_code == 403
    assert client.post(reverse("saved-view-delete", args=[view.pk])).status_code == 403
    assert list(SavedView.objects.values_list("name", flat=True)) == ["Kept"]


@pytest.mark.parametrize(
    ("key", "make"), [("leads", LeadFactory.create_batch), ("customers", CustomerFactory.create_batch)]
)
def test_the_dropdown_costs_one_query_however_many_views(client_as, django_assert_max_num_queries, key, make):
    client = client_as("sales")
    make(2)

    def views(n):
        start = SavedView.objects.count()
        for i in range(n):
            SavedView.objects.create(user=client.user, list_key=key, name=f"View {start + i}", query_string="q=a")

    response = assert_fixed_queries(
        client, LISTS[key], views, assert_max_num_queries=django_assert_max_num_queries, few=1, many=30
    )
    assert len(_views_on(response.content.decode())) == 30
