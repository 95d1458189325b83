from django.urls import path

from feedback import views

app_name = "feedback"
urlpatterns = [
    path("complaints/", views.complaint_list, name="complaint-list"),
    path("complaints/export.csv", views.complaint_export, name="complaint-export"),
    path("complaints/mine/", views.my_complaints, name="my-complaints"),
    path("complaints/new/", views.complaint_create, name="complaint-create"),
    path("complaints/<int:pk>/", views.complaint_detail, name="complaint-detail"),
    path("complaints/<int:pk>/transition/", views.complaint_transition, name="complaint-transition"),
    path("complaints/<int:pk>/waiting/", views.complaint_pause, name="complaint-pause"),
    path("complaints/<int:pk>/assign/", views.complaint_assign, name="complaint-assign"),
    path("complaints/<int:pk>/insight/", views.complaint_insight, name="complaint-insight"),
    path("customer-search/", views.customer_search, name="customer-search"),
    path("nps/", views.nps_list, name="nps-list"),
    path("nps/export.csv", views.nps_export, name="nps-export"),
    path("nps/<int:pk>/", views.nps_detail, name="nps-detail"),
    path("nps/<int:pk>/insight/", views.nps_insight, name="nps-insight"),
    path("nps/invitations/", views.invitation_list, name="invitation-list"),
    path("follow-ups/", views.follow_up_list, name="follow-up-list"),
    path("follow-ups/<int:pk>/", views.follow_up_detail, name="follow-up-detail"),
    path("insights/", views.insight_list, name="insight-list"),
    path("insights/<int:pk>/acknowledge/", views.insight_acknowledge, name="insight-acknowledge"),
    path("survey/<str:token>/", views.survey, name="survey"),
]
