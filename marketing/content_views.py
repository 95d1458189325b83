"""Content and message pages, and the public links in messages (open pixel, click redirect, unsubscribe): thin
views over marketing.services, marketing.sending, marketing.tracking and marketing.selectors."""

import base64

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseNotFound, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config import lists
from config.errors import DomainError
from config.pages import error_status, form_error, staff_required
from config.pagination import keyset_page_for
from feedback.services import customer_languages
from marketing import permissions, selectors, sending, services, tracking
from marketing.api.filters import ContentFilter, MessageFilter
from marketing.content_forms import ContentForm, VariantForm
from marketing.models import ContentItem, ContentVariant, MessageChannel, MessageStatus

# ---------------------------------------------------------------- content


def _filtered(request, filterset_class, base):
    """The list's FilterSet (its errors shown over the list) and its rows."""
    filterset = filterset_class(request.GET or None, queryset=base, request=request)
    return filterset, (filterset.qs if filterset.is_bound and filterset.is_valid() else base)


def _list_response(request, template: str, partial: str, context: dict):
    """The page, or for htmx (the filter form) only its rows."""
    response = render(request, partial if request.htmx else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_required
@require_GET
def content_list(request):
    filterset, qs = _filtered(request, ContentFilter, selectors.content_items())
    page, paging = keyset_page_for(request, qs, order="-pk")  # pk order is creation order
    context = {
        "page": page,
        **paging,
        "filter": filterset,
        "can_create": permissions.can(request.user, "content.create"),
    }
    return _list_response(request, "marketing/content_list.html", "marketing/_content_rows.html", context)


def _content_form_page(request, form, *, item=None, status=200):
    return render(request, "marketing/content_form.html", {"form": form, "item": item}, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def content_create(request):
    permissions.require(request.user, "content.create")
    form = ContentForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                item = services.create_content(by=request.user, **form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
                return _content_form_page(request, form, status=error_status(request, exc))
            messages.success(request, _("Content created. Add its first variant."))
            return redirect("marketing:variant-create", pk=item.pk)
        return _content_form_page(request, form, status=422)
    return _content_form_page(request, form)


@staff_required
@require_GET
def content_detail(request, pk: int):
    try:
        item = selectors.content_detail(pk=pk)
    except ContentItem.DoesNotExist:
        raise Http404 from None
    return render(
        request,
        "marketing/content_detail.html",
        {
            "item": item,
            "can_change": permissions.can(request.user, "content.change", item),
            "messages_url": f"{reverse('marketing:message-list')}?content={item.pk}",
        },
    )


@staff_required
@require_http_methods(["GET", "POST"])
def content_edit(request, pk: int):
    item = get_object_or_404(ContentItem, pk=pk)
    permissions.require(request.user, "content.change", item)
    form = ContentForm(request.POST or None, initial=ContentForm.initial_of(item))
    if request.method == "POST":
        if form.is_valid():
            try:
                services.update_content(item=item, by=request.user, **form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
                return _content_form_page(request, form, item=item, status=error_status(request, exc))
            messages.success(request, _("Content saved."))
            return redirect("marketing:content-detail", pk=pk)
        return _content_form_page(request, form, item=item, status=422)
    return _content_form_page(request, form, item=item)


@staff_required
@require_POST
def content_delete(request, pk: int):
    item = get_object_or_404(ContentItem, pk=pk)
    try:
        services.delete_content(item=item, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("marketing:content-detail", pk=pk)
    messages.success(request, _("Content deleted."))
    return redirect("marketing:content-list")


def _variant_form_page(request, form, *, item, variant=None, status=200):
    return render(
        request, "marketing/variant_form.html", {"form": form, "item": item, "variant": variant}, status=status
    )


@staff_required
@require_http_methods(["GET", "POST"])
def variant_create(request, pk: int):
    item = get_object_or_404(ContentItem, pk=pk)
    permissions.require(request.user, "content.change", item)
    form = VariantForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                variant = services.create_variant(item=item, by=request.user, **form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
                return _variant_form_page(request, form, item=item, status=error_status(request, exc))
            messages.success(request, _("Variant %(key)s added.") % {"key": variant.key})
            return redirect("marketing:content-detail", pk=pk)
        return _variant_form_page(request, form, item=item, status=422)
    return _variant_form_page(request, form, item=item)


@staff_required
@require_http_methods(["GET", "POST"])
def variant_edit(request, pk: int, variant_pk: int):
    variant = get_object_or_404(ContentVariant.objects.select_related("item"), pk=variant_pk, item_id=pk)
    permissions.require(request.user, "content.change", variant.item)
    form = VariantForm(request.POST or None, initial=VariantForm.initial_of(variant))
    if request.method == "POST":
        if form.is_valid():
            try:
                services.update_variant(variant=variant, by=request.user, **form.cleaned_data)
            except DomainError as exc:
                form_error(form, exc)
                return _variant_form_page(
                    request, form, item=variant.item, variant=variant, status=error_status(request, exc)
                )
            messages.success(request, _("Variant %(key)s saved.") % {"key": variant.key})
            return redirect("marketing:content-detail", pk=pk)
        return _variant_form_page(request, form, item=variant.item, variant=variant, status=422)
    return _variant_form_page(request, form, item=variant.item, variant=variant)


@staff_required
@require_POST
def variant_delete(request, pk: int, variant_pk: int):
    variant = get_object_or_404(ContentVariant, pk=variant_pk, item_id=pk)
    try:
        services.delete_variant(variant=variant, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Variant %(key)s deleted.") % {"key": variant.key})
    return redirect("marketing:content-detail", pk=pk)


# ---------------------------------------------------------------- messages

MESSAGE_COLUMNS = [
    lists.Column("#", "id", descending=True),
    lists.Column(gettext_lazy("Customer")),
    lists.Column(gettext_lazy("Content")),
    lists.Column(gettext_lazy("Channel")),
    lists.Column(gettext_lazy("Journey")),
    lists.Column(gettext_lazy("Status")),
    lists.Column(gettext_lazy("Sent"), "sent", descending=True),
    lists.Column(gettext_lazy("Opened")),
    lists.Column(gettext_lazy("Clicked")),
    lists.Column(gettext_lazy("Converted")),
]


@staff_required
@require_GET
def message_list(request):
    filterset, qs = _filtered(request, MessageFilter, selectors.messages())
    qs, sorting = lists.sorted_rows(request, MessageFilter, qs, default="-id")
    page, paging = keyset_page_for(request, qs, order=sorting.order)
    context = {
        "page": page,
        **paging,
        "filter": filterset,
        "skip_reasons": sending.SKIP_REASONS,
        "statuses": MessageStatus.choices,
        "channels": MessageChannel.choices,
        **lists.list_context(request, key="messages", sorting=sorting, columns=MESSAGE_COLUMNS),
    }
    return _list_response(request, "marketing/message_list.html", "marketing/_message_rows.html", context)


# ---------------------------------------------------------------- the public links in messages (no login)

# A transparent 1×1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _not_found() -> HttpResponse:
    """A bad link answers a plain 404 that names nothing: no page, no redirect, no hint of what exists."""
    return HttpResponseNotFound(_("Not found."), content_type="text/plain; charset=utf-8")


@never_cache
@require_GET
def track_open(request, token: str):
    """The open pixel: stamps the message's first open; one query."""
    if not tracking.record_open(token_value=token):
        return _not_found()
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def track_click(request, token: str):
    """The click redirect: 302 to `?u=` only when it is one of the item's URLs (never an open redirect)."""
    target = tracking.record_click(token_value=token, url=request.GET.get("u", ""))
    if target is None:
        return _not_found()
    return HttpResponseRedirect(target)


@never_cache
@csrf_exempt  # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" without a session; the token proves it
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET: the confirmation page (a link scanner that follows it unsubscribes nobody); POST (its button, or the
    mail client's one-click request): unsubscribed from the message's channel."""
    message = sending.unsubscribing_message(token)
    if message is None:
        return render(request, "marketing/unsubscribe.html", {"state": "unknown"}, status=404)
    language = customer_languages([message.customer_id]).get(message.customer_id)
    with translation.override(language):
        context = {"channel": message.get_channel_display(), "customer": message.customer}
        if request.method == "POST":
            sending.unsubscribe(token_value=token)
            return render(request, "marketing/unsubscribe.html", {**context, "state": "done"})
        return render(request, "marketing/unsubscribe.html", {**context, "state": "confirm"})
