"""The links in messages, opened by customers without a login (mounted at /m/ by config/urls.py): short, signed
per message (marketing.tracking)."""

from django.urls import path

from marketing import content_views

app_name = "track"
urlpatterns = [
    path("o/<str:token>.gif", content_views.track_open, name="open"),
    path("c/<str:token>/", content_views.track_click, name="click"),
    path("u/<str:token>/", content_views.unsubscribe, name="unsubscribe"),
]
