from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from config import audit
from config.models import TrackedJob


class Channel(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=200)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("channel"))
    starts_on = models.DateField(_("starts on"), null=True, blank=True)
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    budget = models.DecimalField(_("budget"), max_digits=14, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-starts_on", "name"]
        indexes = [models.Index(fields=["channel", "starts_on"], name="customers_campaign_chan_idx")]

    def __str__(self):
        return self.name


class ChannelSpend(models.Model):
    """Spend booked by month; it counts in a period when its month starts in the period."""

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="spend", verbose_name=_("channel"))
    month = models.DateField(_("month"), help_text=_("First day of the month."))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("channel spend")
        verbose_name_plural = _("channel spend")
        ordering = ["-month", "channel__name"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "month"], name="customers_channelspend_one_per_month"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="customers_channelspend_amount_positive"),
        ]
        indexes = [models.Index(fields=["month"], name="customers_spend_month_idx")]

    def __str__(self):
        return f"{self.channel} {self.month:%Y-%m}"


class LifecycleStage(models.TextChoices):
    AWARENESS = "awareness", _("Awareness")
    CONSIDERATION = "consideration", _("Consideration")
    DECISION = "decision", _("Decision")
    LOYALTY = "loyalty", _("Loyalty")


class RfmSegment(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL = "potential", _("Potential loyalist")
    NEW = "new", pgettext_lazy("customer segment", "New")
    AT_RISK = "at_risk", _("At risk")
    HIBERNATING = "hibernating", _("Hibernating")
    NONE = "", _("No orders")


# Written only by customers.segments (SQL), never by a save.
DERIVED_FIELDS = (
    "lifecycle_stage",
    "rfm_recency_days",
    "rfm_frequency",
    "rfm_monetary",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "rfm_segment",
    "loyalty_tier",
    "member_since",
    "points_balance",
)


class LoyaltyTierCode(models.TextChoices):
    MEMBER = "member", _("Member")
    SILVER = "silver", _("Silver")
    GOLD = "gold", _("Gold")
    PLATINUM = "platinum", _("Platinum")


class Customer(models.Model):
    name = models.CharField(_("name"), max_length=200)
    company = models.CharField(_("company"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    source_channel = models.ForeignKey(
        Channel,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="customers",
        verbose_name=_("source channel"),
    )
    language = models.CharField(
        max_length=10, choices=settings.LANGUAGES, blank=True, verbose_name=_("preferred language")
    )
    # Derived columns, written only by customers.services (never typed by a person).
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.AWARENESS
    )
    rfm_recency_days = models.PositiveIntegerField(_("days since last order"), null=True, blank=True)
    rfm_frequency = models.PositiveIntegerField(_("orders in 365 days"), default=0)
    rfm_monetary = models.DecimalField(_("order total in 365 days"), max_digits=14, decimal_places=2, default=0)
    rfm_r = models.PositiveSmallIntegerField(_("R score"), null=True, blank=True)
    rfm_f = models.PositiveSmallIntegerField(_("F score"), null=True, blank=True)
    rfm_m = models.PositiveSmallIntegerField(_("M score"), null=True, blank=True)
    rfm_segment = models.CharField(_("segment"), max_length=20, choices=RfmSegment.choices, blank=True)
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_duplicates",
        verbose_name=_("merged into"),
    )
    merged_at = models.DateTimeField(_("merged at"), null=True, blank=True)
    # Loyalty (customers.loyalty writes these): the tier by trailing-12-month spend, blank for a non-member, and
    # the points ledger's sum, which a row lock keeps from going negative.
    loyalty_tier = models.CharField(
        _("loyalty tier"), max_length=10, choices=LoyaltyTierCode.choices, blank=True, default="", db_default=""
    )
    member_since = models.DateTimeField(_("member since"), null=True, blank=True)
    points_balance = models.IntegerField(_("points balance"), default=0, db_default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # The audit log (config/audit.py) leaves out the derived columns: customers.segments rewrites them in SQL.
    history = audit.history(excluded_fields=[*DERIVED_FIELDS])

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["name"], name="customers_customer_name_idx"),
            models.Index(fields=["company"], name="customers_customer_company_idx"),
            models.Index(fields=["city"], name="customers_customer_city_idx"),
            models.Index(fields=["lifecycle_stage"], name="customers_customer_stage_idx"),
            models.Index(fields=["rfm_segment"], name="customers_customer_segment_idx"),
            models.Index(fields=["created_at"], name="customers_customer_created_idx"),
            models.Index(fields=["merged_into"], name="customers_customer_merged_idx"),
            models.Index(fields=["loyalty_tier"], name="customers_customer_tier_idx"),
            models.Index(fields=["member_since"], name="customers_customer_member_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(points_balance__gte=0), name="customers_customer_points_not_negative"),
        ]

    def __str__(self):
        return self.name


class IdentityKind(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    WECOM = "wecom", _("WeCom id")
    WECHAT = "wechat", _("WeChat id")
    MEMBER_CARD = "member_card", _("Member card")
    EXTERNAL = "external", _("External id")


class CustomerIdentity(models.Model):
    """One way to reach or recognise a customer; `value` is normalized, so matching is exact."""

    # No single-column index: customers_identity_cust_idx (customer, kind) serves lookups by customer, and
    # every index costs on the import path (100,000 rows at >= 10,000 rows/s).
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="identities", verbose_name=_("customer"), db_index=False
    )
    kind = models.CharField(_("kind"), max_length=20, choices=IdentityKind.choices)
    value = models.CharField(_("value"), max_length=254)
    source_system = models.CharField(_("source system"), max_length=50, blank=True)
    is_valid = models.BooleanField(_("valid"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    history = audit.history()  # the audit log (config/audit.py)

    class Meta:
        verbose_name = _("customer identity")
        verbose_name_plural = _("customer identities")
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "source_system", "value"], name="customers_customeridentity_unique_value"
            ),
        ]
        indexes = [models.Index(fields=["customer", "kind"], name="customers_identity_cust_idx")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.value}"


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders", verbose_name=_("customer"))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    ordered_at = models.DateTimeField(_("ordered at"))
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, null=True, blank=True, related_name="orders", verbose_name=_("channel")
    )
    external_id = models.CharField(_("external id"), max_length=100, blank=True)
    # A cancelled order stays for the record; points, affinity, RFM and the metrics leave it out.
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(_("cancellation reason"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = audit.history()  # the audit log (config/audit.py)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-ordered_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~Q(external_id=""),
                name="customers_order_external_id_per_channel",
            ),
            # NULLs are distinct in a unique index, so orders without a channel need their own rule.
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(channel__isnull=True) & ~Q(external_id=""),
                name="customers_order_external_id_without_channel",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="customers_order_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["customer", "ordered_at"], name="customers_order_cust_at_idx"),
            models.Index(fields=["ordered_at"], name="customers_order_at_idx"),
            models.Index(fields=["channel", "ordered_at"], name="customers_order_chan_at_idx"),
            models.Index(fields=["amount"], name="customers_order_amount_idx"),  # the order list's sort
        ]

    def __str__(self):
        return f"#{self.pk} {self.amount}"


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=100)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["category", "name", "pk"]
        constraints = [models.CheckConstraint(condition=Q(price__gte=0), name="customers_product_price_not_negative")]
        indexes = [models.Index(fields=["category", "name"], name="customers_product_cat_idx")]

    def __str__(self):
        return f"{self.name} ({self.sku})"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    product = models.ForeignKey(
        Product, on_delete=models.PROTECT, related_name="order_lines", verbose_name=_("product")
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="customers_orderline_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="customers_orderline_price_not_negative"),
        ]
        indexes = [models.Index(fields=["product", "order"], name="customers_line_product_idx")]

    def __str__(self):
        return f"{self.quantity} × {self.product_id}"


class AffinityPair(models.Model):
    """X → Y over the trailing 365 days' orders (customers.affinity refreshes the whole table in SQL)."""

    from_product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="affinity_from", verbose_name=_("bought")
    )
    to_product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="affinity_to", verbose_name=_("also bought")
    )
    support = models.PositiveIntegerField(_("support"))  # customers who bought both
    confidence = models.FloatField(_("confidence"))  # support ÷ customers who bought from_product
    lift = models.FloatField(_("lift"))
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("product affinity")
        verbose_name_plural = _("product affinities")
        ordering = ["from_product", "-confidence", "to_product"]
        constraints = [
            models.UniqueConstraint(fields=["from_product", "to_product"], name="customers_affinity_one_per_pair"),
        ]
        indexes = [
            models.Index(fields=["from_product", "-confidence"], name="customers_affinity_from_idx"),
            models.Index(fields=["-lift"], name="customers_affinity_lift_idx"),
            models.Index(fields=["-confidence", "-id"], name="customers_affinity_conf_idx"),  # affinity/ pages
        ]

    def __str__(self):
        return f"{self.from_product_id} → {self.to_product_id}"


class LoyaltyTier(models.Model):
    """A tier's threshold of trailing-12-month spend; admins edit them, each above the previous tier's."""

    code = models.CharField(_("tier"), max_length=10, choices=LoyaltyTierCode.choices, unique=True)
    threshold = models.DecimalField(_("12-month spend from"), max_digits=14, decimal_places=2)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("loyalty tier")
        verbose_name_plural = _("loyalty tiers")
        ordering = ["threshold"]

    def __str__(self):
        return self.get_code_display()


class PointsKind(models.TextChoices):
    EARN = "earn", _("Earned")
    REVERSE = "reverse", _("Reversed")
    REDEEM = "redeem", _("Redeemed")
    ADJUST = "adjust", _("Adjusted")
    EXPIRE = "expire", _("Expired")


class PointsEntry(models.Model):
    """One line of a customer's append-only points ledger; the balance is their sum (kept on the customer)."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="points_entries", verbose_name=_("customer")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=PointsKind.choices)
    points = models.IntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    order = models.ForeignKey(
        Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="points_entries", verbose_name=_("order")
    )
    at = models.DateTimeField(_("at"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)  # earned points only
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        ordering = ["-at", "-pk"]
        constraints = [
            # An order earns once and is reversed once, however often its feed or cancellation is retried.
            models.UniqueConstraint(
                fields=["order", "kind"],
                condition=Q(order__isnull=False, kind__in=["earn", "reverse"]),
                name="customers_points_once_per_order",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "at"], name="customers_points_cust_idx"),
            models.Index(fields=["kind", "expires_at"], name="customers_points_expiry_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.points}"


class PendingSegmentRefresh(models.Model):
    """A customer whose lifecycle stage and RFM wait for the next debounced recompute.

    RFM quintiles are over every customer, so one recompute costs the same (~0.8 s at 100,000 customers)
    for one changed customer as for a thousand: changes are collected here and recomputed together.
    """

    customer_id = models.BigIntegerField(_("customer id"), unique=True)
    queued_at = models.DateTimeField(_("queued at"), auto_now_add=True)

    class Meta:
        verbose_name = _("pending segment refresh")
        verbose_name_plural = _("pending segment refreshes")

    def __str__(self):
        return f"#{self.customer_id}"


class MergeRecord(models.Model):
    """One merge of `duplicate` into `survivor`, with every row that moved, so it can be undone.

    `moved` maps "app_label.model.field" to the primary keys whose FK was repointed from the duplicate.
    """

    survivor = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="merges_received", verbose_name=_("survivor")
    )
    duplicate = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="merges_given", verbose_name=_("duplicate")
    )
    moved = models.JSONField(_("moved rows"), default=dict)
    # {"city": {"kept": "duplicate", "survivor": "<its value before>", "duplicate": "<the value kept>"}, …}: the
    # profile value the merging manager chose to keep per field, so the record shows it and undo restores it.
    chosen = models.JSONField(_("chosen values"), default=dict, blank=True)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("merged by"),
    )
    merged_at = models.DateTimeField(_("merged at"))
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("undone by"),
    )
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)

    class Meta:
        verbose_name = _("merge record")
        verbose_name_plural = _("merge records")
        ordering = ["-merged_at", "-pk"]
        indexes = [
            models.Index(fields=["survivor", "merged_at"], name="customers_merge_surv_idx"),
            models.Index(fields=["duplicate", "merged_at"], name="customers_merge_dup_idx"),
        ]

    def __str__(self):
        return f"{self.duplicate_id} → {self.survivor_id}"


class TeamRole(models.TextChoices):
    """An account team member's part; the department roles carry the department's name (config.roles)."""

    ACCOUNT_OWNER = "account_owner", _("Account owner")
    SALES = "sales", _("Sales")
    SERVICE = "service", _("Service")
    MARKETING = "marketing", _("Marketing")


class AccountTeamMember(models.Model):
    """One person on a key customer's account team (DESIGN.md "Everyday work"); they hear of the customer's
    complaints, detractor answers and large orders. Written only by customers.services."""

    # No single-column index: the (customer, user, role) unique index serves lookups by customer.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="team_members", verbose_name=_("customer"), db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_teams", verbose_name=_("person")
    )
    role = models.CharField(_("role"), max_length=20, choices=TeamRole.choices)
    added_at = models.DateTimeField(_("added at"))
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("added by"),
    )

    class Meta:
        verbose_name = _("account team member")
        verbose_name_plural = _("account team members")
        ordering = ["customer", "role", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "user", "role"], name="customers_accountteammember_one_role_per_person"
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(role="account_owner"),
                name="customers_accountteammember_one_account_owner",
            ),
        ]

    def __str__(self):
        return f"{self.get_role_display()}: {self.user}"


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", _("Customers")
    LEADS = "leads", _("Leads")
    ORDERS = "orders", _("Orders")
    TOUCHPOINTS = "touchpoints", _("Touchpoints")  # marketing registers its rules (marketing/subscriptions.py)
    PRODUCTS = "products", _("Products")


class ImportJob(TrackedJob):
    """A CSV import: a dry run counts what would happen, the real run writes the good rows."""

    resume_task = "customers.tasks.run_import"

    kind = models.CharField(_("kind"), max_length=20, choices=ImportKind.choices)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    is_dry_run = models.BooleanField(_("dry run"), default=True)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    total_rows = models.PositiveIntegerField(_("rows in file"), null=True, blank=True)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    source_job = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="runs",
        verbose_name=_("dry run"),
    )

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="customers_import_status_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.original_name}"

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == "done" else 0
        return min(100, int(100 * self.rows_done / self.total_rows))


class ImportRowError(models.Model):
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors", verbose_name=_("import"))
    row_number = models.PositiveIntegerField(_("row"))
    column = models.CharField(_("column"), max_length=50, blank=True)
    reason = models.CharField(_("reason"), max_length=300)

    class Meta:
        verbose_name = _("import row error")
        verbose_name_plural = _("import row errors")
        ordering = ["job", "row_number", "pk"]
        indexes = [models.Index(fields=["job", "row_number"], name="customers_importerr_row_idx")]

    def __str__(self):
        return f"{self.row_number} {self.column}: {self.reason}"
