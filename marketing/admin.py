"""Admin for marketing. Writes go through marketing.services, as on the pages and the API."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from config.audit_web import HistoryAdmin
from config.errors import DomainError
from config.pages import form_error
from marketing import experiments, journeys, permissions, services
from marketing.models import (
    ActivationWindow,
    ContentItem,
    ContentVariant,
    CustomerEvent,
    Enrolment,
    Experiment,
    ExperimentStatus,
    Journey,
    JourneyStep,
    Message,
    StepRun,
    Touchpoint,
    Unsubscribe,
)


class MarketingAdminMixin:
    """Everyone in a department views; writes follow marketing.permissions (`write_action`), as on the pages and
    the API. Without a write action the model is read-only here: its rows are written by marketing.services."""

    write_action = ""

    def has_view_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.READ)

    def has_module_permission(self, request):
        return permissions.can(request.user, permissions.READ)

    def has_add_permission(self, request, obj=None):
        return bool(self.write_action) and permissions.can(request.user, self.write_action)

    def has_change_permission(self, request, obj=None):
        return bool(self.write_action) and permissions.can(request.user, self.write_action)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CustomerEvent)
class CustomerEventAdmin(MarketingAdminMixin, admin.ModelAdmin):
    """Read-only: events come in through the API (marketing.services.record_event)."""

    list_display = ["pk", "at", "customer", "type", "source", "external_id"]
    list_filter = ["type", "source"]
    search_fields = ["=customer__id", "customer__name", "=external_id"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer", "created_by"]
    readonly_fields = ["customer", "type", "at", "source", "external_id", "properties", "created_at", "created_by"]
    date_hierarchy = "at"
    show_full_result_count = False  # no COUNT(*) over every event on each page


@admin.register(ActivationWindow)
class ActivationWindowAdmin(MarketingAdminMixin, admin.ModelAdmin):
    """Read-only: sign-ups open windows, activations close them, the beat stamps the missed ones."""

    list_display = ["pk", "customer", "signed_up_at", "due_at", "activated_at", "missed_at"]
    list_filter = [("activated_at", admin.EmptyFieldListFilter), ("missed_at", admin.EmptyFieldListFilter)]
    search_fields = ["=customer__id", "customer__name"]
    list_select_related = ["customer"]
    readonly_fields = ["customer", "signed_up_event", "signed_up_at", "due_at", "activated_at", "missed_at"]
    date_hierarchy = "signed_up_at"
    show_full_result_count = False


class _ServiceCheckedForm(forms.ModelForm):
    """The admin's form checks its values with the service's own rules (`check`), so a refusal shows on its field
    and the save that follows (through the service) does not fail."""

    check = staticmethod(services.clean_content)

    def clean(self):
        cleaned = super().clean()
        try:
            self.check({name: cleaned[name] for name in self.Meta.fields if name in cleaned})
        except DomainError as exc:
            form_error(self, exc)
        return cleaned


class ContentItemForm(_ServiceCheckedForm):
    class Meta:
        model = ContentItem
        fields = list(services.CONTENT_FIELDS)


class ContentVariantForm(_ServiceCheckedForm):
    check = staticmethod(services.clean_variant)
    cover_url = forms.CharField(label=_("Cover image URL"), required=False, max_length=200)

    class Meta:
        model = ContentVariant
        fields = list(services.VARIANT_FIELDS)


class ContentVariantInline(admin.StackedInline):
    """Variants are added and changed through marketing.services (the key is the first free letter); they are
    deleted on the content page or through the API, which refuse a variant messages were sent with."""

    model = ContentVariant
    form = ContentVariantForm
    extra = 0
    fields = ["key", "title", "cover_url", "body"]
    readonly_fields = ["key"]
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.READ)

    def has_add_permission(self, request, obj=None):
        return permissions.can(request.user, "content.change")

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, "content.change")

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ContentItem)
class ContentItemAdmin(MarketingAdminMixin, admin.ModelAdmin):
    write_action = "content.change"
    form = ContentItemForm
    list_display = ["pk", "title", "stage", "language", "is_active", "updated_at"]
    list_filter = ["stage", "language", "is_active"]
    search_fields = ["title"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    inlines = [ContentVariantInline]

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in services.CONTENT_FIELDS if name in form.cleaned_data}
        if change:
            saved = services.update_content(item=obj, by=request.user, **values)
        else:
            saved = services.create_content(by=request.user, **values)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        # What the admin's history message lists (formset.save() would set these).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for variant_form in formset.forms:
            if not variant_form.has_changed():
                continue
            values = {name: variant_form.cleaned_data[name] for name in services.VARIANT_FIELDS}
            if variant_form.instance.pk:
                variant = services.update_variant(variant=variant_form.instance, by=request.user, **values)
                formset.changed_objects.append((variant, variant_form.changed_data))
            else:
                variant = services.create_variant(item=form.instance, by=request.user, **values)
                formset.new_objects.append(variant)


@admin.register(Message)
class MessageAdmin(MarketingAdminMixin, admin.ModelAdmin):
    """Read-only: messages are written by sends (marketing.sending) and stamped by tracking."""

    list_display = ["pk", "created_at", "customer", "item", "variant", "channel", "status", "skip_reason", "sent_at"]
    list_filter = ["status", "channel", "skip_reason"]
    search_fields = ["=customer__id", "customer__name", "=item__id"]
    list_select_related = ["customer", "item", "variant"]
    raw_id_fields = ["customer", "item", "variant", "journey", "enrolment", "step_run", "experiment"]
    readonly_fields = [f.name for f in Message._meta.fields]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(Unsubscribe)
class UnsubscribeAdmin(MarketingAdminMixin, admin.ModelAdmin):
    """Read-only: customers unsubscribe through the link in each message."""

    list_display = ["pk", "customer", "channel", "at"]
    list_filter = ["channel"]
    search_fields = ["=customer__id", "customer__name"]
    list_select_related = ["customer"]
    readonly_fields = ["customer", "channel", "at"]


class ExperimentForm(forms.ModelForm):
    """A new experiment's item is checked with the service's own rule (marketing.experiments.check_item), so a
    refusal shows on the field and the save that follows (through the service) does not fail."""

    class Meta:
        model = Experiment
        fields = ["item", "goal"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and cleaned.get("item") is not None:
            try:
                experiments.check_item(cleaned["item"])
            except DomainError as exc:
                form_error(self, exc)
        return cleaned


@admin.register(Experiment)
class ExperimentAdmin(MarketingAdminMixin, admin.ModelAdmin):
    """Started, changed and stopped through marketing.experiments, as on the pages and the API; declaring the
    leading variant the winner is marketing managers' and follows the same rules."""

    write_action = "experiment.change"
    form = ExperimentForm
    list_display = ["pk", "item", "goal", "status", "started_at", "winner", "declared_at"]
    list_filter = ["status", "goal"]
    search_fields = ["item__title", "=item__id"]
    list_select_related = ["item", "winner"]
    raw_id_fields = ["item"]
    fields = ["item", "goal", "status", "started_at", "winner", "declared_by", "declared_at", "results"]
    actions = ["declare_leading_variant", "stop_experiments"]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["status", "started_at", "winner", "declared_by", "declared_at", "results"]
        if obj is None:
            return fixed
        return [*fixed, "item"] if obj.status == ExperimentStatus.RUNNING else [*fixed, "item", "goal"]

    def has_declare_permission(self, request):
        return permissions.can(request.user, "experiment.declare")

    @admin.display(description=_("results"))
    def results(self, obj):
        if obj.pk is None:
            return "—"
        found = experiments.results(obj)
        rows = format_html_join(
            "",
            "<li>{}: {} / {} / {} / {}</li>",
            ((v.key, v.sent, v.opened, v.clicked, v.converted) for v in found.variants),
        )
        return format_html(
            "<p>{}</p><p>{}</p><ul>{}</ul>",
            experiments.verdict_text(found),
            gettext("Per variant: sent / opened / clicked / converted."),
            rows,
        )

    def save_model(self, request, obj, form, change):
        if change:
            saved = experiments.update_experiment(experiment=obj, by=request.user, goal=form.cleaned_data.get("goal"))
        else:
            saved = experiments.create_experiment(
                by=request.user, item=form.cleaned_data["item"], goal=form.cleaned_data["goal"]
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def _each(self, request, queryset, act) -> bool:
        """Run `act(experiment)` on every selected experiment in one transaction, or on none: the message names the
        experiment that blocked it."""
        try:
            with transaction.atomic():
                for experiment in queryset.order_by("pk"):
                    try:
                        act(experiment)
                    except DomainError as exc:
                        raise DomainError(
                            gettext("Experiment #%(id)s: %(message)s") % {"id": experiment.pk, "message": exc.message},
                            field=exc.field,
                        ) from exc
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return False
        return True

    @admin.action(description=_("Declare the leading variant the winner"), permissions=["declare"])
    def declare_leading_variant(self, request, queryset):
        def declare(experiment):
            best = experiments.results(experiment).best
            if best is None:
                raise DomainError(gettext("No variant leads yet."), field="variant")
            variant = ContentVariant.objects.get(pk=best.variant)
            experiments.declare_winner(experiment=experiment, variant=variant, by=request.user)

        if self._each(request, queryset, declare):
            count = queryset.count()
            message = ngettext("%(count)d winner declared.", "%(count)d winners declared.", count)
            self.message_user(request, message % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Stop the selected experiments without a winner"), permissions=["change"])
    def stop_experiments(self, request, queryset):
        def stop(experiment):
            experiments.update_experiment(experiment=experiment, by=request.user, status=ExperimentStatus.FINISHED)

        if self._each(request, queryset, stop):
            self.message_user(request, gettext("Stopped."), messages.SUCCESS)


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return permissions.can(request.user, permissions.READ)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class JourneyStepInline(_ReadOnlyInline):
    model = JourneyStep
    fields = ["position", "kind", "config", "is_removed"]
    readonly_fields = fields
    ordering = ["is_removed", "position", "pk"]


@admin.register(Journey)
class JourneyAdmin(MarketingAdminMixin, HistoryAdmin):
    """Read here, built on the journey page or through the API (marketing.journeys checks every definition there);
    marketing's managers activate and pause journeys with the actions below, through the same services."""

    list_display = ["pk", "name", "status", "trigger", "goal", "reentry", "activated_at"]
    list_filter = ["status", "reentry"]
    search_fields = ["name"]
    readonly_fields = [
        "name", "trigger", "audience", "goal", "reentry", "status", "created_by", "created_at", "updated_at",
        "activated_at",
    ]  # fmt: skip
    inlines = [JourneyStepInline]
    actions = ["activate_journeys", "pause_journeys"]

    def has_activate_permission(self, request):
        return permissions.can(request.user, "journey.activate")

    def has_pause_permission(self, request):
        return permissions.can(request.user, "journey.pause")

    def _each(self, request, queryset, act, done: str) -> None:
        """`act(journey)` on every selected journey in one transaction, or on none: the message names the journey
        that blocked it."""
        try:
            with transaction.atomic():
                for journey in queryset.order_by("pk"):
                    try:
                        act(journey=journey, by=request.user)
                    except DomainError as exc:
                        raise DomainError(
                            gettext("Journey “%(name)s”: %(message)s") % {"name": journey.name, "message": exc.message},
                            field=exc.field,
                        ) from exc
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, done, messages.SUCCESS)

    @admin.action(description=_("Activate the selected journeys"), permissions=["activate"])
    def activate_journeys(self, request, queryset):
        self._each(request, queryset, journeys.activate_journey, gettext("Activated."))

    @admin.action(description=_("Pause the selected journeys"), permissions=["pause"])
    def pause_journeys(self, request, queryset):
        self._each(request, queryset, journeys.pause_journey, gettext("Paused."))


class StepRunInline(_ReadOnlyInline):
    model = StepRun
    fields = ["step", "status", "started_at", "finished_at", "note", "task"]
    readonly_fields = fields


@admin.register(Enrolment)
class EnrolmentAdmin(MarketingAdminMixin, admin.ModelAdmin):
    """Read-only: triggers enrol customers and the engine moves them along (marketing.journeys)."""

    list_display = ["pk", "journey", "customer", "status", "next_position", "next_run_at", "entered_at", "ended_at"]
    list_filter = ["status"]
    search_fields = ["=customer__id", "customer__name", "journey__name"]
    list_select_related = ["journey", "customer"]
    readonly_fields = [f.name for f in Enrolment._meta.fields]
    inlines = [StepRunInline]
    show_full_result_count = False


@admin.register(Touchpoint)
class TouchpointAdmin(MarketingAdminMixin, admin.ModelAdmin):
    """Read-only: touchpoints come in through the API and imports, and from Relay's own messages and leads
    (marketing.touchpoints)."""

    list_display = ["pk", "at", "customer", "channel", "campaign", "kind", "external_id"]
    list_filter = ["channel", "kind"]
    search_fields = ["=external_id", "=customer__id", "customer__name"]
    list_select_related = ["customer", "channel", "campaign"]
    raw_id_fields = ["customer", "campaign", "created_by"]
    readonly_fields = ["customer", "channel", "campaign", "kind", "at", "external_id", "created_at", "created_by"]
    date_hierarchy = "at"
    show_full_result_count = False  # no COUNT(*) over every touchpoint on each page
