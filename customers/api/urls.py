from django.urls import path

from config.api.routers import Router
from customers.api import views

router = Router()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("orders", views.OrderViewSet, basename="order")
router.register("channels", views.ChannelViewSet, basename="channel")
router.register("campaigns", views.CampaignViewSet, basename="campaign")
router.register("channel-spend", views.ChannelSpendViewSet, basename="channel-spend")
router.register("imports", views.ImportViewSet, basename="import")
team = views.AccountTeamViewSet.as_view({"get": "list", "post": "create"})
team_member = views.AccountTeamViewSet.as_view({"get": "retrieve", "delete": "destroy"})
urlpatterns = [
    *router.urls,
    path("customers/<int:customer_pk>/team/", team, name="customer-team"),
    path("customers/<int:customer_pk>/team/<int:pk>/", team_member, name="customer-team-member"),
]
