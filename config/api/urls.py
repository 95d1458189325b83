from rest_framework.routers import SimpleRouter

from config.api.users import UserViewSet
from config.api.webhooks import WebhookEndpointViewSet

router = SimpleRouter()
router.register("users", UserViewSet, basename="user")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
urlpatterns = router.urls
