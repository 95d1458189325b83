from django.urls import path

from okr import review_views, views

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
    path("reviews/", review_views.review_index, name="reviews"),
    path("reviews/notes/<int:pk>/", review_views.review_note, name="review-note"),
    path("reviews/<str:quarter>/", review_views.review_page, name="review"),
    path("reviews/<str:quarter>/notes/", review_views.review_note_add, name="review-note-add"),
    path("reports/funnel/", views.report_funnel, name="report-funnel"),
    path("reports/channels/", views.report_channels, name="report-channels"),
    path("reports/cycle-time/", views.report_cycle_time, name="report-cycle-time"),
    path("reports/nps/", views.report_nps, name="report-nps"),
    path("reports/reasons/", views.report_reasons, name="report-reasons"),
    path("reports/time-in-stage/", views.report_time_in_stage, name="report-time-in-stage"),
    path("reports/loyalty/", views.report_loyalty, name="report-loyalty"),
]
