from rest_framework.routers import SimpleRouter

from okr.api.metrics import MetricViewSet

router = SimpleRouter()
router.register("metrics", MetricViewSet, basename="metric")
urlpatterns = router.urls
