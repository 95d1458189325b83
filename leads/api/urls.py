from config.api.routers import Router
from leads.api.views import ActivityViewSet, LeadViewSet, TagViewSet

router = Router()
router.register("leads", LeadViewSet, basename="lead")
router.register("tags", TagViewSet, basename="tag")
router.register("activities", ActivityViewSet, basename="activity")
urlpatterns = router.urls
