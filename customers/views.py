from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from customers.models import Customer


@login_required
def customer_list(request):
    customers = Customer.objects.filter(merged_into__isnull=True).order_by("-pk")
    page = Paginator(customers, 50).get_page(request.GET.get("page"))
    return render(request, "customers/customer_list.html", {"page": page})
