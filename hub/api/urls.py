"""The API's routes (SPEC §4, §9). Anything else under /ess/ is a JSON 404."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from hub.api.errors import api_not_found, json_error
from hub.api.views_events import EventsView
from hub.api.views_publish import PublishView
from hub.api.views_register import RegisterView
from hub.api.views_status import HealthView, StatusView


class DocsView(SpectacularSwaggerView):
    """The Swagger page; its errors answer JSON like the rest of /ess/, not its HTML renderer's text."""

    def http_method_not_allowed(self, request, *args, **kwargs):
        return json_error(405, f"method {request.method} not allowed", {"allowed": ["GET", "HEAD"]})


urlpatterns = [
    path("ess/publish", PublishView.as_view(), name="ess-publish"),
    path("ess/register", RegisterView.as_view(), name="ess-register"),
    path("ess/events", EventsView.as_view(), name="ess-events"),
    path("ess/status", StatusView.as_view(), name="ess-status"),
    path("healthz", HealthView.as_view(), name="healthz"),
    path(
        "ess/schema",
        SpectacularJSONAPIView.as_view(permission_classes=[], authentication_classes=[]),
        name="ess-schema",
    ),
    path(
        "ess/docs",
        DocsView.as_view(url_name="ess-schema", permission_classes=[], authentication_classes=[]),
        name="ess-docs",
    ),
    # Keep last: anything else under /ess/ is a JSON 404, also with DEBUG on.
    re_path(r"^ess(?:/.*)?$", api_not_found),
]
