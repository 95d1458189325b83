"""CSV imports of kind "touchpoints" through the import pipeline (customers.imports, DESIGN.md "Touchpoints ...
imported by CSV"): the dry run's counts, the real run, per-row errors naming their column, GB18030 files with
Chinese headers, a second import writing nothing, and who may import."""

import codecs
from datetime import datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers import imports
from customers.errors import ImportRefused
from customers.models import Customer, ImportJob
from marketing.models import Touchpoint
from tests.factories import CampaignFactory, ChannelFactory, CustomerFactory, TouchpointFactory, make_user

pytestmark = pytest.mark.django_db

NOW = datetime.fromisoformat("2026-03-10T10:00:00+08:00")


@pytest.fixture(autouse=True)
def _clock_and_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with time_machine.travel(NOW, tick=False):
        yield


def _upload(api, text, *, encoding="utf-8", dry_run=True):
    data = text.encode(encoding)
    if encoding == "utf-8-sig":
        assert data.startswith(codecs.BOM_UTF8)
    file = SimpleUploadedFile("touchpoints.csv", data, content_type="text/csv")
    return api.post("/api/v1/imports/", {"kind": "touchpoints", "file": file, "dry_run": dry_run}, format="multipart")


def _dry_then_run(api, capture, text, **kwargs):
    with capture(execute=True):
        response = _upload(api, text, **kwargs)
    assert response.status_code == 202, response.content
    dry = api.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert dry["status"] == "done", dry
    with capture(execute=True):
        run = api.post(f"/api/v1/imports/{dry['id']}/run/")
    assert run.status_code == 202, run.content
    return dry, api.get(f"/api/v1/imports/{run.json()['id']}/").json()


def _counts(job) -> tuple[int, int, int]:
    return job["created_count"], job["updated_count"], job["failed_count"]


def test_dry_run_counts_then_the_real_run_writes_them_and_a_second_import_writes_nothing(
    api_as, django_capture_on_commit_callbacks
):
    douyin = ChannelFactory(code="douyin", name="Douyin")
    ChannelFactory(code="wechat")
    ChannelFactory(code="retired", is_active=False)
    campaign = CampaignFactory(channel=douyin)
    elsewhere = CampaignFactory(channel=ChannelFactory(code="xhs"))
    known = CustomerFactory(name="Known")
    stored = TouchpointFactory(customer=known, channel=douyin, external_id="seen-1")
    text = (
        "name,phone,customer_id,channel,campaign,kind,at,external_id\n"
        f"Li Na,13800000001,,douyin,{campaign.pk},impression,2026-03-01 10:00,dy-1\n"  # 2: a new person
        ",138-0000-0001,,wechat,,click,2026-03-02,wx-1\n"  # 3: the same person (row 2's phone)
        f",,{known.pk},douyin,,visit,2026-03-03 09:00,dy-2\n"  # 4
        f",,{known.pk},douyin,,visit,2026-03-03 09:00,dy-2\n"  # 5: row 4 again (same channel and id)
        f",,{known.pk},tiktok,,click,2026-03-03,t-1\n"  # 6: no such channel
        f",,{known.pk},douyin,,view,2026-03-03,v-1\n"  # 7: no such kind
        f",,{known.pk},douyin,,click,2026-03-11,f-1\n"  # 8: tomorrow
        f",,{known.pk},Douyin,,CLICK,2026-03-04,seen-1\n"  # 9: wrong case of the code: unknown channel
        f",,{known.pk},douyin,{elsewhere.pk},click,2026-03-04,w-1\n"  # 10: a campaign of another channel
        ",,999999,douyin,,click,2026-03-04,q-1\n"  # 11: no such customer
        f",,{known.pk},douyin,,scan,2026-03-05 12:00,\n"  # 12: no external id
        f",,{known.pk},douyin,,scan,2026-03-05 12:00,\n"  # 13: row 12 again
        f",,{known.pk},retired,,click,2026-03-05,r-1\n"  # 14: a switched-off channel
        f",,{known.pk},douyin,,click,,e-1\n"  # 15: no time
        f",,{known.pk},douyin,,Click,2026-03-06,seen-1\n"  # 16: already recorded (kinds ignore case)
    )
    dry, real = _dry_then_run(api_as("marketing"), django_capture_on_commit_callbacks, text)
    # created: rows 2, 3, 4, 12; already there: 5 (row 4), 13 (row 12), 16 (stored); refused: 6-11, 14, 15
    assert _counts(dry) == (4, 3, 8)
    assert _counts(real) == (4, 3, 8)
    assert {(e["row"], e["column"]) for e in real["errors"]} == {
        (6, "channel"),
        (7, "kind"),
        (8, "at"),
        (9, "channel"),
        (10, "campaign"),
        (11, "customer_id"),
        (14, "channel"),
        (15, "at"),
    }
    reasons = {e["row"]: e["reason"] for e in real["errors"]}
    assert reasons[8] == "The touch's time is in the future."
    assert reasons[14] == "The channel retired is no longer active."
    assert real["errors"] == dry["errors"]

    li_na = Customer.objects.get(name="Li Na")
    assert li_na.source_channel == douyin  # first known through the touch's channel, as through the API
    assert Customer.objects.count() == 2
    new = Touchpoint.objects.exclude(pk=stored.pk).order_by("at")
    assert [(t.customer, t.channel.code, t.campaign, t.kind, t.external_id) for t in new] == [
        (li_na, "douyin", campaign, "impression", "dy-1"),
        (li_na, "wechat", None, "click", "wx-1"),
        (known, "douyin", None, "visit", "dy-2"),
        (known, "douyin", None, "scan", ""),
    ]
    assert new[0].at == datetime.fromisoformat("2026-03-01T10:00:00+08:00")
    assert new[1].at == datetime.fromisoformat("2026-03-02T00:00:00+08:00")  # a date alone: its start, local time
    assert {t.created_by.username for t in new} == {ImportJob.objects.get(pk=real["id"]).created_by.username}

    again_dry, again = _dry_then_run(api_as("marketing"), django_capture_on_commit_callbacks, text)
    assert _counts(again_dry) == _counts(again) == (0, 7, 8)
    assert Touchpoint.objects.count() == 5 and Customer.objects.count() == 2


def test_a_dry_run_writes_nothing(api_as, django_capture_on_commit_callbacks):
    ChannelFactory(code="douyin")
    text = "name,phone,channel,kind,at,external_id\nNew,13800000002,douyin,click,2026-03-01,d-1\n"
    with django_capture_on_commit_callbacks(execute=True):
        job = _upload(api_as("marketing"), text).json()
    assert api_as("marketing").get(f"/api/v1/imports/{job['id']}/").json()["created_count"] == 1
    assert not Touchpoint.objects.exists() and not Customer.objects.exists()


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_a_chinese_file_with_chinese_headers_imports(api_as, django_capture_on_commit_callbacks, encoding):
    ChannelFactory(code="xhs", name="小红书")
    text = (
        "姓名,手机,渠道,类型,时间,外部编号\n"
        "王芳,13900000021,xhs,impression,2026/03/01 08:15,笔记-1\n"
        "李雷,13900000022,xhs,click,2026-03-02 20:00,笔记-2\n"
        "坏,13900000023,xhs,浏览,2026-03-02,笔记-3\n"
    )
    dry, real = _dry_then_run(api_as("marketing"), django_capture_on_commit_callbacks, text, encoding=encoding)
    assert dry["encoding"] == encoding
    assert _counts(dry) == _counts(real) == (2, 0, 1)
    assert [(e["row"], e["column"]) for e in real["errors"]] == [(4, "kind")]
    assert sorted(Touchpoint.objects.values_list("customer__name", "external_id")) == [
        ("李雷", "笔记-2"),
        ("王芳", "笔记-1"),
    ]


def test_a_header_without_the_touchpoint_columns_is_refused_naming_the_file(api_as):
    response = _upload(api_as("marketing"), "name,phone,channel\nA,13800000000,douyin\n")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["field"], error["code"], error["message"]) == (
        "file",
        "missing_columns",
        "Missing columns: kind, at.",
    )
    assert not ImportJob.objects.exists()


def test_an_unknown_kind_of_import_names_touchpoints_among_the_choices():
    with pytest.raises(ImportRefused) as refused:
        imports.start_import(by=make_user("marketing"), kind="contracts", upload=SimpleUploadedFile("x.csv", b"a\n1\n"))
    assert (refused.value.field, refused.value.message) == (
        "kind",
        "Choose customers, leads, orders, touchpoints or products.",
    )


# Importing touchpoints needs the permission to record them through the API (DESIGN.md "Roles").
@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("marketing", 202),
        ("marketing_manager", 202),
        ("admin", 202),
        ("sales", 403),
        ("sales_manager", 403),
        ("service", 403),
        ("service_manager", 403),
    ],
)
def test_only_those_who_record_touchpoints_import_them(api_as, client_as, role, status):
    ChannelFactory(code="douyin")
    text = "name,phone,channel,kind,at\nLi,13800000011,douyin,visit,2026-03-01\n"
    assert _upload(api_as(role), text).status_code == status
    page = client_as(role).post(
        reverse("customers:import-list"),
        {"kind": "touchpoints", "file": SimpleUploadedFile("t.csv", text.encode())},
    )
    assert page.status_code == (302 if status == 202 else 403)
    assert ImportJob.objects.count() == (2 if status == 202 else 0)


def test_the_import_page_offers_touchpoints_and_names_their_columns(client_as):
    page = client_as("marketing").get(reverse("customers:import-list")).content.decode()
    assert '<option value="touchpoints">Touchpoints</option>' in page
    assert "touchpoints add customer_id, channel, campaign" in page
