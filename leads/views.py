from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from leads.models import Lead


@login_required
def lead_list(request):
    leads = Lead.objects.select_related("customer", "owner", "source_channel").order_by("-created_at", "-pk")
    page = Paginator(leads, 50).get_page(request.GET.get("page"))
    return render(request, "leads/lead_list.html", {"page": page})


@login_required
def my_queue(request):
    leads = Lead.objects.select_related("customer", "owner", "source_channel").filter(owner=request.user)
    page = Paginator(leads, 50).get_page(request.GET.get("page"))
    return render(request, "leads/lead_list.html", {"page": page})
