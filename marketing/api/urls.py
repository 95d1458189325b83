from config.api.routers import Router
from marketing.api import content_views, experiments, journeys, views

router = Router()
router.register("events", views.CustomerEventViewSet, basename="customer-event")
router.register("content", content_views.ContentViewSet, basename="content")
router.register(r"content/(?P<content_pk>[0-9]+)/variants", content_views.VariantViewSet, basename="content-variant")
router.register("messages", content_views.MessageViewSet, basename="message")
router.register("experiments", experiments.ExperimentViewSet, basename="experiment")
router.register("journeys", journeys.JourneyViewSet, basename="journey")
urlpatterns = router.urls
