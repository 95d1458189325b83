from django.urls import path

from customers import views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="customer-list"),
    path("export.csv", views.customer_export, name="customer-export"),
    path("new/", views.customer_create, name="customer-create"),
    path("<int:pk>/", views.customer_detail, name="customer-detail"),
    path("<int:pk>/edit/", views.customer_edit, name="customer-edit"),
    path("<int:pk>/merge/", views.customer_merge, name="customer-merge"),
    path("<int:pk>/team/", views.team_add, name="team-add"),
    path("<int:pk>/team/<int:member_pk>/remove/", views.team_remove, name="team-remove"),
    path("merges/<int:pk>/undo/", views.merge_undo, name="merge-undo"),
    path("data-quality/", views.data_quality, name="data-quality"),
    path("imports/", views.import_list, name="import-list"),
    path("imports/<int:pk>/", views.import_detail, name="import-detail"),
    path("imports/<int:pk>/run/", views.import_run, name="import-run"),
    path("imports/<int:pk>/errors.csv", views.import_errors, name="import-errors"),
    path("orders/", views.order_list, name="order-list"),
    path("orders/export.csv", views.order_export, name="order-export"),
    path("orders/new/", views.order_create, name="order-create"),
    path("orders/<int:pk>/edit/", views.order_edit, name="order-edit"),
    path("channels/", views.channel_list, name="channel-list"),
    path("channels/new/", views.channel_form, name="channel-create"),
    path("channels/<int:pk>/edit/", views.channel_form, name="channel-edit"),
    path("campaigns/", views.campaign_list, name="campaign-list"),
    path("campaigns/export.csv", views.campaign_export, name="campaign-export"),
    path("campaigns/new/", views.campaign_form, name="campaign-create"),
    path("campaigns/<int:pk>/edit/", views.campaign_form, name="campaign-edit"),
    path("spend/", views.spend_list, name="spend-list"),
    path("spend/export.csv", views.spend_export, name="spend-export"),
    path("spend/new/", views.spend_form, name="spend-create"),
    path("spend/<int:pk>/edit/", views.spend_form, name="spend-edit"),
]
