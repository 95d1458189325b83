"""The OpenAPI schema and Swagger UI (assets from drf-spectacular-sidecar). Both need a login unless
RELAY_PUBLIC_API_DOCS (config.api.permissions.ApiDocsAccess, settings SPECTACULAR_SETTINGS)."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib.auth.views import redirect_to_login
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import exceptions


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI with its start-up script served at `?script`, so the page needs no inline script."""

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.NotAuthenticated):
            return redirect_to_login(self.request.get_full_path())  # a person, not a script: the login page
        return super().handle_exception(exc)


# Swagger UI's page carries a <style> block and its React components set style attributes: styles only.
api_docs = csp_update({"style-src": [UNSAFE_INLINE]})(ApiDocsView.as_view(url_name="api-schema"))
