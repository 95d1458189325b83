from django.urls import path

from config.api.routers import Router
from marketing.api import content_views, experiments, journeys, overlap, views

router = Router()
router.register("events", views.CustomerEventViewSet, basename="customer-event")
router.register("touchpoints", views.TouchpointViewSet, basename="touchpoint")
router.register("content", content_views.ContentViewSet, basename="content")
router.register(r"content/(?P<content_pk>[0-9]+)/variants", content_views.VariantViewSet, basename="content-variant")
router.register("messages", content_views.MessageViewSet, basename="message")
router.register("experiments", experiments.ExperimentViewSet, basename="experiment")
router.register("journeys", journeys.JourneyViewSet, basename="journey")
urlpatterns = [
    # Channel codes, not ids: customers' `channels/{id}/` routes take digits only, so these never collide with them.
    path("channels/overlap/", overlap.ChannelOverlapView.as_view(), name="channel-overlap"),
    path("channels/<slug:code>/exclusion-list/", overlap.ExclusionListView.as_view(), name="channel-exclusion-list"),
    *router.urls,
]
