from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from hub.api.views_publish import PublishView

urlpatterns = [
    path("ess/publish", PublishView.as_view(), name="ess-publish"),
    path("ess/schema", SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]), name="ess-schema"),
    path(
        "ess/docs",
        SpectacularSwaggerView.as_view(url_name="ess-schema", permission_classes=[], authentication_classes=[]),
        name="ess-docs",
    ),
]
