"""Pages: thin views that parse input, call one service or selector, and render."""

import re

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from config import lists, spreadsheet
from config.errors import DomainError
from config.money import format_money, format_number
from config.pages import error_status, form_error, staff_required
from config.pagination import keyset_page_for
from customers import forms, imports, loyalty, merging, permissions, products, selectors, services
from customers.api.filters import CampaignFilter, ChannelSpendFilter, CustomerFilter, OrderFilter, ProductFilter
from customers.models import (
    AccountTeamMember,
    Campaign,
    Channel,
    ChannelSpend,
    Customer,
    CustomerIdentity,
    IdentityKind,
    ImportJob,
    MergeRecord,
    Order,
    Product,
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


CUSTOMER_COLUMNS = [
    lists.Column(gettext_lazy("Name"), "name"),
    lists.Column(gettext_lazy("Company"), "company"),
    lists.Column(gettext_lazy("City"), "city"),
    lists.Column(gettext_lazy("Contact")),
    lists.Column(gettext_lazy("Lifecycle stage")),
    lists.Column(gettext_lazy("RFM segment")),
    lists.Column(gettext_lazy("Created"), "created", descending=True),
]
CUSTOMER_LIST_ORDER = "-id"  # newest first


def _filtered(request, filterset_class, base, **kwargs):
    """The list's FilterSet over `base`, and its rows: filtered when every filter is valid (the form shows the
    errors otherwise, over the whole list)."""
    filterset = filterset_class(request.GET or None, queryset=base, **kwargs)
    return filterset, (filterset.qs if filterset.is_bound and filterset.is_valid() else base)


@staff_required
def customer_list(request):
    """Filtered customers in the chosen order, keyset-paginated: the last page costs what the first does (no
    COUNT(*))."""
    filterset, queryset = _filtered(request, CustomerFilter, selectors.live_customers())
    queryset, sorting = lists.sorted_rows(request, CustomerFilter, queryset, default=CUSTOMER_LIST_ORDER)
    page, paging = keyset_page_for(request, queryset, order=sorting.order)
    allowed = permissions.allowed_actions(request.user)
    context = {
        "filterset": filterset,
        "customers": page.rows,
        "allowed": allowed,
        **paging,
        **lists.list_context(
            request,
            key="customers",
            sorting=sorting,
            columns=CUSTOMER_COLUMNS,
            export_url=reverse("customers:customer-export") if "export" in allowed else "",
        ),
    }
    return render(request, "customers/customer_list.html", context)


CUSTOMER_EXPORT_HEADER = [
    "id",
    "name",
    "company",
    "city",
    "phone",
    "email",
    "lifecycle_stage",
    "segment",
    "r",
    "f",
    "m",
]


@staff_required
def customer_export(request):
    """The customer list as CSV with the page's filters and sort, streamed (any length, constant memory, one
    query)."""
    permissions.require(request.user, permissions.EXPORT)
    _filterset, queryset = _filtered(request, CustomerFilter, Customer.objects.filter(merged_into__isnull=True))
    queryset, sorting = lists.sorted_rows(request, CustomerFilter, queryset, default=CUSTOMER_LIST_ORDER)

    def first(kind):
        return Subquery(
            CustomerIdentity.objects.filter(customer_id=OuterRef("pk"), kind=kind).order_by("pk").values("value")[:1]
        )

    rows = lists.in_order(
        queryset.annotate(phone=first(IdentityKind.PHONE), email=first(IdentityKind.EMAIL)), sorting
    ).values_list(
        "pk", "name", "company", "city", "phone", "email", "lifecycle_stage", "rfm_segment", "rfm_r", "rfm_f", "rfm_m"
    )
    return spreadsheet.streaming_response(
        header=CUSTOMER_EXPORT_HEADER, rows=rows.iterator(chunk_size=2000), filename="customers.csv"
    )


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


def _detail_context(request, pk: int, *, team_form=None, points_form=None) -> dict:
    customer = selectors.customer_detail(pk=pk)
    merges = selectors.merge_records(customer_id=pk)
    return {
        "customer": customer,
        "timeline": selectors.customer_timeline(customer_id=pk, limit=100, customer=customer, merges=merges),
        "merges": merges,
        "undo_deadlines": {m.pk: services.undo_deadline(m) for m in merges},
        "allowed": permissions.allowed_actions(request.user, customer),
        "merge_form": forms.MergeForm(),
        **_team_context(request, customer, customer.team, team_form),
        **_loyalty_context(request, customer, points_form),
    }


def _team_context(request, customer, team, team_form=None) -> dict:
    """The account team partial: its members, which of them this user may remove, and the add form."""
    return {
        "team_customer": customer,
        "team": team,
        "team_removable": {m.pk for m in team if permissions.can(request.user, permissions.TEAM, m)},
        "may_add_team": permissions.can(request.user, permissions.TEAM) and not customer.merged_into_id,
        "team_form": team_form or forms.TeamMemberForm(),
    }


@staff_required
def customer_detail(request, pk):
    """The customer 360. A tombstone redirects to the customer it was merged into."""
    customer = get_object_or_404(Customer.objects.only("pk", "merged_into_id"), pk=pk)
    if customer.merged_into_id:
        survivor = services.live_customer(customer)
        messages.info(request, _("Customer #%(id)s was merged into this customer.") % {"id": pk})
        return redirect("customers:customer-detail", pk=survivor.pk)
    return render(request, "customers/customer_detail.html", _detail_context(request, pk))


def _render_team(request, customer: Customer, *, status: int = 200, team_form=None):
    """After a team change: the team partial for htmx, else the customer page (a refusal re-rendered in place)."""
    if request.htmx:
        team = selectors.account_team(customer.pk)
        context = _team_context(request, customer, team, team_form)
        response = render(request, "customers/_account_team.html", context, status=status)
    elif status == 200:
        return redirect(reverse("customers:customer-detail", args=[customer.pk]) + "#account-team")
    else:
        context = _detail_context(request, customer.pk, team_form=team_form)
        response = render(request, "customers/customer_detail.html", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_required
@require_POST
def team_add(request, pk):
    """Put a person on the customer's account team (customers.permissions TEAM)."""
    customer = get_object_or_404(Customer.objects.only("pk", "name", "merged_into_id"), pk=pk)
    permissions.require(request.user, permissions.TEAM)
    form = forms.TeamMemberForm(request.POST)
    if not form.is_valid():
        return _render_team(request, customer, status=422, team_form=form)
    user = get_user_model().objects.filter(pk=form.cleaned_data["user"]).first()
    try:
        services.add_team_member(customer=customer, user=user, role=form.cleaned_data["role"], by=request.user)
    except DomainError as error:
        form_error(form, error)
        return _render_team(request, customer, status=error_status(request, error), team_form=form)
    return _render_team(request, customer)


@staff_required
@require_POST
def team_remove(request, pk, member_pk):
    """Take a member off the customer's account team (customers.permissions TEAM)."""
    customer = get_object_or_404(Customer.objects.only("pk", "name", "merged_into_id"), pk=pk)
    member = get_object_or_404(AccountTeamMember, pk=member_pk, customer=customer)
    try:
        services.remove_team_member(member=member, by=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return _render_team(request, customer, status=error_status(request, error))
    return _render_team(request, customer)


def _loyalty_context(request, customer, points_form=None) -> dict:
    """The loyalty partial: the form, for those who may change points of a live customer."""
    kinds = loyalty.kinds_allowed(request.user)
    return {
        "may_change_points": bool(kinds) and not customer.merged_into_id,
        "points_form": points_form or forms.PointsForm(kinds=kinds),
    }


def _render_loyalty(request, customer: Customer, *, status: int = 200, points_form=None):
    """After a points change: the loyalty partial for htmx, else the customer page (a refusal re-rendered in
    place)."""
    if request.htmx:
        customer = Customer.objects.get(pk=customer.pk)
        selectors.attach_loyalty(customer)
        context = {"customer": customer, **_loyalty_context(request, customer, points_form)}
        response = render(request, "customers/_loyalty.html", context, status=status)
    elif status == 200:
        return redirect(reverse("customers:customer-detail", args=[customer.pk]) + "#loyalty")
    else:
        context = _detail_context(request, customer.pk, points_form=points_form)
        response = render(request, "customers/customer_detail.html", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


POINTS_COLUMNS = [
    gettext_lazy("At"),
    pgettext_lazy("points ledger", "Change"),
    gettext_lazy("Points"),
    gettext_lazy("Reason"),
    gettext_lazy("Order"),
    gettext_lazy("By"),
]


@staff_required
def customer_points(request, pk):
    """GET: the customer's whole points ledger, newest first, keyset-paged. POST: a redemption or an adjustment
    (customers.loyalty: redeem for staff, adjust with a reason for managers)."""
    customer = get_object_or_404(Customer.objects.only("pk", "name", "merged_into_id", "points_balance"), pk=pk)
    if request.method == "POST":
        form = forms.PointsForm(request.POST, kinds=loyalty.kinds_allowed(request.user))
        if not form.is_valid():
            return _render_loyalty(request, customer, status=422, points_form=form)
        try:
            loyalty.change_points(customer=customer, by=request.user, **form.cleaned_data)
        except DomainError as error:
            form_error(form, error)
            return _render_loyalty(request, customer, status=error_status(request, error), points_form=form)
        return _render_loyalty(request, customer)
    page, paging = keyset_page_for(request, selectors.points_ledger(pk), order="-at")
    rows = [
        (
            entry.pk,
            [
                entry.at,
                entry.get_kind_display(),
                f"{entry.points:+d}",
                entry.reason,
                f"#{entry.order_id}" if entry.order_id else "",
                entry.created_by.get_username() if entry.created_by else "",
            ],
            "",
        )
        for entry in page.rows
    ]
    return _simple_list(
        request,
        title=_("Points of %(name)s: %(balance)s")
        % {"name": customer.name, "balance": format_number(customer.points_balance)},
        rows=rows,
        columns=POINTS_COLUMNS,
        create_url="",
        can_create=False,
        paging=paging,
    )


def _merge_next(request) -> str:
    """Where to go after the merge: a `next` on this site (the data quality page), else ""."""
    back = request.POST.get("next") or request.GET.get("next") or ""
    return back if url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()) else ""


@staff_required
def customer_merge(request, pk):
    """Merge a duplicate into this customer (managers), in three steps that GET never skips:

    1. GET: choose the duplicate (a picker).
    2. GET ?duplicate= (or a POST without `confirm`, as from the data quality page): both customers side by side,
       what moves and what collides, and per profile field a choice of whose value survives.
    3. POST with `confirm` from that preview: merge with the chosen values, in one transaction.
    """
    permissions.require(request.user, permissions.MERGE)
    survivor = get_object_or_404(Customer, pk=pk)
    data = request.POST if request.method == "POST" else request.GET
    pick = forms.MergeForm(data if "duplicate" in data else None)
    context = {"survivor": survivor, "form": pick, "next": _merge_next(request)}
    if not pick.is_valid():
        return render(request, "customers/customer_merge.html", context, status=422 if pick.is_bound else 200)
    duplicate = Customer.objects.filter(pk=pick.cleaned_data["duplicate"]).first()
    if duplicate is None:
        pick.add_error("duplicate", _("No such customer."))
        return render(request, "customers/customer_merge.html", context, status=422)
    try:
        services.refuse_merge(survivor, duplicate)
    except DomainError as error:
        form_error(pick, error)
        return render(request, "customers/customer_merge.html", context, status=error_status(request, error))
    preview = selectors.merge_preview(survivor_id=survivor.pk, duplicate_id=duplicate.pk)
    confirmed = request.method == "POST" and "confirm" in request.POST
    choices = forms.MergeChoicesForm(
        request.POST if confirmed else None,
        initial=merging.default_choices(preview.survivor, preview.duplicate),
    )
    status = 200
    if confirmed:
        status = 422
        if choices.is_valid():
            try:
                services.merge_customers(survivor=survivor, duplicate=duplicate, by=request.user, keep=choices.keep())
            except DomainError as error:
                form_error(choices, error)
                status = error_status(request, error)
            else:
                messages.success(
                    request,
                    _("Customer #%(dup)s merged into #%(id)s. You can undo this for %(days)s days.")
                    % {"dup": duplicate.pk, "id": survivor.pk, "days": services.settings.RELAY_MERGE_UNDO_DAYS},
                )
                return redirect(context["next"] or reverse("customers:customer-detail", args=[survivor.pk]))
    context.update(preview=preview, choices=choices, rows=_merge_rows(preview, choices))
    return render(request, "customers/customer_merge.html", context, status=status)


def _merge_rows(preview, choices) -> list[dict]:
    """The preview's side-by-side rows of the chosen fields: both values, the current choice, its errors."""
    survivor, duplicate = preview.survivor, preview.duplicate
    shown = {
        "language": (
            survivor.get_language_display() if survivor.language else "",
            duplicate.get_language_display() if duplicate.language else "",
        ),
    }
    rows = []
    for field in merging.CHOICE_FIELDS:
        bound = choices[field]
        survivor_value, duplicate_value = shown.get(field, (getattr(survivor, field), getattr(duplicate, field)))
        rows.append(
            {
                "field": field,
                "label": bound.label,
                "survivor": survivor_value,
                "duplicate": duplicate_value,
                "choice": bound.value(),
                "errors": bound.errors,
            }
        )
    return rows


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


def _simple_list(
    request,
    *,
    title,
    rows,
    columns,
    create_url,
    can_create,
    paging,
    edit_name=None,
    tools=None,
    filters=None,
    detail_name=None,
):
    """`paging`: keyset_page_for's context (the list is keyset-paged like every list). `tools`: config.lists'
    list_context (sortable headers, saved views, export), `filters`: the bound fields of the list's filter form to
    show; without them the headers are the plain `columns`. `detail_name`: the URL name of a row's page, linked
    from its first cell."""
    return render(
        request,
        "customers/simple_list.html",
        {
            "title": title,
            "rows": rows,
            "columns": columns,
            "create_url": create_url if can_create else "",
            "edit_name": edit_name if can_create else None,
            "detail_name": detail_name,
            "filter_fields": filters or [],
            **paging,
            **(tools or {}),
        },
    )


ORDER_COLUMNS = [
    lists.Column(gettext_lazy("Order"), "id", descending=True),
    lists.Column(gettext_lazy("Customer")),
    lists.Column(gettext_lazy("Amount"), "amount", descending=True),
    lists.Column(gettext_lazy("Ordered at"), "ordered", descending=True),
    lists.Column(gettext_lazy("Channel")),
    lists.Column(gettext_lazy("External id")),
    lists.Column(gettext_lazy("Status")),
]
ORDER_LIST_ORDER = "-id"


def _orders(request):
    filterset, queryset = _filtered(request, OrderFilter, Order.objects.select_related("channel", "customer"))
    queryset, sorting = lists.sorted_rows(request, OrderFilter, queryset, default=ORDER_LIST_ORDER)
    return filterset, queryset, sorting


@staff_required
def order_list(request):
    """Orders, filtered (a customer's, a channel's, by external id, with a product, cancelled or not) and sorted,
    keyset-paginated; each links to its page."""
    filterset, queryset, sorting = _orders(request)
    page, paging = keyset_page_for(request, queryset, order=sorting.order)
    rows = [
        (
            o.pk,
            [
                f"#{o.pk}",
                o.customer.name,
                format_money(o.amount),
                o.ordered_at,
                o.channel.name if o.channel else "",
                o.external_id,
                pgettext("order status", "Cancelled") if o.cancelled_at else "",
            ],
            reverse("customers:customer-detail", args=[o.customer_id]),
        )
        for o in page.rows
    ]
    tools = lists.list_context(
        request, key="orders", sorting=sorting, columns=ORDER_COLUMNS, export_url=reverse("customers:order-export")
    )
    return _simple_list(
        request,
        title=_("Orders"),
        rows=rows,
        columns=[column.label for column in ORDER_COLUMNS],
        create_url=reverse("customers:order-create"),
        can_create=permissions.can(request.user, permissions.ORDER_WRITE),
        edit_name="customers:order-edit",
        detail_name="customers:order-detail",
        paging=paging,
        tools=tools,
        filters=[filterset.form[name] for name in ("customer", "channel", "external_id", "product", "cancelled")],
    )


@staff_required
def order_export(request):
    """The order list as CSV with the page's filters and sort, streamed (one query)."""
    _filterset, queryset, sorting = _orders(request)
    rows = selectors.order_export_rows(lists.in_order(queryset, sorting))
    return spreadsheet.streaming_response(header=selectors.ORDER_EXPORT_HEADER, rows=rows, filename="orders.csv")


_LINE_FIELD = re.compile(r"lines\[(\d+)\]\.(\w+)")


def _order_error(form, formset, error: DomainError) -> None:
    """A service refusal on the order form: `lines[<i>].<key>` on the i-th filled line row (blank rows are no
    lines), anything else on the order's own fields."""
    match = _LINE_FIELD.fullmatch(error.field or "")
    filled = [f for f in formset.forms if f.line() is not None] if formset.is_bound else []
    if match and int(match.group(1)) < len(filled):
        row, name = filled[int(match.group(1))], match.group(2)
        row.add_error(name if name in row.fields else None, error.message)
    else:
        form_error(form, error)


def _order_lines_initial(order: Order | None) -> list[dict]:
    if order is None:
        return []
    return [
        {"product": line.product.sku, "quantity": line.quantity, "unit_price": line.unit_price}
        for line in order.lines.select_related("product").order_by("pk")
    ]


def _order_form_view(request, order=None):
    """Create or change an order with its lines (a formset of SKU, quantity and unit price rows). A POST without
    the lines' management form (a script, an older page) is an order without lines."""
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
    posted = request.method == "POST"
    form = forms.OrderForm(request.POST or None, initial=initial)
    with_lines = posted and "lines-TOTAL_FORMS" in request.POST
    formset = forms.OrderLineFormSet(
        request.POST if with_lines else None, initial=_order_lines_initial(order), prefix="lines"
    )
    status = 422 if posted else 200
    if posted and form.is_valid() and (not with_lines or formset.is_valid()):
        data = dict(form.cleaned_data)
        customer = Customer.objects.filter(pk=data.pop("customer")).first()
        lines = formset.lines() if with_lines else []
        if customer is None:
            form.add_error("customer", _("No such customer."))
        else:
            try:
                if order is None:
                    placed = services.place_order(by=request.user, customer=customer, lines=lines, **data)
                    order = placed.order
                    if not placed.created:
                        messages.info(request, _("This order was already recorded."))
                else:
                    if with_lines:  # without the lines' form the order's lines stay as they are
                        data["lines"] = lines
                    if lines and "amount" not in form.changed_data:
                        data.pop("amount")  # the lines make the amount
                    order = services.update_order(order=order, by=request.user, customer=customer, **data)
            except DomainError as error:
                _order_error(form, formset, error)
                status = error_status(request, error)
            else:
                messages.success(request, _("Order saved."))
                return redirect("customers:order-detail", pk=order.pk)
    context = {"form": form, "formset": formset, "order": order, "title": _("Order")}
    return render(request, "customers/order_form.html", context, status=status)


@staff_required
def order_create(request):
    return _order_form_view(request)


@staff_required
def order_edit(request, pk):
    return _order_form_view(request, get_object_or_404(Order.objects.select_related("channel"), pk=pk))


@staff_required
def order_detail(request, pk):
    """One order: its customer, amount, lines, and whether (and why) it was cancelled."""
    try:
        order = selectors.order_detail(pk=pk)
    except Order.DoesNotExist:
        raise Http404 from None
    context = {"order": order, "allowed": permissions.allowed_actions(request.user)}
    return render(request, "customers/order_detail.html", context)


@staff_required
def order_cancel(request, pk):
    """Cancel an order (customers.permissions ORDER_WRITE): GET asks for the reason and says what follows, POST
    cancels. A cancelled order goes back to its page."""
    permissions.require(request.user, permissions.ORDER_WRITE)
    order = get_object_or_404(Order.objects.select_related("customer"), pk=pk)
    if order.cancelled_at:
        messages.info(request, _("This order was already cancelled."))
        return redirect("customers:order-detail", pk=order.pk)
    form = forms.CancelOrderForm(request.POST or None)
    status = 422 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        try:
            services.cancel_order(order=order, by=request.user, reason=form.cleaned_data["reason"])
        except DomainError as error:
            form_error(form, error)
            status = error_status(request, error)
        else:
            messages.success(request, _("Order #%(id)s cancelled.") % {"id": order.pk})
            return redirect("customers:order-detail", pk=order.pk)
    return render(request, "customers/order_cancel.html", {"order": order, "form": form}, status=status)


# ---------------------------------------------------------------------------------------------------------------
# Products


PRODUCT_COLUMNS = [
    lists.Column(gettext_lazy("SKU"), "sku"),
    lists.Column(gettext_lazy("Name"), "name"),
    lists.Column(gettext_lazy("Category"), "category"),
    lists.Column(gettext_lazy("Price"), "price", descending=True),
    lists.Column(gettext_lazy("Active")),
]
PRODUCT_LIST_ORDER = "category"


@staff_required
def product_list(request):
    """The catalogue, filtered (search, category, active) and sorted, keyset-paginated."""
    filterset, queryset = _filtered(request, ProductFilter, Product.objects.all())
    queryset, sorting = lists.sorted_rows(request, ProductFilter, queryset, default=PRODUCT_LIST_ORDER)
    page, paging = keyset_page_for(request, queryset, order=sorting.order)
    rows = [
        (
            p.pk,
            [p.sku, p.name, p.category, format_money(p.price), _("yes") if p.is_active else _("no")],
            reverse("customers:product-detail", args=[p.pk]),
        )
        for p in page.rows
    ]
    tools = lists.list_context(request, key="products", sorting=sorting, columns=PRODUCT_COLUMNS)
    return _simple_list(
        request,
        title=_("Products"),
        rows=rows,
        columns=[column.label for column in PRODUCT_COLUMNS],
        create_url=reverse("customers:product-create"),
        can_create=permissions.can(request.user, permissions.PRODUCT_WRITE),
        edit_name="customers:product-edit",
        detail_name="customers:product-detail",
        paging=paging,
        tools=tools,
        filters=[filterset.form[name] for name in ("q", "category", "is_active")],
    )


@staff_required
def product_detail(request, pk):
    """A product and what it sold (orders not cancelled), with its latest order lines."""
    try:
        product = selectors.product_detail(pk=pk)
    except Product.DoesNotExist:
        raise Http404 from None
    context = {"product": product, "allowed": permissions.allowed_actions(request.user)}
    return render(request, "customers/product_detail.html", context)


@staff_required
def product_form(request, pk=None):
    permissions.require(request.user, permissions.PRODUCT_WRITE)
    instance = get_object_or_404(Product, pk=pk) if pk else None
    form = forms.ProductForm(request.POST or None, instance=instance)
    status = 422 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        try:
            product = products.save_product(by=request.user, product=instance, **form.cleaned_data)
        except DomainError as error:
            form_error(form, error)
            status = error_status(request, error)
        else:
            messages.success(request, _("Saved."))
            return redirect("customers:product-detail", pk=product.pk)
    return render(request, "customers/product_form.html", {"form": form, "product": instance}, status=status)


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


def _money_or_blank(amount) -> str:
    return "" if amount is None else format_money(amount)


CAMPAIGN_COLUMNS = [
    lists.Column(gettext_lazy("Name"), "name"),
    lists.Column(gettext_lazy("Channel")),
    lists.Column(gettext_lazy("Starts on"), "starts", descending=True),
    lists.Column(gettext_lazy("Ends on"), "ends", descending=True),
    lists.Column(gettext_lazy("Budget"), "budget", descending=True),
]
CAMPAIGN_LIST_ORDER = "-starts"  # the latest start first, campaigns without a start date last


def _campaigns(request):
    filterset, queryset = _filtered(request, CampaignFilter, Campaign.objects.select_related("channel"))
    queryset, sorting = lists.sorted_rows(request, CampaignFilter, queryset, default=CAMPAIGN_LIST_ORDER)
    return filterset, queryset, sorting


@staff_required
def campaign_list(request):
    filterset, queryset, sorting = _campaigns(request)
    page, paging = keyset_page_for(request, queryset, order=sorting.order)
    rows = [
        (c.pk, [c.name, c.channel.name, c.starts_on or "", c.ends_on or "", _money_or_blank(c.budget)], "")
        for c in page
    ]
    tools = lists.list_context(
        request,
        key="campaigns",
        sorting=sorting,
        columns=CAMPAIGN_COLUMNS,
        export_url=reverse("customers:campaign-export"),
    )
    return _simple_list(
        request,
        title=_("Campaigns"),
        rows=rows,
        columns=[column.label for column in CAMPAIGN_COLUMNS],
        create_url=reverse("customers:campaign-create"),
        can_create=permissions.can(request.user, permissions.MARKETING_WRITE),
        edit_name="customers:campaign-edit",
        paging=paging,
        tools=tools,
        filters=[filterset.form["channel"]],
    )


@staff_required
def campaign_export(request):
    """The campaign list as CSV with the page's filters and sort, streamed (one query)."""
    _filterset, queryset, sorting = _campaigns(request)
    rows = selectors.campaign_export_rows(lists.in_order(queryset, sorting))
    return spreadsheet.streaming_response(header=selectors.CAMPAIGN_EXPORT_HEADER, rows=rows, filename="campaigns.csv")


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


SPEND_COLUMNS = [
    lists.Column(gettext_lazy("Channel")),
    lists.Column(gettext_lazy("Month"), "month", descending=True),
    lists.Column(gettext_lazy("Amount"), "amount", descending=True),
]
SPEND_LIST_ORDER = "-month"


def _spend(request):
    filterset, queryset = _filtered(request, ChannelSpendFilter, ChannelSpend.objects.select_related("channel"))
    queryset, sorting = lists.sorted_rows(request, ChannelSpendFilter, queryset, default=SPEND_LIST_ORDER)
    return filterset, queryset, sorting


@staff_required
def spend_list(request):
    filterset, queryset, sorting = _spend(request)
    page, paging = keyset_page_for(request, queryset, order=sorting.order)
    rows = [(s.pk, [s.channel.name, s.month.strftime("%Y-%m"), format_money(s.amount)], "") for s in page]
    tools = lists.list_context(
        request, key="spend", sorting=sorting, columns=SPEND_COLUMNS, export_url=reverse("customers:spend-export")
    )
    return _simple_list(
        request,
        title=_("Channel spend"),
        rows=rows,
        columns=[column.label for column in SPEND_COLUMNS],
        create_url=reverse("customers:spend-create"),
        can_create=permissions.can(request.user, permissions.MARKETING_WRITE),
        edit_name="customers:spend-edit",
        paging=paging,
        tools=tools,
        filters=[filterset.form["channel"]],
    )


@staff_required
def spend_export(request):
    """The channel spend list as CSV with the page's filters and sort, streamed (one query)."""
    _filterset, queryset, sorting = _spend(request)
    rows = selectors.spend_export_rows(lists.in_order(queryset, sorting))
    return spreadsheet.streaming_response(header=selectors.SPEND_EXPORT_HEADER, rows=rows, filename="channel-spend.csv")


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
