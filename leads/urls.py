from django.urls import path

from leads import views

app_name = "leads"
urlpatterns = [
    path("", views.lead_list, name="lead-list"),
    path("export.csv", views.lead_export, name="lead-export"),
    path("bulk/", views.lead_bulk, name="lead-bulk"),
    path("queue/", views.my_queue, name="my-queue"),
    path("pool/", views.pool, name="pool"),
    path("board/", views.board, name="board"),
    path("board/<str:stage>/more/", views.board_column, name="board-column"),
    path("new/", views.lead_create, name="lead-create"),
    path("<int:pk>/", views.lead_detail, name="lead-detail"),
    path("<int:pk>/edit/", views.lead_edit, name="lead-edit"),
    path("<int:pk>/board-move/", views.board_move, name="board-move"),
    path("<int:pk>/board-close/", views.board_close, name="board-close"),
    path("<int:pk>/<str:action>/", views.lead_action, name="lead-action"),
]
