"""One date format and one date-time format per language, numbers grouped in thousands, money with its currency
(config/formats/, config/money.py, config/templatetags/relay_format.py); ids, the API and CSV stay as they were."""

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from html import unescape
from pathlib import Path

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from config.env import env_currency
from feedback.models import ComplaintStatusChange
from leads.models import Lead
from leads.stages import Stage
from okr.metrics import REGISTRY
from tests.factories import (
    ChannelFactory,
    ChannelSpendFactory,
    ComplaintFactory,
    CustomerFactory,
    LeadFactory,
    OrderFactory,
)

ROOT = Path(__file__).resolve().parents[2]
MOMENT = datetime(2026, 12, 2, 8, 8, tzinfo=UTC)  # 16:08 in Asia/Shanghai
AMOUNT = Decimal("1234567.50")
ID = 12345
# Per language: the date, the date-time (local, 24-hour) and the amount of 1234567.5 in the default currency.
LANGUAGES = {
    "en": ("2 Dec 2026", "2 Dec 2026, 16:08", "CNY\u00a01,234,567.50"),
    "zh-hans": ("2026年12月2日", "2026年12月2日 16:08", "¥1,234,567.50"),
}
# What the five formats the pages used to mix look like: ISO days, US days, a.m./p.m., "Sept. 28".
OTHER_FORMATS = re.compile(r"\d{4}-\d\d-\d\d|\d{1,2}/\d{1,2}/\d{2,4}|[ap]\.m\.|\b[A-Z][a-z]{2,3}\. \d{1,2}, \d{4}")


@pytest.fixture(autouse=True)
def _local_zone_and_frozen_clock(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    settings.RELAY_CURRENCY = "CNY"
    with time_machine.travel(datetime(2026, 12, 10, 4, 0, tzinfo=UTC), tick=False):
        yield


def _page(client, url: str, language: str) -> tuple[str, str]:
    response = client.get(url, headers={"accept-language": language})
    assert response.status_code == 200
    assert response["Content-Language"] == language
    html = response.content.decode()
    # The text a person reads: tags and their attributes go (ISO in <time datetime> and <input type=date> is for
    # machines); only ASCII white space is squeezed, so money keeps its no-break space.
    return html, re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]*>", " ", html)))


def _assert_one_format(text: str) -> None:
    assert not OTHER_FORMATS.search(text), OTHER_FORMATS.search(text).group()


@pytest.mark.parametrize("language", LANGUAGES)
def test_lead_page_shows_one_date_format_grouped_money_and_plain_ids(client_as, language):
    day, moment, money = LANGUAGES[language]
    lead = LeadFactory(pk=ID, stage=Stage.WON, furthest_stage=Stage.WON, won_amount=AMOUNT)
    other = LeadFactory(pk=ID + 1, customer=lead.customer)
    Lead.objects.filter(pk__in=[lead.pk, other.pk]).update(created_at=MOMENT)
    OrderFactory(customer=lead.customer, amount=AMOUNT, ordered_at=MOMENT)

    html, text = _page(client_as("sales_manager"), reverse("leads:lead-detail", args=[ID]), language)

    assert moment in text  # created at
    assert f"#{ID + 1} " in text and day in text  # the other lead, created on
    assert f"{day} · {money}" in text  # the customer's order
    assert re.search(rf'data-testid="won-amount">{re.escape(money)}', html)
    assert f"#{ID} ·" in text and f'href="{reverse("leads:lead-detail", args=[ID + 1])}"' in html
    assert "12,345" not in html and "12,346" not in html
    _assert_one_format(text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_complaint_page_shows_the_one_date_time_format_and_plain_ids(client_as, language):
    _day, moment, _money = LANGUAGES[language]
    order = OrderFactory(pk=ID + 1, amount=AMOUNT, ordered_at=MOMENT)
    complaint = ComplaintFactory(pk=ID, customer=order.customer, order=order, opened_at=MOMENT)
    ComplaintStatusChange.objects.create(complaint=complaint, from_status="", to_status="open", at=MOMENT)
    client = client_as("service")

    html, text = _page(client, reverse("feedback:complaint-detail", args=[ID]), language)
    assert text.count(moment) >= 2  # opened, and the history
    assert f"#{ID}" in text and f"#{ID + 1}" in text and "12,34" not in html
    _assert_one_format(text)

    html, text = _page(client, reverse("feedback:complaint-list"), language)
    assert f'href="{reverse("feedback:complaint-detail", args=[ID])}">#{ID}</a>' in html


@pytest.mark.parametrize("language", LANGUAGES)
def test_customer_360_shows_dates_money_and_plain_ids(client_as, language):
    day, moment, money = LANGUAGES[language]
    customer = CustomerFactory(pk=ID)
    OrderFactory(pk=ID + 1, customer=customer, amount=AMOUNT, ordered_at=MOMENT)
    ComplaintFactory(customer=customer, opened_at=MOMENT)
    LeadFactory(pk=ID + 2, customer=customer)

    html, text = _page(client_as("sales"), reverse("customers:customer-detail", args=[ID]), language)

    assert f"<td>{money}</td><td>{moment}</td>" in html  # recent orders
    assert re.search(rf"#{ID + 1}\W{{1,2}}{re.escape(money)}", text)  # the order on the timeline ("：" in Chinese)
    assert day in text  # the complaint's day
    assert f"#{ID}" in text and f"customer={ID}" in html and f"#{ID + 2}" in text
    assert "12,34" not in html
    _assert_one_format(text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_lists_of_orders_and_spend_show_money(client_as, language):
    _day, moment, money = LANGUAGES[language]
    OrderFactory(amount=AMOUNT, ordered_at=MOMENT)
    ChannelSpendFactory(amount=AMOUNT)
    client = client_as("marketing_manager")

    _html, text = _page(client, reverse("customers:order-list"), language)
    assert f"{money} {moment}" in text
    _html, text = _page(client, reverse("customers:spend-list"), language)
    assert money in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_channel_report_shows_money_and_its_csv_and_date_inputs_stay_plain(client_as, language):
    _day, _moment, money = LANGUAGES[language]
    ChannelSpendFactory(channel=ChannelFactory(code="ads", name="Ads"), month="2026-03-01", amount=AMOUNT)
    client = client_as("sales")
    url = reverse("okr:report-channels")
    period = {"start": "2026-03-01", "end": "2026-04-01"}

    response = client.get(url, period, headers={"accept-language": language})
    html = response.content.decode()
    assert f"<td>Ads</td><td>{money}</td>" in html
    assert 'type="date"' in html and 'value="2026-03-01"' in html  # <input type=date> needs ISO

    response = client.get(url, {**period, "format": "csv"}, headers={"accept-language": language})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff"))))
    assert rows[1][:3] == ["ads", "Ads", "1234567.50"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_api_payloads_keep_plain_decimals_iso_times_and_integer_ids(api_as, language):
    lead = LeadFactory(pk=ID, stage=Stage.WON, furthest_stage=Stage.WON, won_amount=AMOUNT)
    order = OrderFactory(pk=ID + 1, customer=lead.customer, amount=AMOUNT, ordered_at=MOMENT)
    api = api_as("sales_manager")

    body = api.get(f"/api/v1/orders/{order.pk}/", headers={"accept-language": language}).json()
    assert (body["id"], body["customer"], body["amount"]) == (ID + 1, lead.customer_id, "1234567.50")
    assert datetime.fromisoformat(body["ordered_at"]) == MOMENT
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)", body["ordered_at"])

    body = api.get(f"/api/v1/leads/{ID}/", headers={"accept-language": language}).json()
    assert (body["id"], body["won_amount"]) == (ID, "1234567.50")


def _render(source: str, language: str, **context) -> str:
    with translation.override(language):
        return Template("{% load relay_format %}" + source).render(Context(context))


@pytest.mark.parametrize(
    ("value", "en", "zh"),
    [
        (Decimal("1234567.5"), "CNY\u00a01,234,567.50", "¥1,234,567.50"),
        (1234567.5, "CNY\u00a01,234,567.50", "¥1,234,567.50"),
        ("0.005", "CNY\u00a00.01", "¥0.01"),  # half up
        (Decimal("-1234.5"), "-CNY\u00a01,234.50", "-¥1,234.50"),
        (Decimal("-0.001"), "CNY\u00a00.00", "¥0.00"),  # no negative zero
        (None, "—", "—"),
    ],
)
def test_money_filter_per_language(value, en, zh):
    assert _render("{{ v|money }}", "en", v=value) == en
    assert _render("{{ v|money }}", "zh-hans", v=value) == zh


def test_another_currency_shows_its_code_in_both_languages(settings):
    settings.RELAY_CURRENCY = "USD"
    assert _render("{{ v|money }}", "en", v=AMOUNT) == "USD\u00a01,234,567.50"
    assert _render("{{ v|money }}", "zh-hans", v=AMOUNT) == "USD\u00a01,234,567.50"


@pytest.mark.parametrize("language", LANGUAGES)
def test_numbers_dates_and_ids_in_templates(language):
    day, moment, _money = LANGUAGES[language]
    source = "{% load l10n %}{{ n }}|{{ n|unlocalize }}|{{ x|number:1 }}|{{ none|number }}|{{ m|date }}|{{ m }}"
    rendered = _render(source, language, n=1234567, x=1234.56, none=None, m=MOMENT)
    assert rendered == f"1,234,567|1234567|1,234.6|—|{day}|{moment}"
    assert _render('{{ m|date:"DATETIME_FORMAT" }}|{{ m|date:"SHORT_DATE_FORMAT" }}', language, m=MOMENT) == (
        f"{moment}|{day}"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_money_metrics_on_the_okr_board_show_the_currency(language):
    _day, _moment, money = LANGUAGES[language]
    source = "{% load okr %}{{ v|metric_value:cac }}|{{ r|metric_value:rate }}"
    with translation.override(language):
        rendered = Template(source).render(
            Context({"v": AMOUNT, "cac": REGISTRY["cac"], "r": 0.25, "rate": REGISTRY["close_rate"]})
        )
    assert rendered == f"{money}|25.0 %"


def test_the_currency_setting_is_an_iso_4217_code(monkeypatch):
    assert env_currency("RELAY_CURRENCY", "CNY") == "CNY"
    monkeypatch.setenv("RELAY_CURRENCY", " usd ")
    assert env_currency("RELAY_CURRENCY", "CNY") == "USD"
    for wrong in ("RMB", "XAU", "dollars", ""):
        monkeypatch.setenv("RELAY_CURRENCY", wrong)
        with pytest.raises(ImproperlyConfigured, match="RELAY_CURRENCY"):
            env_currency("RELAY_CURRENCY", "CNY")


def test_templates_format_dates_only_by_the_named_formats():
    """`|date:"Y-m-d"` and friends made five formats on one site; what a template shows names the format instead
    (`{% if a|date:"Ymd" == b|date:"Ymd" %}` compares days, it shows nothing)."""
    named = {"DATE_FORMAT", "DATETIME_FORMAT", "SHORT_DATE_FORMAT", "SHORT_DATETIME_FORMAT", "c"}
    found = {
        f"{path.relative_to(ROOT)}: {fmt}"
        for path in (ROOT / "templates").rglob("*.*")
        for tag in re.findall(r"\{[{%].*?[}%]\}", path.read_text())
        if not re.match(r"\{%\s*(el)?if\b", tag)
        for fmt in re.findall(r"""\|date:["']([^"']*)["']""", tag)
        if fmt not in named
    }
    assert not found
