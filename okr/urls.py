from django.urls import path

from okr import views

app_name = "okr"
urlpatterns = [
    path("", views.board, name="board"),
    path("objectives/new/", views.objective_form, name="objective-new"),
    path("objectives/<int:pk>/edit/", views.objective_form, name="objective-edit"),
    path("objectives/<int:objective_pk>/key-results/new/", views.key_result_form, name="key-result-new"),
    path("key-results/<int:pk>/edit/", views.key_result_form, name="key-result-edit"),
    path("objectives/<int:pk>/delete/", views.objective_delete, name="objective-delete"),
    path("key-results/<int:pk>/delete/", views.key_result_delete, name="key-result-delete"),
    path("key-results/<int:pk>/check-in/", views.check_in, name="key-result-check-in"),
    path("reports/", views.reports_index, name="reports"),
    path("reports/funnel/", views.report_funnel, name="report-funnel"),
    path("reports/channels/", views.report_channels, name="report-channels"),
    path("reports/cycle-time/", views.report_cycle_time, name="report-cycle-time"),
    path("reports/nps/", views.report_nps, name="report-nps"),
]
