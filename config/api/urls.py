from config.api.audit import AuditViewSet
from config.api.routers import Router
from config.api.tasks import TaskViewSet
from config.api.users import UserViewSet
from config.api.webhooks import WebhookEndpointViewSet

router = Router()
router.register("users", UserViewSet, basename="user")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
router.register("tasks", TaskViewSet, basename="task")
router.register("audit", AuditViewSet, basename="audit")
urlpatterns = router.urls
