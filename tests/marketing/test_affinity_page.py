"""Marketing's product affinity page (`marketing:affinity`): the strongest pairs per category of the product bought,
by lift, with the hand-computed figures, a filter by category, the last refresh time, and who may see it."""

import re

import pytest
from django.urls import reverse

from customers import affinity
from customers.models import AffinityPair
from marketing import affinity_views
from tests.conftest import ROLES
from tests.customers.affinity_fixture import MIN_SUPPORT, NOW, make_shop
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = reverse("marketing:affinity")


@pytest.fixture
def shop(settings):
    settings.RELAY_AFFINITY_MIN_SUPPORT = MIN_SUPPORT
    made = make_shop()
    affinity.refresh_affinity(now=NOW)
    return made


def _sections(html: str) -> dict[str, list[str]]:
    """Category → the pair sentences, in page order."""
    found = {}
    for part in html.split('data-testid="affinity-category"')[1:]:
        category = re.search(r"<h2>(.*?)</h2>", part).group(1)
        found[category] = [
            " ".join(text.split()) for text in re.findall(r'data-testid="affinity-pair">\s*<td>(.*?)<small', part, re.S)
        ]
    return found


def test_pairs_per_category_by_lift_with_the_hand_computed_figures(client_as, shop):
    response = client_as("marketing").get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    # Lifts: A→B 1.2, A→C 16/15; B→A 1.2, B→C 4/3, E→C 8/3; C→A 16/15, C→B 4/3, C→E 8/3; grocery has none.
    assert _sections(html) == {
        "baby": [
            "Customers who bought Baby food are 1.2× as likely to buy Toy car",
            "Customers who bought Baby food are 1.1× as likely to buy Kids tee",
        ],
        "clothes": [
            "Customers who bought Kids tee are 2.7× as likely to buy Old toy",
            "Customers who bought Kids tee are 1.3× as likely to buy Toy car",
            "Customers who bought Kids tee are 1.1× as likely to buy Baby food",
        ],
        "toys": [
            "Customers who bought Old toy are 2.7× as likely to buy Kids tee",
            "Customers who bought Toy car are 1.3× as likely to buy Kids tee",
            "Customers who bought Toy car are 1.2× as likely to buy Baby food",
        ],
    }
    # The first toys row: E → C, support 2, confidence 2/2, lift 8/3.
    toys = html[html.index("<h2>toys</h2>") :]
    row = toys[toys.index('data-testid="affinity-pair"') :]
    cells = re.findall(r"<td>(.*?)</td>", row[: row.index("</tr>")], re.S)[1:]
    assert cells == ["2", "100%", "2.67"]
    assert "2026" in html[html.index('data-testid="refreshed-at"') :][:300]


def test_only_the_top_n_of_each_category(client_as, shop, monkeypatch):
    monkeypatch.setattr(affinity_views, "PER_CATEGORY", 1)
    sections = _sections(client_as("marketing").get(URL).content.decode())
    assert {category: len(rows) for category, rows in sections.items()} == {"baby": 1, "clothes": 1, "toys": 1}
    assert sections["toys"] == ["Customers who bought Old toy are 2.7× as likely to buy Kids tee"]


def test_the_category_filter(client_as, shop):
    sections = _sections(client_as("sales").get(URL, {"category": "baby"}).content.decode())
    assert list(sections) == ["baby"] and len(sections["baby"]) == 2


def test_an_unknown_category_says_so_and_shows_them_all(client_as, shop):
    response = client_as("sales").get(URL, {"category": "no such thing"})
    html = response.content.decode()
    assert response.status_code == 200 and 'data-field="category"' in html
    assert list(_sections(html)) == ["baby", "clothes", "toys"]


def test_before_the_first_refresh(client_as):
    html = client_as("marketing_manager").get(URL).content.decode()
    assert "Not computed yet" in html and 'data-testid="no-pairs"' in html


@pytest.mark.parametrize("n", [1, 15])
def test_the_page_costs_the_same_queries_at_any_size(client_as, django_assert_max_num_queries, n):
    client = client_as("marketing")
    for index in range(n):
        bought, also = ProductFactory(category=f"cat-{index}"), ProductFactory()
        AffinityPair.objects.create(
            from_product=bought, to_product=also, support=5, confidence=0.5, lift=2, computed_at=NOW
        )
    client.get(URL)  # warm caches
    # session, user, groups, categories, the pairs, the last refresh, the unread notifications
    with django_assert_max_num_queries(7):
        response = client.get(URL)
    assert response.content.decode().count('data-testid="affinity-pair"') == n


@pytest.mark.parametrize("role", ROLES)
def test_every_staff_role_sees_it_and_the_nav_links_it(client_as, role):
    response = client_as(role).get(URL)
    assert response.status_code == 200
    assert f'href="{URL}"' in response.content.decode()


def test_anonymous_signs_in_first_and_staff_outside_the_departments_are_refused(client):
    assert client.get(URL).status_code == 302
    client.force_login(UserFactory())
    assert client.get(URL).status_code == 403
