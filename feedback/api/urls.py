from config.api.routers import Router
from feedback.api import views

router = Router()
router.register("complaints", views.ComplaintViewSet, basename="complaint")
router.register("nps-responses", views.NpsResponseViewSet, basename="nps-response")
router.register("nps-invitations", views.NpsInvitationViewSet, basename="nps-invitation")
router.register("insights", views.InsightViewSet, basename="insight")
urlpatterns = router.urls
