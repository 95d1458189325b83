"""Demo and benchmark data, shared by `manage.py seed_demo` (ORM, SQLite or PostgreSQL) and
`manage.py bench_data` (PostgreSQL COPY).

Everything is generated from a seeded `random.Random` relative to one fixed `now`, so two runs on the
same day produce the same rows. Rows are plain dicts keyed by model attname (`customer_id`, not
`customer`) with explicit primary keys, so one generator serves both `Model(**row)` + `bulk_create`
and COPY, and rows can point at each other before they are written.

Lead histories follow `leads.stages.NEXT` exactly: they are simulated transition by transition
(`simulate_lead`), and the lead's fields (owner, handed_off_at, accepted_at, closed_at, reasons,
won amount) are derived from the same walk, so the stage history and the row always agree.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from config.models import Task, TaskKind
from config.roles import MANAGER, MARKETING, SALES, SERVICE
from customers.models import Campaign, Channel, ChannelSpend, Customer, CustomerIdentity, Order
from feedback.models import Complaint, ComplaintStatusChange, NpsInvitation, NpsResponse
from leads.models import Activity, Lead, LeadStageChange, Tag
from leads.stages import NEXT, PIPELINE, Stage, stage_stamps
from okr.models import CheckIn, KeyResult, Objective

DEMO_PASSWORD = "relay-demo"  # nosec B105
DEFAULT_SEED = 20261
H = timedelta(hours=1)
D = timedelta(days=1)
# Work still undone at "now" (undecided handoffs, complaints, follow-ups) is recent: older work was done, late or
# not, as a team using Relay would have done it. So a fresh demo raises a few alerts, not hundreds. The demo team
# works to its SLAs (the RELAY_* settings): work that would run past its due time is picked up soon after the
# breach alert (REACT_HOURS, the median; see within_sla), so history keeps some late work for the metrics while
# what is open at "now" is mostly on time. A few items nobody has touched yet (STUCK_SHARE of the work of the last
# STUCK_WINDOW) stay open past their due time: the alerts a fresh demo shows.
REACT_HOURS = 3
STUCK_SHARE = 0.02
STUCK_WINDOW = 48 * H

# username, first name, last name, department, is manager
# Chinese names are written whole in first_name (family name first, no space): Django's get_full_name()
# puts first_name before last_name, which would print 娜 李.
DEMO_USERS: list[tuple[str, str, str, str | None, bool]] = [
    ("admin", "Admin", "Relay", None, False),
    ("marketing", "李娜", "", MARKETING, False),
    ("sales", "王伟", "", SALES, False),
    ("service", "Emily", "Chen", SERVICE, False),
    ("marketing_manager", "张敏", "", MARKETING, True),
    ("sales_manager", "David", "Liu", SALES, True),
    ("service_manager", "陈静", "", SERVICE, True),
    ("sales2", "刘洋", "", SALES, False),
    ("sales3", "Michael", "Zhou", SALES, False),
    ("marketing2", "Sophie", "Wang", MARKETING, False),
    ("service2", "杨帆", "", SERVICE, False),
]

CHANNELS = [
    ("wechat", "WeChat"),
    ("douyin", "Douyin"),
    ("xiaohongshu", "Xiaohongshu"),
    ("website", "Website"),
    ("store", "Store"),
    ("trade_show", "Trade show"),
    ("referral", "Referral"),
]
# Share of new customers/leads per channel, and monthly spend (CNY) per channel.
CHANNEL_WEIGHTS = {
    "wechat": 26,
    "douyin": 18,
    "xiaohongshu": 14,
    "website": 16,
    "store": 12,
    "trade_show": 8,
    "referral": 6,
}
CHANNEL_MONTHLY_SPEND = {
    "wechat": 42000,
    "douyin": 58000,
    "xiaohongshu": 31000,
    "website": 18000,
    "store": 12000,
    "trade_show": 45000,
    "referral": 6000,
}
CAMPAIGNS = {
    "wechat": ["WeChat Moments spring push", "公众号 会员日", "Mini-program coupon week"],
    "douyin": ["Douyin live launch", "抖音 短视频 种草", "Douyin Double 11"],
    "xiaohongshu": ["小红书 KOL 测评", "Xiaohongshu notes Q3"],
    "website": ["SEO landing pages", "Free trial signup"],
    "store": ["门店 开业 活动", "Store loyalty week"],
    "trade_show": ["Shanghai Expo 2026", "深圳 高交会"],
    "referral": ["Refer a friend"],
}
TAGS = [
    "VIP",
    "enterprise",
    "SMB",
    "price-sensitive",
    "renewal",
    "trade-show",
    "demo-requested",
    "高意向",
    "企业客户",
    "复购",
    "学生",
    "decision-maker",
    "budget-approved",
    "competitor-user",
]

SURNAMES = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("高", "gao"),
    ("林", "lin"),
    ("罗", "luo"),
]
GIVEN = [
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀英", "xiuying"),
    ("子涵", "zihan"),
    ("欣怡", "xinyi"),
    ("浩然", "haoran"),
    ("思远", "siyuan"),
    ("雨桐", "yutong"),
    ("俊杰", "junjie"),
    ("晓东", "xiaodong"),
]
FIRST_NAMES = [
    "James",
    "Emma",
    "Olivia",
    "Liam",
    "Noah",
    "Sophia",
    "Lucas",
    "Mia",
    "Ethan",
    "Ava",
    "Daniel",
    "Grace",
    "Kevin",
    "Amy",
    "Jason",
    "Linda",
    "Tony",
    "Cindy",
    "Eric",
    "Helen",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Wilson",
    "Chen",
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Lee",
    "Wong",
    "Tan",
    "Ng",
    "Miller",
    "Davis",
    "Garcia",
    "Martin",
]
CITIES_ZH = ["上海", "北京", "深圳", "杭州", "广州", "成都", "南京", "苏州", "武汉", "西安"]
CITIES_EN = ["Shanghai", "Beijing", "Shenzhen", "Hangzhou", "Guangzhou", "Hong Kong", "Singapore"]
COMPANY_WORDS_ZH = ["星辰", "云帆", "华信", "恒通", "博远", "嘉禾", "瑞丰", "同创", "天行", "明德", "海纳", "智汇"]
COMPANY_KINDS_ZH = ["科技", "贸易", "物流", "餐饮", "教育", "医疗器械", "文化传媒", "电子"]
COMPANY_WORDS_EN = ["Bluewave", "Northstar", "Redwood", "Silverline", "Harbor", "Summit", "Pinecone", "Brightpath"]
COMPANY_KINDS_EN = ["Trading", "Logistics", "Foods", "Studio", "Electronics", "Health", "Education", "Retail"]
COMPANY_SUFFIX_EN = ["Co.", "Ltd", "Group", "Inc."]
EMAIL_DOMAINS = ["qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "foxmail.com", "sina.com"]
PHONE_PREFIXES = ["130", "131", "132", "135", "136", "137", "138", "139", "150", "152", "158", "159", "186", "188"]
INTERESTS = [
    "Product demo",
    "Annual plan",
    "企业版报价",
    "门店会员卡",
    "Bulk order",
    "Installation service",
    "试用申请",
    "Upgrade from basic plan",
    "团购咨询",
    "Partnership",
]
# What a deal of each interest is typically worth (CNY, the median): a lead's deal value scatters around it, larger
# for a company than for a private buyer, between DEAL_VALUE_RANGE (the board's pipeline totals).
INTEREST_DEAL_VALUES = {
    "Product demo": 30_000,
    "Annual plan": 45_000,
    "企业版报价": 110_000,
    "门店会员卡": 6_000,
    "Bulk order": 80_000,
    "Installation service": 15_000,
    "试用申请": 12_000,
    "Upgrade from basic plan": 20_000,
    "团购咨询": 28_000,
    "Partnership": 150_000,
}
DEAL_VALUE_RANGE = (5_000, 200_000)
# Share of leads with a deal value by stage: sales estimates every deal it works, marketing some before handoff.
DEAL_VALUE_SHARE = {Stage.NEW: 0.2, Stage.HANDED_OFF: 0.55, Stage.LOST: 0.7, Stage.WON: 1.0}
# The next step a lead's owner set, by stage (config.Task, kind next_step).
NEXT_STEPS = {
    Stage.ACCEPTED: ["First call: confirm the need", "首次电话,确认需求", "Send a welcome message on WeCom"],
    Stage.CONTACTED: ["Book a product demo", "安排产品演示", "Send the brochure and two case studies"],
    Stage.QUALIFIED: ["Confirm budget and decision-maker", "确认预算和决策人", "Prepare the proposal"],
    Stage.PROPOSAL: ["Follow up on the proposal", "跟进报价反馈", "Walk the buyer through the quote"],
    Stage.NEGOTIATION: ["Send the contract draft", "确认合同条款", "Agree the discount with the sales manager"],
}
NEXT_STEP_SHARE = 0.85  # of open leads from accepted on; the others wait for their owner to set one
# Each department's own to-dos: (department, title, who: index into the department's Staff list or None for the
# department's queue, due: (days from today, hour, minute), done, about a customer).
GENERAL_TASKS = [
    (MARKETING, "Brief the agency on the Double 11 Douyin videos", 1, (2, 10, 0), False, False),
    (MARKETING, "整理小红书 KOL 测评反馈", None, (0, 16, 0), False, False),
    (MARKETING, "Check last month's channel spend against the invoices", 2, (-1, 17, 0), False, False),
    (MARKETING, "Update the trade-show lead form", 0, (5, 11, 0), False, False),
    (MARKETING, "Send the case study draft to legal", 0, (-3, 15, 0), True, False),
    (SALES, "Prepare the weekly pipeline review", 3, (1, 9, 30), False, False),
    (SALES, "更新企业版报价单", None, (3, 15, 0), False, False),
    (SALES, "Call about the annual plan renewal", 0, (0, 17, 0), False, True),
    (SALES, "Plan the Shanghai Expo follow-up calls", 1, (7, 10, 0), False, False),
    (SALES, "Share the new price list with the team", 2, (-2, 11, 0), True, False),
    (SERVICE, "Restock replacement units for exchanges", None, (1, 14, 0), False, False),
    (SERVICE, "整理本周投诉分类,周五例会用", 0, (4, 16, 0), False, False),
    (SERVICE, "Coach the team on the detractor call script", 2, (-1, 10, 0), False, False),
    (SERVICE, "Visit to check the installation", 1, (6, 14, 0), False, True),
    (SERVICE, "回访上周换货的客户", 0, (-2, 16, 30), True, True),
]
NOTES = [
    "Asked for a quote for 20 seats.",
    "客户希望下周安排演示。",
    "Met at the booth, interested in the premium tier.",
    "Came through the mini-program coupon.",
    "老客户介绍,预算已批。",
    "Wants delivery before the end of the month.",
    "",
    "",
]
REJECT_CODES = ["no_budget", "no_need", "wrong_contact", "duplicate", "not_reachable", "other"]
REJECT_WEIGHTS = [24, 22, 14, 10, 20, 10]
LOST_CODES = ["price", "competitor", "no_decision", "timing", "not_reachable", "other"]
LOST_WEIGHTS = [30, 22, 18, 14, 10, 6]
OTHER_TEXTS = ["Student project, not a buyer.", "客户已在其他门店购买。", "Only wanted a brochure."]
ACTIVITY_TEXTS = {
    "call": ["Called, discussed requirements.", "电话沟通,客户在比较方案。", "Left a voicemail, will retry."],
    "meeting": ["On-site visit with the buyer.", "线上会议演示产品。"],
    "email": ["Sent the proposal PDF.", "Sent pricing for the annual plan."],
    "note": ["Decision expected after budget review.", "客户关注售后响应速度。"],
}
COMPLAINT_CATEGORIES = ["product", "price", "delivery", "service_attitude", "billing", "other"]
COMPLAINT_WEIGHTS = [34, 10, 24, 14, 12, 6]
SEVERITIES = ["low", "medium", "high", "critical"]
SEVERITY_WEIGHTS = [30, 45, 20, 5]
COMPLAINT_TEXTS = {
    "product": ["The device stopped working after a week.", "产品有划痕,要求换货。", "Battery drains too fast."],
    "price": ["Charged more than the quoted price.", "价格比门店贵。"],
    "delivery": ["Delivery was five days late.", "快递丢件,至今未收到。", "Package arrived damaged."],
    "service_attitude": ["Store staff were rude.", "客服电话一直无人接听。"],
    "billing": ["Invoice shows the wrong company name.", "发票抬头错误。", "Double charged on my card."],
    "other": ["Could not find the user manual.", "希望增加英文说明书。"],
}
RESOLUTIONS = ["Replaced the unit.", "已退款。", "Sent a new invoice.", "Apologised and gave a coupon.", "已补发。"]
NPS_COMMENTS = {
    "promoter": ["Great service, will buy again!", "非常满意,推荐给朋友了。", "Fast delivery and friendly staff.", ""],
    "passive": ["OK overall, a bit pricey.", "还可以,物流有点慢。", ""],
    "detractor": ["Support never called me back.", "质量一般,售后很差。", "Took three weeks to fix my issue.", ""],
}


def demo_now() -> datetime:
    """The fixed 'now' demo dates hang from: the current hour, so a re-run the same hour is identical."""
    return timezone.now().replace(minute=0, second=0, microsecond=0)


def quarter_of(day: date) -> tuple[str, date, date]:
    """("2026Q4", first day, first day of the next quarter)."""
    q = (day.month - 1) // 3
    start = date(day.year, 3 * q + 1, 1)
    end = date(day.year + (q == 3), (3 * q + 3) % 12 + 1, 1)
    return f"{day.year}Q{q + 1}", start, end


def month_starts(now: datetime, months: int) -> list[date]:
    """The first day of the current month and of the `months - 1` months before it, oldest first."""
    local = timezone.localtime(now).date().replace(day=1)
    out = []
    year, month = local.year, local.month
    for _ in range(months):
        out.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def wait(rng: random.Random, median_hours: float, spread: float = 0.9) -> timedelta:
    """A log-normal delay: most waits near the median, a long tail (what real queues look like)."""
    hours = min(rng.lognormvariate(math.log(median_hours), spread), median_hours * 25)
    return timedelta(hours=max(hours, 0.05))


def within_sla(rng: random.Random, median_hours: float, sla_hours: float, spread: float = 0.9) -> timedelta:
    """How long a team that reads its alerts takes over work due within `sla_hours`: `wait()` around
    `median_hours`, except that work running past the due time is done soon after the breach alert."""
    took = wait(rng, median_hours, spread)
    if took > timedelta(hours=sla_hours):
        took = timedelta(hours=sla_hours) + wait(rng, min(REACT_HOURS, sla_hours / 2), 0.6)
    return took


def stuck(rng: random.Random, since: datetime, now: datetime) -> bool:
    """Whether work that came in at `since` still waits untouched at `now` (only recent work can: older work was
    alerted on and done)."""
    return now - since < STUCK_WINDOW and rng.random() < STUCK_SHARE


# --------------------------------------------------------------------------- users and reference data


def ensure_demo_users() -> dict[str, object]:
    """Create the demo users that are missing (password `relay-demo`); existing users are left alone."""
    User = get_user_model()
    groups = {g.name: g for g in Group.objects.filter(name__in=[MARKETING, SALES, SERVICE, MANAGER])}
    for name in (MARKETING, SALES, SERVICE, MANAGER):
        if name not in groups:  # the data migration creates them; stay safe on odd databases
            groups[name] = Group.objects.create(name=name)
    existing = {u.username: u for u in User.objects.filter(username__in=[u[0] for u in DEMO_USERS])}
    password = None
    users = {}
    for username, first, last, department, manager in DEMO_USERS:
        user = existing.get(username)
        if user is None:
            # One hash for all: PBKDF2 per user would cost seconds and the password is public anyway.
            password = password or make_password(DEMO_PASSWORD)
            user = User.objects.create(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@relay.example",
                is_staff=True,
                is_superuser=department is None,
                password=password,
            )
            wanted = [groups[department]] if department else []
            if manager:
                wanted.append(groups[MANAGER])
            if wanted:
                user.groups.add(*wanted)
        users[username] = user
    return users


@dataclass
class Staff:
    """Demo user ids by role, in a fixed order (the generator picks among them with its RNG)."""

    marketing: list[int]
    sales: list[int]
    service: list[int]
    managers: dict[str, int]
    everyone: list[int]

    @classmethod
    def from_users(cls, users: dict) -> Staff:
        def ids(*names):
            return [users[n].pk for n in names]

        return cls(
            marketing=ids("marketing", "marketing2", "marketing_manager"),
            sales=ids("sales", "sales2", "sales3", "sales_manager"),
            service=ids("service", "service2", "service_manager"),
            managers={
                MARKETING: users["marketing_manager"].pk,
                SALES: users["sales_manager"].pk,
                SERVICE: users["service_manager"].pk,
            },
            everyone=[u.pk for u in users.values()],
        )


def ensure_channels() -> dict[str, int]:
    """The demo channels by code (kept if another migration or a person created them already)."""

    have = dict(Channel.objects.filter(code__in=[c for c, _n in CHANNELS]).values_list("code", "pk"))
    for code, name in CHANNELS:
        if code not in have:
            have[code] = Channel.objects.create(code=code, name=name).pk
    return have


def ensure_campaigns(channels: dict[str, int], now: datetime) -> dict[int, list[tuple[int, date, date]]]:
    """Two or three campaigns per demo channel spread over the last half year: {channel_id: [(id, start, end)]}."""

    rng = random.Random(f"{DEFAULT_SEED}-campaigns")  # nosec B311
    today = timezone.localtime(now).date()
    existing = Campaign.objects.filter(channel_id__in=channels.values())
    if not existing.exists():
        rows = []
        for code, names in CAMPAIGNS.items():
            for i, name in enumerate(names):
                starts = today - timedelta(days=190 - 60 * i - rng.randint(0, 20))
                ends = starts + timedelta(days=rng.choice([30, 45, 60, 90]))
                budget = money(rng.randint(20, 120) * 1_000_00)
                rows.append(
                    Campaign(name=name, channel_id=channels[code], starts_on=starts, ends_on=ends, budget=budget)
                )
        Campaign.objects.bulk_create(rows)
    out: dict[int, list[tuple[int, date, date]]] = {}
    for pk, channel_id, starts, ends in existing.order_by("pk").values_list("pk", "channel_id", "starts_on", "ends_on"):
        out.setdefault(channel_id, []).append((pk, starts or today - timedelta(days=365), ends or today))
    return out


def ensure_tags() -> list[int]:

    have = set(Tag.objects.filter(name__in=TAGS).values_list("name", flat=True))
    Tag.objects.bulk_create([Tag(name=n) for n in TAGS if n not in have])
    return list(Tag.objects.filter(name__in=TAGS).order_by("pk").values_list("pk", flat=True))


def ensure_channel_spend(channels: dict[str, int], now: datetime, months: int, factor: float = 1.0) -> int:
    """Monthly spend per demo channel for the last `months` months (existing months are kept).

    `factor` scales the amounts with the data set, so ROI and CAC stay plausible at benchmark size.
    """

    rng = random.Random(f"{DEFAULT_SEED}-spend")  # nosec B311
    have = set(ChannelSpend.objects.filter(channel_id__in=channels.values()).values_list("channel_id", "month"))
    rows = []
    for month in month_starts(now, months):
        for code, channel_id in channels.items():
            amount = CHANNEL_MONTHLY_SPEND.get(code, 10000) * factor * rng.uniform(0.7, 1.3)
            if (channel_id, month) not in have:
                rows.append(ChannelSpend(channel_id=channel_id, month=month, amount=money(int(amount * 100))))
    ChannelSpend.objects.bulk_create(rows)
    return len(rows)


def ensure_okrs(staff: Staff, now: datetime) -> int:
    """Last and this quarter's objectives, one per department owned by its manager; skipped if present.

    Last quarter's give the board history, and check-ins even on the first day of a quarter.
    """
    this_quarter_starts = quarter_of(timezone.localtime(now).date())[1]
    last_quarter = quarter_of(this_quarter_starts - timedelta(days=1))
    return sum(_ensure_quarter_okrs(staff, now, quarter) for quarter in (last_quarter, quarter_of(this_quarter_starts)))


def _ensure_quarter_okrs(staff: Staff, now: datetime, quarter_span: tuple[str, date, date]) -> int:

    quarter, q_start, q_end = quarter_span
    plans = {
        MARKETING: (
            "Hand sales leads they want to work",
            [
                ("Lead quality score ≥ 75", "lead_quality_score", "62", "75", "up", None),
                ("Publish 12 customer case studies", "", "0", "12", "up", "5"),
            ],
        ),
        SALES: (
            "Close faster and win more",
            [
                ("Close rate from 25% to 35%", "close_rate", "0.25", "0.35", "up", None),
                ("Cycle time down to 28 days", "cycle_time_days", "45", "28", "down", None),
                ("Run 40 on-site demos", "", "0", "40", "up", "17"),
            ],
        ),
        SERVICE: (
            "Customers who come back and recommend us",
            [
                ("NPS above 35", "nps", "18", "35", "up", None),
                ("Repurchase rate 30%", "repurchase_rate", "0.20", "0.30", "up", None),
                ("Answer every complaint within 24 h", "", "70", "100", "up", "86"),
            ],
        ),
    }
    have = set(Objective.objects.filter(quarter=quarter).values_list("department", flat=True))
    rng = random.Random(f"{DEFAULT_SEED}-okr-{quarter}")  # nosec B311
    created = 0
    start_at = timezone.make_aware(datetime.combine(q_start, datetime.min.time()))
    check_ins_until = min(now, timezone.make_aware(datetime.combine(q_end, datetime.min.time())))
    for department, (title, krs) in plans.items():
        if department in have:
            continue
        owner = staff.managers[department]
        objective = Objective.objects.create(department=department, quarter=quarter, owner_id=owner, title=title)
        created += 1
        for plan in krs:
            _key_result(rng, objective, owner, plan, start_at, check_ins_until)
    return created


def _key_result(rng: random.Random, objective, owner: int, plan: tuple, start_at: datetime, until: datetime) -> None:
    """A key result of `plan` (title, metric, baseline, target, direction, manual value) with its owner's check-ins
    every two weeks from the quarter's second week until `until`."""
    kr_title, metric, baseline, target, direction, manual = plan
    kr = KeyResult.objects.create(
        objective=objective,
        title=kr_title,
        metric=metric,
        baseline=Decimal(baseline),
        target=Decimal(target),
        direction=direction,
        manual_value=Decimal(manual) if manual else None,
    )
    check_ins = []
    at = start_at + timedelta(days=7)
    confidence = rng.randint(5, 7)
    while at < until:
        confidence = max(1, min(10, confidence + rng.choice([-1, 0, 0, 1])))
        value = Decimal(manual) * Decimal(rng.randint(60, 100)) / 100 if manual else None
        check_ins.append(
            CheckIn(
                key_result=kr,
                by_id=owner,
                at=at,
                confidence=confidence,
                value=value.quantize(Decimal("0.01")) if value is not None else None,
                comment=rng.choice(["On track.", "进展顺利。", "Blocked on budget approval.", ""]),
            )
        )
        at += timedelta(days=14)
    CheckIn.objects.bulk_create(check_ins)


# Marketing's overlap goal (issue 17), bound to the metric the demo's touchpoints feed. The marketing part of
# seed_demo adds it, after writing those touchpoints; the benchmark's board (bench_data) keeps the key results above.
OVERLAP_KEY_RESULT = ("Cut duplicate reach below 15 %", "duplicate_reach_rate", "0.25", "0.15", "down", None)


def ensure_overlap_key_results(now: datetime) -> int:
    """OVERLAP_KEY_RESULT on marketing's objective of last and this quarter, with check-ins; skipped where present."""
    this_quarter_starts = quarter_of(timezone.localtime(now).date())[1]
    quarters = (quarter_of(this_quarter_starts - timedelta(days=1)), quarter_of(this_quarter_starts))
    added = 0
    for quarter, q_start, q_end in quarters:
        objective = Objective.objects.filter(quarter=quarter, department=MARKETING).order_by("pk").first()
        if objective is None or objective.key_results.filter(metric=OVERLAP_KEY_RESULT[1]).exists():
            continue
        rng = random.Random(f"{DEFAULT_SEED}-okr-{quarter}-overlap")  # nosec B311
        start_at = timezone.make_aware(datetime.combine(q_start, datetime.min.time()))
        until = min(now, timezone.make_aware(datetime.combine(q_end, datetime.min.time())))
        _key_result(rng, objective, objective.owner_id, OVERLAP_KEY_RESULT, start_at, until)
        added += 1
    return added


# --------------------------------------------------------------------------- ids


class Ids:
    """Explicit primary keys, starting after the largest existing one of each model."""

    def __init__(self, *models):
        self._next = {}
        for model in models:
            self._next[model] = (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1

    def take(self, model) -> int:
        pk = self._next[model]
        self._next[model] = pk + 1
        return pk

    def peek(self, model) -> int:
        return self._next[model]


def reset_sequences(models) -> None:
    """After inserting explicit ids, move PostgreSQL's sequences past them (SQLite needs nothing)."""
    from django.core.management.color import no_style

    statements = connection.ops.sequence_reset_sql(no_style(), list(models))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


# --------------------------------------------------------------------------- the lead state machine walk


PIPELINE_MOVES = {
    # stage: (median wait in hours, [(next stage or None for "stays here", weight)]); a lead that stays idle
    # is recycled to the pool by the rule (simulate_lead), as the hourly task would.
    Stage.ACCEPTED: (20, [(Stage.CONTACTED, 86), (Stage.LOST, 4), (None, 12)]),
    Stage.CONTACTED: (60, [(Stage.QUALIFIED, 66), (Stage.PROPOSAL, 5), (Stage.LOST, 14), (None, 12)]),
    Stage.QUALIFIED: (
        110,
        [
            (Stage.PROPOSAL, 58),
            (Stage.NEGOTIATION, 4),
            (Stage.CONTACTED, 36),
            (Stage.WON, 3),
            (Stage.LOST, 16),
            (None, 9),
        ],
    ),
    Stage.PROPOSAL: (
        140,
        [(Stage.NEGOTIATION, 52), (Stage.QUALIFIED, 36), (Stage.WON, 11), (Stage.LOST, 19), (None, 8)],
    ),
    Stage.NEGOTIATION: (160, [(Stage.WON, 52), (Stage.PROPOSAL, 40), (Stage.LOST, 28), (None, 8)]),
}


@dataclass
class LeadWalk:
    stage: str
    changes: list[tuple[str, str, datetime, int | None, str]] = field(default_factory=list)
    fields: dict = field(default_factory=dict)
    activities: list[tuple[str, str, datetime, int | None]] = field(default_factory=list)


def _pick(rng: random.Random, options):
    total = sum(w for _o, w in options)
    r = rng.random() * total
    for option, weight in options:
        r -= weight
        if r < 0:
            return option
    return options[-1][0]


def simulate_lead(
    rng: random.Random, *, created_at: datetime, end: datetime, staff: Staff, activity_rate: float = 0.6
) -> LeadWalk:
    """Walk one lead through `leads.stages.NEXT` from `created_at` until it closes, stalls or reaches `end`."""
    walk = LeadWalk(stage=Stage.NEW)
    f = walk.fields
    f.update(
        stage=Stage.NEW,
        furthest_stage=Stage.NEW,
        stage_entered_at=created_at,
        owner_id=None,
        first_handed_off_at=None,
        handed_off_at=None,
        accepted_at=None,
        contacted_at=None,
        closed_at=None,
        reject_reason="",
        reject_reason_text="",
        lost_reason="",
        lost_reason_text="",
        won_amount=None,
        reclaim_blocked_user_id=None,
        reclaim_blocked_until=None,
    )
    marketer = rng.choice(staff.marketing)
    t = created_at
    handoffs = 0

    def move(to: str, at: datetime, by: int | None, reason: str = "") -> None:
        if to not in NEXT[walk.stage]:  # a bug in this generator, never a data problem
            raise AssertionError(f"{walk.stage} -> {to} is not in leads.stages.NEXT")
        walk.changes.append((walk.stage, to, at, by, reason))
        walk.stage = to
        f.update(stage_stamps(f, to, at, by_person=by is not None))  # as leads.services stamps a locked lead

    def decider() -> int:
        if f["owner_id"] is not None:
            return f["owner_id"]
        choices = [u for u in staff.sales if u != f["reclaim_blocked_user_id"]] or staff.sales
        return rng.choice(choices)

    while True:
        stage = walk.stage
        if stage == Stage.NEW:
            if rng.random() >= (0.94 if handoffs == 0 else 0.75):
                break  # kept by marketing for nurture
            at = t + wait(rng, 18 if handoffs == 0 else 240)
            if at >= end:
                break
            move(Stage.HANDED_OFF, at, marketer)
            handoffs += 1
            f["owner_id"] = rng.choice(staff.sales) if rng.random() < 0.7 else None  # else the pool
            f["reject_reason"] = f["reject_reason_text"] = ""
        elif stage == Stage.HANDED_OFF:
            at = t + within_sla(rng, 7, settings.RELAY_HANDOFF_SLA_HOURS)
            if at >= end:
                break  # the decision is still to come, mostly within the acceptance SLA
            if stuck(rng, t, end):
                break  # nobody decided yet: a fresh SLA breach for the board (older ones were decided, late)
            r = rng.random()
            by = decider()
            if r < 0.76 or handoffs > 2:
                move(Stage.ACCEPTED, at, by)
                f["owner_id"] = by
            else:
                code = rng.choices(REJECT_CODES, REJECT_WEIGHTS)[0]
                move(Stage.NEW, at, by, code)
                f["owner_id"] = None
                f["reject_reason"] = code
                f["reject_reason_text"] = rng.choice(OTHER_TEXTS) if code == "other" else ""
        else:
            median, options = PIPELINE_MOVES[stage]
            to = _pick(rng, options)
            contact_sla = settings.RELAY_CONTACT_SLA_HOURS
            if to is None and stage == Stage.ACCEPTED and end - t >= timedelta(hours=contact_sla):
                to = Stage.CONTACTED  # the contact SLA alerted the owner: contacted, late
            if to is None:
                at = None
            elif stage == Stage.ACCEPTED:  # the golden window: the first move out of accepted is due in it
                at = t + within_sla(rng, median, contact_sla)
            else:
                at = t + wait(rng, median)
            # The recycle rule, as the hourly task applies it: idle for RELAY_LEAD_RECYCLE_DAYS → back to the pool.
            idle_since = max([t, *(a[2] for a in walk.activities)])
            recycle_at = idle_since + timedelta(days=settings.RELAY_LEAD_RECYCLE_DAYS)
            if recycle_at < end and (at is None or at > recycle_at):
                to, at = Stage.HANDED_OFF, recycle_at
            if to is None or at >= end:
                break
            owner = f["owner_id"]
            if to == Stage.WON:
                move(Stage.WON, at, owner)
                f["won_amount"] = money(int(rng.lognormvariate(math.log(1_800_000), 0.9)))
            elif to == Stage.LOST:
                code = rng.choices(LOST_CODES, LOST_WEIGHTS)[0]
                move(Stage.LOST, at, owner, code)
                f["lost_reason"] = code
                f["lost_reason_text"] = rng.choice(OTHER_TEXTS) if code == "other" else ""
            elif to == Stage.HANDED_OFF:  # recycled to the pool by the system: no activity for too long
                move(Stage.HANDED_OFF, at, None, "recycled")
                f["reclaim_blocked_user_id"] = owner
                f["reclaim_blocked_until"] = at + settings.RELAY_LEAD_RECLAIM_COOLDOWN_HOURS * H
                f["owner_id"] = None
            else:
                move(to, at, owner)
                if rng.random() < activity_rate:
                    kind = "call" if to == Stage.CONTACTED else rng.choice(["call", "meeting", "email", "note"])
                    act_at = min(at + wait(rng, 2, 0.5), end - H)
                    walk.activities.append((kind, rng.choice(ACTIVITY_TEXTS[kind]), max(act_at, at), owner))
        if walk.stage in (Stage.WON, Stage.LOST):
            break
        t = walk.changes[-1][2] if walk.changes else t

    # As leads.services: only people's actions (not the system's recycling) count as activity.
    last = max([created_at, *(at for _f, _t, at, by, _r in walk.changes if by is not None)])
    if walk.activities:
        last = max(last, max(a[2] for a in walk.activities))
    f["last_activity_at"] = last
    return walk


# --------------------------------------------------------------------------- row generator


@dataclass
class Sizes:
    customers: int = 2000
    leads: int = 5000
    orders: int = 3500  # total, including the orders of won leads
    nps: int = 1500
    complaints: int = 260
    spend_months: int = 12
    activity_rate: float = 0.6
    chunk: int = 5000


@dataclass
class CustomerInfo:
    created_at: datetime
    channel_id: int | None
    has_company: bool = False


class Generator:
    """Rows of every demo table, in chunks, with explicit ids from `Ids`."""

    def __init__(
        self,
        *,
        seed: int,
        now: datetime,
        sizes: Sizes,
        staff: Staff,
        channels: dict[str, int],
        campaigns: dict[int, list[tuple[int, date, date]]],
        tags: list[int],
        ids: Ids,
    ):
        self.M = self.model_map()
        # What the tasks are about: a lead (its next step, onboarding once won), a detractor answer, a customer.
        self.task_about = {
            name: ContentType.objects.get_for_model(model).pk
            for name, model in (("lead", Lead), ("nps_response", NpsResponse), ("customer", Customer))
        }
        self.seed = seed
        self.now = now
        self.sizes = sizes
        self.staff = staff
        self.channels = channels
        self.channel_codes = {pk: code for code, pk in channels.items()}
        self.campaigns = campaigns
        self.tags = tags
        self.ids = ids
        self.customers: list[CustomerInfo] = []
        self.first_customer_id = ids.peek(self.M["customer"])
        # A bounded sample of orders (customer id, order id, ordered_at) complaints and NPS answers refer to.
        self.order_sample: list[tuple[int, int, datetime]] = []
        self._orders_seen = 0
        self.won_orders = 0
        self._channel_codes = list(CHANNEL_WEIGHTS)
        self._channel_weights = list(CHANNEL_WEIGHTS.values())

    @staticmethod
    def model_map() -> dict:
        """The model each row kind is written to."""

        return {
            "customer": Customer,
            "identity": CustomerIdentity,
            "order": Order,
            "lead": Lead,
            "change": LeadStageChange,
            "activity": Activity,
            "lead_tag": Lead.tags.through,
            "complaint": Complaint,
            "complaint_change": ComplaintStatusChange,
            "invitation": NpsInvitation,
            "nps": NpsResponse,
            "follow_up": Task,
        }

    def rng(self, part: str) -> random.Random:
        return random.Random(f"{self.seed}-{part}")  # nosec B311

    def _channel(self, rng: random.Random) -> int:
        return self.channels[rng.choices(self._channel_codes, self._channel_weights)[0]]

    def _remember_order(self, rng: random.Random, customer_id: int, order_id: int, at: datetime) -> None:
        self._orders_seen += 1
        if len(self.order_sample) < 50_000:
            self.order_sample.append((customer_id, order_id, at))
        else:  # reservoir sampling keeps memory bounded for the benchmark set
            j = rng.randrange(self._orders_seen)
            if j < 50_000:
                self.order_sample[j] = (customer_id, order_id, at)

    # ---- customers

    def _person(self, rng: random.Random, idx: int) -> dict:
        chinese = rng.random() < 0.7
        if chinese:
            (sur, sur_py), (given, given_py) = rng.choice(SURNAMES), rng.choice(GIVEN)
            name, handle = sur + given, f"{given_py}.{sur_py}"
            city = rng.choice(CITIES_ZH) if rng.random() < 0.8 else rng.choice(CITIES_EN)
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            name, handle = f"{first} {last}", f"{first}.{last}".lower()
            city = rng.choice(CITIES_EN) if rng.random() < 0.7 else rng.choice(CITIES_ZH)
        company = ""
        r = rng.random()
        if r < 0.35:
            company = rng.choice(CITIES_ZH) + rng.choice(COMPANY_WORDS_ZH) + rng.choice(COMPANY_KINDS_ZH) + "有限公司"
        elif r < 0.6:
            company = " ".join(
                (rng.choice(COMPANY_WORDS_EN), rng.choice(COMPANY_KINDS_EN), rng.choice(COMPANY_SUFFIX_EN))
            )
        # Unique and valid by construction: 10**8 and 7919 are coprime, so idx -> number is one-to-one.
        number = (idx * 7919 + 1234567) % 10**8
        phone = f"+86{PHONE_PREFIXES[idx % len(PHONE_PREFIXES)]}{number:08d}"
        email = f"{handle}{idx}@{rng.choice(EMAIL_DOMAINS)}"
        return {"name": name, "company": company, "city": city, "phone": phone, "email": email, "handle": handle}

    def customer_chunks(self) -> Iterator[dict[str, list[dict]]]:
        """{"customer": [...], "identity": [...]} per chunk; also a few near-duplicates and broken contacts."""
        rng = self.rng("customers")
        C, I = self.M["customer"], self.M["identity"]  # noqa: E741
        n, chunk = self.sizes.customers, self.sizes.chunk
        span = 720 * 24  # customers were created over the last two years (hours)
        originals: list[tuple[int, dict, int | None]] = []
        pos_phones: set[str] = set()
        for start in range(0, n, chunk):
            customers, identities = [], []
            for idx in range(start, min(n, start + chunk)):
                pk = self.ids.take(C)
                created_at = self.now - timedelta(hours=rng.uniform(2, span))
                channel_id = self._channel(rng)
                duplicate_of = originals[rng.randrange(len(originals))] if originals and rng.random() < 0.012 else None
                p = self._person(rng, self.first_customer_id + idx)
                if duplicate_of is not None:
                    # A near-duplicate for the data-quality page: similar name, same company, and either the
                    # same phone seen by another system (store POS) or a different email.
                    _orig_pk, orig, _ch = duplicate_of
                    name = orig["name"]
                    p["name"] = name.lower() if name.isascii() else name[0] + " " + name[1:]
                    p["company"] = orig["company"]
                    p["city"] = orig["city"]
                customers.append(
                    {
                        "id": pk,
                        "name": p["name"],
                        "company": p["company"],
                        "city": p["city"],
                        "source_channel_id": channel_id,
                        "created_at": created_at,
                        "updated_at": created_at,
                    }
                )
                self.customers.append(CustomerInfo(created_at, channel_id, bool(p["company"])))
                if len(originals) < 5000 and p["company"]:
                    originals.append((pk, p, channel_id))

                def identity(kind, value, *, source="", valid=True, _pk=pk, _at=created_at, _out=identities):
                    _out.append(
                        {
                            "id": self.ids.take(I),
                            "customer_id": _pk,
                            "kind": kind,
                            "value": value,
                            "source_system": source,
                            "is_valid": valid,
                            "created_at": _at,
                        }
                    )

                r = rng.random()
                if duplicate_of is not None and duplicate_of[1]["phone"] not in pos_phones and rng.random() < 0.5:
                    pos_phones.add(duplicate_of[1]["phone"])
                    identity("phone", duplicate_of[1]["phone"], source="store_pos")
                elif r < 0.01:
                    pass  # no contact method at all
                elif r < 0.02:
                    identity("phone", f"+86{self.first_customer_id + idx:06d}", valid=False)
                    identity("email", f"{p['handle']}{idx}@", valid=False)
                else:
                    if rng.random() < 0.9:
                        identity("phone", p["phone"])
                    if rng.random() < 0.6:
                        identity("email", p["email"])
                    if rng.random() < 0.3:
                        identity("wechat", f"wxid_{p['handle'].replace('.', '')}{idx}")
                    if rng.random() < 0.12:
                        identity("member_card", f"MC{self.first_customer_id + idx:09d}")
            yield {"customer": customers, "identity": identities}

    # ---- leads

    def _campaign(self, rng: random.Random, channel_id: int, at: datetime) -> int | None:
        day = timezone.localdate(at)
        options = [pk for pk, s, e in self.campaigns.get(channel_id, []) if s <= day <= e]
        if options and rng.random() < 0.8:
            return rng.choice(options)
        return None

    def _tags(self, rng: random.Random) -> list[int]:
        k = rng.choices([0, 1, 2, 3], [25, 40, 25, 10])[0]
        return rng.sample(self.tags, min(k, len(self.tags)))

    def lead_chunks(self) -> Iterator[dict[str, list[dict]]]:
        """Leads with their stage history, tags, activities, deal values, won orders, onboarding tasks and the next
        steps of the leads sales works."""
        rng = self.rng("leads")
        deals, next_steps = self.rng("deals"), self.rng("next-steps")
        M = self.M
        n, chunk = self.sizes.leads, self.sizes.chunk
        window = 182 * 24  # two quarters, in hours
        staff = self.staff
        ncust = len(self.customers)
        hot = max(1, ncust // 5)
        for start in range(0, n, chunk):
            rows = {k: [] for k in ("order", "lead", "change", "activity", "lead_tag", "follow_up")}
            for _ in range(start, min(n, start + chunk)):
                # A fifth of the customers bring half of the leads (repeat enquiries).
                cidx = rng.randrange(hot) if rng.random() < 0.5 else rng.randrange(ncust)
                info = self.customers[cidx]
                customer_id = self.first_customer_id + cidx
                earliest = max(info.created_at, self.now - timedelta(hours=window))
                hours = (self.now - earliest).total_seconds() / 3600
                created_at = earliest + timedelta(hours=rng.uniform(0, hours))
                channel_id = info.channel_id if rng.random() < 0.7 else self._channel(rng)
                walk = simulate_lead(
                    rng, created_at=created_at, end=self.now, staff=staff, activity_rate=self.sizes.activity_rate
                )
                lead_id = self.ids.take(M["lead"])
                f = walk.fields
                won_order_id = won_order = None
                if walk.stage == Stage.WON:
                    won_order_id = self.ids.take(M["order"])
                    self.won_orders += 1
                    won_order = {
                        "id": won_order_id,
                        "customer_id": customer_id,
                        "amount": f["won_amount"],  # the won amount, set near the deal value below
                        "ordered_at": f["closed_at"],
                        "channel_id": channel_id,
                        "external_id": "",
                        "created_by_id": f["owner_id"],
                        "created_at": f["closed_at"],
                        "updated_at": f["closed_at"],
                    }
                    rows["order"].append(won_order)
                    self._remember_order(rng, customer_id, won_order_id, f["closed_at"])
                    onboarding_sla = settings.RELAY_ONBOARDING_TASK_HOURS
                    undone = rng.random() >= 0.85 and self.now - f["closed_at"] < onboarding_sla * H  # not due yet
                    done = None if undone else f["closed_at"] + within_sla(rng, 30, onboarding_sla)
                    done = done if done is not None and done < self.now else None
                    rows["follow_up"].append(  # a task (config.Task) about the lead, as lead.won opens it
                        self._follow_up(
                            kind=TaskKind.ONBOARDING,
                            about=self.task_about["lead"],
                            object_id=lead_id,
                            assignee_id=rng.choice(staff.service),
                            due_at=f["closed_at"] + settings.RELAY_ONBOARDING_TASK_HOURS * H,
                            done_at=done,
                            outcome="Onboarding call done." if done is not None else "",
                            created_at=f["closed_at"],
                        )
                    )
                pipeline = walk.stage not in (Stage.NEW, Stage.HANDED_OFF)
                created_by_id = walk.changes[0][3] if walk.changes else rng.choice(staff.marketing)
                lead = {
                    "id": lead_id,
                    "customer_id": customer_id,
                    "created_by_id": created_by_id,
                    "source_channel_id": channel_id,
                    "campaign_id": self._campaign(rng, channel_id, created_at),
                    "interest": rng.choice(INTERESTS),
                    "note": rng.choice(NOTES),
                    "referred_by_id": rng.choice(staff.everyone) if rng.random() < 0.08 else None,
                    "is_high_intent": pipeline and rng.random() < 0.15,
                    "won_order_id": won_order_id,
                    "created_at": created_at,
                    "updated_at": f["last_activity_at"],
                    **f,
                }
                rows["lead"].append(lead)
                # Their own random streams: the deal values and next steps leave every other demo row as it was.
                self._value_deal(deals, lead, has_company=info.has_company)
                if won_order is not None:
                    won_order["amount"] = lead["won_amount"]
                if walk.stage in PIPELINE and next_steps.random() < NEXT_STEP_SHARE:
                    rows["follow_up"].append(self._next_step(next_steps, lead))
                entered_at = None  # like leads.services: the previous change's `at`, null for the first
                # As leads.services.create_lead: the history starts with "" → new when the lead is created.
                created = ("", Stage.NEW, created_at, created_by_id, "")
                for from_stage, to_stage, at, by, reason in [created, *walk.changes]:
                    rows["change"].append(
                        {
                            "id": self.ids.take(M["change"]),
                            "lead_id": lead_id,
                            "from_stage": from_stage,
                            "to_stage": to_stage,
                            "at": at,
                            "entered_at": entered_at,
                            "by_id": by,
                            "reason": reason,
                        }
                    )
                    entered_at = at
                for kind, body, at, by in walk.activities:
                    rows["activity"].append(
                        {"id": self.ids.take(M["activity"]), "lead_id": lead_id, "kind": kind, "body": body}
                        | {"at": at, "by_id": by}
                    )
                for tag_id in self._tags(rng):
                    rows["lead_tag"].append({"id": self.ids.take(M["lead_tag"]), "lead_id": lead_id, "tag_id": tag_id})
            yield rows

    def _value_deal(self, rng: random.Random, lead: dict, *, has_company: bool) -> None:
        """Set the lead's deal value as its owner estimated it (by interest, larger for a company), and a won lead's
        amount near it: most deals close a little under the estimate, a few above. Some early or lost leads have
        none (the board shows "No value")."""
        lead["deal_value"] = None
        if rng.random() >= DEAL_VALUE_SHARE.get(lead["stage"], 0.92):
            return
        median = INTEREST_DEAL_VALUES.get(lead["interest"], 20_000) * (1.6 if has_company else 0.6)
        low, high = DEAL_VALUE_RANGE
        value = min(max(rng.lognormvariate(math.log(median), 0.45), low), high)
        step = 500 if value < 20_000 else 1_000  # estimates are round numbers
        lead["deal_value"] = money(round(value / step) * step * 100)
        if lead["stage"] == Stage.WON:
            lead["won_amount"] = money(round(float(lead["deal_value"]) * rng.uniform(0.85, 1.05), -1) * 100)

    def _slot(self, rng: random.Random, days: int) -> datetime:
        """A working time (9:00 to 17:30, on the half hour, local) `days` days from today; one that falls on a
        weekend moves to the Monday after (a past one: the Friday before)."""
        day = timezone.localdate(self.now) + timedelta(days=days)
        if days > 0 and day.weekday() >= 5:
            day += timedelta(days=7 - day.weekday())
        elif days < 0 and day.weekday() >= 5:  # a past one: the Friday before
            day -= timedelta(days=day.weekday() - 4)
        minutes = 9 * 60 + 30 * rng.randrange(18)
        at = datetime.combine(day, datetime.min.time()) + timedelta(minutes=minutes)
        return timezone.make_aware(at, timezone.get_current_timezone())

    def _due_later(self, rng: random.Random, days: int, after: datetime) -> datetime:
        """A working time `days` from today, else on one of the next working days when that one is not after
        `after` (today's slots run out as the day goes on, so a late seed has few tasks due today)."""
        due = self._slot(rng, days)
        while due <= after:
            days = max(days, 0) + rng.randint(1, 3)
            due = self._slot(rng, days)
        return due

    def _sent(self, task: dict) -> dict:
        """The beat's stamps on an open task (config.todo.remind_due_tasks, alert_overdue_tasks run every five
        minutes): one past its due time was reminded and alerted when it fell due, as a team running Relay would
        have been, so a fresh demo does not raise every overdue alert at once. Tasks due soon are reminded by the
        first run."""
        due = task["due_at"]
        if task["done_at"] is None and due is not None and due < self.now:
            remind_window = timedelta(minutes=settings.RELAY_TASK_REMIND_MINUTES)
            task["reminded_at"] = max(task["created_at"], due - remind_window)
            alerted = due + timedelta(minutes=5)
            task["alerted_at"] = alerted if alerted <= self.now else None
        return task

    def _next_step(self, rng: random.Random, lead: dict) -> dict:
        """The open next step (config.Task, kind next_step) the owner of a lead in the pipeline set at their last
        touch: mostly due in the coming days, a few later today, about one in ten overdue."""
        owner, set_at = lead["owner_id"], lead["last_activity_at"]
        r = rng.random()
        # Drawn a little more often than they end up: a slot drawn for today may still be ahead, and a due time
        # before the owner's last touch moves to a later day.
        if r < 0.17:  # overdue: a working time of the last few days that passed
            due = self._slot(rng, -rng.choice([0, 1, 1, 2, 3, 4]))
            if due <= set_at:
                due = self._due_later(rng, 1, self.now)
        else:  # later today (when the slot drawn is still ahead), else within the next two weeks
            due = self._due_later(rng, 0 if r < 0.27 else rng.randint(1, 14), max(self.now, set_at))
        return self._sent(
            {
                "id": self.ids.take(self.M["follow_up"]),
                "kind": TaskKind.NEXT_STEP,
                "title": rng.choice(NEXT_STEPS[lead["stage"]]),
                "notes": "",
                "department": SALES,
                "assignee_id": owner,
                "content_type_id": self.task_about["lead"],
                "object_id": lead["id"],
                "due_at": due,
                "created_by_id": owner,
                "created_at": set_at,
                "updated_at": set_at,
                "done_at": None,
                "done_by_id": None,
                "outcome": "",
                "reminded_at": None,
                "alerted_at": None,
            }
        )

    # ---- every department's own to-dos

    def task_chunks(self) -> Iterator[dict[str, list[dict]]]:
        """A few to-dos of each department (config.Task, kind general, GENERAL_TASKS): for a person or the
        department's queue, some about a customer, a few done already."""
        rng = self.rng("tasks")
        people = {MARKETING: self.staff.marketing, SALES: self.staff.sales, SERVICE: self.staff.service}
        companies = [i for i, info in enumerate(self.customers) if info.has_company] or range(len(self.customers))
        rows = []
        for department, title, who, (days, hour, minute), done, about_customer in GENERAL_TASKS:
            assignee = people[department][who] if who is not None else None
            day = timezone.localdate(self.now) + timedelta(days=days)
            due = timezone.make_aware(datetime.combine(day, time(hour, minute)), timezone.get_current_timezone())
            if days >= 0 and due <= self.now:  # meant for later today, and today is over: the next day
                due += D
            while due > self.now and timezone.localtime(due).weekday() >= 5:  # not on a weekend
                due += D
            created_at = min(due, self.now) - timedelta(hours=rng.uniform(20, 120))
            done_at = due - timedelta(hours=rng.uniform(1, 20)) if done else None
            customer = self.first_customer_id + rng.choice(companies) if about_customer else None
            rows.append(
                self._sent(
                    {
                        "id": self.ids.take(self.M["follow_up"]),
                        "kind": TaskKind.GENERAL,
                        "title": title,
                        "notes": "",
                        "department": department,
                        "assignee_id": assignee,
                        "content_type_id": self.task_about["customer"] if customer else None,
                        "object_id": customer,
                        "due_at": due,
                        "created_by_id": self.staff.managers[department],
                        "created_at": created_at,
                        "updated_at": done_at or created_at,
                        "done_at": done_at,
                        "done_by_id": assignee if done else None,
                        "outcome": "",
                        "reminded_at": None,
                        "alerted_at": None,
                    }
                )
            )
        yield {"follow_up": rows}

    # ---- orders that did not come from a lead (store tills, the web shop, mini-programs)

    def order_chunks(self) -> Iterator[dict[str, list[dict]]]:
        rng = self.rng("orders")
        O = self.M["order"]  # noqa: E741
        n = max(0, self.sizes.orders - self.won_orders)
        ncust = len(self.customers)
        loyal = max(1, ncust * 3 // 20)  # 15 % of customers place 60 % of these orders: repeat buyers
        prefixes = {"store": "POS", "website": "WEB", "wechat": "WXMP", "douyin": "DY"}
        codes, weights = ["store", "website", "wechat", "douyin"], [45, 35, 15, 5]
        span = 540 * 24
        for start in range(0, n, self.sizes.chunk):
            orders = []
            for _ in range(start, min(n, start + self.sizes.chunk)):
                cidx = rng.randrange(loyal) if rng.random() < 0.6 else rng.randrange(ncust)
                customer_id = self.first_customer_id + cidx
                earliest = max(self.customers[cidx].created_at, self.now - timedelta(hours=span))
                hours = (self.now - earliest).total_seconds() / 3600
                at = earliest + timedelta(hours=rng.uniform(0, hours))
                code = rng.choices(codes, weights)[0]
                pk = self.ids.take(O)
                orders.append(
                    {
                        "id": pk,
                        "customer_id": customer_id,
                        "amount": money(int(rng.lognormvariate(math.log(68_000), 0.8))),
                        "ordered_at": at,
                        "channel_id": self.channels[code],
                        "external_id": f"{prefixes[code]}-{pk:08d}",
                        "created_by_id": None,
                        "created_at": at,
                        "updated_at": at,
                    }
                )
                self._remember_order(rng, customer_id, pk, at)
            yield {"order": orders}

    # ---- complaints

    def complaint_chunks(self) -> Iterator[dict[str, list[dict]]]:
        rng = self.rng("complaints")
        M = self.M
        for start in range(0, self.sizes.complaints, self.sizes.chunk):
            rows = {"complaint": [], "complaint_change": []}
            for _ in range(start, min(self.sizes.complaints, start + self.sizes.chunk)):
                customer_id, order_id, ordered_at = rng.choice(self.order_sample)
                opened = ordered_at + wait(rng, 96, 1.2)
                if rng.random() < 0.25:  # the recent ones are the open backlog
                    opened = self.now - timedelta(hours=rng.uniform(0.5, 6 * 24))
                if opened >= self.now or opened < self.now - 200 * D:
                    opened = self.now - timedelta(hours=rng.uniform(1, 180 * 24))
                if opened <= ordered_at:
                    order_id = None  # a complaint about a later order would be nonsense
                pk = self.ids.take(M["complaint"])
                category = rng.choices(COMPLAINT_CATEGORIES, COMPLAINT_WEIGHTS)[0]
                severity = rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0]
                first_h, resolve_h = settings.RELAY_COMPLAINT_SLA_HOURS[severity]
                c = {
                    "id": pk,
                    "customer_id": customer_id,
                    "order_id": order_id,
                    "lead_id": None,
                    "category": category,
                    "severity": severity,
                    "channel_id": self.channels[rng.choice(["wechat", "store", "website", "douyin"])],
                    "owner_id": rng.choice(self.staff.service) if rng.random() < 0.6 else None,
                    "status": "open",
                    "description": rng.choice(COMPLAINT_TEXTS[category]),
                    "resolution": "",
                    "opened_at": opened,
                    "first_response_at": None,
                    "resolved_at": None,
                    "closed_at": None,
                    "first_response_due_at": opened + first_h * H,
                    "resolution_due_at": opened + resolve_h * H,
                    "resolution_clock_from": opened,  # as feedback.services.create_complaint starts it
                    "created_by_id": rng.choice(self.staff.service),
                    "updated_at": opened,
                }
                t = clock = opened  # `clock`: where the resolution clock runs from (a reopen restarts it)
                while True:
                    status = c["status"]
                    if status in ("open", "in_progress") and stuck(rng, t, self.now):
                        break  # the open backlog: untouched since, past its due time soon
                    # Service works to the severity's SLA (RELAY_COMPLAINT_SLA_HOURS): first response and resolution
                    # mostly in time, late ones soon after the breach alert. What is open at "now" is recent.
                    if status == "open":
                        to, at = "in_progress", t + within_sla(rng, first_h / 4, first_h)
                    elif status == "in_progress":
                        to = "resolved"
                        at = max(clock + within_sla(rng, resolve_h / 3, resolve_h), t + wait(rng, 0.5, 0.5))
                    elif status == "resolved":
                        to = "open" if rng.random() < 0.07 else "closed"
                        at = t + wait(rng, 40)
                    else:
                        break
                    if at >= self.now:
                        break
                    by = c["owner_id"] or rng.choice(self.staff.service)
                    note = ""
                    if to == "in_progress":
                        c["owner_id"] = by
                        c["first_response_at"] = c["first_response_at"] or at
                    elif to == "resolved":
                        c["resolved_at"] = at
                        c["resolution"] = note = rng.choice(RESOLUTIONS)
                    elif to == "closed":
                        c["closed_at"] = at
                    elif to == "open":  # reopened by the customer: a fresh resolution clock, as the service sets
                        c["resolved_at"] = None
                        c["resolution_clock_from"] = clock = at
                        c["resolution_due_at"] = at + resolve_h * H
                        note = "Customer says the problem is back."
                    rows["complaint_change"].append(
                        {
                            "id": self.ids.take(M["complaint_change"]),
                            "complaint_id": pk,
                            "from_status": status,
                            "to_status": to,
                            "at": at,
                            "by_id": by,
                            "note": note,
                        }
                    )
                    c["status"], c["updated_at"], t = to, at, at
                rows["complaint"].append(c)
            yield rows

    # ---- NPS answers, survey invitations, detractor follow-ups

    def nps_chunks(self) -> Iterator[dict[str, list[dict]]]:
        rng = self.rng("nps")
        M = self.M
        ncust = len(self.customers)
        for start in range(0, self.sizes.nps, self.sizes.chunk):
            rows = {"invitation": [], "nps": [], "follow_up": []}
            for _ in range(start, min(self.sizes.nps, start + self.sizes.chunk)):
                if self.order_sample and rng.random() < 0.8:
                    customer_id, _order_id, ordered_at = rng.choice(self.order_sample)
                    answered = ordered_at + wait(rng, 120)
                else:
                    cidx = rng.randrange(ncust)
                    customer_id = self.first_customer_id + cidx
                    answered = self.customers[cidx].created_at + wait(rng, 24 * 30)
                if answered >= self.now or answered < self.now - 365 * D:
                    answered = self.now - timedelta(hours=rng.uniform(1, 300 * 24))
                category = rng.choices(["promoter", "passive", "detractor"], [48, 30, 22])[0]
                score = {"promoter": rng.choice([9, 10]), "passive": rng.choice([7, 8])}.get(
                    category, rng.choices(range(7), [4, 3, 5, 8, 12, 16, 22])[0]
                )
                pk = self.ids.take(M["nps"])
                source = rng.choices(["survey", "staff", "api"], [55, 30, 15])[0]
                invitation_id = None
                if source == "survey":
                    invitation_id = self.ids.take(M["invitation"])
                    sent = answered - wait(rng, 20)
                    rows["invitation"].append(self._invitation(rng, invitation_id, customer_id, sent, answered))
                rows["nps"].append(
                    {
                        "id": pk,
                        "customer_id": customer_id,
                        "score": score,
                        "comment": rng.choice(NPS_COMMENTS[category]),
                        "answered_at": answered,
                        "source": source,
                        "invitation_id": invitation_id,
                        "entered_by_id": rng.choice(self.staff.service) if source == "staff" else None,
                    }
                )
                if category == "detractor":
                    follow_up_sla = settings.RELAY_DETRACTOR_FOLLOW_UP_HOURS
                    undone = rng.random() >= 0.8 and self.now - answered < follow_up_sla * H  # not due yet
                    done = None if undone else answered + within_sla(rng, 20, follow_up_sla)
                    done = done if done is not None and done < self.now else None
                    rows["follow_up"].append(  # a task (config.Task) about the answer, as the service opens it
                        self._follow_up(
                            kind=TaskKind.DETRACTOR,
                            about=self.task_about["nps_response"],
                            object_id=pk,
                            assignee_id=rng.choice(self.staff.service),
                            due_at=answered + settings.RELAY_DETRACTOR_FOLLOW_UP_HOURS * H,
                            done_at=done,
                            outcome=rng.choice(["Called, offered a replacement.", "已回访,客户接受补偿。"])
                            if done
                            else "",
                            created_at=answered,
                            notes=rows["nps"][-1]["comment"],
                        )
                    )
                if rng.random() < 0.12:  # invitations still waiting for an answer
                    cidx = rng.randrange(ncust)
                    sent = self.now - timedelta(hours=rng.uniform(1, 20 * 24))
                    rows["invitation"].append(
                        self._invitation(rng, self.ids.take(M["invitation"]), self.first_customer_id + cidx, sent)
                    )
            yield rows

    def _follow_up(self, *, kind, about, object_id, assignee_id, due_at, done_at, outcome, created_at, notes=""):
        """A service follow-up task row (config.Task): for a service person, about its record; done by them."""
        return {
            "id": self.ids.take(self.M["follow_up"]),
            "kind": kind,
            "title": "",
            "notes": notes,
            "department": SERVICE,
            "assignee_id": assignee_id,
            "content_type_id": about,
            "object_id": object_id,
            "due_at": due_at,
            "created_at": created_at,
            "done_at": done_at,
            "done_by_id": assignee_id if done_at is not None else None,
            "outcome": outcome,
        }

    def _invitation(self, rng, pk, customer_id, sent, answered=None) -> dict:
        return {
            "id": pk,
            "customer_id": customer_id,
            "token": f"{pk:010d}{rng.getrandbits(160):040x}",
            "email": "",
            "language": rng.choice(["zh-hans", "en"]),
            "created_by_id": None,
            "created_at": sent,
            "sent_at": sent,
            "expires_at": sent + 14 * D,
            "answered_at": answered,
        }
