from config.api.routers import Router
from leads.api.views import LeadViewSet, TagViewSet

router = Router()
router.register("leads", LeadViewSet, basename="lead")
router.register("tags", TagViewSet, basename="tag")
urlpatterns = router.urls
