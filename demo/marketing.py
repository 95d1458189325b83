"""The marketing part of the demo (`manage.py seed_demo`, after the customers, leads, feedback and segments).

What a marketing team using Relay for a few months would have:

* content for every lifecycle stage in English and Chinese, written through marketing.services (one item has two
  variants and a running A/B test);
* the three journeys of DESIGN.md, built and activated through the journey services by the marketing manager;
* the customer events of the customers who signed up in the last EVENT_DAYS (sign-ups, ~60 % activated within the
  activation window, page views, form submissions), written in bulk as history, with their activation windows
  derived by the same rule `marketing.services` applies; windows that passed long ago were raised already (as the
  beat would have), the last day's are left for the first beat run: a fresh demo shows a few missed activations;
* the experiment's sent messages with their opens and clicks, so its results page has a verdict;
* the touchpoints of the channels and of the leads (demo/touchpoints.py), and marketing's key result to cut the
  duplicate reach they show.

Deterministic: a seeded `random.Random` and the demo's fixed `now`, so two runs the same hour write the same rows.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.utils import timezone

from customers.models import Customer, CustomerIdentity
from demo.data import D, H, ensure_overlap_key_results, wait
from demo.touchpoints import seed_touchpoints
from marketing import experiments, journeys, sending
from marketing import services as marketing_services
from marketing.models import (
    ActivationWindow,
    ContentItem,
    CustomerEvent,
    EventType,
    Experiment,
    Journey,
    Message,
    MessageChannel,
    MessageStatus,
    Touchpoint,
    Unsubscribe,
)

EVENT_DAYS = 90  # the customers created this recently signed up on the site or the app: their events are history
ACTIVATED_SHARE = 0.6  # of sign-ups activate within the window …
LATE_SHARE = 0.08  # … and some only after it (too late for the metric)
RAISED_BEFORE = 24 * H  # windows due longer ago than this were raised by the beat already
# The last two days' sign-ups come in through marketing.services.record_event once the journeys are active, as the
# site's integration would post them: the welcome journey enrols them, and their activations convert it.
LIVE, LIVE_AT_LEAST = 48 * H, 5  # (the five newest sign-ups at least, however few customers the demo has)
SIGN_UP_SOURCES = [("website", 55), ("app", 30), ("wechat_mini_program", 15)]
PAGES = [
    "https://relay-demo.example.com/pricing",
    "https://relay-demo.example.com/features",
    "https://relay-demo.example.com/cases/retail",
    "https://relay-demo.example.com/blog/spring-checklist",
    "https://relay-demo.example.com/zh/pricing",
    "https://relay-demo.example.com/docs/getting-started",
]
FORMS = ["demo_request", "quote_request", "newsletter"]

SITE = "https://relay-demo.example.com"
# (stage, language, title, tags, [(variant title, body)]); every item links to SITE's pages of its stage.
CONTENT = [
    (
        "awareness",
        "en",
        "Five signs your team has outgrown spreadsheets",
        ["guide", "top-of-funnel"],
        [
            (
                "Still tracking customers in spreadsheets?",
                "Five signs it is time for a CRM, and what teams gained when they switched: "
                f"{SITE}/blog/outgrown-spreadsheets",
            )
        ],
    ),
    (
        "awareness",
        "zh-hans",
        "还在用表格管理客户?五个信号告诉你该升级了",
        ["指南", "品牌认知"],
        [
            (
                "还在用表格管理客户?",
                f"五个信号告诉你团队需要 CRM,看看其他团队的变化:{SITE}/zh/blog/outgrown-spreadsheets",
            )
        ],
    ),
    (
        "consideration",
        "en",
        "How a retail chain answered every lead within a day",
        ["case-study", "retail"],
        [("Case study: every lead answered within 24 hours", f"How Harbor Retail did it: {SITE}/cases/retail")],
    ),
    (
        "consideration",
        "zh-hans",
        "连锁门店如何做到 24 小时内回复每条线索",
        ["案例", "零售"],
        [("案例:24 小时内回复每一条线索", f"看看海纳零售是怎么做到的:{SITE}/zh/cases/retail")],
    ),
    (
        "decision",
        "en",
        "Spring trial offer",
        ["offer", "trial"],
        [
            (
                "Your 30-day trial, on us",
                f"Start with your whole team for 30 days, no card needed: {SITE}/pricing",
            ),
            (
                "Get 3 months at 20 % off when you start this week",
                f"Everything in the annual plan, 20 % off for three months: {SITE}/pricing",
            ),
        ],
    ),
    (
        "decision",
        "zh-hans",
        "企业版报价与上线方案",
        ["报价", "企业版"],
        [("企业版报价与两周上线方案", f"查看企业版价格和实施计划:{SITE}/zh/pricing")],
    ),
    (
        "loyalty",
        "en",
        "Welcome to Relay: your first week",
        ["welcome", "onboarding"],
        [
            (
                "Welcome aboard! Here is your first week",
                f"Three things to set up on day one, and where to get help: {SITE}/docs/getting-started",
            )
        ],
    ),
    (
        "loyalty",
        "zh-hans",
        "会员专享:老客户回馈与服务致歉",
        ["会员", "致歉"],
        [("感谢您的反馈,这是我们的改进", f"我们听到了您的意见,并为您准备了会员专享礼遇:{SITE}/zh/members")],
    ),
]
WELCOME_ITEM, APOLOGY_ITEM = "Welcome to Relay: your first week", "会员专享:老客户回馈与服务致歉"
EXPERIMENT_ITEM = "Spring trial offer"
EXPERIMENT_DAYS = 21  # the test has run this long
EXPERIMENT_SENDS = 400  # at most this many customers (with an email address) got the offer
# Per variant key: share of sends opened, share of opens clicked.
EXPERIMENT_RATES = {"A": (0.20, 0.25), "B": (0.34, 0.30)}
# The channel each identity kind reaches (sending.ADDRESS_KINDS), and which a recipient is sent on when several.
CHANNEL_OF = {kind: channel for channel, kind in sending.ADDRESS_KINDS.items()}
PREFERENCE = [MessageChannel.EMAIL, MessageChannel.WECHAT, MessageChannel.SMS, MessageChannel.WECOM]


def seed_marketing(*, seed: int, now: datetime, users: dict) -> dict[str, int]:
    rng = random.Random(f"{seed}-marketing")  # nosec B311 - demo data, not security
    manager = users["marketing_manager"]
    items = _content(manager, now)
    flows = _journeys(manager, items, now)
    events, windows, live = _history(rng, now)
    messages = _experiment(rng, now, manager, items[EXPERIMENT_ITEM])
    touchpoints = seed_touchpoints(seed=seed, now=now)
    overlap_goals = ensure_overlap_key_results(now)
    customers = Customer.objects.in_bulk({event.customer_id for event in live})
    for event in live:
        marketing_services.record_event(
            by=None,
            customer=customers[event.customer_id],
            type=event.type,
            at=event.at,
            source=event.source,
            external_id=event.external_id,
            properties=event.properties,
            now=now,
        )
    return {
        "content item": len(items),
        "journey": flows,
        "customer event": events + len(live),
        "activation window": windows,
        "message": messages,
        "touchpoint": touchpoints,
        "key result": overlap_goals,
    }


def _content(by, now: datetime) -> dict[str, ContentItem]:
    items = {}
    for index, (stage, language, title, tags, variants) in enumerate(CONTENT):
        written = now - timedelta(days=120 - 5 * index)
        item = marketing_services.create_content(
            by=by,
            title=title,
            stage=stage,
            language=language,
            tags=tags,
            urls=[SITE],
            now=written,
        )
        for variant_title, body in variants:
            marketing_services.create_variant(item=item, by=by, title=variant_title, body=body, now=written)
        items[title] = item
    return items


def _journeys(by, items: dict[str, ContentItem], now: datetime) -> int:
    """DESIGN.md's three example journeys, drafted and activated by the marketing manager a month ago."""
    drafted = now - 30 * D
    welcome, offer, apology = items[WELCOME_ITEM], items[EXPERIMENT_ITEM], items[APOLOGY_ITEM]
    flows = [
        {
            "name": "Welcome new sign-ups",
            "trigger": {"type": "signed_up"},
            "steps": [
                {"kind": "send", "content": welcome.pk, "channel": "email"},
                {"kind": "wait", "hours": 24},
                {"kind": "send", "content": journeys.STAGE_CONTENT, "channel": "email"},
            ],
            "goal": "activated",
        },
        {
            "name": "High-intent leads: decision content",
            "trigger": {"type": "lead.flagged_high_intent"},
            "steps": [
                {"kind": "send", "content": offer.pk, "channel": "email"},
                {"kind": "task", "title": "Call about the offer we sent", "due_hours": 24, "assignee": "owner"},
            ],
            "goal": "purchase",
        },
        {
            "name": "Detractor recovery",
            "trigger": {"type": "nps.detractor"},
            "steps": [
                {"kind": "send", "content": apology.pk, "channel": "email"},
                {"kind": "task", "title": "回访差评客户并致歉", "due_hours": 48, "assignee": "service"},
            ],
            "reentry": True,
        },
    ]
    for flow in flows:
        journey = journeys.create_journey(by=by, now=drafted, **flow)
        journeys.activate_journey(journey=journey, by=by, now=drafted + H)
    return len(flows)


def _history(rng: random.Random, now: datetime) -> tuple[int, int, list[CustomerEvent]]:
    """The recent sign-ups' events and activation windows, as bulk history (no journeys or webhooks replay it);
    the events of the last LIVE hours' sign-ups (LIVE_AT_LEAST at least) are returned unsaved, oldest first, for
    record_event."""
    window = marketing_services.activation_window()
    signed_up = Customer.objects.filter(created_at__gte=now - EVENT_DAYS * D, merged_into__isnull=True)
    events, windows, live = [], [], []
    rows = list(signed_up.order_by("pk").values_list("pk", "created_at"))
    newest = sorted(rows, key=lambda row: (row[1], row[0]))[-LIVE_AT_LEAST:]
    live_ids = {pk for pk, signed in rows if signed >= now - LIVE} | {pk for pk, _signed in newest}
    for customer_id, signed in rows:
        if customer_id in live_ids:
            live += _live_events(rng, customer_id, signed, now)
            continue
        source = rng.choices([s for s, _w in SIGN_UP_SOURCES], [w for _s, w in SIGN_UP_SOURCES])[0]
        sign_up = CustomerEvent(
            customer_id=customer_id,
            type=EventType.SIGNED_UP,
            at=signed,
            source=source,
            external_id=f"demo-signup-{customer_id}",
            properties={"plan": rng.choice(["trial", "free", "trial"])},
            created_at=signed,
        )
        events.append(sign_up)
        due = signed + window
        r = rng.random()
        activated = None
        if r < ACTIVATED_SHARE:
            activated = signed + min(wait(rng, 16), window - timedelta(minutes=5))
        elif r < ACTIVATED_SHARE + LATE_SHARE:
            activated = due + wait(rng, 48)
        if activated is not None and activated < now:
            events.append(_event(customer_id, EventType.ACTIVATED, activated, source, {}))
        activated_in_window = activated if activated is not None and activated <= due and activated < now else None
        missed = None
        if activated_in_window is None and due <= now - RAISED_BEFORE:
            missed = due + timedelta(minutes=rng.uniform(0.5, 5))  # the five-minute beat raised it
        windows.append((sign_up, due, activated_in_window, missed))
        for _ in range(rng.choices([0, 1, 2, 3, 4, 6], [15, 25, 25, 15, 12, 8])[0]):
            at = signed + timedelta(hours=rng.uniform(-24, 24 * 14))
            if at < now:
                events.append(_event(customer_id, EventType.PAGE_VIEW, at, source, {"url": rng.choice(PAGES)}))
        if rng.random() < 0.15:
            at = signed + wait(rng, 30)
            if at < now:
                events.append(_event(customer_id, EventType.FORM_SUBMITTED, at, "website", {"form": rng.choice(FORMS)}))
    CustomerEvent.objects.bulk_create(events, batch_size=1000)
    ActivationWindow.objects.bulk_create(
        [
            ActivationWindow(
                customer_id=event.customer_id,
                signed_up_event=event,
                signed_up_at=event.at,
                due_at=due,
                activated_at=activated,
                missed_at=missed,
            )
            for event, due, activated, missed in windows
        ],
        batch_size=1000,
    )
    return len(events), len(windows), sorted(live, key=lambda event: (event.at, event.customer_id))


def _live_events(rng: random.Random, customer_id: int, signed: datetime, now: datetime) -> list[CustomerEvent]:
    """A recent sign-up, its activation when it came already, and a page view or two."""
    source = rng.choices([s for s, _w in SIGN_UP_SOURCES], [w for _s, w in SIGN_UP_SOURCES])[0]
    out = [_event(customer_id, EventType.SIGNED_UP, signed, source, {"plan": "trial"})]
    out[0].external_id = f"demo-signup-{customer_id}"
    if rng.random() < ACTIVATED_SHARE:
        activated = signed + wait(rng, 16)
        if activated < now:
            out.append(_event(customer_id, EventType.ACTIVATED, activated, source, {}))
    for _ in range(rng.randint(0, 2)):
        at = signed + timedelta(hours=rng.uniform(0, 48))
        if at < now:
            out.append(_event(customer_id, EventType.PAGE_VIEW, at, source, {"url": rng.choice(PAGES)}))
    return out


def _event(customer_id: int, kind: str, at: datetime, source: str, properties: dict) -> CustomerEvent:
    return CustomerEvent(
        customer_id=customer_id,
        type=kind,
        at=at,
        source=source,
        properties=properties,
        created_at=at,
    )


def _experiment(rng: random.Random, now: datetime, by, item: ContentItem) -> int:
    """The A/B test of the spring offer, started EXPERIMENT_DAYS ago, and the emails it sent since: each customer
    got the variant the experiment assigns them (experiments.bucket), opened and clicked at each variant's rates."""
    started = now - EXPERIMENT_DAYS * D
    experiment = experiments.create_experiment(by=by, item=item, goal="open", now=started)
    variants = list(item.variants.order_by("key", "pk"))
    # Each recipient on a channel that reaches them: email, else WeChat, else SMS.
    reach: dict[int, str] = {}
    for customer_id, kind in (
        CustomerIdentity.objects.filter(
            kind__in=list(CHANNEL_OF),
            is_valid=True,
            customer__merged_into__isnull=True,
            customer__created_at__lt=started,
        )
        .order_by("customer_id", "kind")
        .values_list("customer_id", "kind")
    ):
        channel = CHANNEL_OF[kind]
        if PREFERENCE.index(channel) < PREFERENCE.index(reach.get(customer_id, PREFERENCE[-1])):
            reach[customer_id] = channel
    recipients = sorted(rng.sample(sorted(reach), min(EXPERIMENT_SENDS, len(reach))))
    by_variant: dict[int, list[Message]] = {v.pk: [] for v in variants}
    for customer_id in recipients:
        variant = variants[experiments.bucket(item.pk, customer_id, len(variants))]
        day = timezone.localtime(started + timedelta(days=rng.uniform(0, EXPERIMENT_DAYS - 1)))
        sent = day.replace(hour=rng.randint(9, 19), minute=rng.randrange(60), second=0, microsecond=0)
        by_variant[variant.pk].append(
            Message(
                customer_id=customer_id,
                item=item,
                variant=variant,
                channel=reach[customer_id],
                status=MessageStatus.SENT,
                experiment=experiment,
                sent_at=sent,
                created_at=sent,
            )
        )
    messages = []
    for variant in variants:
        sent = by_variant[variant.pk]
        open_share, click_share = EXPERIMENT_RATES.get(variant.key, (0.2, 0.25))
        # Exactly the variant's rates (not a coin per message): the verdict the page shows is the one intended.
        opened = rng.sample(sent, round(len(sent) * open_share))
        for message in opened:
            message.opened_at = min(message.sent_at + wait(rng, 3), now)
        for message in rng.sample(opened, round(len(opened) * click_share)):
            message.clicked_at = min(message.opened_at + timedelta(minutes=rng.uniform(1, 30)), now)
        messages += sent
    Message.objects.bulk_create(messages, batch_size=1000)
    return len(messages)


def wipe_marketing() -> None:
    """Delete every marketing row (seed_demo --reset): messages first, they protect the content they sent."""
    for model in (Message, Experiment, Journey, ContentItem, Unsubscribe, CustomerEvent, Touchpoint):
        model.objects.all().delete()
