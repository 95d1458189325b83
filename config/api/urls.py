from config.api.routers import Router
from config.api.users import UserViewSet
from config.api.webhooks import WebhookEndpointViewSet

router = Router()
router.register("users", UserViewSet, basename="user")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
urlpatterns = router.urls
