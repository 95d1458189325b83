import pytest

from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_on_a_phone_open_the_menu_and_switch_to_chinese(phone, login, live_server):
    login(phone, make_user("marketing", username="mei"))
    assert not phone.is_visible("nav.mainnav a >> nth=0")  # collapsed on a phone
    phone.click("label.nav-toggle-label")
    assert phone.is_visible("nav.mainnav a >> nth=0")
    phone.click("button[name=language][value=zh-hans]")
    phone.wait_for_load_state()
    assert "退出" in phone.content()
    # Nothing on the start page is wider than the screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
