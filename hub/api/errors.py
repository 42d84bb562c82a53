"""One JSON error shape everywhere: {"error": "...", "detail": ...}."""

import logging

from django.http import JsonResponse
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


def handler400(request, exception=None):
    return json_error(400, "bad request")


def handler403(request, exception=None):
    return json_error(403, "forbidden")


def handler404(request, exception=None):
    return json_error(404, "not found", request.path)


def handler500(request):
    return json_error(500, "internal error")
