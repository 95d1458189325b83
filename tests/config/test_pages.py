import pytest
from django.urls import reverse

from tests.factories import NotificationFactory, make_user
from tests.paging import assert_fixed_queries, assert_walks

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_login_with_password_then_logout(client):
    user = make_user("sales", username="lin")
    response = client.post(reverse("login"), {"username": "lin", "password": "relay-test-pass"})
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert home.context["user"] == user
    client.post(reverse("logout"))
    assert client.get("/").status_code == 302


def test_wrong_password_shows_the_form_again(client):
    make_user("sales", username="lin")
    response = client.post(reverse("login"), {"username": "lin", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].errors


@pytest.mark.parametrize(
    ("role", "sees", "does_not_see"),
    [
        ("marketing", [reverse("leads:my-queue")], []),
        ("sales", [reverse("leads:my-queue")], []),
        ("service", [reverse("feedback:complaint-list")], [reverse("leads:my-queue")]),
    ],
)
def test_navigation_fits_the_role(client_as, role, sees, does_not_see):
    html = client_as(role).get("/").content.decode()
    for url in sees:
        assert f'href="{url}"' in html
    for url in does_not_see:
        assert f'href="{url}"' not in html


def test_password_change(client_as):
    client = client_as("service")
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "relay-test-pass",
            "new_password1": "a-Much-longer-pass-42",
            "new_password2": "a-Much-longer-pass-42",
        },
    )
    assert response.status_code == 302
    client.user.refresh_from_db()
    assert client.user.check_password("a-Much-longer-pass-42")


def test_bell_shows_unread_count_and_mark_read_clears_it(client_as):
    client = client_as("sales")
    NotificationFactory.create_batch(3, recipient=client.user)
    NotificationFactory(recipient=make_user("sales"))  # someone else's
    html = client.get("/").content.decode()
    assert 'data-testid="unread-count">3<' in html
    client.post(reverse("notifications-read"))
    assert 'data-testid="unread-count"' not in client.get("/").content.decode()


@pytest.mark.parametrize("n", [1, 25])
def test_notification_list_queries_do_not_grow(client_as, django_assert_max_num_queries, n):
    client = client_as("sales")
    NotificationFactory.create_batch(n, recipient=client.user)
    # session, user, rows (keyset: no COUNT), groups (the role's navigation), unread count
    with django_assert_max_num_queries(5):
        response = client.get(reverse("notifications"))
    assert response.status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/phish", "//evil.example/", "http:evil.example"])
def test_mark_read_never_redirects_to_another_site(client_as, target):
    client = client_as("sales")
    response = client.post(reverse("notifications-read"), {"next": target})
    assert response.status_code == 302
    assert response.url == reverse("notifications")


def test_mark_read_returns_to_a_page_of_this_site(client_as):
    response = client_as("sales").post(reverse("notifications-read"), {"next": "/leads/"})
    assert response.url == "/leads/"


def test_notification_list_pages_by_keyset_newest_first(client_as, django_assert_max_num_queries):
    client = client_as("sales")
    url = reverse("notifications")

    def make(n):
        NotificationFactory.create_batch(n, recipient=client.user)
        NotificationFactory(recipient=make_user("sales"))  # someone else's never shows

    response = assert_fixed_queries(client, url, make, assert_max_num_queries=django_assert_max_num_queries)
    assert len(response.context["page"]) == 30 and response.context["next_url"]
    mine = sorted(client.user.notifications.values_list("pk", flat=True), reverse=True)
    assert_walks(client, url, mine, page_size=30)
