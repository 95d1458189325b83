"""Every write of a lead. Pages, the API, the admin and Celery tasks all call these.

Each service locks the lead row, checks permission (403) and the state machine (409), records
history and returns the fresh lead. `_transition()` is the only place that assigns `lead.stage`.

Concurrency: a caller passes the lead it read (or `expected_stage`); if the locked row is in
another stage the write is refused with LeadChanged (409), so two racing moves never both apply.
A caller that has not read the lead (the API) passes its id: the service reads it once, under the lock.
The clock is read after the lock, so the history's times follow the order the writes took.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from config import events, roles, todo
from config.errors import DomainError
from config.models import Task, TaskKind
from config.money import parse_amount
from config.notifications import notify
from customers import services as customer_services
from customers.models import CustomerIdentity
from leads import permissions, stages
from leads.errors import HandoffIncomplete, InvalidTransition, LeadChanged, LeadRuleError, PoolConflict
from leads.models import Activity, ActivityKind, Lead, LeadStageChange, LostReason, RejectReason, Tag
from leads.stages import MOVABLE, PIPELINE, SALES_OPEN_STAGES, Stage, ensure_action, ensure_allowed

User = get_user_model()

CONTACT_KINDS = ("phone", "email", "wecom", "wechat", "member_card")
CONTACT_ACTIVITY_KINDS = (ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.EMAIL)
PACKAGE_FIELDS = ("source_channel", "campaign", "interest", "note", "referred_by")


# --- helpers -------------------------------------------------------------------------------------------------


def _pk(lead: Lead | int) -> int:
    return lead if isinstance(lead, int) else lead.pk


def _lock(lead: Lead | int, *, expected_stage: str | None = None, check_contact: bool = False) -> Lead:
    """The lead's row, locked, with what a transition and its answer need in the same read (customer, channel,
    when it entered its stage; whether the customer has a contact method when asked).

    LeadChanged when it left the stage the caller saw; Lead.DoesNotExist for an unknown id.
    """
    rows = Lead.objects.select_for_update(of=("self",)).select_related("customer", "source_channel")
    if check_contact:
        contacts = CustomerIdentity.objects.filter(
            customer=OuterRef("customer_id"), kind__in=CONTACT_KINDS, is_valid=True
        )
        rows = rows.annotate(has_contact=Exists(contacts))
    locked = rows.get(pk=_pk(lead))
    expected = expected_stage or (None if isinstance(lead, int) else lead.stage)
    if expected is not None and locked.stage != expected:
        raise LeadChanged(
            _("This lead changed while you were working on it: it is now “%(stage)s”. Reload and try again.")
            % {"stage": Stage(locked.stage).label},
            field="stage",
        )
    return locked


def _transition(lead: Lead, *, to: str, by, now, reason: str = "") -> list[str]:
    """Apply one step of the state machine to a locked lead and append it to the history.

    Returns the lead fields it set, for the caller's save (with "updated_at" and its own fields).
    Raises InvalidTransition (409) when NEXT does not allow it.
    """
    ensure_allowed(lead.stage, to)
    # The lead is locked, so its latest change is the one that brought it into its current stage.
    entered_at = lead.stage_entered_at
    if entered_at is None:  # written before the column existed and not backfilled
        entered_at = (
            LeadStageChange.objects.filter(lead=lead).order_by("-at", "-pk").values_list("at", flat=True).first()
        )
    change = LeadStageChange.objects.create(
        lead=lead, from_stage=lead.stage, to_stage=to, at=now, entered_at=entered_at, by=by, reason=reason[:300]
    )
    stamps = stages.stage_stamps(vars(lead), to, now, by_person=by is not None)
    changed = [name for name, value in stamps.items() if getattr(lead, name) != value]
    for name in changed:
        setattr(lead, name, stamps[name])
    customer_services.queue_segment_refresh([lead.customer_id])
    # Integrations hear every move; the delivery rows commit (or roll back) with the transition itself.
    events.publish(
        "lead.stage_changed",
        event_id=f"leads.change.{change.pk}",
        lead=lead.pk,
        customer=lead.customer_id,
        from_stage=change.from_stage,
        to_stage=change.to_stage,
        at=now,
        by=getattr(by, "pk", None),
    )
    if change.from_stage in SALES_OPEN_STAGES and to not in PIPELINE:
        # Won, lost, rejected or recycled to the pool: sales' work on it stops, and so does its next step.
        todo.finish_open_tasks(
            about_record=lead,
            kind=TaskKind.NEXT_STEP,
            outcome=_("Closed: the lead moved to “%(stage)s”.") % {"stage": Stage(to).label},
            now=now,
        )
    return changed


def _announce(event_type: str, lead: Lead, *, by, now, **data) -> None:
    """A lead event beside lead.stage_changed; its id is the lead and the moment it entered its stage, so each
    handoff (a lead may be handed off again after a rejection) is its own event and a retry is the same one."""
    events.publish(
        event_type,
        event_id=f"leads.{event_type}.{lead.pk}.{now.isoformat()}",
        lead=lead.pk,
        customer=lead.customer_id,
        by=getattr(by, "pk", None),
        at=now,
        **data,
    )


def _tags_from_names(names) -> list[Tag]:
    clean = []
    for raw in names or ():
        name = str(raw).strip()[:50]
        if name and name.lower() not in {n.lower() for n in clean}:
            clean.append(name)
    existing = {t.name.lower(): t for t in Tag.objects.filter(name__in=clean)}
    tags = []
    for name in clean:
        tag = existing.get(name.lower())
        if tag is None:
            tag, _created = Tag.objects.get_or_create(name=name)
        tags.append(tag)
    return tags


def _deal_value(value):
    """An optional deal value: None, or money ≥ 0 with at most two decimals (DomainError naming deal_value)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_amount(value, field="deal_value")


def _is_sales_user(user) -> bool:
    return user is not None and user.is_active and roles.department_of(user) == roles.SALES


def _lead_url(lead) -> str:
    return reverse("leads:lead-detail", args=[lead.pk])


# --- marketing: create, edit, hand off -------------------------------------------------------------------------


def _set_tags(lead: Lead, names, *, by, now, replace: bool, fresh: bool = False) -> list[Tag]:
    """Give the lead these tags (`replace`: exactly these; `fresh`: a new lead, which has none yet). Each tag newly
    on the lead is announced as `lead.tagged` (marketing's journeys may start on one); re-adding a tag it has
    announces nothing."""
    tags = _tags_from_names(names)
    had = set() if fresh else set(lead.tags.values_list("pk", flat=True))
    if replace:
        lead.tags.set(tags)
    else:
        lead.tags.add(*tags)
    for tag in tags:
        if tag.pk not in had:
            events.publish(
                "lead.tagged",
                event_id=f"leads.lead.{lead.pk}.tagged.{tag.pk}.{now.isoformat()}",
                lead=lead.pk,
                customer=lead.customer_id,
                tag=tag.name,
                by=getattr(by, "pk", None),
                at=now,
            )
    return tags


@transaction.atomic
def tag_customer_lead(*, customer_id: int, name: str, now=None) -> Lead | None:
    """Relay itself tags a customer's lead (a journey's tag step): their most recent open lead, else their most
    recent lead; None when they have no lead. Adding a tag the lead already has changes nothing."""
    now = now or timezone.now()
    leads = Lead.objects.filter(customer_id=customer_id).order_by("-created_at", "-pk")
    lead = leads.exclude(stage__in=stages.CLOSED_STAGES).first() or leads.first()
    if lead is None:
        return None
    lead = _lock(lead.pk)
    _set_tags(lead, [name], by=None, now=now, replace=False)
    return lead


@transaction.atomic
def create_lead(
    *,
    by,
    contact: dict | None = None,
    customer=None,
    source_channel=None,
    campaign=None,
    tags=(),
    interest: str = "",
    note: str = "",
    referred_by=None,
    deal_value=None,
    now=None,
) -> tuple[Lead, bool]:
    """A new lead for a contact (resolved to a customer by identity) or an existing customer.

    Returns (lead, customer_matched). Raises PermissionDenied, LeadRuleError (field contact/customer),
    DomainError (field deal_value) for a negative or malformed deal value and whatever
    customers.services.resolve_customer raises for a bad contact.
    """
    permissions.require(by, permissions.CREATE)
    now = now or timezone.now()
    deal_value = _deal_value(deal_value)
    customer_services.require_active_channel(source_channel)
    if (contact is None) == (customer is None):
        raise LeadRuleError(_("Give either a contact or an existing customer."), field="contact")
    matched = True
    if contact is not None:
        customer, matched = customer_services.resolve_customer(
            contact=contact, by=by, source_channel=source_channel, field_prefix="contact."
        )
    elif getattr(customer, "merged_into_id", None):
        customer = customer.merged_into
    lead = Lead.objects.create(
        customer=customer,
        stage_entered_at=now,
        created_by=by,
        source_channel=source_channel,
        campaign=campaign,
        interest=interest,
        note=note,
        referred_by=referred_by,
        deal_value=deal_value,
    )
    if tags:
        _set_tags(lead, tags, by=by, now=now, replace=False, fresh=True)
    # The lead's first history row: it entered "new" now (time in stage "new" starts here).
    LeadStageChange.objects.create(lead=lead, from_stage="", to_stage=Stage.NEW, at=now, by=by)
    customer_services.queue_segment_refresh([customer.pk])
    # Marketing counts a lead soon after a message as that message's conversion (and webhooks hear of it).
    events.publish(
        "lead.created",
        event_id=f"leads.lead.{lead.pk}.created",
        lead=lead.pk,
        customer=customer.pk,
        source_channel=source_channel.code if source_channel else None,
        campaign=getattr(campaign, "pk", None),
        by=getattr(by, "pk", None),
        at=now,
    )
    return lead, matched


def create_leads(*, by, items: list[dict], now=None) -> list[tuple[Lead, bool] | DomainError]:
    """Bulk intake (`POST leads/bulk/`): `create_lead(**item)` for each item, in order, each atomic on its own, so
    a refused item is never half-written and never undoes the others. Contacts are matched by identity as
    `create_lead` does: two items with one phone number get one customer.

    Returns, per item, (lead, customer_matched) or the DomainError that refused it. Raises PermissionDenied
    before writing anything when `by` may not create leads.
    """
    permissions.require(by, permissions.CREATE)
    now = now or timezone.now()
    results: list[tuple[Lead, bool] | DomainError] = []
    for item in items:
        try:
            results.append(create_lead(by=by, now=now, **item))
        except DomainError as error:
            results.append(error)
    return results


@transaction.atomic
def update_lead(*, lead: Lead, by, tags=None, expected_updated_at=None, **fields) -> Lead:
    """Marketing edits the package before handoff; the deal value alone is also the owner's to change while the
    lead is open in sales (permissions.SET_DEAL_VALUE). Raises PermissionDenied, LeadRuleError, DomainError
    (field deal_value), and LeadChanged when `expected_updated_at` (the version the caller read, e.g. checked
    against If-Match) is no longer current: two edits of the same version never both apply."""
    lead = _lock(_pk(lead))  # not a stage change: whatever stage it is in now
    if expected_updated_at is not None and lead.updated_at != expected_updated_at:
        raise LeadChanged(_("This lead changed while you were working on it. Reload and try again."), field=None)
    if set(fields) != {"deal_value"} or tags is not None:
        permissions.require(by, permissions.EDIT, lead)
    if "deal_value" in fields:
        permissions.require(by, permissions.SET_DEAL_VALUE, lead)
        fields["deal_value"] = _deal_value(fields["deal_value"])
    unknown = set(fields) - {*PACKAGE_FIELDS, "deal_value"}
    if unknown:
        raise LeadRuleError(_("These fields cannot be edited here."), field=sorted(unknown)[0])
    if "source_channel" in fields and fields["source_channel"] != lead.source_channel:
        customer_services.require_active_channel(fields["source_channel"])
    for name, value in fields.items():
        setattr(lead, name, value)
    lead.save()
    if tags is not None:
        _set_tags(lead, tags, by=by, now=timezone.now(), replace=True)
    return lead


def handoff_missing(lead: Lead) -> list[tuple[str, str]]:
    """What a handoff still lacks, as (field, message) pairs; empty when it may go."""
    missing = []
    has_contact = getattr(lead, "has_contact", None)
    if has_contact is None:
        has_contact = lead.customer.identities.filter(kind__in=CONTACT_KINDS, is_valid=True).exists()
    if not has_contact:
        missing.append(("contact", _("a contact method (phone, email, WeCom, WeChat or member card) on the customer")))
    if lead.source_channel_id is None:
        missing.append(("source_channel", _("a source channel")))
    return missing


_UNSET = object()


@transaction.atomic
def handoff_lead(
    *,
    lead: Lead,
    by,
    assignee=None,
    tags=None,
    source_channel=_UNSET,
    campaign=_UNSET,
    interest=None,
    note=None,
    now=None,
) -> Lead:
    """Marketing passes the lead to a sales user, or to the pool when `assignee` is None.

    Package fields given here are saved first. Raises PermissionDenied, LeadChanged,
    InvalidTransition, HandoffIncomplete (naming what is missing), LeadRuleError (assignee).
    """
    lead = _lock(lead, check_contact=True)
    now = now or timezone.now()
    permissions.require(by, permissions.HANDOFF, lead)
    ensure_action("handoff", lead.stage)
    package = []
    if source_channel is not _UNSET and source_channel != lead.source_channel:
        customer_services.require_active_channel(source_channel)
        lead.source_channel = source_channel
        package.append("source_channel")
    if campaign is not _UNSET and getattr(campaign, "pk", None) != lead.campaign_id:
        lead.campaign = campaign
        package.append("campaign")
    for name, value in (("interest", interest), ("note", note)):
        if value is not None and value != getattr(lead, name):
            setattr(lead, name, value)
            package.append(name)
    if tags is not None:
        _set_tags(lead, tags, by=by, now=now, replace=True)
    missing = handoff_missing(lead)
    if missing:
        raise HandoffIncomplete(
            _("The handoff is missing %(missing)s.") % {"missing": _(" and ").join(m for _f, m in missing)},
            field=missing[0][0],
        )
    if assignee is not None and not _is_sales_user(assignee):
        raise LeadRuleError(_("Hand the lead to a sales user or to the sales queue."), field="assignee")
    changed = _transition(lead, to=Stage.HANDED_OFF, by=by, now=now)
    lead.owner = assignee
    lead.save(update_fields=[*changed, *package, "owner", "updated_at"])
    _announce("lead.handed_off", lead, by=by, now=now, assignee=lead.owner_id)
    if assignee is not None:
        notify(
            recipients=[assignee],
            kind="leads.handoff",
            message=_("Lead #%(id)s (%(customer)s) was handed to you.") % {"id": lead.pk, "customer": lead.customer},
            url=_lead_url(lead),
        )
    return lead


# --- sales: decide the handoff, claim from the pool ----------------------------------------------------------


@transaction.atomic
def accept_lead(*, lead: Lead, by, expected_stage: str | None = None, now=None) -> Lead:
    """The owner (or a sales manager) accepts a handoff. Pool leads are claimed instead."""
    lead = _lock(lead, expected_stage=expected_stage)
    now = now or timezone.now()
    permissions.require(by, permissions.ACCEPT, lead)
    ensure_action("accept", lead.stage)
    if stages.in_pool(lead.stage, lead.owner_id):
        raise InvalidTransition(_("This lead is in the pool: claim it or assign it first."), field="owner")
    lead.save(update_fields=[*_transition(lead, to=Stage.ACCEPTED, by=by, now=now), "updated_at"])
    _announce("lead.accepted", lead, by=by, now=now, owner=lead.owner_id)
    return lead


@transaction.atomic
def claim_lead(*, lead: Lead, by, expected_stage: str | None = None, now=None) -> Lead:
    """A sales user takes a pool lead; claiming is accepting. The first claim wins (row lock + state check).

    Raises PermissionDenied, LeadChanged, InvalidTransition, PoolConflict (owned, or reclaim cooldown).
    """
    lead = _lock(lead, expected_stage=expected_stage)
    now = now or timezone.now()
    permissions.require(by, permissions.CLAIM, lead)
    # Someone claimed it first (or it moved on): say that, not "accepted cannot move to accepted".
    ensure_action("claim", lead.stage, _("This lead is not in the pool any more."))
    if not stages.in_pool(lead.stage, lead.owner_id):
        raise PoolConflict(_("This lead is not in the pool any more."), field="owner")
    if lead.reclaim_blocked_user_id == by.pk and lead.reclaim_blocked_until and lead.reclaim_blocked_until > now:
        raise PoolConflict(
            _("This lead was recycled from you; you may claim it again after %(until)s.")
            % {"until": date_format(timezone.localtime(lead.reclaim_blocked_until), "DATETIME_FORMAT")},
            field="owner",
        )
    changed = _transition(lead, to=Stage.ACCEPTED, by=by, now=now)
    lead.owner = by
    lead.save(update_fields=[*changed, "owner", "updated_at"])
    _announce("lead.accepted", lead, by=by, now=now, owner=lead.owner_id)
    return lead


@transaction.atomic
def reject_lead(
    *, lead: Lead, by, reason: str, reason_text: str = "", expected_stage: str | None = None, now=None
) -> Lead:
    """Back to marketing for nurture, with a reason from the fixed list (other needs text)."""
    lead = _lock(lead, expected_stage=expected_stage)
    now = now or timezone.now()
    permissions.require(by, permissions.REJECT, lead)
    ensure_action("reject", lead.stage)
    if reason not in RejectReason.values:
        raise LeadRuleError(_("Choose a reason for rejecting."), field="reason")
    reason_text = (reason_text or "").strip()
    if reason == RejectReason.OTHER and not reason_text:
        raise LeadRuleError(_("Say why the lead is rejected."), field="reason_text")
    changed = _transition(
        lead, to=Stage.NEW, by=by, now=now, reason=f"{reason}: {reason_text}" if reason_text else reason
    )
    lead.owner = None
    lead.reject_reason, lead.reject_reason_text = reason, reason_text[:300]
    lead.save(update_fields=[*changed, "owner", "reject_reason", "reject_reason_text", "updated_at"])
    _announce("lead.rejected", lead, by=by, now=now, reason=reason)
    if lead.created_by_id:
        notify(
            recipients=[lead.created_by],
            kind="leads.rejected",
            message=_("Lead #%(id)s (%(customer)s) was rejected: %(reason)s.")
            % {"id": lead.pk, "customer": lead.customer, "reason": RejectReason(reason).label},
            url=_lead_url(lead),
        )
    return lead


@transaction.atomic
def assign_lead(*, lead: Lead, by, owner, now=None) -> Lead:
    """A sales manager assigns a pool lead or reassigns an open sales lead. Not a stage change."""
    lead = _lock(_pk(lead))  # not a stage change: whatever stage it is in now
    now = now or timezone.now()
    permissions.require(by, permissions.ASSIGN, lead)
    ensure_action("assign", lead.stage, _("Only open sales leads can be assigned."))
    if not _is_sales_user(owner):
        raise LeadRuleError(_("Assign the lead to a sales user."), field="owner")
    previous = lead.owner
    lead.owner = owner
    lead.save(update_fields=["owner", "updated_at"])
    Activity.objects.create(
        lead=lead,
        kind=ActivityKind.NOTE,
        by=by,
        at=now,
        body=_("Assigned to %(new)s (was %(old)s).")
        % {"new": owner.get_username(), "old": previous.get_username() if previous else _("the pool")},
    )
    notify(
        recipients=[owner],
        kind="leads.assigned",
        message=_("Lead #%(id)s (%(customer)s) was assigned to you.") % {"id": lead.pk, "customer": lead.customer},
        url=_lead_url(lead),
    )
    return lead


# --- many leads at once: the lead list's bulk actions ---------------------------------------------------------


@dataclass
class BulkOutcome:
    """What a bulk action did: the leads it changed, and each lead it refused with the reason, in pk order."""

    done: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


def _each_lead(lead_ids, write) -> BulkOutcome:
    """`write(pk)` for each lead, in pk order (rows locked in one order, so two bulk actions never deadlock). Each
    runs the single-lead service in its own savepoint: a refused lead rolls back alone, nothing of it written,
    and is reported with the refusal's message (the same as on the lead's page); the others stand."""
    outcome = BulkOutcome()
    for pk in sorted(set(lead_ids)):
        try:
            write(pk)
        except DomainError as error:
            outcome.refused.append((pk, error.message))
        except PermissionDenied as error:
            outcome.refused.append((pk, str(error)))
        except Lead.DoesNotExist:
            outcome.refused.append((pk, _("No such lead.")))
        else:
            outcome.done.append(pk)
    return outcome


@transaction.atomic
def handoff_leads(*, lead_ids, by, assignee=None, now=None) -> BulkOutcome:
    """Marketing hands off many leads to one sales user, or to the pool (`assignee` None), in one transaction.

    Per lead: all or nothing, checked exactly as `handoff_lead` checks one (the person's right to that lead, the
    state machine, the required package, the assignee); the refused leads are reported, the others handed off.
    Raises PermissionDenied, before writing anything, when `by` hands off no leads at all."""
    permissions.require(by, permissions.HANDOFF)
    now = now or timezone.now()
    return _each_lead(lead_ids, lambda pk: handoff_lead(lead=pk, by=by, assignee=assignee, now=now))


@transaction.atomic
def assign_leads(*, lead_ids, by, owner, now=None) -> BulkOutcome:
    """A sales manager gives many leads to one sales user, in one transaction; per lead as `assign_lead` (only
    open sales leads), the refused ones reported. Raises PermissionDenied, before writing anything, when `by`
    may not assign leads."""
    permissions.require(by, permissions.ASSIGN)
    now = now or timezone.now()
    return _each_lead(lead_ids, lambda pk: assign_lead(lead=pk, by=by, owner=owner, now=now))


# --- sales: work the pipeline -------------------------------------------------------------------------------


@transaction.atomic
def move_lead(*, lead: Lead, by, stage: str, expected_stage: str | None = None, now=None) -> Lead:
    """An accepted lead to any stage contacted … negotiation, forward, skipping or back."""
    lead = _lock(lead, expected_stage=expected_stage)
    now = now or timezone.now()
    permissions.require(by, permissions.MOVE, lead)
    ensure_action("move", lead.stage)
    if stage not in MOVABLE:
        raise InvalidTransition(
            _("Move takes a lead to contacted, qualified, proposal or negotiation; use close for won or lost."),
            field="stage",
        )
    ensure_allowed(lead.stage, stage)
    lead.save(update_fields=[*_transition(lead, to=stage, by=by, now=now), "updated_at"])
    return lead


@transaction.atomic
def close_lead(
    *,
    lead: Lead,
    by,
    outcome: str,
    amount=None,
    reason: str = "",
    reason_text: str = "",
    expected_stage: str | None = None,
    now=None,
) -> Lead:
    """Won (with an amount: creates the first Order and the service onboarding task) or lost (with a reason)."""
    lead = _lock(lead, expected_stage=expected_stage)
    now = now or timezone.now()
    permissions.require(by, permissions.CLOSE, lead)
    ensure_action("close", lead.stage)
    if outcome not in (Stage.WON, Stage.LOST):
        raise LeadRuleError(_("The outcome is won or lost."), field="outcome")
    ensure_allowed(lead.stage, outcome)
    if outcome == Stage.WON:
        if amount in (None, ""):
            raise LeadRuleError(_("A won lead needs the amount of its order."), field="amount")
        value = parse_amount(amount, positive=True)
        changed = _transition(lead, to=Stage.WON, by=by, now=now)
        order = customer_services.place_order(
            customer=lead.customer, amount=value, ordered_at=now, channel=lead.source_channel, by=by
        ).order
        lead.won_amount, lead.won_order = value, order
        lead.save(update_fields=[*changed, "won_amount", "won_order", "updated_at"])
        # Service opens onboarding (feedback subscribes); integrations hear it too.
        _announce("lead.won", lead, by=by, now=now, order=order.pk, amount=str(value))
        return lead
    if reason not in LostReason.values:
        raise LeadRuleError(_("Choose why the lead was lost."), field="reason")
    reason_text = (reason_text or "").strip()
    if reason == LostReason.OTHER and not reason_text:
        raise LeadRuleError(_("Say why the lead was lost."), field="reason_text")
    changed = _transition(
        lead, to=Stage.LOST, by=by, now=now, reason=f"{reason}: {reason_text}" if reason_text else reason
    )
    lead.lost_reason, lead.lost_reason_text = reason, reason_text[:300]
    lead.save(update_fields=[*changed, "lost_reason", "lost_reason_text", "updated_at"])
    _announce("lead.lost", lead, by=by, now=now, reason=reason)
    return lead


@transaction.atomic
def flag_high_intent(*, lead: Lead, by, now=None) -> Lead:
    """Sales marks a lead high intent; its creator and the marketing managers are told once."""
    lead = _lock(_pk(lead))  # not a stage change: whatever stage it is in now
    now = now or timezone.now()
    permissions.require(by, permissions.FLAG_HIGH_INTENT, lead)
    ensure_action("flag_high_intent", lead.stage, _("Only an open sales lead can be flagged high intent."))
    if not lead.is_high_intent:
        lead.is_high_intent = True
        lead.save(update_fields=["is_high_intent", "updated_at"])
        # Once per lead (the flag is never cleared): marketing's journeys start on it, webhooks hear it.
        _announce("lead.flagged_high_intent", lead, by=by, now=now, owner=lead.owner_id)
    recipients = [*roles.members(roles.MARKETING, managers_only=True), lead.created_by]
    notify(
        recipients=recipients,
        kind="leads.high_intent",
        message=_("Lead #%(id)s (%(customer)s) is high intent: send deeper content.")
        % {"id": lead.pk, "customer": lead.customer},
        url=_lead_url(lead),
        dedupe_key=f"leads.high_intent.{lead.pk}",
    )
    return lead


@transaction.atomic
def set_next_step(*, lead: Lead | int, by, title: str, due_at=None, notes: str = "", now=None) -> Task:
    """The lead's next step: its one open next-step task (config.Task), for its owner (the sales queue while it
    has none). Setting another replaces it, whoever's it was; the page and the API both come here.

    Raises PermissionDenied (the owner, the sales manager and admins set it), InvalidTransition (409, a lead out
    of sales' open stages), DomainError(field=title).
    """
    lead = _lock(_pk(lead))
    permissions.require(by, permissions.NEXT_STEP, lead)
    ensure_action(permissions.NEXT_STEP, lead.stage)
    return todo.create_task(
        by=by,
        kind=TaskKind.NEXT_STEP,
        title=title,
        notes=notes,
        due_at=due_at,
        assignee=lead.owner,
        department="" if lead.owner_id else roles.SALES,
        about_record=lead,
        may_replace=True,
        now=now,
    )


@transaction.atomic
def add_activity(*, lead: Lead, by, kind: str, body: str, now=None) -> Activity:
    """A note, call, meeting or email on a lead; it counts as activity (recycling clock).

    The first call/meeting/email on an accepted lead by someone who may move it moves it to
    contacted through the state machine.
    """
    lead = _lock(_pk(lead))  # not a stage change: whatever stage it is in now
    now = now or timezone.now()
    permissions.require(by, permissions.ADD_ACTIVITY, lead)
    if kind not in ActivityKind.values:
        raise LeadRuleError(_("Choose what kind of activity this is."), field="kind")
    body = (body or "").strip()
    if not body:
        raise LeadRuleError(_("Write what happened."), field="body")
    activity = Activity.objects.create(lead=lead, kind=kind, body=body, by=by, at=now)
    lead.last_activity_at = now
    changed = ["last_activity_at", "updated_at"]
    if kind in CONTACT_ACTIVITY_KINDS and lead.stage == Stage.ACCEPTED and permissions.can(by, permissions.MOVE, lead):
        changed += _transition(lead, to=Stage.CONTACTED, by=by, now=now)
    lead.save(update_fields=sorted(set(changed)))
    return activity


@transaction.atomic
def create_tag(*, by, name: str) -> Tag:
    permissions.require(by, permissions.CREATE_TAG)
    name = (name or "").strip()
    if not name:
        raise LeadRuleError(_("A tag needs a name."), field="name")
    if len(name) > 50:
        raise LeadRuleError(_("A tag name has at most 50 characters."), field="name")
    existing = Tag.objects.filter(name__iexact=name).first()
    return existing or Tag.objects.create(name=name)


# --- the system: recycling and SLA alerts (Celery beat) ----------------------------------------------------


def recycle_stale_leads(*, now=None) -> int:
    """Open leads from accepted on with no activity for RELAY_LEAD_RECYCLE_DAYS go back to the pool.

    Each lead is re-checked under its own lock, so a run racing a user's activity or another run
    recycles nothing twice. The former owner may not reclaim it for RELAY_LEAD_RECLAIM_COOLDOWN_HOURS.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.RELAY_LEAD_RECYCLE_DAYS)
    ids = list(
        Lead.objects.filter(stage__in=PIPELINE, last_activity_at__lt=cutoff).values_list("pk", flat=True)[:5000]
    ) + list(
        Lead.objects.filter(stage__in=PIPELINE, last_activity_at__isnull=True, accepted_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:5000]
    )
    done = 0
    for pk in sorted(set(ids)):
        done += _recycle_one(pk, now=now, cutoff=cutoff)
    return done


@transaction.atomic
def _recycle_one(pk: int, *, now, cutoff) -> int:
    lead = Lead.objects.select_for_update().filter(pk=pk).first()
    if lead is None or lead.stage not in PIPELINE:
        return 0
    last = lead.last_activity_at or lead.accepted_at
    if last is None or last >= cutoff:
        return 0
    former = lead.owner
    changed = _transition(lead, to=Stage.HANDED_OFF, by=None, now=now, reason="recycled")
    lead.owner = None
    lead.reclaim_blocked_user = former
    lead.reclaim_blocked_until = now + timedelta(hours=settings.RELAY_LEAD_RECLAIM_COOLDOWN_HOURS)
    lead.save(update_fields=[*changed, "owner", "reclaim_blocked_user", "reclaim_blocked_until", "updated_at"])
    notify(
        recipients=[former],
        kind="leads.recycled",
        message=_("Lead #%(id)s (%(customer)s) went back to the pool after %(days)s days without activity.")
        % {"id": lead.pk, "customer": lead.customer, "days": settings.RELAY_LEAD_RECYCLE_DAYS},
        url=_lead_url(lead),
        dedupe_key=f"leads.recycled.{lead.pk}.{now.isoformat()}",
    )
    return 1


def check_lead_slas(*, now=None) -> int:
    """Raise each SLA breach once: a handoff undecided in RELAY_HANDOFF_SLA_HOURS, an accepted lead not
    contacted in RELAY_CONTACT_SLA_HOURS. The owner (the sales managers for a pool lead) and the sales
    managers are told; notify()'s dedupe_key plus its unique constraint make repeated and concurrent
    runs notify once. Returns how many notifications were made.
    """
    now = now or timezone.now()
    managers = list(roles.members(roles.SALES, managers_only=True))
    made = 0
    handoff_breaches = Lead.objects.filter(stages.handoff_sla_breached(now)).select_related("owner", "customer")
    for lead in handoff_breaches.iterator(chunk_size=500):
        made += notify(
            recipients=[lead.owner, *managers],
            kind="leads.sla.handoff",
            message=_("Lead #%(id)s (%(customer)s) has waited more than %(hours)s hours for a decision.")
            % {"id": lead.pk, "customer": lead.customer, "hours": settings.RELAY_HANDOFF_SLA_HOURS},
            url=_lead_url(lead),
            dedupe_key=f"leads.sla.handoff.{lead.pk}.{lead.handed_off_at.isoformat()}",
        )
    contact_breaches = Lead.objects.filter(stages.contact_sla_breached(now)).select_related("owner", "customer")
    for lead in contact_breaches.iterator(chunk_size=500):
        made += notify(
            recipients=[lead.owner, *managers],
            kind="leads.sla.contact",
            message=_("Lead #%(id)s (%(customer)s) was accepted more than %(hours)s hours ago and not contacted.")
            % {"id": lead.pk, "customer": lead.customer, "hours": settings.RELAY_CONTACT_SLA_HOURS},
            url=_lead_url(lead),
            dedupe_key=f"leads.sla.contact.{lead.pk}.{lead.accepted_at.isoformat()}",
        )
    return made


# ---------------------------------------------------------------------------------------------------------------
# CSV import (customers.imports calls this for the "leads" kind; registered in leads/apps.py)


def _import_key(row):
    customer_ref = row.customer_id if row.customer_id is not None else ("new", row.group)
    return (customer_ref, row.data.get("channel_id"), row.data.get("interest", ""))


def import_leads(rows, *, dry_run: bool, seen: dict, by, now=None) -> tuple[int, int]:
    """Create a `new` lead per import row unless the customer already has a `new` lead of that channel and
    interest (then its tags are added). Each created lead gets its first history row ("" → new), as
    `create_lead` gives it. Runs inside the import batch's transaction. Returns (created, updated)."""
    now = now or timezone.now()
    ids = sorted({r.customer_id for r in rows if r.customer_id is not None})
    existing: dict = {}
    for start in range(0, len(ids), 900):
        for pk, cid, channel_id, interest in Lead.objects.filter(
            customer_id__in=ids[start : start + 900], stage=Stage.NEW
        ).values_list("pk", "customer_id", "source_channel_id", "interest"):
            existing.setdefault((cid, channel_id, interest), pk)
    created = updated = 0
    new_leads: list[Lead] = []
    tag_links: list[tuple[object, list[str]]] = []  # (lead or lead pk, tag names)
    for row in rows:
        key = _import_key(row)
        if key in existing or key in seen:
            updated += 1
            if not dry_run and row.data["tags"]:
                tag_links.append((existing.get(key) or seen.get(key), row.data["tags"]))
            continue
        created += 1
        if dry_run:
            seen[key] = None
            continue
        lead = Lead(
            customer_id=row.customer_id,
            stage=Stage.NEW,
            stage_entered_at=now,
            source_channel_id=row.data["channel_id"],
            campaign_id=row.data["campaign_id"],
            interest=row.data["interest"],
            note=row.data["note"],
            created_by=by,
        )
        new_leads.append(lead)
        seen[key] = lead
        if row.data["tags"]:
            tag_links.append((lead, row.data["tags"]))
    if dry_run:
        return created, updated
    Lead.objects.bulk_create(new_leads, batch_size=500)
    LeadStageChange.objects.bulk_create(
        [LeadStageChange(lead=lead, from_stage="", to_stage=Stage.NEW, at=now, by=by) for lead in new_leads],
        batch_size=500,
    )
    names = sorted({name for _lead, tags in tag_links for name in tags})
    if names:
        Tag.objects.bulk_create([Tag(name=n) for n in names], ignore_conflicts=True)
        tag_ids = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
        through = Lead.tags.through
        through.objects.bulk_create(
            [
                through(lead_id=getattr(lead, "pk", lead), tag_id=tag_ids[name])
                for lead, tags in tag_links
                for name in tags
                if getattr(lead, "pk", lead)
            ],
            ignore_conflicts=True,
            batch_size=500,
        )
    customer_services.queue_segment_refresh([lead.customer_id for lead in new_leads])
    return created, updated
