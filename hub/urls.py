"""Root routes: the admin, the API (hub.api.urls), and the error handlers.

The handlers answer JSON under /ess/ and /healthz and keep Django's HTML pages for the admin.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("hub.api.urls")),
]

handler400 = "hub.api.errors.handler400"
handler403 = "hub.api.errors.handler403"
handler404 = "hub.api.errors.handler404"
handler500 = "hub.api.errors.handler500"
