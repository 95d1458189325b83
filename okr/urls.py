from django.urls import path

from okr import views

app_name = "okr"
urlpatterns = [
    path("", views.board, name="board"),
]
