from django.urls import path

from marketing import affinity_views, content_views, experiment_views, journey_views, overlap_views, views

app_name = "marketing"
urlpatterns = [
    path("content/", content_views.content_list, name="content-list"),
    path("content/new/", content_views.content_create, name="content-create"),
    path("content/<int:pk>/", content_views.content_detail, name="content-detail"),
    path("content/<int:pk>/edit/", content_views.content_edit, name="content-edit"),
    path("content/<int:pk>/delete/", content_views.content_delete, name="content-delete"),
    path("content/<int:pk>/variants/new/", content_views.variant_create, name="variant-create"),
    path("content/<int:pk>/variants/<int:variant_pk>/", content_views.variant_edit, name="variant-edit"),
    path("content/<int:pk>/variants/<int:variant_pk>/delete/", content_views.variant_delete, name="variant-delete"),
    path("messages/", content_views.message_list, name="message-list"),
    path("events/", views.event_list, name="event-list"),
    path("touchpoints/", views.touchpoint_list, name="touchpoint-list"),
    path("channels/overlap/", overlap_views.channel_overlap, name="channel-overlap"),
    path("channels/<slug:code>/exclusion-list/", overlap_views.exclusion_list, name="channel-exclusion-list"),
    path("affinity/", affinity_views.affinity_pairs, name="affinity"),
    path("experiments/", experiment_views.experiment_list, name="experiment-list"),
    path("experiments/new/", experiment_views.experiment_create, name="experiment-create"),
    path("experiments/<int:pk>/", experiment_views.experiment_detail, name="experiment-detail"),
    path("experiments/<int:pk>/declare/", experiment_views.experiment_declare, name="experiment-declare"),
    path("experiments/<int:pk>/stop/", experiment_views.experiment_stop, name="experiment-stop"),
    path("journeys/", journey_views.journey_list, name="journey-list"),
    path("journeys/new/", journey_views.journey_create, name="journey-create"),
    path("journeys/<int:pk>/", journey_views.journey_detail, name="journey-detail"),
    path("journeys/<int:pk>/edit/", journey_views.journey_edit, name="journey-edit"),
    path("journeys/<int:pk>/activate/", journey_views.journey_activate, name="journey-activate"),
    path("journeys/<int:pk>/pause/", journey_views.journey_pause, name="journey-pause"),
    path("journeys/<int:pk>/delete/", journey_views.journey_delete, name="journey-delete"),
    path("journeys/<int:pk>/steps/", journey_views.step_add, name="journey-step-add"),
    path("journeys/<int:pk>/steps/<int:step_pk>/move/", journey_views.step_move, name="journey-step-move"),
    path("journeys/<int:pk>/steps/<int:step_pk>/remove/", journey_views.step_remove, name="journey-step-remove"),
]
