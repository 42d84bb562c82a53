"""GET /ess/status and GET /healthz: thin; the figures come from hub.selectors."""

from django.db import DatabaseError, connection
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.api.auth import HasScope, request_key
from hub.api.serializers import ErrorSerializer, HealthSerializer, HubStatusSerializer
from hub.selectors import hub_status


class StatusView(APIView):
    permission_classes = [HasScope]
    required_scope = "read"
    # A subscriber's own key has the read scope too: it sees only its own row.

    @extend_schema(
        summary="Sync status of every subscriber",
        description=(
            "Read scope or a staff session. Timestamps are RFC 3339 UTC. A subscriber's own key sees only "
            "its own subscriber and no file errors."
        ),
        responses={200: HubStatusSerializer, 401: ErrorSerializer, 403: ErrorSerializer},
    )
    def get(self, request):
        key = request_key(request)
        own = key.subscriber_id if key is not None else None
        return Response(HubStatusSerializer(hub_status(subscriber_id=own)).data)


class HealthView(APIView):
    authentication_classes = []
    permission_classes = []

    @extend_schema(
        summary="Liveness and database check (no key)",
        responses={200: HealthSerializer, 503: ErrorSerializer},
        auth=[],
    )
    def get(self, request):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError:
            # No exception text: this answer is public and must not describe the database.
            return Response(
                {"status": "error", "database": "unreachable", "error": "database unreachable", "detail": None},
                status=503,
            )
        return Response({"status": "ok", "database": "ok"})
