"""Staff alerts to Feishu and WeCom group bots (config/bots.py): signed, filtered by kind, retried, logged, admin-only.

The bots' HTTP is a real receiver on loopback (as in test_webhooks.py) that answers what each test tells it to.
"""

import ipaddress
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from config import bots, jobs, notifications, webhook_targets, webhooks
from config.models import BotAttempt, BotDelivery, ChatBot, ChatBotKind, JobStatus
from config.tasks import retry_due_bot_messages
from tests.factories import make_user

pytestmark = pytest.mark.django_db

ROLES = ["marketing", "sales", "service", "marketing_manager", "sales_manager", "service_manager", "admin"]
PUBLIC = "93.184.215.14"  # what the fake resolver answers for a name; nothing connects to it
SLA_KIND = "leads.sla.handoff"  # registered by leads/subscriptions.py as "Handoff past its accept SLA"


class Receiver:
    """A bot service on loopback: records each request and answers `status` with the JSON `answer`."""

    def __init__(self):
        self.received: list[tuple[dict, dict]] = []
        self.status = 200
        self.answer: dict = {"code": 0, "msg": "success"}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
                answer = json.dumps(receiver.answer).encode()
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/open-apis/bot/v2/hook/TOKEN-abc"


@pytest.fixture
def receiver(settings):
    settings.RELAY_WEBHOOKS_ALLOW_HTTP = True
    settings.RELAY_WEBHOOKS_ALLOW_LOOPBACK = True
    service = Receiver()
    yield service
    service.server.shutdown()


@pytest.fixture
def dns(monkeypatch):
    """Names in `dns.names` answer their addresses, other names a public one; IP literals resolve to themselves."""

    class Fake:
        names: dict[str, list[str]] = {}

        def __call__(self, hostname, port):
            try:
                return [ipaddress.ip_address(hostname)]
            except ValueError:
                return [ipaddress.ip_address(a) for a in self.names.get(hostname, [PUBLIC])]

    fake = Fake()
    monkeypatch.setattr(webhook_targets, "resolve", fake)
    return fake


def _bot(url, *, kind=ChatBotKind.FEISHU, **fields):
    return ChatBot.objects.create(kind=kind, name=fields.pop("name", "Sales group"), webhook_url=url, **fields)


def _alert(capture, *, kind=SLA_KIND, key="leads.sla.handoff.7", message="Lead #7 waits for an accept", url=""):
    with capture(execute=True):
        manager = make_user("sales_manager")
        notifications.notify(recipients=[manager], kind=kind, message=message, url=url, dedupe_key=key)


def _due_now(delivery):
    BotDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_feishu_signature_is_hmac_sha256_keyed_with_timestamp_and_secret():
    # printf '' | openssl dgst -sha256 -hmac "$(printf '1599360473\nSECabc123')" -binary | base64
    assert bots.feishu_sign("SECabc123", 1599360473) == "xrs26pQpFkxWovMDgzfslap3+aQh6l/XmjymasupLlI="


def test_an_alert_reaches_a_signed_feishu_bot_with_its_label_message_and_link(
    receiver, settings, django_capture_on_commit_callbacks
):
    settings.RELAY_SURVEY_BASE_URL = "https://relay.example.com"
    _bot(receiver.url, secret="SECrelay-test")
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):  # 1767225600
        _alert(django_capture_on_commit_callbacks, url="/leads/7/")
    (headers, body), *more = receiver.received
    assert more == [] and headers["content-type"].startswith("application/json")
    assert body == {
        "timestamp": "1767225600",
        # printf '' | openssl dgst -sha256 -hmac "$(printf '1767225600\nSECrelay-test')" -binary | base64
        "sign": "ogSh3KU55oBySf++0sSEfA18jQwhvGXCL7W78asIEbw=",
        "msg_type": "text",
        "content": {
            "text": "[Relay] Handoff past its accept SLA\nLead #7 waits for an accept\nhttps://relay.example.com/leads/7/"
        },
    }
    delivery = BotDelivery.objects.get()
    assert (delivery.status, delivery.alert_kind, delivery.error) == (JobStatus.DONE, SLA_KIND, "")
    assert list(delivery.attempt_log.values_list("response_status", "error")) == [(200, "")]


def test_a_feishu_bot_without_a_secret_sends_no_signature(receiver, django_capture_on_commit_callbacks):
    _bot(receiver.url)
    _alert(django_capture_on_commit_callbacks)
    assert receiver.received[0][1] == {
        "msg_type": "text",
        "content": {"text": "[Relay] Handoff past its accept SLA\nLead #7 waits for an accept"},
    }


def test_a_wecom_bot_gets_a_text_message_without_signature(receiver, django_capture_on_commit_callbacks):
    receiver.answer = {"errcode": 0, "errmsg": "ok"}
    _bot(receiver.url, kind=ChatBotKind.WECOM)
    _alert(django_capture_on_commit_callbacks, message="Complaint #3 has no first response")
    assert receiver.received[0][1] == {
        "msgtype": "text",
        "text": {"content": "[Relay] Handoff past its accept SLA\nComplaint #3 has no first response"},
    }
    assert BotDelivery.objects.get().status == JobStatus.DONE


def test_a_wecom_message_is_cut_to_its_2048_byte_limit_without_splitting_a_character():
    bot = ChatBot(kind=ChatBotKind.WECOM, webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
    content = bots.payload(bot, "线索" * 1000, 0)["text"]["content"]  # 6,000 bytes of UTF-8
    # 2,048 - 3 bytes for "…" = 2,045 = 681 whole characters of 3 bytes (2,043) + 2 dropped bytes
    assert content == "线索" * 340 + "线" + "…"
    assert len(content.encode()) == 681 * 3 + 3 <= 2048


def test_the_same_alert_raised_again_goes_to_each_bot_once(receiver, django_capture_on_commit_callbacks):
    _bot(receiver.url)
    for _ in range(2):
        _alert(django_capture_on_commit_callbacks)
    assert len(receiver.received) == 1 and BotDelivery.objects.count() == 1


def test_a_notification_without_a_dedupe_key_is_no_alert(receiver, django_capture_on_commit_callbacks):
    _bot(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.notify(recipients=[make_user("sales")], kind="leads.handoff", message="Lead for you")
    assert receiver.received == [] and not BotDelivery.objects.exists()


def test_a_bot_forwards_only_the_kinds_ticked_and_every_kind_when_none(receiver, django_capture_on_commit_callbacks):
    every = _bot(receiver.url, name="Every alert")
    sla = _bot(receiver.url, name="SLA only", alert_kinds=[SLA_KIND, "leads.sla.contact"])
    service = _bot(receiver.url, name="Service", alert_kinds=["feedback.complaint.first_response"])
    _bot(receiver.url, name="Switched off", is_active=False)
    _alert(django_capture_on_commit_callbacks)
    assert set(BotDelivery.objects.values_list("bot_id", flat=True)) == {every.pk, sla.pk}
    assert len(receiver.received) == 2
    _alert(django_capture_on_commit_callbacks, kind="feedback.complaint.first_response", key="complaint.1")
    later = BotDelivery.objects.filter(alert_kind="feedback.complaint.first_response")
    assert set(later.values_list("bot_id", flat=True)) == {every.pk, service.pk}


def test_a_500_is_retried_with_backoff_and_every_attempt_logged(receiver, django_capture_on_commit_callbacks):
    receiver.status = 500
    _bot(receiver.url)
    _alert(django_capture_on_commit_callbacks)
    delivery = BotDelivery.objects.get()
    assert (delivery.status, delivery.error) == (JobStatus.QUEUED, "HTTP 500")
    assert delivery.next_attempt_at > timezone.now()
    assert bots.due_delivery_ids() == []
    assert bots.due_delivery_ids(now=timezone.now() + webhooks.RETRY_DELAYS[0]) == [delivery.pk]

    receiver.status = 200
    _due_now(delivery)
    with django_capture_on_commit_callbacks(execute=True):
        assert retry_due_bot_messages() == 1
    delivery.refresh_from_db()
    assert delivery.status == JobStatus.DONE
    assert list(delivery.attempt_log.values_list("response_status", flat=True)) == [500, 200]


@pytest.mark.parametrize(
    ("kind", "refusal", "logged"),
    [
        (
            ChatBotKind.WECOM,
            {"errcode": 45009, "errmsg": "api freq out of limit"},
            "errcode 45009: api freq out of limit",
        ),  # noqa: E501
        (ChatBotKind.FEISHU, {"code": 19021, "msg": "sign match fail"}, "code 19021: sign match fail"),
        (ChatBotKind.FEISHU, {"StatusCode": 9499, "StatusMessage": "Bad Request"}, "StatusCode 9499: Bad Request"),
    ],
)
def test_an_error_code_in_a_200_answer_is_a_failed_attempt_retried(
    receiver, django_capture_on_commit_callbacks, kind, refusal, logged
):
    receiver.answer = refusal
    _bot(receiver.url, kind=kind, secret="SECx" if kind == ChatBotKind.FEISHU else "")
    _alert(django_capture_on_commit_callbacks)
    delivery = BotDelivery.objects.get()
    assert (delivery.status, delivery.error) == (JobStatus.QUEUED, logged)
    assert list(delivery.attempt_log.values_list("response_status", "error")) == [(200, logged)]

    receiver.answer = {"errcode": 0, "errmsg": "ok"} if kind == ChatBotKind.WECOM else {"code": 0, "msg": "success"}
    _due_now(delivery)
    assert bots.deliver(delivery.pk) == JobStatus.DONE
    assert len(receiver.received) == 2


def test_an_unreachable_bot_gives_up_after_the_last_retry_and_never_logs_its_token(
    settings, django_capture_on_commit_callbacks
):
    settings.RELAY_WEBHOOKS_ALLOW_HTTP = settings.RELAY_WEBHOOKS_ALLOW_LOOPBACK = True
    _bot("http://127.0.0.1:9/cgi-bin/webhook/send?key=KEY-693axxx6-7aoc", kind=ChatBotKind.WECOM)
    _alert(django_capture_on_commit_callbacks)
    delivery = BotDelivery.objects.get()
    for _ in webhooks.RETRY_DELAYS:
        _due_now(delivery)
        bots.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == JobStatus.FAILED and delivery.next_attempt_at is None
    assert delivery.attempt_log.count() == len(webhooks.RETRY_DELAYS) + 1
    assert not BotAttempt.objects.filter(error="").exists()
    assert not BotAttempt.objects.filter(error__contains="KEY-693").exists()


def test_a_bot_switched_off_after_the_alert_was_queued_gets_nothing(receiver, django_capture_on_commit_callbacks):
    receiver.status = 503
    bot = _bot(receiver.url)
    _alert(django_capture_on_commit_callbacks)
    ChatBot.objects.filter(pk=bot.pk).update(is_active=False)
    delivery = BotDelivery.objects.get()
    _due_now(delivery)
    assert bots.deliver(delivery.pk) == JobStatus.FAILED
    assert len(receiver.received) == 1


def test_send_time_check_refuses_a_name_that_now_points_inside(dns, django_capture_on_commit_callbacks):
    _bot("https://open.feishu.cn/open-apis/bot/v2/hook/abc")
    dns.names["open.feishu.cn"] = ["10.0.0.7"]
    _alert(django_capture_on_commit_callbacks)
    attempt = BotAttempt.objects.get()
    assert attempt.response_status is None and attempt.error.startswith("refused:")
    assert "10.0.0.7" in attempt.error


# --- the admin ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_manage_chat_bots_in_the_admin(client_as, dns, role):
    bot = _bot("https://open.feishu.cn/open-apis/bot/v2/hook/abc")
    delivery = BotDelivery.objects.create(bot=bot, message_id="alert_1", alert_kind=SLA_KIND, text="x")
    client = client_as(role)
    pages = [
        reverse("admin:config_chatbot_changelist"),
        reverse("admin:config_chatbot_add"),
        reverse("admin:config_chatbot_change", args=[bot.pk]),
        reverse("admin:config_botdelivery_changelist"),
        reverse("admin:config_botdelivery_change", args=[delivery.pk]),
    ]
    allowed = role == "admin"
    assert [client.get(page).status_code for page in pages] == [200 if allowed else 403] * 5
    added = client.post(
        reverse("admin:config_chatbot_add"),
        {"kind": "wecom", "name": "Ops", "webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"},
    )
    assert added.status_code == (302 if allowed else 403)
    tested = client.post(
        reverse("admin:config_chatbot_changelist"), {"action": "send_test_message", "_selected_action": [bot.pk]}
    )
    assert tested.status_code == (302 if allowed else 403)
    assert ChatBot.objects.count() == (2 if allowed else 1)
    assert BotDelivery.objects.filter(alert_kind="test").count() == (1 if allowed else 0)


def test_the_admin_takes_the_secret_and_never_shows_it_back(client_as, dns):
    client = client_as("admin")
    added = client.post(
        reverse("admin:config_chatbot_add"),
        {
            "kind": "feishu",
            "name": "Sales leads",
            "webhook_url": "https://open.feishu.cn/open-apis/bot/v2/hook/abc",
            "new_secret": "SECsuper-secret-1",
            "alert_kinds": [SLA_KIND],
            "is_active": "on",
        },
        follow=True,
    )
    assert added.status_code == 200
    bot = ChatBot.objects.get()
    assert (bot.secret, bot.alert_kinds, bot.is_active) == ("SECsuper-secret-1", [SLA_KIND], True)
    assert "SECsuper-secret-1" not in added.content.decode()
    change_url = reverse("admin:config_chatbot_change", args=[bot.pk])
    assert "SECsuper-secret-1" not in client.get(change_url).content.decode()
    listing = client.get(reverse("admin:config_chatbot_changelist")).content.decode()
    assert "SECsuper-secret-1" not in listing and "open.feishu.cn" in listing and "hook/abc" not in listing

    form = {"kind": "feishu", "name": "Sales leads", "webhook_url": bot.webhook_url, "is_active": "on"}
    assert client.post(change_url, {**form, "new_secret": ""}).status_code == 302
    bot.refresh_from_db()
    assert bot.secret == "SECsuper-secret-1" and bot.alert_kinds == []  # empty: the secret stays
    assert client.post(change_url, {**form, "new_secret": "SECnew"}).status_code == 302
    bot.refresh_from_db()
    assert bot.secret == "SECnew"
    assert client.post(change_url, {**form, "remove_secret": "on"}).status_code == 302
    bot.refresh_from_db()
    assert bot.secret == ""


def test_a_wecom_bot_takes_no_secret(client_as, dns):
    answer = client_as("admin").post(
        reverse("admin:config_chatbot_add"),
        {
            "kind": "wecom",
            "name": "Ops",
            "webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
            "new_secret": "SECx",
        },
    )
    assert answer.status_code == 200 and answer.context["adminform"].form.errors.keys() == {"new_secret"}
    assert not ChatBot.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://open.feishu.cn/open-apis/bot/v2/hook/abc",  # not https
        "https://user:pass@open.feishu.cn/open-apis/bot/v2/hook/abc",
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://192.168.1.20/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://inside.example.com/hook",  # a name that resolves to a private address
    ],
)
def test_the_admin_refuses_bot_urls_that_are_not_public_https(client_as, dns, url):
    dns.names["inside.example.com"] = [PUBLIC, "172.16.0.9"]
    answer = client_as("admin").post(
        reverse("admin:config_chatbot_add"), {"kind": "feishu", "name": "Sales", "webhook_url": url}
    )
    assert answer.status_code == 200 and answer.context["adminform"].form.errors.keys() == {"webhook_url"}
    assert not ChatBot.objects.exists()


def test_the_test_action_sends_a_test_message_and_refuses_a_switched_off_bot(
    receiver, client_as, django_capture_on_commit_callbacks
):
    on, off = _bot(receiver.url, name="On"), _bot(receiver.url, name="Off", is_active=False)
    client = client_as("admin")
    changelist = reverse("admin:config_chatbot_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        refused = client.post(changelist, {"action": "send_test_message", "_selected_action": [on.pk, off.pk]})
    assert refused.status_code == 302 and not BotDelivery.objects.exists()  # one transaction: none queued
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist, {"action": "send_test_message", "_selected_action": [on.pk]})
    delivery = BotDelivery.objects.get()
    assert (delivery.bot, delivery.alert_kind, delivery.status) == (on, "test", JobStatus.DONE)
    assert receiver.received[0][1]["content"]["text"].startswith("[Relay] Test message from ")


def test_the_admin_sends_failed_deliveries_again(receiver, client_as, django_capture_on_commit_callbacks):
    receiver.status = 500
    _bot(receiver.url)
    _alert(django_capture_on_commit_callbacks)
    delivery = BotDelivery.objects.get()
    BotDelivery.objects.filter(pk=delivery.pk).update(status=JobStatus.FAILED, next_attempt_at=None)
    receiver.status = 200
    with django_capture_on_commit_callbacks(execute=True):
        answer = client_as("admin").post(
            reverse("admin:config_botdelivery_changelist"), {"action": "redeliver", "_selected_action": [delivery.pk]}
        )
    assert answer.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == JobStatus.DONE and delivery.attempts == 1  # a fresh schedule
    assert list(delivery.attempt_log.values_list("response_status", flat=True)) == [500, 200]


def test_no_active_bot_is_remembered_until_one_is_saved(receiver, django_assert_num_queries):
    assert bots.forward_alert(kind=SLA_KIND, message="m", dedupe_key="k1") == 0
    with django_assert_num_queries(0):
        assert bots.forward_alert(kind=SLA_KIND, message="m", dedupe_key="k2") == 0
    _bot(receiver.url)
    assert bots.forward_alert(kind=SLA_KIND, message="m", dedupe_key="k3") == 1


def test_a_stalled_delivery_is_revived_by_the_job_sweep(receiver, django_capture_on_commit_callbacks):
    bot = _bot(receiver.url)
    delivery = BotDelivery.objects.create(bot=bot, message_id="alert_x", alert_kind=SLA_KIND, text="Lost message")
    BotDelivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.sweep_stalled() == 1
    delivery.refresh_from_db()
    assert delivery.status == JobStatus.DONE and receiver.received[0][1]["content"]["text"] == "Lost message"
