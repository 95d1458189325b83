from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from feedback.models import Complaint


@login_required
def complaint_list(request):
    complaints = Complaint.objects.select_related("customer", "owner").order_by("-opened_at", "-pk")
    page = Paginator(complaints, 50).get_page(request.GET.get("page"))
    return render(request, "feedback/complaint_list.html", {"page": page})
