"""Marketing's pages: thin views over marketing.selectors and marketing.services."""

from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from config.pages import staff_required
from config.pagination import keyset_page_for
from marketing import selectors
from marketing.api.filters import CustomerEventFilter, TouchpointFilter
from marketing.models import EventType, TouchpointKind


@staff_required
@require_GET
def event_list(request):
    """What customers did, newest first, filtered as the API's `events/` is; htmx swaps the rows alone."""
    base = selectors.customer_events()
    filterset = CustomerEventFilter(request.GET or None, queryset=base, request=request)
    qs = filterset.qs if filterset.is_bound and filterset.is_valid() else base
    page, paging = keyset_page_for(request, qs, order="-at")
    template = "marketing/_event_rows.html" if request.htmx else "marketing/event_list.html"
    response = render(
        request, template, {"page": page, **paging, "filter": filterset, "event_types": EventType.choices}
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_required
@require_GET
def touchpoint_list(request):
    """Touches of customers with channels and campaigns, newest first, filtered as the API's `touchpoints/` is
    (channel, kind, campaign, period, customer); htmx swaps the rows alone."""
    base = selectors.touchpoints()
    filterset = TouchpointFilter(request.GET or None, queryset=base, request=request)
    qs = filterset.qs if filterset.is_bound and filterset.is_valid() else base
    page, paging = keyset_page_for(request, qs, order="-at")
    context = {"page": page, **paging, "filter": filterset}
    if request.htmx:
        template = "marketing/_touchpoint_rows.html"
    else:
        template = "marketing/touchpoint_list.html"
        context |= {"channels": selectors.channel_choices(), "kinds": TouchpointKind.choices}
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
