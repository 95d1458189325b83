from django.urls import path

from config.api.routers import Router
from customers.api import affinity, points, views

router = Router()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("orders", views.OrderViewSet, basename="order")
router.register("products", views.ProductViewSet, basename="product")
router.register("channels", views.ChannelViewSet, basename="channel")
router.register("campaigns", views.CampaignViewSet, basename="campaign")
router.register("channel-spend", views.ChannelSpendViewSet, basename="channel-spend")
router.register("imports", views.ImportViewSet, basename="import")
router.register("affinity", affinity.AffinityViewSet, basename="affinity")
team = views.AccountTeamViewSet.as_view({"get": "list", "post": "create"})
team_member = views.AccountTeamViewSet.as_view({"get": "retrieve", "delete": "destroy"})
urlpatterns = [
    *router.urls,
    path("customers/<int:customer_pk>/team/", team, name="customer-team"),
    path(
        "customers/<int:customer_pk>/recommendations/",
        affinity.RecommendationsView.as_view(),
        name="customer-recommendations",
    ),
    path("customers/<int:customer_pk>/team/<int:pk>/", team_member, name="customer-team-member"),
    path("customers/<int:customer_pk>/points/", points.CustomerPointsView.as_view(), name="customer-points"),
]
