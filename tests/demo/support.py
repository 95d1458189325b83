"""The demo the demo tests read: `seed_demo` at a small size, seeded at NOW (on the hour, so the demo's `now` is
the clock's and nothing ages between the seed and the checks)."""

from datetime import date, datetime, time
from io import StringIO

import time_machine
from django.core.management import call_command
from django.utils import timezone

from config.models import Task
from customers.models import Campaign, Channel, ChannelSpend, Customer, CustomerIdentity, Order
from feedback.models import Complaint, ComplaintStatusChange, NpsInvitation, NpsResponse
from leads.models import Activity, Lead, LeadStageChange, Tag
from okr.models import CheckIn, KeyResult, Objective

NOW = timezone.make_aware(datetime.combine(date(2026, 11, 18), time(10)))  # a Wednesday morning


def seed(**options) -> None:
    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo", customers=300, leads=800, stdout=StringIO(), **options)


MODELS = [
    Channel,
    Campaign,
    ChannelSpend,
    Customer,
    CustomerIdentity,
    Order,
    Lead,
    LeadStageChange,
    Activity,
    Tag,
    Lead.tags.through,
    Complaint,
    ComplaintStatusChange,
    NpsInvitation,
    NpsResponse,
    Task,
    Objective,
    KeyResult,
    CheckIn,
]


def demo_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in MODELS}
