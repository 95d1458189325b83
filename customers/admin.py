import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from config import roles
from config.audit_web import HistoryAdmin
from config.errors import DomainError
from customers import loyalty, permissions, products, services
from customers.identity import normalize
from customers.models import (
    AccountTeamMember,
    Campaign,
    Channel,
    ChannelSpend,
    Customer,
    CustomerIdentity,
    ImportJob,
    ImportRowError,
    LoyaltyTier,
    MergeRecord,
    Order,
    OrderLine,
    PointsEntry,
    Product,
    TeamRole,
)


class IdentityForm(forms.ModelForm):
    """Normalizes like every other entry point; a value that does not normalize is kept, flagged invalid,
    so the data quality page lists it."""

    class Meta:
        model = CustomerIdentity
        fields = ["kind", "value", "source_system"]

    def clean(self):
        data = super().clean()
        kind, value = data.get("kind"), data.get("value")
        if kind and value:
            normalized = normalize(kind, value)
            data["value"] = normalized or value.strip()
            self.instance.is_valid = normalized is not None
        return data


def _kept_identities(formset) -> list[dict]:
    return [
        {"kind": f.cleaned_data["kind"], "value": f.cleaned_data["value"]}
        for f in formset.forms
        if f.cleaned_data and not f.cleaned_data.get("DELETE") and not f.cleaned_data.get("source_system")
    ]


class IdentityFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [(i["kind"], i["value"]) for i in _kept_identities(self)]
        try:
            services.refuse_taken_identities(self.instance if self.instance.pk else None, kept)
        except DomainError as error:
            raise forms.ValidationError(error.message, code=error.code) from None


class IdentityInline(admin.TabularInline):
    model = CustomerIdentity
    formset = IdentityFormSet
    form = IdentityForm
    extra = 0
    fields = ["kind", "value", "source_system", "is_valid"]
    readonly_fields = ["is_valid"]


class TeamMemberForm(forms.ModelForm):
    """A member is added or removed, never edited: a saved row shows read-only (remove it and add another)."""

    class Meta:
        model = AccountTeamMember
        fields = ["user", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = roles.members()
        if self.instance.pk:
            for field in self.fields.values():
                field.disabled = True


class TeamMemberFormSet(forms.BaseInlineFormSet):
    """The rules of customers.services, checked before anything is saved, so a refusal is a form error."""

    def clean(self):
        super().clean()
        leaving = [f.instance.pk for f in self.deleted_forms if f.instance.pk]
        for form in self.deleted_forms:
            if form.instance.pk and not permissions.can(self.request_user, permissions.TEAM, form.instance):
                form.add_error(None, gettext("You may not remove this member."))
        joining = []
        for form in _joining_forms(self):
            user, role = form.cleaned_data.get("user"), form.cleaned_data.get("role")
            try:
                services.check_team_member(
                    customer=self.instance, user=user, role=role, by=self.request_user, leaving=leaving
                )
            except (DomainError, PermissionDenied) as error:
                form.add_error(None, getattr(error, "message", None) or gettext("You may not add this member."))
                continue
            if (user, role) in joining or (role == TeamRole.ACCOUNT_OWNER and any(r == role for _u, r in joining)):
                form.add_error("role", gettext("Add each person and the account owner once."))
            joining.append((user, role))


def _joining_forms(formset) -> list:
    return [
        f
        for f in formset.forms
        if not f.instance.pk and f.has_changed() and f.cleaned_data and not f.cleaned_data.get("DELETE")
    ]


class TeamMemberInline(admin.TabularInline):
    """The account team on the customer's admin page; every change goes through customers.services."""

    model = AccountTeamMember
    form = TeamMemberForm
    formset = TeamMemberFormSet
    extra = 0
    fields = ["user", "role", "added_at", "added_by"]
    readonly_fields = ["added_at", "added_by"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.request_user = request.user
        return formset

    def has_view_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.VIEW)

    def has_add_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.TEAM) and not getattr(obj, "merged_into_id", None)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.TEAM) and not getattr(obj, "merged_into_id", None)


def _as_form_error(form: forms.BaseForm, error: DomainError, default_field: str | None = None) -> None:
    """Put a service's refusal on the admin form, on its field when the form has it."""
    field = (error.field or "").split("[")[0].split(".")[0]
    form.add_error(field if field in form.fields else default_field, error.message)


class CustomerAdminForm(forms.ModelForm):
    """Refuses in the admin what the API refuses, with the same message: a merged customer is read-only."""

    class Meta:
        model = Customer
        fields = ["name", "company", "city", "language", "source_channel"]

    def clean(self):
        data = super().clean()
        if self.instance.pk:
            try:
                services.refuse_tombstone(self.instance)
            except DomainError as error:
                _as_form_error(self, error)
        return data


class _RoleAdmin(admin.ModelAdmin):
    """Add/change in the admin follow customers.permissions, like the pages and the API."""

    write_action = permissions.CHANGE

    def has_add_permission(self, request):
        return permissions.can(request.user, self.write_action) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, self.write_action, obj) and super().has_change_permission(request, obj)


@admin.register(Customer)
class CustomerAdmin(HistoryAdmin, _RoleAdmin):
    form = CustomerAdminForm
    list_display = ["name", "company", "city", "lifecycle_stage", "rfm_segment", "merged_into", "created_at"]
    list_filter = ["lifecycle_stage", "rfm_segment", "loyalty_tier", "language", "source_channel"]
    search_fields = ["name", "company", "city", "identities__value"]
    raw_id_fields = ["merged_into"]
    autocomplete_fields = ["source_channel"]
    readonly_fields = [
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
        "points_ledger",
        "merged_into",
        "merged_at",
        "created_at",
        "updated_at",
    ]
    inlines = [IdentityInline, TeamMemberInline]
    show_full_result_count = False
    actions = ["merge_into_oldest"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.merged_into_id:  # a merged duplicate is history: read-only, as in the API
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description=_("points balance"))
    def points_ledger(self, obj):
        """The balance, linking to the customer's ledger (points change through an entry: Points entries › Add)."""
        if obj is None or obj.pk is None:
            return "—"
        url = reverse("admin:customers_pointsentry_changelist") + f"?customer__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.points_balance)

    def has_delete_permission(self, request, obj=None):
        # Nothing else deletes a customer (pages and API merge instead): only an admin may, here.
        return roles.is_admin(request.user)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not permissions.can(request.user, permissions.MERGE):
            actions.pop("merge_into_oldest", None)
        return actions

    def save_model(self, request, obj, form, change):
        """Through customers.services, like the pages and the API."""
        data = form.cleaned_data
        fields = {key: data.get(key) or "" for key in ("name", "company", "city", "language")}
        if change:
            services.update_customer(customer=obj, by=request.user, **fields)
        else:
            saved, _matched = services.create_customer(
                by=request.user, source_channel=data.get("source_channel"), **fields
            )
            obj.pk = saved.pk
        obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        """Identities through update_customer: an identity another customer holds is refused (merge instead).
        Account team members through add_team_member and remove_team_member."""
        if formset.model is AccountTeamMember:
            for deleted in formset.deleted_forms:
                if deleted.instance.pk:
                    services.remove_team_member(member=deleted.instance, by=request.user)
            for joining in _joining_forms(formset):
                services.add_team_member(
                    customer=form.instance,
                    user=joining.cleaned_data["user"],
                    role=joining.cleaned_data["role"],
                    by=request.user,
                )
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            return None
        if formset.model is not CustomerIdentity:
            return super().save_formset(request, form, formset, change)
        services.update_customer(customer=form.instance, by=request.user, identities=_kept_identities(formset))
        # The admin's change message reads these; the service's own history is what counts.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        return None

    @admin.action(description=_("Merge the selected customers into the oldest one"))
    def merge_into_oldest(self, request, queryset):
        """One transaction: every selected duplicate merges into the oldest, or none does."""
        if not permissions.can(request.user, permissions.MERGE):
            raise PermissionDenied
        customers = list(queryset.order_by("pk"))
        if len(customers) < 2:
            self.message_user(request, gettext("Select at least two customers."), messages.WARNING)
            return None
        survivor, duplicates = customers[0], customers[1:]
        try:
            with transaction.atomic():
                for duplicate in duplicates:
                    services.merge_customers(survivor=survivor, duplicate=duplicate, by=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return None
        self.message_user(
            request,
            gettext("%(count)s customers merged into #%(id)s.") % {"count": len(duplicates), "id": survivor.pk},
            messages.SUCCESS,
        )
        return None


class StandaloneIdentityForm(IdentityForm):
    """An identity is added to a customer, never moved to another one: that is a merge."""

    class Meta(IdentityForm.Meta):
        fields = ["customer", "kind", "value", "source_system"]

    def clean(self):
        data = super().clean()
        customer = data.get("customer") or getattr(self.instance, "customer", None)
        try:
            if customer is not None:
                services.refuse_tombstone(customer)
            if data.get("kind") and data.get("value") and not data.get("source_system"):
                services.refuse_taken_identities(customer, [(data["kind"], data["value"])])
        except DomainError as error:
            _as_form_error(self, error, default_field="value")
        return data


@admin.register(CustomerIdentity)
class CustomerIdentityAdmin(HistoryAdmin, _RoleAdmin):
    form = StandaloneIdentityForm
    fields = ["customer", "kind", "value", "source_system", "is_valid"]

    def get_readonly_fields(self, request, obj=None):
        return ["is_valid", "customer"] if obj is not None else ["is_valid"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.customer.merged_into_id:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Identities leave a customer through the customer's form (the service) or move through a merge.
        return roles.is_admin(request.user)

    list_display = ["value", "kind", "source_system", "customer", "is_valid"]
    list_filter = ["kind", "is_valid"]
    search_fields = ["value"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer"]
    show_full_result_count = False


class OrderAdminForm(forms.ModelForm):
    """An order's fields; with lines (the inline below) the amount may be left blank: it is their sum."""

    class Meta:
        model = Order
        fields = ["customer", "amount", "ordered_at", "channel", "external_id"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "amount" in self.fields:
            self.fields["amount"].required = False
            self.fields["amount"].help_text = gettext("Leave it blank when you enter lines: the amount is their sum.")


class OrderLineAdminForm(forms.ModelForm):
    class Meta:
        model = OrderLine
        fields = ["product", "quantity", "unit_price"]
        help_texts = {"unit_price": _("Blank: the product's price.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit_price"].required = False


def _filled_line_forms(formset) -> list:
    return [
        f
        for f in formset.forms
        if f.cleaned_data and not f.cleaned_data.get("DELETE") and f.cleaned_data.get("product")
    ]


def _admin_lines(formset) -> list[dict]:
    """The filled line rows of the inline, as customers.services.check_lines takes them."""
    return [
        {
            "product": f.cleaned_data["product"].sku,
            "quantity": f.cleaned_data.get("quantity"),
            "unit_price": f.cleaned_data.get("unit_price"),
        }
        for f in _filled_line_forms(formset)
    ]


_ADMIN_LINE_FIELD = re.compile(r"lines\[(\d+)\]\.(\w+)")


class OrderLineFormSet(forms.BaseInlineFormSet):
    """The lines of a new order, checked by customers.services as the API checks them (and the amount against
    them) before anything is saved, so a refusal is a form error."""

    def clean(self):
        super().clean()
        if self.instance.pk is not None or any(self.errors):
            return
        filled = _filled_line_forms(self)
        try:
            services.order_amount(self.instance.amount, services.check_lines(_admin_lines(self)))
        except DomainError as error:
            match = _ADMIN_LINE_FIELD.fullmatch(error.field or "")
            if match and int(match.group(1)) < len(filled):
                row, name = filled[int(match.group(1))], match.group(2)
                row.add_error(name if name in row.fields else None, error.message)
            else:
                raise forms.ValidationError(error.message, code=error.code) from None


class OrderLineInline(admin.TabularInline):
    """A new order's lines (its amount is their sum); an order's lines are read-only here afterwards (the order
    page and the API change them as a whole)."""

    model = OrderLine
    form = OrderLineAdminForm
    formset = OrderLineFormSet
    fields = ["product", "quantity", "unit_price"]
    autocomplete_fields = ["product"]

    def get_extra(self, request, obj=None, **kwargs):
        return 3 if obj is None else 0

    def has_view_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.VIEW)

    def has_add_permission(self, request, obj=None):
        return obj is None and permissions.can(request.user, permissions.ORDER_WRITE)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(HistoryAdmin, _RoleAdmin):
    write_action = permissions.ORDER_WRITE
    form = OrderAdminForm
    inlines = [OrderLineInline]

    list_display = ["pk", "customer", "amount", "ordered_at", "channel", "external_id", "cancelled_at"]
    list_filter = ["channel", ("cancelled_at", admin.EmptyFieldListFilter)]
    search_fields = ["external_id", "customer__name"]
    raw_id_fields = ["customer", "created_by"]
    list_select_related = ["customer", "channel"]
    date_hierarchy = "ordered_at"
    show_full_result_count = False
    actions = ["cancel_orders"]

    def get_readonly_fields(self, request, obj=None):
        fields = ["cancelled_at", "cancel_reason"] if obj is not None else []
        if obj is not None and obj.lines.exists():
            fields.insert(0, "amount")  # the lines make it
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.cancelled_at:  # a cancelled order stays as it was cancelled
            return False
        return super().has_change_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not permissions.can(request.user, permissions.ORDER_WRITE):
            actions.pop("cancel_orders", None)
        return actions

    def save_model(self, request, obj, form, change):
        """A change through update_order; a new order is written with its lines in save_related (one service
        call, as the lines make its amount)."""
        if change:
            fields = {
                f: form.cleaned_data[f]
                for f in ("amount", "ordered_at", "channel", "external_id")
                if f in form.cleaned_data
            }
            services.update_order(order=obj, by=request.user, customer=form.cleaned_data["customer"], **fields)

    def save_related(self, request, form, formsets, change):
        if change:
            return super().save_related(request, form, formsets, change)
        lines = next((_admin_lines(f) for f in formsets if f.model is OrderLine), [])
        data = form.cleaned_data
        placed = services.place_order(
            by=request.user,
            customer=data["customer"],
            amount=data.get("amount"),
            ordered_at=data["ordered_at"],
            channel=data.get("channel"),
            external_id=data.get("external_id") or "",
            lines=lines,
        )
        form.instance.pk = placed.order.pk
        for formset in formsets:  # the admin's change message reads these; the service wrote the lines
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        return None

    @admin.action(description=_("Cancel the selected orders"))
    def cancel_orders(self, request, queryset):
        """Asks for the reason, then cancels every selected order in one transaction (one already cancelled stays
        as it was)."""
        if not permissions.can(request.user, permissions.ORDER_WRITE):
            raise PermissionDenied
        form = CancelOrdersForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            cancelled = 0
            try:
                with transaction.atomic():
                    for order in queryset.order_by("pk"):
                        blocked = order
                        _order, now = services.cancel_order(
                            order=order, by=request.user, reason=form.cleaned_data["reason"]
                        )
                        cancelled += now
            except DomainError as error:
                self.message_user(
                    request,
                    gettext("Order #%(id)s: %(error)s") % {"id": blocked.pk, "error": error.message},
                    messages.ERROR,
                )
                return None
            self.message_user(
                request,
                ngettext("%(count)s order cancelled.", "%(count)s orders cancelled.", cancelled) % {"count": cancelled},
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Cancel orders"),
            "opts": self.model._meta,
            "orders": queryset.select_related("customer").order_by("pk"),
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/customers/order/cancel_orders.html", context)


class CancelOrdersForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the cancellation"),
        max_length=Order._meta.get_field("cancel_reason").max_length,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ProductAdminForm(forms.ModelForm):
    """The product rules of customers.products, checked here so a refusal is a form error."""

    class Meta:
        model = Product
        fields = ["sku", "name", "category", "price", "is_active"]

    def clean(self):
        data = super().clean()
        try:
            if data.get("sku") is not None:
                data["sku"] = products.clean_sku(data["sku"])
            if data.get("price") is not None:
                data["price"] = products.parse_price(data["price"])
        except DomainError as error:
            _as_form_error(self, error)
        return data


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    """The catalogue; writes through customers.products (sales and marketing managers, admins: customers.permissions
    PRODUCT_WRITE, which alone decides here, as on the pages and in the API). A product that was sold cannot be
    deleted: set it inactive."""

    form = ProductAdminForm
    list_display = ["sku", "name", "category", "price", "is_active", "updated_at"]
    list_filter = ["is_active", "category"]
    search_fields = ["sku", "name"]
    show_full_result_count = False

    def has_view_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.VIEW)

    def has_add_permission(self, request):
        return permissions.can(request.user, permissions.PRODUCT_WRITE)

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.PRODUCT_WRITE)

    def has_delete_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.PRODUCT_WRITE)

    def save_model(self, request, obj, form, change):
        fields = {f: form.cleaned_data[f] for f in ("sku", "name", "category", "price", "is_active")}
        saved = products.save_product(by=request.user, product=obj if change else None, **fields)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        products.delete_product(product=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for product in queryset.order_by("pk"):
                products.delete_product(product=product, by=request.user)


@admin.register(Channel)
class ChannelAdmin(_RoleAdmin):
    write_action = permissions.MARKETING_WRITE

    list_display = ["code", "name", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]


@admin.register(Campaign)
class CampaignAdmin(_RoleAdmin):
    write_action = permissions.MARKETING_WRITE

    list_display = ["name", "channel", "starts_on", "ends_on", "budget"]
    list_filter = ["channel"]
    search_fields = ["name"]
    autocomplete_fields = ["channel"]
    list_select_related = ["channel"]


@admin.register(ChannelSpend)
class ChannelSpendAdmin(_RoleAdmin):
    write_action = permissions.MARKETING_WRITE

    list_display = ["channel", "month", "amount"]
    list_filter = ["channel"]
    autocomplete_fields = ["channel"]
    list_select_related = ["channel"]
    date_hierarchy = "month"


@admin.register(MergeRecord)
class MergeRecordAdmin(admin.ModelAdmin):
    list_display = ["pk", "survivor", "duplicate", "merged_at", "merged_by", "undone_at"]
    raw_id_fields = ["survivor", "duplicate", "merged_by", "undone_by"]
    list_select_related = ["survivor", "duplicate", "merged_by"]
    readonly_fields = ["survivor", "duplicate", "moved", "chosen", "merged_by", "merged_at", "undone_by", "undone_at"]
    actions = ["undo"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not permissions.can(request.user, permissions.UNDO_MERGE):
            actions.pop("undo", None)
        return actions

    @admin.action(description=_("Undo the selected merges"))
    def undo(self, request, queryset):
        if not permissions.can(request.user, permissions.UNDO_MERGE):
            raise PermissionDenied
        try:
            with transaction.atomic():
                for record in queryset.order_by("-merged_at"):
                    services.undo_merge(record=record, by=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return None
        self.message_user(request, gettext("Merges undone."), messages.SUCCESS)
        return None


class ImportRowErrorInline(admin.TabularInline):
    model = ImportRowError
    extra = 0
    fields = ["row_number", "column", "reason"]
    readonly_fields = fields
    can_delete = False
    max_num = 0


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "original_name", "is_dry_run", "status", "rows_done", "failed_count", "created_at"]
    list_filter = ["kind", "status", "is_dry_run"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]
    list_select_related = ["created_by"]
    inlines = [ImportRowErrorInline]

    def has_add_permission(self, request):
        return False


class PointsChangeForm(forms.ModelForm):
    """A redemption or an adjustment, refused here as customers.loyalty would refuse it (a saved entry is
    read-only: the ledger is append-only)."""

    kind = forms.ChoiceField(label=_("kind"), choices=[(kind.value, kind.label) for kind in loyalty.CHANGE_KINDS])

    class Meta:
        model = PointsEntry
        fields = ["customer", "kind", "points", "reason"]
        help_texts = {
            "points": _("Redeem: the points that leave the balance. Adjust: + adds, − takes away."),
            "reason": _("Required for an adjustment."),
        }

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            loyalty.check_change(
                customer=data["customer"],
                kind=data["kind"],
                points=data["points"],
                reason=data.get("reason", ""),
                by=self.request_user,
            )
        except DomainError as error:
            _as_form_error(self, error)
        except PermissionDenied:
            self.add_error("kind", gettext("You may not record this kind of change."))
        return data


@admin.register(PointsEntry)
class PointsEntryAdmin(admin.ModelAdmin):
    """The points ledger, read-only; "Add" records a redemption or an adjustment through customers.loyalty."""

    form = PointsChangeForm
    list_display = ["at", "customer", "kind", "points", "reason", "order", "created_by"]
    list_filter = ["kind"]
    search_fields = ["customer__name", "reason"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer", "order", "created_by"]
    show_full_result_count = False

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request_user = request.user
        return form

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["customer", "kind", "points", "reason"]
        return ["customer", "kind", "points", "reason", "order", "at", "expires_at", "created_by"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else []

    def has_add_permission(self, request):
        return permissions.can(request.user, permissions.POINTS_REDEEM)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        entry = loyalty.change_points(
            customer=data["customer"],
            kind=data["kind"],
            points=data["points"],
            reason=data.get("reason", ""),
            by=request.user,
        )
        obj.pk = entry.pk


class LoyaltyTierForm(forms.ModelForm):
    class Meta:
        model = LoyaltyTier
        fields = ["threshold"]

    def clean_threshold(self):
        try:
            return loyalty.check_threshold(self.instance, self.cleaned_data["threshold"])
        except DomainError as error:
            raise forms.ValidationError(error.message, code=error.code) from None


@admin.register(LoyaltyTier)
class LoyaltyTierAdmin(admin.ModelAdmin):
    """The four tiers; admins move their thresholds (each above the previous tier's, the member tier at 0), which
    recomputes everyone's tier in the background."""

    form = LoyaltyTierForm
    list_display = ["code", "threshold", "updated_at"]
    fields = ["code", "threshold", "updated_at"]
    readonly_fields = ["code", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.LOYALTY_TIERS)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        loyalty.set_tier_threshold(tier=obj, threshold=form.cleaned_data["threshold"], by=request.user)
