"""The project's URLs plus the floors under `bench-floor/` (demo/bench/floors.py); the benchmark only."""

from django.urls import path

from config.urls import handler400, handler403
from config.urls import urlpatterns as project_urlpatterns
from demo.bench import floors

urlpatterns = [
    *project_urlpatterns,
    path("bench-floor/trivial/", floors.trivial, name="bench-floor-trivial"),
    path("bench-floor/overlap/", floors.overlap, name="bench-floor-overlap"),
    # The API lists and the load's endpoints, mirrored under the prefix (the load swaps only the prefix).
    path("bench-floor/api/v1/leads/", floors.lead_collection, name="bench-floor-leads"),
    path("bench-floor/api/v1/leads/<int:pk>/", floors.lead_item, name="bench-floor-lead"),
    path("bench-floor/api/v1/leads/<int:pk>/activities/", floors.lead_activity, name="bench-floor-lead-activity"),
    path("bench-floor/api/v1/customers/", floors.api_list, {"name": "customers"}, name="bench-floor-customers"),
    path("bench-floor/api/v1/customers/<int:pk>/", floors.customer_item, name="bench-floor-customer"),
    path("bench-floor/api/v1/orders/", floors.api_list, {"name": "orders"}, name="bench-floor-orders"),
    path("bench-floor/api/v1/complaints/", floors.api_list, {"name": "complaints"}, name="bench-floor-complaints"),
    # The pages' rows as JSON.
    path("bench-floor/pages/<str:name>/", floors.page_list, name="bench-floor-page"),
    path("bench-floor/pages/leads/<int:pk>/", floors.lead_page, name="bench-floor-lead-page"),
    path("bench-floor/pages/customers/<int:pk>/", floors.customer_page, name="bench-floor-customer-page"),
]

__all__ = ["handler400", "handler403", "urlpatterns"]
