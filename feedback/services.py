"""Every write of the service loop: complaints, NPS, follow-ups, insights."""

import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from config import events, outbox, roles, todo
from config.errors import DomainError
from config.models import Task, TaskKind
from config.notifications import notify
from customers.models import Customer, CustomerIdentity
from customers.selectors import account_team
from feedback import businesshours, permissions, statuses
from feedback.errors import AlreadyAnswered, InvalidTransition, InvitationExpired, ResolutionRequired
from feedback.models import (
    ChangeKind,
    Complaint,
    ComplaintStatusChange,
    Insight,
    InsightTag,
    NpsInvitation,
    NpsResponse,
    NpsSource,
    Severity,
    nps_category,
)
from feedback.models import ComplaintStatus as Status

User = get_user_model()


@transaction.atomic
def open_onboarding_task(*, lead: int, customer: int, at=None, **_event) -> Task:
    """The sales → service handoff of a won lead: one onboarding task (config.Task) per lead (idempotent).

    Subscribed to `lead.won` (feedback/subscriptions.py); the closing sales user needs no service permission.
    The task is about the lead, goes to the service queue (no assignee) and is due RELAY_ONBOARDING_TASK_HOURS
    after the win; the whole service team is told, once per lead.
    """
    now = at or timezone.now()
    task, created = todo.ensure_task(
        kind=TaskKind.ONBOARDING,
        about_record=("lead", lead),
        department=roles.SERVICE,
        due_at=now + timedelta(hours=settings.RELAY_ONBOARDING_TASK_HOURS),
        now=now,
    )
    if created:
        notify(
            recipients=roles.members(roles.SERVICE),
            kind="feedback.onboarding",
            message=_("New customer to onboard: %(customer)s (lead #%(lead)s won).")
            % {"customer": Customer.objects.get(pk=customer), "lead": lead},
            url=todo.task_url(task),
            dedupe_key=f"feedback.onboarding.{task.pk}",
        )
    return task


# ---------------------------------------------------------------- complaints


def sla_hours(severity: str) -> tuple[int, int]:
    """(first response, resolution) hours for a severity, from RELAY_COMPLAINT_SLA_HOURS."""
    table = settings.RELAY_COMPLAINT_SLA_HOURS
    first, resolution = table.get(severity) or (
        settings.RELAY_COMPLAINT_FIRST_RESPONSE_HOURS,
        settings.RELAY_COMPLAINT_RESOLUTION_HOURS,
    )
    return int(first), int(resolution)


def _set_due_times(complaint: Complaint) -> None:
    """Due times from the severity's SLA, in business time, the resolution one extended by paused time."""
    first, resolution = sla_hours(complaint.severity)
    complaint.first_response_due_at = businesshours.add_business_hours(complaint.opened_at, first)
    start = complaint.resolution_clock_from or complaint.opened_at
    complaint.resolution_due_at = businesshours.add_business_time(
        start, timedelta(hours=resolution, seconds=complaint.paused_seconds)
    )


def _record(complaint, *, by, now, kind=ChangeKind.STATUS, from_status=None, note=""):
    return ComplaintStatusChange.objects.create(
        complaint=complaint,
        kind=kind,
        from_status=complaint.status if from_status is None else from_status,
        to_status=complaint.status,
        at=now,
        by=by,
        note=note,
    )


def _check_owner(owner, *, field: str = "owner") -> None:
    if owner is not None and not roles.in_department(owner, roles.SERVICE):
        raise DomainError(_("The owner must be a member of the service team."), field=field)


def _check_links(*, customer, order, lead) -> None:
    if order is not None and order.customer_id != customer.pk:
        raise DomainError(_("This order belongs to another customer."), field="order")
    if lead is not None and lead.customer_id != customer.pk:
        raise DomainError(_("This lead belongs to another customer."), field="lead")


@transaction.atomic
def create_complaint(
    *,
    by,
    customer,
    category: str,
    description: str,
    severity: str = Severity.MEDIUM,
    channel=None,
    order=None,
    lead=None,
    owner=None,
    now=None,
) -> Complaint:
    """Log a complaint, start its SLA clocks and record its first history entry.

    Raises PermissionDenied, DomainError(field=owner|order|lead|customer|description).
    """
    now = now or timezone.now()
    permissions.require(by, "complaint.create")
    if owner is not None and owner != by and not permissions.can(by, "complaint.assign", None):
        raise PermissionDenied(_("Only the service manager assigns complaints to someone else."))
    _check_owner(owner)
    _check_links(customer=customer, order=order, lead=lead)
    if getattr(customer, "merged_into_id", None):
        raise DomainError(_("This customer was merged; choose the surviving record."), field="customer")
    if not (description or "").strip():
        raise DomainError(_("Describe the complaint."), field="description")
    complaint = Complaint(
        customer=customer,
        category=category,
        severity=severity,
        channel=channel,
        order=order,
        lead=lead,
        owner=owner,
        description=description.strip(),
        opened_at=now,
        resolution_clock_from=now,
        created_by=by,
    )
    _set_due_times(complaint)
    complaint.save()
    _record(complaint, by=by, now=now, from_status="")
    events.publish(
        "complaint.opened",
        event_id=f"feedback.complaint.{complaint.pk}.opened",
        complaint=complaint.pk,
        customer=complaint.customer_id,
        category=complaint.category,
        severity=complaint.severity,
        order=complaint.order_id,
        lead=complaint.lead_id,
        by=getattr(by, "pk", None),
        at=now,
    )
    if owner is not None and owner != by:
        _notify_owner(complaint)
    _tell_account_team(
        customer_id=complaint.customer_id,
        skip=[by, owner],  # the owner was just told it is theirs
        kind="feedback.account_complaint",
        message=_("New complaint #%(id)s from %(customer)s, on your account team: %(category)s, %(severity)s.")
        % {
            "id": complaint.pk,
            "customer": customer.name,
            "category": complaint.get_category_display(),
            "severity": complaint.get_severity_display(),
        },
        url=reverse("feedback:complaint-detail", args=[complaint.pk]),
        dedupe_key=f"feedback.complaint.{complaint.pk}.account_team",
    )
    return complaint


def _tell_account_team(*, customer_id: int, skip, kind: str, message: str, url: str, dedupe_key: str) -> None:
    """The customer's account team hears of it, each person once (customers.selectors.account_team, one query);
    the people in `skip` (the actor, those just told otherwise) are left out."""
    skipped = {getattr(person, "pk", None) for person in skip if person is not None}
    team = [m.user for m in account_team(customer_id) if m.user.is_active and m.user_id not in skipped]
    notify(recipients=team, kind=kind, message=message, url=url, dedupe_key=dedupe_key, alert=False)


def _notify_owner(complaint: Complaint) -> None:
    notify(
        recipients=[complaint.owner],
        kind="feedback.complaint_assigned",
        message=_("Complaint #%(id)s was assigned to you.") % {"id": complaint.pk},
        url=reverse("feedback:complaint-detail", args=[complaint.pk]),
        dedupe_key=f"feedback.complaint.{complaint.pk}.assigned.{complaint.owner_id}",
    )


@transaction.atomic
def update_complaint(*, complaint: Complaint, by, now=None, **fields) -> Complaint:
    """Edit category, severity, channel, description, order or lead; a severity change moves the due times."""
    complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
    permissions.require(by, "complaint.change", complaint)
    allowed = {"category", "severity", "channel", "description", "order", "lead"}
    unknown = set(fields) - allowed
    if unknown:
        raise DomainError(_("This field cannot be changed here."), field=sorted(unknown)[0])
    for name, value in fields.items():
        setattr(complaint, name, value)
    _check_links(customer=complaint.customer, order=complaint.order, lead=complaint.lead)
    if not (complaint.description or "").strip():
        raise DomainError(_("Describe the complaint."), field="description")
    if "severity" in fields:
        _set_due_times(complaint)
    complaint.save()
    return complaint


@transaction.atomic
def transition_complaint(*, complaint: Complaint, by, status: str, resolution: str = "", now=None) -> Complaint:
    """Move a complaint along feedback.statuses.NEXT; the only place that assigns `status`.

    Raises PermissionDenied, InvalidTransition (409, field=status), ResolutionRequired (field=resolution).
    """
    now = now or timezone.now()
    complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
    permissions.require(by, "complaint.transition", complaint)
    statuses.ensure_allowed(complaint.status, status)
    resolution = (resolution or "").strip()
    if status == Status.RESOLVED and not resolution:
        raise ResolutionRequired(_("Say how the complaint was resolved."), field="resolution")
    previous = complaint.status
    _end_pause(complaint, now)
    if status == Status.IN_PROGRESS:
        complaint.first_response_at = complaint.first_response_at or now
    elif status == Status.RESOLVED:
        complaint.first_response_at = complaint.first_response_at or now
        complaint.resolved_at = now
        complaint.resolution = resolution
    elif status == Status.CLOSED:
        complaint.closed_at = now
    elif status == Status.OPEN:  # reopen: a fresh resolution clock and a fresh breach alert
        complaint.resolved_at = None
        complaint.closed_at = None
        complaint.resolution_clock_from = now
        complaint.paused_seconds = 0
        complaint.resolution_alerted_at = None
        _set_due_times(complaint)
    if complaint.owner_id is None and roles.in_department(by, roles.SERVICE) and not by.is_superuser:
        complaint.owner = by  # whoever works an unowned complaint takes it
    complaint.status = status
    complaint.save()
    change = _record(
        complaint, by=by, now=now, from_status=previous, note=resolution if status == Status.RESOLVED else ""
    )
    if status == Status.RESOLVED:  # a reopened complaint may be resolved again: each time is its own event
        events.publish(
            "complaint.resolved",
            event_id=f"feedback.complaint.change.{change.pk}",
            complaint=complaint.pk,
            customer=complaint.customer_id,
            by=getattr(by, "pk", None),
            at=now,
        )
    return complaint


def _end_pause(complaint: Complaint, now) -> None:
    if complaint.waiting_since is None:
        return
    paused = businesshours.business_time_between(complaint.waiting_since, now)
    complaint.paused_seconds += int(paused.total_seconds())
    complaint.waiting_since = None
    _set_due_times(complaint)


@transaction.atomic
def set_waiting_on_customer(*, complaint: Complaint, by, waiting: bool, note: str = "", now=None) -> Complaint:
    """Pause (waiting=True) or resume the SLA clocks; the pause counts as a first response.

    Raises PermissionDenied, InvalidTransition (field=waiting_on_customer).
    """
    now = now or timezone.now()
    complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
    permissions.require(by, "complaint.pause", complaint)
    if complaint.status not in statuses.ACTIVE or complaint.is_waiting_on_customer == waiting:
        raise InvalidTransition(
            _("This complaint is already waiting on the customer.")
            if waiting and complaint.is_waiting_on_customer
            else _("This complaint is not waiting on the customer.")
            if not waiting and complaint.status in statuses.ACTIVE
            else _("Only an open or in-progress complaint can wait on the customer."),
            field="waiting_on_customer",
        )
    if waiting:
        complaint.waiting_since = now
        complaint.first_response_at = complaint.first_response_at or now
        kind = ChangeKind.PAUSE
    else:
        _end_pause(complaint, now)
        kind = ChangeKind.RESUME
    complaint.save()
    _record(complaint, by=by, now=now, kind=kind, note=(note or "").strip())
    return complaint


@transaction.atomic
def assign_complaint(*, complaint: Complaint, by, owner, now=None) -> Complaint:
    """Give the complaint an owner: the service manager assigns anyone in service; a service user takes it."""
    now = now or timezone.now()
    complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
    permissions.require(by, "complaint.assign", complaint)
    if owner is not None and owner != by and not permissions.can(by, "complaint.assign", None):
        raise PermissionDenied(_("Only the service manager assigns complaints to someone else."))
    _check_owner(owner)
    if owner == complaint.owner:
        return complaint
    complaint.owner = owner
    complaint.save(update_fields=["owner", "updated_at"])
    name = (owner.get_full_name() or owner.username) if owner else _("nobody")
    _record(complaint, by=by, now=now, kind=ChangeKind.ASSIGN, note=_("Owner: %(name)s") % {"name": name})
    if owner is not None and owner != by:
        _notify_owner(complaint)
    return complaint


# ---------------------------------------------------------------- NPS


def open_detractor_follow_up(*, response_id: int, now=None) -> Task | None:
    """One follow-up task (config.Task, about the answer, in the service queue) per detractor answer (idempotent);
    the service team is told once. Its notes are the customer's comment."""
    now = now or timezone.now()
    response = NpsResponse.objects.select_related("customer").get(pk=response_id)
    if nps_category(response.score) != "detractor":
        return None
    task, created = todo.ensure_task(
        kind=TaskKind.DETRACTOR,
        about_record=("nps_response", response.pk),
        department=roles.SERVICE,
        due_at=businesshours.add_business_hours(now, settings.RELAY_DETRACTOR_FOLLOW_UP_HOURS),
        notes=response.comment,
        now=now,
    )
    if created:
        service = list(roles.members(roles.SERVICE))
        notify(
            recipients=service,
            kind="feedback.detractor",
            message=_("Detractor: %(customer)s answered NPS %(score)s. Follow up.")
            % {"customer": response.customer, "score": response.score},
            url=todo.task_url(task),
            dedupe_key=f"feedback.followup.{task.pk}.opened",
        )
        _tell_account_team(
            customer_id=response.customer_id,
            skip=service,  # told above, with the follow-up to do
            kind="feedback.account_detractor",
            message=_("Detractor on your account team: %(customer)s answered NPS %(score)s.")
            % {"customer": response.customer, "score": response.score},
            url=reverse("customers:customer-detail", args=[response.customer_id]),
            dedupe_key=f"feedback.nps.{response.pk}.account_team",
        )
    return task


def _save_response(*, customer, score, comment, source, by, invitation=None, now) -> NpsResponse:
    if score is None or not 0 <= int(score) <= 10:
        raise DomainError(_("The score must be a whole number from 0 to 10."), field="score")
    response = NpsResponse.objects.create(
        customer=customer,
        score=int(score),
        comment=(comment or "").strip(),
        answered_at=now,
        source=source,
        invitation=invitation,
        entered_by=by,
    )
    open_detractor_follow_up(response_id=response.pk, now=now)
    events.publish(
        "nps.received",
        event_id=f"feedback.nps.{response.pk}",
        response=response.pk,
        customer=response.customer_id,
        score=response.score,
        category=nps_category(response.score),
        source=response.source,
        at=now,
    )
    if nps_category(response.score) == "detractor":
        # Its own event, so journeys (an apology, say) and integrations start on detractors alone.
        events.publish(
            "nps.detractor",
            event_id=f"feedback.nps.{response.pk}.detractor",
            response=response.pk,
            customer=response.customer_id,
            score=response.score,
            at=now,
        )
    return response


@transaction.atomic
def record_nps_response(
    *, by, customer, score: int, comment: str = "", source: str = NpsSource.STAFF, now=None
) -> NpsResponse:
    """Staff or API entry of an NPS answer; a detractor answer opens a follow-up.

    Raises PermissionDenied, DomainError(field=score|customer).
    """
    now = now or timezone.now()
    permissions.require(by, "nps.create")
    if getattr(customer, "merged_into_id", None):
        raise DomainError(_("This customer was merged; choose the surviving record."), field="customer")
    return _save_response(customer=customer, score=score, comment=comment, source=source, by=by, now=now)


def find_invitation(token: str) -> NpsInvitation | None:
    if not token or len(token) > 64:
        return None
    return NpsInvitation.objects.filter(token=token).first()


@transaction.atomic
def answer_survey(*, token: str, score: int, comment: str = "", now=None) -> NpsResponse:
    """The customer's answer through the public link: once, before it expires. No user involved.

    Raises NpsInvitation.DoesNotExist (wrong token), AlreadyAnswered, InvitationExpired, DomainError(field=score).
    """
    now = now or timezone.now()
    invitation = NpsInvitation.objects.select_for_update().select_related("customer").get(token=token)
    if invitation.answered_at is not None:
        raise AlreadyAnswered(_("This survey was already answered. Thank you!"), field="token")
    if invitation.expires_at <= now:
        raise InvitationExpired(_("This survey link has expired."), field="token")
    response = _save_response(
        customer=invitation.customer,
        score=score,
        comment=comment,
        source=NpsSource.SURVEY,
        by=None,
        invitation=invitation,
        now=now,
    )
    invitation.answered_at = now
    invitation.save(update_fields=["answered_at"])
    return response


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def customer_languages(customer_ids: list[int]) -> dict[int, str]:
    """The survey language of each customer, in two queries whatever their number.

    The customer's own preferred language (Customer.language) when set; otherwise the language of the
    customer's latest invitation when there is one (service chose it for this customer); otherwise Chinese for
    a name written in Chinese characters, else the site's default language.
    """

    known = dict(settings.LANGUAGES)
    chinese = "zh-hans" if "zh-hans" in known else settings.LANGUAGE_CODE
    languages, preferred = {}, set()
    for pk, name, language in Customer.objects.filter(pk__in=customer_ids).values_list("pk", "name", "language"):
        if language in known:
            languages[pk] = language
            preferred.add(pk)
        else:
            languages[pk] = chinese if _HAN.search(name or "") else settings.LANGUAGE_CODE
    previous = (
        NpsInvitation.objects.filter(customer_id__in=[pk for pk in languages if pk not in preferred])
        .order_by("customer_id", "created_at", "pk")
        .values_list("customer_id", "language")
    )  # the latest invitation wins: later rows overwrite earlier ones
    languages.update((pk, language) for pk, language in previous if language in known)
    return languages


@transaction.atomic
def create_invitations(*, by, customers, language: str = "", now=None) -> list[NpsInvitation]:
    """Invite customers to the NPS survey; emails go out through a Celery task after commit.

    Without a `language` each customer gets their own (customer_languages); a language given applies to all.
    Customers without an email address are skipped (the caller reports how many). Raises PermissionDenied,
    DomainError(field=language).
    """
    now = now or timezone.now()
    permissions.require(by, "invitation.create")
    if language and language not in dict(settings.LANGUAGES):
        raise DomainError(_("Choose a language of the survey."), field="language")
    ids = [c.pk for c in customers]
    languages = {} if language else customer_languages(ids)
    emails = dict(
        CustomerIdentity.objects.filter(customer_id__in=ids, kind="email", is_valid=True)
        .order_by("customer_id", "-pk")
        .values_list("customer_id", "value")
    )  # the oldest identity wins: later rows overwrite earlier ones in the -pk order
    expires = now + timedelta(days=settings.RELAY_NPS_INVITATION_DAYS)
    rows = [
        NpsInvitation(
            customer_id=pk,
            token=secrets.token_urlsafe(32),
            email=emails[pk],
            language=language or languages.get(pk, settings.LANGUAGE_CODE),
            created_by=by,
            expires_at=expires,
        )
        for pk in ids
        if pk in emails
    ]
    created = NpsInvitation.objects.bulk_create(rows, batch_size=500)
    tokens = [r.token for r in created]
    invitations = list(NpsInvitation.objects.filter(token__in=tokens).order_by("pk"))
    invitation_ids = [i.pk for i in invitations]
    if invitation_ids:
        outbox.enqueue("feedback.tasks.send_nps_invitations", invitation_ids)
    return invitations


def send_nps_invitation(*, invitation_id: int, now=None) -> bool:
    """Email one invitation once (sent_at checked under lock). Returns whether an email went out."""
    now = now or timezone.now()
    with transaction.atomic():
        invitation = NpsInvitation.objects.select_for_update().filter(pk=invitation_id).first()
        if invitation is None or invitation.sent_at is not None or invitation.answered_at is not None:
            return False
        if not invitation.email or invitation.expires_at <= now:
            return False
        url = settings.RELAY_SURVEY_BASE_URL.rstrip("/") + reverse("feedback:survey", args=[invitation.token])
        with translation.override(invitation.language):
            subject = _("How likely are you to recommend us?")
            body = render_to_string("feedback/email/nps_invitation.txt", {"url": url, "invitation": invitation})
        message = EmailMessage(
            subject=str(subject),
            body=body,
            to=[invitation.email],
            headers={"Message-ID": f"<nps-invitation-{invitation.pk}@relay>"},
        )
        message.send()
        invitation.sent_at = now
        invitation.save(update_fields=["sent_at"])
    return True


# ---------------------------------------------------------------- insights


@transaction.atomic
def route_insight(*, by, tag: str, note: str = "", complaint=None, nps_response=None, now=None) -> Insight:
    """Tag a complaint or an NPS comment and route it to marketing (once per source and tag).

    Raises PermissionDenied, DomainError(field=tag|source).
    """
    now = now or timezone.now()
    permissions.require(by, "insight.create")
    if (complaint is None) == (nps_response is None):
        raise DomainError(_("Route an insight from one complaint or one NPS answer."), field="source")
    if tag not in InsightTag.values:
        raise DomainError(_("Choose a tag."), field="tag")
    source = complaint or nps_response
    lead_id = complaint.lead_id if complaint is not None else None
    insight, created = Insight.objects.get_or_create(
        complaint=complaint,
        nps_response=nps_response,
        tag=tag,
        defaults={
            "customer_id": source.customer_id,
            "lead_id": lead_id,
            "note": (note or "").strip(),
            "created_by": by,
            "created_at": now,
        },
    )
    if created:
        notify(
            recipients=roles.members(roles.MARKETING, managers_only=True),
            kind="feedback.insight",
            message=_("Service routed an insight (%(tag)s): %(note)s")
            % {"tag": insight.get_tag_display(), "note": insight.note[:200]},
            url=reverse("feedback:insight-list"),
            dedupe_key=f"feedback.insight.{insight.pk}",
        )
    return insight


@transaction.atomic
def acknowledge_insight(*, insight: Insight, by, now=None) -> Insight:
    now = now or timezone.now()
    insight = Insight.objects.select_for_update().get(pk=insight.pk)
    permissions.require(by, "insight.acknowledge", insight)
    if insight.acknowledged_at is None:
        insight.acknowledged_at = now
        insight.acknowledged_by = by
        insight.save(update_fields=["acknowledged_at", "acknowledged_by"])
    return insight


# ---------------------------------------------------------------- alerts


def check_service_slas(*, now=None) -> dict[str, int]:
    """Raise each complaint SLA breach exactly once (beat task). Overdue follow-ups are tasks: config.todo's
    `alert_overdue_tasks` alerts the service managers about them.

    A conditional UPDATE claims each breach, so two concurrent runs never both alert; the notification's
    dedupe_key makes a retried run harmless too.
    """
    now = now or timezone.now()
    managers = list(roles.members(roles.SERVICE, managers_only=True))
    counts = {"first_response": 0, "resolution": 0}
    breaches = {
        "first_response": Complaint.objects.filter(
            statuses.first_response_overdue(now), first_response_alerted_at__isnull=True
        ),
        "resolution": Complaint.objects.filter(statuses.resolution_overdue(now), resolution_alerted_at__isnull=True),
    }
    messages = {
        "first_response": _("Complaint #%(id)s has had no first response since %(due)s."),
        "resolution": _("Complaint #%(id)s is unresolved past its due time %(due)s."),
    }
    for kind, qs in breaches.items():
        stamp = f"{kind}_alerted_at"
        for complaint in qs.select_related("owner").order_by("pk").iterator():
            with transaction.atomic():
                claimed = Complaint.objects.filter(pk=complaint.pk, **{f"{stamp}__isnull": True}).update(**{stamp: now})
                if not claimed:
                    continue
                due = getattr(complaint, f"{kind}_due_at")
                notify(
                    recipients=[complaint.owner, *managers],
                    kind=f"feedback.complaint_{kind}_breach",
                    message=messages[kind]
                    % {"id": complaint.pk, "due": date_format(timezone.localtime(due), "DATETIME_FORMAT")},
                    url=reverse("feedback:complaint-detail", args=[complaint.pk]),
                    dedupe_key=f"feedback.complaint.{complaint.pk}.{kind}.{due.isoformat()}",
                )
                counts[kind] += 1
    return counts
