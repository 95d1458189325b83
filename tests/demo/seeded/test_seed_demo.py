from collections import Counter
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model

from config.models import Task, TaskKind
from config.todo import alert_overdue_tasks, day_bounds
from customers.models import Channel, ChannelSpend, Customer, CustomerIdentity, Order
from feedback.models import Complaint, NpsResponse
from feedback.services import check_service_slas
from leads.models import Lead, LeadStageChange
from leads.services import check_lead_slas, recycle_stale_leads
from leads.stages import NEXT, PIPELINE, Stage
from okr.models import KeyResult, Objective
from okr.selectors import current_quarter, shift_quarter
from tests.demo.support import NOW, demo_counts

pytestmark = pytest.mark.django_db


def test_seed_creates_every_kind_of_row():
    assert not [label for label, n in demo_counts().items() if n == 0]
    assert Customer.objects.count() == 300
    assert Lead.objects.count() == 800
    assert set(Lead.objects.values_list("stage", flat=True)) == set(Stage.values)
    assert set(Channel.objects.values_list("code", flat=True)) >= {
        "wechat",
        "douyin",
        "xiaohongshu",
        "website",
        "store",
        "trade_show",
        "referral",
    }
    assert ChannelSpend.objects.values("month").distinct().count() >= 6
    assert set(Complaint.objects.values_list("status", flat=True)) >= {"open", "in_progress", "closed"}
    scores = list(NpsResponse.objects.values_list("score", flat=True))
    assert min(scores) <= 6 and max(scores) >= 9 and any(s in (7, 8) for s in scores)
    repeat = Counter(Order.objects.values_list("customer_id", flat=True))
    assert max(repeat.values()) >= 2
    assert Lead.objects.filter(referred_by__isnull=False).exists()
    assert Lead.objects.filter(is_high_intent=True).exists()
    # Identities are normalized: E.164 phones, lower-case emails.
    phones = CustomerIdentity.objects.filter(kind="phone", is_valid=True).values_list("value", flat=True)
    assert all(p.startswith("+861") and len(p) == 14 and p[1:].isdigit() for p in phones)
    emails = CustomerIdentity.objects.filter(kind="email", is_valid=True).values_list("value", flat=True)
    assert all(e == e.lower() and "@" in e for e in emails)
    # Key results are bound to the registry's metric names (plus manual ones).
    metrics = set(KeyResult.objects.values_list("metric", flat=True))
    assert metrics >= {"lead_quality_score", "close_rate", "cycle_time_days", "nps", "repurchase_rate", ""}
    assert set(KeyResult.objects.filter(metric="cycle_time_days").values_list("direction", flat=True)) == {"down"}
    # Last and this quarter: the board has history, and check-ins even on a quarter's first day.
    with time_machine.travel(NOW, tick=False):
        this_quarter = current_quarter()
    assert sorted(Objective.objects.values_list("quarter", "department", "owner__username")) == [
        (quarter, department, f"{department}_manager")
        for quarter in sorted([shift_quarter(this_quarter, -1), this_quarter])
        for department in ("marketing", "sales", "service")
    ]


def test_demo_users_have_their_roles_and_password():
    User = get_user_model()
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password("relay-demo")
    manager = User.objects.get(username="sales_manager")
    assert sorted(manager.groups.values_list("name", flat=True)) == ["manager", "sales"]
    assert list(User.objects.get(username="service2").groups.values_list("name", flat=True)) == ["service"]
    staff = User.objects.filter(username__in=["marketing", "sales3", "marketing2", "service"])
    assert all(u.is_staff and u.first_name and u.check_password("relay-demo") for u in staff)


def test_stage_history_follows_the_state_machine():
    changes: dict[int, list] = {}
    for change in LeadStageChange.objects.order_by("lead_id", "at", "pk"):
        changes.setdefault(change.lead_id, []).append(change)
    for lead in Lead.objects.all():
        first, *history = changes[lead.pk]
        assert (first.from_stage, first.to_stage, first.at, first.entered_at) == ("", Stage.NEW, lead.created_at, None)
        stage = Stage.NEW
        previous_at = lead.created_at
        for index, change in enumerate(history):
            assert change.from_stage == stage, (lead.pk, change)
            assert change.to_stage in NEXT[stage], (lead.pk, change)
            assert change.at >= previous_at
            # entered_at: when the lead entered from_stage, i.e. the previous change (none before the first).
            assert change.entered_at == (history[index - 1].at if index else first.at), (lead.pk, change)
            stage, previous_at = change.to_stage, change.at
        assert stage == lead.stage, lead.pk
        assert lead.stage_entered_at == (history[-1].at if history else first.at), lead.pk
        handoffs = [c.at for c in history if c.to_stage == Stage.HANDED_OFF]
        assert lead.first_handed_off_at == (handoffs[0] if handoffs else None)
        assert lead.handed_off_at == (handoffs[-1] if handoffs else None)
        if lead.stage in PIPELINE:
            assert lead.owner_id is not None and lead.accepted_at is not None
        if lead.stage in (Stage.WON, Stage.LOST):
            assert lead.closed_at == history[-1].at
        if lead.stage == Stage.WON:
            assert lead.won_amount and lead.won_order.amount == lead.won_amount
            assert lead.won_order.customer_id == lead.customer_id
        else:
            assert lead.won_order_id is None
        if lead.stage == Stage.LOST:
            assert lead.lost_reason and history[-1].reason == lead.lost_reason
        if lead.stage == Stage.NEW and history:
            assert lead.reject_reason and history[-1].reason == lead.reject_reason


def test_complaint_history_matches_status():
    for complaint in Complaint.objects.prefetch_related("status_changes"):
        history = list(complaint.status_changes.all())
        status = "open"
        for change in history:
            assert change.from_status == status
            status = change.to_status
        assert status == complaint.status
        assert complaint.first_response_due_at > complaint.opened_at
        if complaint.status in ("resolved", "closed"):
            assert complaint.resolved_at and complaint.first_response_at


def test_a_fresh_demo_already_follows_the_recycle_and_sla_rules():
    """Left alone after `make run`, the first hourly recycle and SLA checks find a trickle, not the whole demo.
    (At this small size there may be none; tests/demo/test_demo_sla.py checks the default size has a few.)"""
    with time_machine.travel(NOW, tick=False):
        assert recycle_stale_leads() == 0
        alerts = check_lead_slas() + sum(check_service_slas().values()) + alert_overdue_tasks()
    assert alerts <= 0.02 * Lead.objects.count()


def test_the_pipeline_has_deal_values_and_won_leads_closed_near_theirs():
    pipeline = Lead.objects.filter(stage__in=PIPELINE)
    valued = pipeline.filter(deal_value__isnull=False).count()
    assert valued >= 0.85 * pipeline.count()  # the board shows a value on most cards, "No value" on a few
    values = list(Lead.objects.filter(deal_value__isnull=False).values_list("deal_value", flat=True))
    assert min(values) >= Decimal("5000") and max(values) <= Decimal("200000")
    assert len(set(values)) > 20  # by interest and customer, not one figure
    for lead in Lead.objects.filter(stage=Stage.WON).select_related("won_order"):
        assert lead.deal_value is not None, lead.pk
        assert Decimal("0.84") <= lead.won_amount / lead.deal_value <= Decimal("1.06"), lead.pk
        assert lead.won_order.amount == lead.won_amount


def test_most_leads_sales_works_have_a_next_step_for_their_owner_mostly_ahead():
    now = NOW
    steps = Task.objects.filter(kind=TaskKind.NEXT_STEP, done_at__isnull=True)
    leads = {lead.pk: lead for lead in Lead.objects.filter(stage__in=PIPELINE)}
    assert steps.count() >= 0.75 * len(leads)
    for step in steps:
        lead = leads[step.object_id]  # about an open lead in the pipeline (one step each: the constraint)
        assert (step.assignee_id, step.created_by_id, step.department) == (lead.owner_id, lead.owner_id, "sales")
        assert step.title and step.created_at <= now and step.due_at > step.created_at
    overdue = steps.filter(due_at__lt=now)
    _start, tomorrow = day_bounds(now)
    assert 0.04 * steps.count() <= overdue.count() <= 0.2 * steps.count()
    assert steps.filter(due_at__gte=now, due_at__lt=tomorrow).exists()  # a few due later today
    assert steps.filter(due_at__gte=tomorrow).count() > steps.count() / 2
    # Overdue work was alerted when it fell due, as the beat does every five minutes: no flood on the first run.
    assert not overdue.filter(alerted_at__isnull=True).exists()
    assert alert_overdue_tasks(now=now) == 0


def test_every_department_has_a_few_to_dos_of_its_own():
    general = Task.objects.filter(kind=TaskKind.GENERAL)
    for department in ("marketing", "sales", "service"):
        mine = general.filter(department=department)
        assert mine.count() >= 3
        assert mine.filter(assignee__isnull=True, done_at__isnull=True).exists()  # its queue
        assert not mine.exclude(assignee__isnull=True).exclude(assignee__groups__name=department).exists()
    assert general.filter(assignee__isnull=True).exists() and general.filter(done_at__isnull=False).exists()
    assert Customer.objects.filter(pk__in=general.filter(object_id__isnull=False).values("object_id")).exists()
