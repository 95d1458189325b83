"""Sending (DESIGN.md "Sending"): the one service every message goes through, and the rules it keeps.

Journeys' send steps and experiments call `send_message`; it writes one Message and decides, in `_decide` and
nowhere else, what becomes of it:

* a customer who unsubscribed from the channel is skipped (`unsubscribed`);
* a customer without an address on the channel (a valid email identity for email, a phone for SMS, a WeChat or
  WeCom id) is skipped (`no_address`);
* during the quiet hours (RELAY_QUIET_HOURS, local time) the message is queued until they end; the beat task
  `release_queued_messages` decides again then, with the same rules;
* a customer who was sent RELAY_MAX_MESSAGES_PER_WEEK messages in the trailing 7 days, across all journeys, is
  skipped (`cap`);
* otherwise the message is sent: an email goes to Django's email backend after commit, through the outbox (a
  failure marks it failed, and the outbox tries again); SMS, WeChat and WeCom messages are published as a
  `message.send` event that integrations deliver through the signed outbound webhooks.

A customer's sends are decided one at a time (their row is locked), so two concurrent sends never both take the
last place under the cap, and a step run has exactly one message, however often its task runs.
"""

import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config import events, outbox
from config.errors import DomainError
from config.money import format_money
from customers import affinity
from customers.models import Customer, CustomerIdentity, IdentityKind
from feedback.services import customer_languages
from marketing import experiments, touchpoints, tracking
from marketing.models import (
    ContentItem,
    ContentVariant,
    Experiment,
    ExperimentStatus,
    Message,
    MessageChannel,
    MessageStatus,
    Unsubscribe,
)

CAP_WINDOW = timedelta(days=7)
SKIP_UNSUBSCRIBED, SKIP_NO_ADDRESS, SKIP_CAP = "unsubscribed", "no_address", "cap"
SKIP_REASONS = {
    SKIP_UNSUBSCRIBED: gettext_lazy("unsubscribed"),
    SKIP_NO_ADDRESS: gettext_lazy("no address"),
    SKIP_CAP: gettext_lazy("weekly cap"),
}
# The identity a channel delivers to.
ADDRESS_KINDS = {
    MessageChannel.EMAIL: IdentityKind.EMAIL,
    MessageChannel.SMS: IdentityKind.PHONE,
    MessageChannel.WECHAT: IdentityKind.WECHAT,
    MessageChannel.WECOM: IdentityKind.WECOM,
}
RELEASE_BATCH = 500


# --- the rules ----------------------------------------------------------------------------------------------------


def quiet_until(now: datetime) -> datetime | None:
    """The end of the quiet period `now` falls in (RELAY_QUIET_HOURS, local time), or None outside one."""
    window = settings.RELAY_QUIET_HOURS
    if not window:
        return None
    start, end = window
    local = timezone.localtime(now)
    moment = local.time()
    quiet = (moment >= start or moment < end) if start > end else (start <= moment < end)
    if not quiet:
        return None
    zone = timezone.get_current_timezone()
    ends = timezone.make_aware(datetime.combine(local.date(), end), zone)
    if ends <= now:  # past midnight's side of the window ends today, the evening's side tomorrow
        ends = timezone.make_aware(datetime.combine(local.date() + timedelta(days=1), end), zone)
    return ends


def address_of(customer_id: int, channel: str) -> str | None:
    """Where `channel` reaches the customer: their oldest valid identity of the channel's kind. One query."""
    return (
        CustomerIdentity.objects.filter(customer_id=customer_id, kind=ADDRESS_KINDS[channel], is_valid=True)
        .order_by("pk")
        .values_list("value", flat=True)
        .first()
    )


def sent_in_week(customer_id: int, now: datetime) -> int:
    """Messages sent to the customer in the 7 days up to `now`, every journey and channel counted. One query."""
    return Message.objects.filter(
        customer_id=customer_id, status=MessageStatus.SENT, sent_at__gt=now - CAP_WINDOW, sent_at__lte=now
    ).count()


def is_unsubscribed(customer_id: int, channel: str) -> bool:
    return Unsubscribe.objects.filter(customer_id=customer_id, channel=channel).exists()


def _decide(message: Message, now: datetime) -> str | None:
    """Apply the sending rules to a new or queued message (under its customer's lock): set its status, skip reason,
    queue time or send time. The address to deliver to when it is to be sent now, else None."""
    address = None
    if is_unsubscribed(message.customer_id, message.channel):
        message.status, message.skip_reason = MessageStatus.SKIPPED, SKIP_UNSUBSCRIBED
    elif (address := address_of(message.customer_id, message.channel)) is None:
        message.status, message.skip_reason = MessageStatus.SKIPPED, SKIP_NO_ADDRESS
    elif (ends := quiet_until(now)) is not None:
        message.status, message.scheduled_for = MessageStatus.QUEUED, ends
    elif sent_in_week(message.customer_id, now) >= settings.RELAY_MAX_MESSAGES_PER_WEEK:
        message.status, message.skip_reason = MessageStatus.SKIPPED, SKIP_CAP
    else:
        message.status, message.sent_at = MessageStatus.SENT, now
    return address if message.status == MessageStatus.SENT else None


def _deliver(message: Message, address: str, now: datetime) -> None:
    """A message just marked sent (and saved) is a touchpoint on its channel (marketing.touchpoints) and goes out:
    an email after commit through the outbox, anything else as the `message.send` event."""
    touchpoints.message_sent(message)
    if message.channel == MessageChannel.EMAIL:
        outbox.enqueue("marketing.tasks.deliver_email", message.pk, now=now)
    else:
        _publish(message, address)


# --- choosing the variant -----------------------------------------------------------------------------------------


def _choose_variant(*, item, customer, variant, experiment) -> tuple[ContentVariant, Experiment | None]:
    """The variant to send and the experiment it belongs to: the one given, else the item's experiment's winner or,
    while it runs, its stable assignment (marketing.experiments.assign_variant), else the item's first variant."""
    if experiment is not None and experiment.item_id != item.pk:
        raise DomainError(_("This experiment is about another content item."), field="experiment")
    if variant is not None:
        if variant.item_id != item.pk:
            raise DomainError(_("This variant belongs to another content item."), field="variant")
        return variant, experiment
    if experiment is None:
        experiment = Experiment.objects.filter(item=item).first()
    if experiment is not None and (experiment.winner_id or experiment.status == ExperimentStatus.RUNNING):
        return experiments.assign_variant(item, customer), experiment
    first = ContentVariant.objects.filter(item=item).order_by("key", "pk").first()
    if first is None:
        raise DomainError(_("This content has no variant to send yet."), field="content", code="no_variant")
    return first, None


# --- sending ------------------------------------------------------------------------------------------------------


@transaction.atomic
def send_message(
    *,
    customer: Customer,
    item: ContentItem,
    channel: str,
    journey=None,
    enrolment=None,
    step_run=None,
    experiment: Experiment | None = None,
    variant: ContentVariant | None = None,
    now: datetime | None = None,
) -> Message:
    """Send `item` to `customer` on `channel` under the sending rules (module docstring) and return its Message:
    sent, queued for the end of the quiet hours, or skipped with its reason.

    With a `step_run`, exactly one message is ever written for it: a second call (a retried task) returns the first
    one and sends nothing. A merged customer's survivor is messaged.

    Raises DomainError: field channel (unknown), content (inactive, or no variant), variant (of another item),
    experiment (of another item).
    """
    now = now or timezone.now()
    if channel not in MessageChannel.values:
        raise DomainError(_("Choose email, SMS, WeChat or WeCom."), field="channel")
    # The customer's row lock orders their sends: the cap counts every send decided before this one.
    customer = Customer.objects.select_for_update().get(pk=customer.merged_into_id or customer.pk)
    if step_run is not None:
        existing = Message.objects.filter(step_run=step_run).first()
        if existing is not None:
            return existing
    if not item.is_active:
        raise DomainError(_("This content is switched off."), field="content", code="inactive")
    variant, experiment = _choose_variant(item=item, customer=customer, variant=variant, experiment=experiment)
    message = Message(
        customer=customer,
        item=item,
        variant=variant,
        channel=channel,
        journey=journey,
        enrolment=enrolment,
        step_run=step_run,
        experiment=experiment,
        created_at=now,
    )
    address = _decide(message, now)
    message.save()
    if address is not None:
        _deliver(message, address, now)
    return message


def _release(message_id: int, customer_id: int, now: datetime) -> bool:
    with transaction.atomic():
        Customer.objects.select_for_update().filter(pk=customer_id).first()  # the parent first, as send_message
        message = Message.objects.select_for_update().filter(pk=message_id, status=MessageStatus.QUEUED).first()
        if message is None or message.scheduled_for is None or message.scheduled_for > now:
            return False
        address = _decide(message, now)
        message.save(update_fields=["status", "skip_reason", "scheduled_for", "sent_at"])
        if address is not None:
            _deliver(message, address, now)
        return message.status != MessageStatus.QUEUED


def release_queued_messages(*, now: datetime | None = None) -> int:
    """Beat: decide again on every message whose quiet hours are over (the customer may have unsubscribed or reached
    the cap since), each in its own transaction. How many left the queue."""
    now = now or timezone.now()
    released, after = 0, 0
    while True:
        due = list(
            Message.objects.filter(status=MessageStatus.QUEUED, scheduled_for__lte=now, pk__gt=after)
            .order_by("pk")
            .values_list("pk", "customer_id")[:RELEASE_BATCH]
        )
        for pk, customer_id in due:
            released += _release(pk, customer_id, now)
        if len(due) < RELEASE_BATCH:
            return released
        after = due[-1][0]


# --- delivery -----------------------------------------------------------------------------------------------------


def recommendation_text(message: Message) -> str:
    """What a journey's send step with `"recommend": true` appends to the body: the customer's recommendations
    (customers.affinity), one line each with the name and price, in the customer's language; "" for any other
    message and for a customer with nothing to recommend. Read at delivery, so a queued message gets fresh ones."""
    run = message.step_run
    if run is None or not run.step.config.get("recommend"):
        return ""
    products = affinity.recommendations(message.customer_id)
    if not products:
        return ""
    language = customer_languages([message.customer_id]).get(message.customer_id, settings.LANGUAGE_CODE)
    with translation.override(language):
        heading = _("You may also like:")
        lines = [
            _("- %(product)s, %(price)s") % {"product": product.name, "price": format_money(product.price)}
            for product in products
        ]
    return "\n\n" + "\n".join([heading, *lines])


def _texts(message: Message) -> dict:
    """The variant's title and body with the item's links made the message's click links, plus its tracking URLs;
    a send step that recommends adds the customer's recommendations to the body (recommendation_text)."""
    variant = message.variant
    body, links = tracking.rewrite_links(
        variant.body + recommendation_text(message), message_id=message.pk, allowed=message.item.urls or []
    )
    return {
        "title": variant.title,
        "body": body,
        "cover_url": variant.cover_url,
        "links": links,
        "open_url": tracking.open_url(message.pk),
        "unsubscribe_url": tracking.unsubscribe_url(message.pk),
    }


def _publish(message: Message, address: str) -> None:
    """SMS, WeChat and WeCom: integrations deliver the message from the `message.send` webhook (its id, stable per
    message, lets them deliver once)."""
    events.publish(
        "message.send",
        event_id=f"marketing.message.{message.pk}.send",
        message=message.pk,
        customer=message.customer_id,
        channel=message.channel,
        address=address,
        content=message.item_id,
        variant=message.variant.key,
        journey=message.journey_id,
        **_texts(message),
    )


def _email(message: Message, address: str) -> EmailMultiAlternatives:
    texts = _texts(message)
    language = customer_languages([message.customer_id]).get(message.customer_id, settings.LANGUAGE_CODE)
    with translation.override(language):
        text = render_to_string("marketing/email/message.txt", texts)
        html = render_to_string("marketing/email/message.html", {**texts, "language": language})
    email = EmailMultiAlternatives(
        subject=texts["title"],
        body=text,
        to=[address],
        headers={
            "Message-ID": f"<marketing-message-{message.pk}@relay>",  # receivers dedupe on it
            # RFC 8058 one-click unsubscribe: the mail client POSTs to the link, no page, no login.
            "List-Unsubscribe": f"<{texts['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    email.attach_alternative(html, "text/html")
    return email


def deliver_email(*, message_id: int, now: datetime | None = None) -> bool:
    """Hand a sent (or failed) email message to Django's email backend, once per run under its row lock. A backend
    failure marks it failed and is raised again, so the outbox tries later; a later success marks it sent.
    Returns whether the backend took it."""
    now = now or timezone.now()
    failure = None
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("item", "variant", "step_run__step")
            .filter(pk=message_id, channel=MessageChannel.EMAIL, status__in=[MessageStatus.SENT, MessageStatus.FAILED])
            .first()
        )
        if message is None:
            return False
        address = address_of(message.customer_id, message.channel)
        if address is None:  # the address was removed since the send was decided
            message.status, message.skip_reason = MessageStatus.SKIPPED, SKIP_NO_ADDRESS
            message.save(update_fields=["status", "skip_reason"])
            return False
        try:
            _email(message, address).send()
        except (smtplib.SMTPException, OSError) as exc:
            failure = exc
            message.status = MessageStatus.FAILED
        else:
            if message.status == MessageStatus.FAILED:
                message.status, message.sent_at = MessageStatus.SENT, now
        message.save(update_fields=["status", "sent_at"])
    if failure is not None:
        raise failure
    return True


# --- unsubscribing ------------------------------------------------------------------------------------------------


def unsubscribing_message(token_value: str) -> Message | None:
    """The message an unsubscribe link was made for (with its customer), None for a bad or forged token."""
    message_id = tracking.message_id_of(token_value, tracking.UNSUBSCRIBE)
    if message_id is None:
        return None
    return Message.objects.select_related("customer").filter(pk=message_id).first()


@transaction.atomic
def unsubscribe(*, token_value: str, now: datetime | None = None) -> Unsubscribe | None:
    """The customer of the message the link was made for unsubscribes from its channel (no login: the signed token
    is the proof). Once: a second use returns the first unsubscribe. None for a bad or forged token."""
    message = unsubscribing_message(token_value)
    if message is None:
        return None
    unsubscribed, _created = Unsubscribe.objects.get_or_create(
        customer_id=message.customer_id, channel=message.channel, defaults={"at": now or timezone.now()}
    )
    return unsubscribed
