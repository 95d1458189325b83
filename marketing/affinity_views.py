"""Marketing's product affinity page: the strongest pairs per category of the product bought (customers.affinity),
for planning cross-sell content and journeys."""

from itertools import groupby

from django import forms
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from config.pages import staff_required
from customers import affinity

PER_CATEGORY = 10  # the pairs of highest lift shown for each category


class AffinityPageForm(forms.Form):
    category = forms.ChoiceField(label=_("Category bought"), required=False)

    def __init__(self, *args, categories: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("All categories")), *((c, c) for c in categories)]


@staff_required
@require_GET
def affinity_pairs(request):
    """Top PER_CATEGORY pairs by lift for each category bought (or the one chosen), with when they were computed.
    A fixed number of queries: categories, pairs, last refresh."""
    form = AffinityPageForm(request.GET or None, categories=affinity.categories())
    category = form.cleaned_data["category"] if form.is_bound and form.is_valid() else ""
    pairs = affinity.strongest_pairs(category=category, per_category=PER_CATEGORY)
    groups = [(name, list(rows)) for name, rows in groupby(pairs, key=lambda pair: pair.from_product.category)]
    context = {
        "form": form,
        "groups": groups,
        "per_category": PER_CATEGORY,
        "refreshed_at": affinity.last_refreshed_at(),
    }
    return render(request, "marketing/affinity.html", context)
