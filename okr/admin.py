"""OKR admin: every write goes through okr.services; who may write is okr.permissions, as on pages and API."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from config.audit_web import HistoryAdmin
from config.errors import DomainError
from okr import metrics, permissions, services
from okr.models import CheckIn, KeyResult, MetricSnapshot, Objective


def _as_validation_error(error: DomainError) -> ValidationError:
    return ValidationError({error.field: error.message} if error.field else error.message)


class ObjectiveAdminForm(forms.ModelForm):
    class Meta:
        model = Objective
        fields = ["department", "quarter", "owner", "title"]

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                services._clean_objective(**{f: cleaned.get(f) for f in self.Meta.fields})
            except DomainError as error:
                raise _as_validation_error(error) from None
        return cleaned


class KeyResultAdminForm(forms.ModelForm):
    metric = forms.ChoiceField(required=False, choices=[("", "—"), *metrics.metric_choices()])

    class Meta:
        model = KeyResult
        fields = ["objective", "title", "metric", "metric_filters", "baseline", "target", "direction", "manual_value"]

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                services._clean_key_result({f: cleaned.get(f) for f in services.KEY_RESULT_FIELDS})
            except DomainError as error:
                raise _as_validation_error(error) from None
        return cleaned


class OkrPermissionsMixin:
    """Everyone in a department reads; a department's manager (or an admin) writes its own department's OKRs."""

    action_suffix = ""

    def has_module_permission(self, request):
        return permissions.can(request.user, "view")

    def has_view_permission(self, request, obj=None):
        return permissions.can(request.user, "view", obj)

    def has_add_permission(self, request, obj=None):
        return permissions.can(request.user, f"add_{self.action_suffix}")

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, f"change_{self.action_suffix}", obj)

    def has_delete_permission(self, request, obj=None):
        return permissions.can(request.user, f"delete_{self.action_suffix}", obj)


@admin.register(Objective)
class ObjectiveAdmin(OkrPermissionsMixin, HistoryAdmin):
    action_suffix = "objective"
    form = ObjectiveAdminForm
    list_display = ["title", "department", "quarter", "owner"]
    list_filter = ["department", "quarter"]
    search_fields = ["title"]
    raw_id_fields = ["owner"]
    list_select_related = ["owner"]
    actions = None

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in ObjectiveAdminForm.Meta.fields}
        if change:
            saved = services.update_objective(objective=obj, by=request.user, **data)
        else:
            saved = services.create_objective(by=request.user, **data)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        services.delete_objective(objective=obj, by=request.user)


@admin.register(KeyResult)
class KeyResultAdmin(OkrPermissionsMixin, HistoryAdmin):
    action_suffix = "key_result"
    form = KeyResultAdminForm
    list_display = ["title", "objective", "metric", "baseline", "target", "direction"]
    list_filter = ["direction", "metric", "objective__department", "objective__quarter"]
    search_fields = ["title"]
    raw_id_fields = ["objective"]
    list_select_related = ["objective"]
    actions = None

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data.get(f) for f in services.KEY_RESULT_FIELDS}
        if change:
            saved = services.update_key_result(
                key_result=obj, by=request.user, objective=form.cleaned_data["objective"], **data
            )
        else:
            saved = services.create_key_result(objective=form.cleaned_data["objective"], by=request.user, **data)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        services.delete_key_result(key_result=obj, by=request.user)


@admin.register(CheckIn)
class CheckInAdmin(OkrPermissionsMixin, admin.ModelAdmin):
    action_suffix = "check_in"
    list_display = ["key_result", "by", "at", "confidence"]
    raw_id_fields = ["key_result", "by"]
    list_select_related = ["key_result__objective", "by"]
    readonly_fields = ["key_result", "by", "at", "value"]
    fields = ["key_result", "by", "at", "confidence", "value", "comment"]
    actions = None

    def has_add_permission(self, request, obj=None):
        return False  # check-ins are made on the board or through the API

    def save_model(self, request, obj, form, change):
        services.update_check_in(check_in=obj, by=request.user, **form.cleaned_data)

    def delete_model(self, request, obj):
        services.delete_check_in(check_in=obj, by=request.user)


@admin.register(MetricSnapshot)
class MetricSnapshotAdmin(admin.ModelAdmin):
    list_display = ["key_result", "date", "value"]
    raw_id_fields = ["key_result"]
    list_select_related = ["key_result"]
    date_hierarchy = "date"

    def has_module_permission(self, request):
        return permissions.can(request.user, "view")

    def has_view_permission(self, request, obj=None):
        return permissions.can(request.user, "view")

    def has_add_permission(self, request):
        return False  # written by the snapshot task only

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
