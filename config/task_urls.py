from django.urls import path

from config import task_views

app_name = "tasks"
urlpatterns = [
    path("", task_views.task_list, name="task-list"),
    path("export.csv", task_views.task_export, name="task-export"),
    path("<int:pk>/", task_views.task_detail, name="task-detail"),
    path("<int:pk>/done/", task_views.task_done, name="task-done"),
    path("<int:pk>/reopen/", task_views.task_reopen, name="task-reopen"),
    path("<int:pk>/delete/", task_views.task_delete, name="task-delete"),
]
