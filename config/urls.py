from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config import audit_web, views
from config.api.docs import api_docs
from config.api.tokens import ObtainTokenView

api_v1 = [
    path("", include("config.api.urls")),
    path("", include("customers.api.urls")),
    path("", include("leads.api.urls")),
    path("", include("feedback.api.urls")),
    path("", include("marketing.api.urls")),
    path("", include("okr.api.urls")),
    path("auth/token/", ObtainTokenView.as_view(), name="api-token"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("status/", views.status, name="status"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("pick/<slug:kind>/", views.pick, name="pick"),
    path("search/", views.search, name="search"),
    path("views/", views.saved_view_create, name="saved-view-create"),
    path("views/<int:pk>/delete/", views.saved_view_delete, name="saved-view-delete"),
    path("audit/<str:label>/<int:pk>/", audit_web.record_history, name="audit-record"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notifications_mark_read, name="notifications-read"),
    path("notifications/menu/", views.notification_menu, name="notifications-menu"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification-open"),
    path("account/tokens/", views.api_tokens, name="api-tokens"),
    path("account/tokens/revoke/", views.api_token_revoke, name="api-token-revoke"),
    path("tasks/", include("config.task_urls")),
    path("customers/", include("customers.urls")),
    path("leads/", include("leads.urls")),
    path("feedback/", include("feedback.urls")),
    path("marketing/", include("marketing.urls")),
    path("m/", include("marketing.tracking_urls")),  # the links in messages: open pixel, click, unsubscribe
    path("okr/", include("okr.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
]

handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
