from rest_framework.routers import SimpleRouter

from leads.api.views import LeadViewSet, TagViewSet

router = SimpleRouter()
router.register("leads", LeadViewSet, basename="lead")
router.register("tags", TagViewSet, basename="tag")
urlpatterns = router.urls
