"""Staff alerts to Feishu and WeCom group bots (DESIGN.md "Sending": staff alerts can also go to group bots).

Every alert (`alert.raised`: a notification raised with a dedupe key — SLA breaches, missed activations,
detractors…) is queued once per active bot that forwards its kind, and sent the way webhooks are: the URL is
checked again before each send and the connection goes to the address checked (config.webhook_targets, public
addresses only), failures are retried on config.webhooks.RETRY_DELAYS, and every attempt is logged. Both services
answer HTTP 200 with an error code in the body when they refuse a message (a bad signature, a rate limit, a
removed bot), so a non-zero `code` / `errcode` is a failed attempt too.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from config import jobs, notifications, outbox, roles, webhook_targets, webhooks
from config.errors import DomainError
from config.models import BotAttempt, BotDelivery, ChatBot, ChatBotKind, JobStatus

DELIVER_TASK = "config.tasks.deliver_bot_message"
ANSWER_LIMIT = 4096  # both services answer a few dozen bytes of JSON
WECOM_MAX_BYTES = 2048  # WeCom refuses a text message whose content is longer (UTF-8 bytes)
NO_BOTS_CACHE_KEY = "relay:bots:no-active-bots"
NO_BOTS_CACHE_SECONDS = 5


def require_admin(user) -> None:
    """Bots choose where Relay's alerts go and carry secrets: admins only."""
    if not roles.is_admin(user):
        raise PermissionDenied(_("Only an admin manages chat bots."))


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu's custom bot signature: base64 of HMAC-SHA256 keyed with "<timestamp>\\n<secret>" over an empty
    message (Feishu's "signature verification" security setting)."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _cut(text: str, max_bytes: int) -> str:
    """`text` shortened to at most `max_bytes` of UTF-8, never splitting a character."""
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max_bytes - len("…".encode())].decode(errors="ignore") + "…"


def payload(bot: ChatBot, text: str, timestamp: int) -> dict:
    """The JSON body a bot of this kind takes; Feishu's carries the signature of `timestamp` (seconds) when the
    bot has a secret."""
    if bot.kind == ChatBotKind.FEISHU:
        message = {"msg_type": "text", "content": {"text": text}}
        if not bot.secret:
            return message
        return {"timestamp": str(timestamp), "sign": feishu_sign(bot.secret, timestamp), **message}
    return {"msgtype": "text", "text": {"content": _cut(text, WECOM_MAX_BYTES)}}


def answer_error(answer: bytes) -> str:
    """The refusal a 2xx answer carries, or "" when the bot took the message: Feishu's `code` (`StatusCode` in
    its older answers), WeCom's `errcode`. An answer that is not JSON carries none."""
    try:
        data = json.loads(answer)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    for code_key, message_key in (("code", "msg"), ("errcode", "errmsg"), ("StatusCode", "StatusMessage")):
        code = data.get(code_key)
        if code not in (None, 0, "0"):
            return f"{code_key} {code}: {data.get(message_key, '')}"[:500]
    return ""


def alert_text(*, kind: str, message: str, url: str = "") -> str:
    """What the group reads: the alert's kind, its message and a link into Relay, in the site's language."""
    with translation.override(settings.LANGUAGE_CODE):
        lines = [f"[Relay] {notifications.kind_label(kind)}", str(message)]
    if url:
        lines.append(url if urlsplit(url).scheme else f"{settings.RELAY_SURVEY_BASE_URL}{url}")
    return "\n".join(lines)


def forget_bots(**_signal) -> None:
    """Saving or deleting a bot ends "there are none" at once here; other processes within seconds."""
    cache.delete(NO_BOTS_CACHE_KEY)


def _active_bots() -> list[tuple[int, list]]:
    """(id, alert kinds) of the active bots; "none" is remembered for a few seconds (most installs have none)."""
    if cache.get(NO_BOTS_CACHE_KEY):
        return []
    bots = list(ChatBot.objects.filter(is_active=True).values_list("pk", "alert_kinds"))
    if not bots:
        cache.set(NO_BOTS_CACHE_KEY, True, NO_BOTS_CACHE_SECONDS)
    return bots


def _queue(bot_ids: list[int], *, message_id: str, alert_kind: str, text: str) -> int:
    BotDelivery.objects.bulk_create(
        [BotDelivery(bot_id=pk, message_id=message_id, alert_kind=alert_kind, text=text) for pk in bot_ids],
        ignore_conflicts=True,  # the same alert raised again (more recipients, a rerun check) goes out once
    )
    ids = list(
        BotDelivery.objects.filter(
            bot_id__in=bot_ids, message_id=message_id, status=JobStatus.QUEUED, attempts=0
        ).values_list("pk", flat=True)
    )
    outbox.enqueue_many(DELIVER_TASK, [[pk] for pk in ids])
    return len(ids)


def forward_alert(*, kind: str, message: str, url: str = "", dedupe_key: str = "", **_more) -> int:
    """The `alert.raised` subscriber: queue the alert once for every active bot that forwards its kind (a bot
    with no kinds forwards all). Runs in the alerting transaction; the sending happens after it commits."""
    bot_ids = [pk for pk, kinds in _active_bots() if not kinds or kind in kinds]
    if not bot_ids:
        return 0
    message_id = "alert_" + (
        hashlib.sha256(dedupe_key.encode()).hexdigest()[:32] if dedupe_key else secrets.token_hex(16)
    )
    return _queue(bot_ids, message_id=message_id, alert_kind=kind, text=alert_text(kind=kind, message=message, url=url))


@transaction.atomic
def send_test(*, bot: ChatBot, by) -> int:
    """A test message to the bot's group, sent (and retried, and logged) like an alert. Raises PermissionDenied,
    and DomainError (field "is_active") for a bot that is switched off."""
    require_admin(by)
    bot = ChatBot.objects.select_for_update().get(pk=bot.pk)
    if not bot.is_active:
        raise DomainError(_("The chat bot %(name)s is switched off.") % {"name": bot.name}, field="is_active")
    with translation.override(settings.LANGUAGE_CODE):
        text = _("[Relay] Test message from %(user)s: staff alerts reach this group.") % {
            "user": by.get_full_name() or by.get_username()
        }
    return _queue([bot.pk], message_id="test_" + secrets.token_hex(16), alert_kind="test", text=text)


@transaction.atomic
def redeliver(*, delivery_ids: Iterable[int], by) -> int:
    """Send deliveries again from a fresh retry schedule. Raises PermissionDenied, and DomainError naming the first
    delivery that cannot go: its bot is switched off (field "bot") or it is being sent now (field "status")."""
    require_admin(by)
    rows = list(
        BotDelivery.objects.select_for_update(of=("self",))
        .select_related("bot")
        .filter(pk__in=list(delivery_ids))
        .order_by("pk")
    )
    for delivery in rows:
        if not delivery.bot.is_active:
            raise DomainError(
                _("Delivery #%(id)s cannot be sent again: its chat bot %(name)s is switched off.")
                % {"id": delivery.pk, "name": delivery.bot.name},
                field="bot",
            )
        if delivery.status == JobStatus.RUNNING:
            raise DomainError(_("Delivery #%(id)s is being sent right now.") % {"id": delivery.pk}, field="status")
    return webhooks.requeue(rows, task=DELIVER_TASK)


def _hide_token(error: str, url: str) -> str:
    """The URL's path and query carry the bot's token: never in a log row."""
    parts = urlsplit(url)
    for secret_part in (parts.query, parts.path):
        if len(secret_part) > 1:
            error = error.replace(secret_part, "…")
    return error[:500]


def deliver(delivery_id: int) -> str | None:
    """One attempt; returns the new status, or None when another worker has the delivery or it is not due."""
    not_yet = BotDelivery.objects.filter(pk=delivery_id, next_attempt_at__gt=timezone.now()).exists()
    delivery = None if not_yet else jobs.claim(BotDelivery, delivery_id)
    if delivery is None:
        return None
    bot = ChatBot.objects.get(pk=delivery.bot_id)
    if not bot.is_active:  # switched off after this was queued: nothing is sent
        jobs.finish(delivery, error="chat bot switched off", next_attempt_at=None)
        return JobStatus.FAILED
    # Signed at each attempt: Feishu refuses a timestamp more than an hour old.
    body = json.dumps(payload(bot, delivery.text, int(time.time())), separators=(",", ":"), ensure_ascii=False)
    headers = {"content-type": "application/json; charset=utf-8", "user-agent": "Relay-Bots/1"}
    started = time.monotonic()
    status, answer, error = None, b"", ""
    try:
        target = webhook_targets.check(bot.webhook_url)
        status, answer = webhooks.post(target, body.encode(), headers, answer_limit=ANSWER_LIMIT)
    except ValidationError as exc:  # the name now points somewhere private (or the URL no longer passes)
        error = f"refused: {exc.messages[0]}"
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        error = str(exc)
    if status is not None:
        if 200 <= status < 300:
            error = answer_error(answer)
        elif 300 <= status < 400:
            error = f"HTTP {status}: redirects are not followed"
        else:
            error = f"HTTP {status}"
    error = _hide_token(error, bot.webhook_url)
    now = timezone.now()
    BotAttempt.objects.create(
        delivery=delivery,
        at=now,
        response_status=status,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    if not error:
        jobs.finish(delivery, next_attempt_at=None)
        return JobStatus.DONE
    if delivery.attempts > len(webhooks.RETRY_DELAYS):
        jobs.finish(delivery, error=error, next_attempt_at=None)
        return JobStatus.FAILED
    # Back to queued with a due time; config.tasks.retry_due_bot_messages sends it again then.
    jobs.beat(
        delivery,
        status=JobStatus.QUEUED,
        next_attempt_at=now + webhooks.RETRY_DELAYS[delivery.attempts - 1],
        error=error,
    )
    return JobStatus.QUEUED


def due_delivery_ids(now=None) -> list[int]:
    now = now or timezone.now()
    return list(
        BotDelivery.objects.filter(status=JobStatus.QUEUED, next_attempt_at__lte=now).values_list("pk", flat=True)
    )
