from django.urls import path

from config.api.routers import Router
from okr.api.metrics import MetricViewSet
from okr.api.review import ReviewViewSet
from okr.api.views import CheckInViewSet, KeyResultViewSet, ObjectiveViewSet

router = Router()
router.register("objectives", ObjectiveViewSet, basename="objective")
router.register("key-results", KeyResultViewSet, basename="key-result")
router.register("metrics", MetricViewSet, basename="metric")
router.register("reviews", ReviewViewSet, basename="review")

check_ins = CheckInViewSet.as_view({"get": "list", "post": "create"})
check_in = CheckInViewSet.as_view({"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"})
urlpatterns = [
    *router.urls,
    path("key-results/<int:key_result_pk>/check-ins/", check_ins, name="key-result-check-ins"),
    path("key-results/<int:key_result_pk>/check-ins/<int:pk>/", check_in, name="key-result-check-in"),
]
