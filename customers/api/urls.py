from config.api.routers import Router
from customers.api import views

router = Router()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("orders", views.OrderViewSet, basename="order")
router.register("channels", views.ChannelViewSet, basename="channel")
router.register("campaigns", views.CampaignViewSet, basename="campaign")
router.register("channel-spend", views.ChannelSpendViewSet, basename="channel-spend")
router.register("imports", views.ImportViewSet, basename="import")
urlpatterns = router.urls
