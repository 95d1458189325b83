from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from okr.models import Objective


@login_required
def board(request):
    objectives = Objective.objects.select_related("owner").prefetch_related("key_results").order_by("department", "pk")
    return render(request, "okr/board.html", {"objectives": objectives})
