"""One JSON error shape everywhere: {"error": "...", "detail": ...}."""

import logging

from django.http import JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from hub.exceptions import HubError

log = logging.getLogger(__name__)


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "request body too large"
    default_code = "payload_too_large"


_TITLES = {
    400: "invalid request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    406: "not acceptable",
    409: "conflict",
    413: "payload too large",
    415: "unsupported media type",
    429: "too many requests",
}


def exception_handler(exc, context):
    if isinstance(exc, HubError):
        return Response({"error": exc.message, "detail": exc.detail}, status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500 handler answers in JSON too
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        message = "invalid request"
    elif isinstance(detail, dict) and "detail" in detail:
        message = str(detail["detail"])
        detail = None
    else:
        message = _TITLES.get(response.status_code, "error")
    response.data = {"error": message, "detail": detail}
    return response


def json_error(status_code: int, message: str, detail=None) -> JsonResponse:
    return JsonResponse({"error": message, "detail": detail}, status=status_code)


def is_api_path(path: str) -> bool:
    """Whether `path` is answered in JSON (the API and /healthz); the admin keeps Django's HTML pages."""
    return path == "/ess" or path.startswith("/ess/") or path == "/healthz"


# Django's error handlers (wired in hub/urls.py): JSON for the API, Django's own pages elsewhere.


def handler400(request, exception=None):
    if is_api_path(request.path):
        return json_error(400, "bad request")
    return defaults.bad_request(request, exception)


def handler403(request, exception=None):
    if is_api_path(request.path):
        return json_error(403, "forbidden")
    return defaults.permission_denied(request, exception)


def handler404(request, exception=None):
    if is_api_path(request.path):
        return json_error(404, "not found", request.path)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if is_api_path(request.path):
        return json_error(500, "internal error")
    return defaults.server_error(request)


def api_not_found(request, *args, **kwargs):
    """Catch-all under /ess/: a JSON 404 even with DEBUG on (Django's debug 404 page is HTML)."""
    return json_error(404, "not found", request.path)
