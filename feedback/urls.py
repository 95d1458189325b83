from django.urls import path

from feedback import views

app_name = "feedback"
urlpatterns = [
    path("complaints/", views.complaint_list, name="complaint-list"),
]
