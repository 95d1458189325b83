"""Pages: thin views that parse input, call one service or selector, and render."""

import re

from django.contrib import messages
from django.db.models import OuterRef, Subquery
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from config import spreadsheet
from config.errors import DomainError
from config.pages import error_status, form_error, staff_required
from config.pagination import keyset_page_for
from customers import forms, imports, permissions, selectors, services
from customers.api.filters import CustomerFilter
from customers.models import (
    Campaign,
    Channel,
    ChannelSpend,
    Customer,
    CustomerIdentity,
    IdentityKind,
    ImportJob,
    MergeRecord,
    Order,
)


def _identity_fields(identities: list[dict]):
    """form_error's field map for the customer form: "identities[2].value" → the field of that identity's kind
    (the form has one field per kind)."""

    def field(path: str) -> str:
        match = re.match(r"identities\[(\d+)\]", path)
        if match and int(match.group(1)) < len(identities):
            return identities[int(match.group(1))]["kind"]
        return path

    return field


# ---------------------------------------------------------------------------------------------------------------
# Customers


@staff_required
def customer_list(request):
    """Filtered customers, keyset-paginated: the last page costs what the first does (no COUNT(*))."""
    filterset = CustomerFilter(request.GET or None, queryset=selectors.live_customers())
    queryset = filterset.qs if filterset.is_bound and filterset.is_valid() else selectors.live_customers()
    page, paging = keyset_page_for(request, queryset)
    context = {
        "filterset": filterset,
        "customers": page.rows,
        "allowed": permissions.allowed_actions(request.user),
        **paging,
    }
    return render(request, "customers/customer_list.html", context)


class _Echo:
    def write(self, value):
        return value


@staff_required
def customer_export(request):
    """The filtered customer list as CSV, streamed (any length, constant memory)."""
    permissions.require(request.user, permissions.EXPORT)
    filterset = CustomerFilter(request.GET or None, queryset=Customer.objects.filter(merged_into__isnull=True))
    queryset = filterset.qs if filterset.is_bound and filterset.is_valid() else filterset.queryset

    def first(kind):
        return Subquery(
            CustomerIdentity.objects.filter(customer_id=OuterRef("pk"), kind=kind).order_by("pk").values("value")[:1]
        )

    rows = (
        queryset.annotate(phone=first(IdentityKind.PHONE), email=first(IdentityKind.EMAIL))
        .order_by("-pk")
        .values_list(
            "pk",
            "name",
            "company",
            "city",
            "phone",
            "email",
            "lifecycle_stage",
            "rfm_segment",
            "rfm_r",
            "rfm_f",
            "rfm_m",
        )
    )
    writer = spreadsheet.writer(_Echo())
    header = ["id", "name", "company", "city", "phone", "email", "lifecycle_stage", "segment", "r", "f", "m"]

    def stream():
        yield "\ufeff"  # spreadsheet apps then read UTF-8 Chinese correctly
        yield writer.writerow(header)
        for row in rows.iterator(chunk_size=2000):
            yield writer.writerow(["" if v is None else v for v in row])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="customers.csv"'
    return response


@staff_required
def customer_create(request):
    permissions.require(request.user, permissions.CREATE)
    form = forms.CustomerForm(request.POST or None)
    status = 422 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        try:
            customer, matched = services.create_customer(
                by=request.user,
                name=form.cleaned_data["name"],
                company=form.cleaned_data["company"],
                city=form.cleaned_data["city"],
                language=form.cleaned_data["language"],
                identities=form.identities(),
            )
        except DomainError as error:
            form_error(form, error, _identity_fields(form.identities()))
            status = error_status(request, error)
        else:
            if matched:
                messages.info(request, _("This person is already a customer; the new details were added."))
            else:
                messages.success(request, _("Customer created."))
            return redirect("customers:customer-detail", pk=customer.pk)
    return render(request, "customers/customer_form.html", {"form": form, "customer": None}, status=status)


@staff_required
def customer_edit(request, pk):
    customer = get_object_or_404(selectors.customer_base(), pk=pk)
    if customer.merged_into_id:
        return redirect("customers:customer-detail", pk=customer.merged_into_id)
    permissions.require(request.user, permissions.CHANGE, customer)
    form = forms.CustomerForm(request.POST or None, initial=forms.CustomerForm.initial_for(customer))
    status = 422 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        # The form edits one identity per kind; others (a second phone, external ids) are kept.
        keep = [
            {"kind": i.kind, "value": i.value}
            for i in customer.identities.all()
            if i.kind not in forms.CustomerForm.IDENTITY_FIELDS or i.kind not in form.initial
        ]
        try:
            services.update_customer(
                customer=customer,
                by=request.user,
                name=form.cleaned_data["name"],
                company=form.cleaned_data["company"],
                city=form.cleaned_data["city"],
                language=form.cleaned_data["language"],
                identities=keep + form.identities(),
            )
        except DomainError as error:
            form_error(form, error, _identity_fields(keep + form.identities()))
            status = error_status(request, error)
        else:
            messages.success(request, _("Customer saved."))
            return redirect("customers:customer-detail", pk=customer.pk)
    return render(request, "customers/customer_form.html", {"form": form, "customer": customer}, status=status)


@staff_required
def customer_detail(request, pk):
    """The customer 360. A tombstone redirects to the customer it was merged into."""
    customer = get_object_or_404(Customer.objects.only("pk", "merged_into_id"), pk=pk)
    if customer.merged_into_id:
        survivor = services.live_customer(customer)
        messages.info(request, _("Customer #%(id)s was merged into this customer.") % {"id": pk})
        return redirect("customers:customer-detail", pk=survivor.pk)
    customer = selectors.customer_detail(pk=pk)
    merges = selectors.merge_records(customer_id=pk)
    context = {
        "customer": customer,
        "timeline": selectors.customer_timeline(customer_id=pk, limit=100, customer=customer, merges=merges),
        "merges": merges,
        "undo_deadlines": {m.pk: services.undo_deadline(m) for m in merges},
        "allowed": permissions.allowed_actions(request.user, customer),
        "merge_form": forms.MergeForm(),
    }
    return render(request, "customers/customer_detail.html", context)


@staff_required
def customer_merge(request, pk):
    """GET: choose the duplicate; POST: merge it into this customer (managers)."""
    permissions.require(request.user, permissions.MERGE)
    survivor = get_object_or_404(Customer, pk=pk)
    form = forms.MergeForm(request.POST or request.GET or None)
    status = 422 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        duplicate = Customer.objects.filter(pk=form.cleaned_data["duplicate"]).first()
        if duplicate is None:
            form.add_error("duplicate", _("No such customer."))
        else:
            try:
                services.merge_customers(survivor=survivor, duplicate=duplicate, by=request.user)
            except DomainError as error:
                form_error(form, error)
                status = error_status(request, error)
            else:
                messages.success(
                    request,
                    _("Customer #%(dup)s merged into #%(id)s. You can undo this for %(days)s days.")
                    % {"dup": duplicate.pk, "id": survivor.pk, "days": services.settings.RELAY_MERGE_UNDO_DAYS},
                )
                back = request.POST.get("next", "")
                if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
                    back = reverse("customers:customer-detail", args=[survivor.pk])
                return redirect(back)
    duplicate = None
    if form.is_bound and form.is_valid():
        duplicate = Customer.objects.filter(pk=form.cleaned_data["duplicate"]).first()
    return render(
        request,
        "customers/customer_merge.html",
        {"survivor": survivor, "duplicate": duplicate, "form": form},
        status=status,
    )


@staff_required
@require_POST
def merge_undo(request, pk):
    permissions.require(request.user, permissions.UNDO_MERGE)
    record = get_object_or_404(MergeRecord, pk=pk)
    try:
        services.undo_merge(record=record, by=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("customers:customer-detail", pk=record.survivor_id)
    messages.success(request, _("Merge undone: customer #%(id)s is separate again.") % {"id": record.duplicate_id})
    return redirect("customers:customer-detail", pk=record.duplicate_id)


@staff_required
def data_quality(request):
    context = {
        "report": selectors.data_quality(limit=50),
        "allowed": permissions.allowed_actions(request.user),
    }
    return render(request, "customers/data_quality.html", context)


# ---------------------------------------------------------------------------------------------------------------
# Imports


@staff_required
def import_list(request):
    permissions.require(request.user, permissions.IMPORT)
    form = forms.ImportForm(request.POST or None, request.FILES or None)
    status = 422 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        try:
            job = imports.start_import(
                by=request.user, kind=form.cleaned_data["kind"], upload=form.cleaned_data["file"], dry_run=True
            )
        except DomainError as error:
            form_error(form, error)
            status = error_status(request, error)
        else:
            return redirect("customers:import-detail", pk=job.pk)
    page, paging = keyset_page_for(request, selectors.import_jobs(), size=20)
    return render(request, "customers/import_list.html", {"form": form, "jobs": page, **paging}, status=status)


@staff_required
@vary_on_headers("HX-Request")
def import_detail(request, pk):
    """The job page; htmx polls the progress partial until the job is done."""
    permissions.require(request.user, permissions.IMPORT)
    job = get_object_or_404(ImportJob.objects.select_related("created_by", "source_job"), pk=pk)
    context = {
        "job": job,
        "errors": list(job.row_errors.order_by("row_number", "pk")[:100]),
        "run": job.runs.first() if job.is_dry_run else None,
    }
    template = "customers/_import_progress.html" if request.htmx else "customers/import_detail.html"
    return render(request, template, context)


@staff_required
@require_POST
def import_run(request, pk):
    job = get_object_or_404(ImportJob, pk=pk)
    try:
        run = imports.confirm_import(job=job, by=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("customers:import-detail", pk=pk)
    return redirect("customers:import-detail", pk=run.pk)


@staff_required
def import_errors(request, pk):
    permissions.require(request.user, permissions.IMPORT)
    job = get_object_or_404(ImportJob, pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    response.write("\ufeff")
    imports.write_error_report(job, response)
    return response


# ---------------------------------------------------------------------------------------------------------------
# Orders, channels, campaigns, spend: simple lists and forms over the same services as the API


def _simple_list(request, *, title, rows, columns, create_url, can_create, paging, edit_name=None):
    """`paging`: keyset_page_for's context (the list is keyset-paged like every list)."""
    return render(
        request,
        "customers/simple_list.html",
        {
            "title": title,
            "rows": rows,
            "columns": columns,
            "create_url": create_url if can_create else "",
            "edit_name": edit_name if can_create else None,
            **paging,
        },
    )


@staff_required
def order_list(request):
    queryset = Order.objects.select_related("channel", "customer")
    customer = request.GET.get("customer")
    if customer and customer.isdigit():
        queryset = queryset.filter(customer_id=int(customer))
    page, paging = keyset_page_for(request, queryset)
    rows = [
        (
            o.pk,
            [
                f"#{o.pk}",
                o.customer.name,
                o.amount,
                o.ordered_at,
                o.channel.name if o.channel else "",
                o.external_id,
            ],
            reverse("customers:customer-detail", args=[o.customer_id]),
        )
        for o in page.rows
    ]
    return _simple_list(
        request,
        title=_("Orders"),
        rows=rows,
        columns=[_("Order"), _("Customer"), _("Amount"), _("Ordered at"), _("Channel"), _("External id")],
        create_url=reverse("customers:order-create"),
        can_create=permissions.can(request.user, permissions.ORDER_WRITE),
        edit_name="customers:order-edit",
        paging=paging,
    )


def _order_form_view(request, order=None):
    permissions.require(request.user, permissions.ORDER_WRITE)
    initial = {}
    if order is not None:
        initial = {
            "customer": order.customer_id,
            "amount": order.amount,
            "ordered_at": order.ordered_at,
            "channel": order.channel.code if order.channel else None,
            "external_id": order.external_id,
        }
    elif request.GET.get("customer"):
        initial = {"customer": request.GET["customer"]}
    form = forms.OrderForm(request.POST or None, initial=initial)
    status = 422 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        customer = Customer.objects.filter(pk=data.pop("customer")).first()
        if customer is None:
            form.add_error("customer", _("No such customer."))
        else:
            try:
                if order is None:
                    order, created = services.upsert_order(by=request.user, customer=customer, **data)
                    if not created:
                        messages.info(request, _("This order was already recorded."))
                else:
                    order = services.update_order(order=order, by=request.user, customer=customer, **data)
            except DomainError as error:
                form_error(form, error)
                status = error_status(request, error)
            else:
                return redirect("customers:customer-detail", pk=order.customer_id)
    return render(request, "customers/simple_form.html", {"form": form, "title": _("Order")}, status=status)


@staff_required
def order_create(request):
    return _order_form_view(request)


@staff_required
def order_edit(request, pk):
    return _order_form_view(request, get_object_or_404(Order.objects.select_related("channel"), pk=pk))


@staff_required
def channel_list(request):
    page, paging = keyset_page_for(request, Channel.objects.all(), order="name")
    rows = [(c.pk, [c.code, c.name, _("yes") if c.is_active else _("no")], "") for c in page]
    return _simple_list(
        request,
        title=_("Channels"),
        rows=rows,
        columns=[_("Code"), _("Name"), _("Active")],
        create_url=reverse("customers:channel-create"),
        can_create=permissions.can(request.user, permissions.MARKETING_WRITE),
        edit_name="customers:channel-edit",
        paging=paging,
    )


def _model_form_view(request, *, form_class, service, instance_kwarg, instance, title, back):
    permissions.require(request.user, permissions.MARKETING_WRITE)
    form = form_class(request.POST or None, instance=instance)
    status = 422 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        try:
            service(by=request.user, **{instance_kwarg: instance}, **form.cleaned_data)
        except DomainError as error:
            form_error(form, error)
            status = error_status(request, error)
        else:
            messages.success(request, _("Saved."))
            return redirect(back)
    return render(request, "customers/simple_form.html", {"form": form, "title": title}, status=status)


@staff_required
def channel_form(request, pk=None):
    instance = get_object_or_404(Channel, pk=pk) if pk else None
    return _model_form_view(
        request,
        form_class=forms.ChannelForm,
        service=services.save_channel,
        instance_kwarg="channel",
        instance=instance,
        title=_("Channel"),
        back="customers:channel-list",
    )


@staff_required
def campaign_list(request):
    # The latest start first, campaigns without a start date last.
    page, paging = keyset_page_for(request, Campaign.objects.select_related("channel"), order="-starts_on")
    rows = [(c.pk, [c.name, c.channel.name, c.starts_on or "", c.ends_on or "", c.budget or ""], "") for c in page]
    return _simple_list(
        request,
        title=_("Campaigns"),
        rows=rows,
        columns=[_("Name"), _("Channel"), _("Starts on"), _("Ends on"), _("Budget")],
        create_url=reverse("customers:campaign-create"),
        can_create=permissions.can(request.user, permissions.MARKETING_WRITE),
        edit_name="customers:campaign-edit",
        paging=paging,
    )


@staff_required
def campaign_form(request, pk=None):
    instance = get_object_or_404(Campaign, pk=pk) if pk else None
    return _model_form_view(
        request,
        form_class=forms.CampaignForm,
        service=services.save_campaign,
        instance_kwarg="campaign",
        instance=instance,
        title=_("Campaign"),
        back="customers:campaign-list",
    )


@staff_required
def spend_list(request):
    page, paging = keyset_page_for(request, ChannelSpend.objects.select_related("channel"), order="-month")
    rows = [(s.pk, [s.channel.name, s.month.strftime("%Y-%m"), s.amount], "") for s in page]
    return _simple_list(
        request,
        title=_("Channel spend"),
        rows=rows,
        columns=[_("Channel"), _("Month"), _("Amount")],
        create_url=reverse("customers:spend-create"),
        can_create=permissions.can(request.user, permissions.MARKETING_WRITE),
        edit_name="customers:spend-edit",
        paging=paging,
    )


@staff_required
def spend_form(request, pk=None):
    permissions.require(request.user, permissions.MARKETING_WRITE)
    spend = get_object_or_404(ChannelSpend.objects.select_related("channel"), pk=pk) if pk else None
    initial = {}
    if spend:
        initial = {"channel": spend.channel.code, "month": spend.month.strftime("%Y-%m"), "amount": spend.amount}
    form = forms.ChannelSpendForm(request.POST or None, initial=initial)
    status = 422 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        try:
            services.save_channel_spend(by=request.user, spend=spend, **form.cleaned_data)
        except DomainError as error:
            form_error(form, error)
            status = error_status(request, error)
        else:
            messages.success(request, _("Saved."))
            return redirect("customers:spend-list")
    return render(request, "customers/simple_form.html", {"form": form, "title": _("Channel spend")}, status=status)
