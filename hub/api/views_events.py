"""GET /ess/events: the batch pull of every event in cursor order, for nightly consumers.

Thin: the query is hub.selectors.event_list. Envelopes go out as stored,
joined into the body without re-parsing, so they are byte-for-byte the
webhook bodies.
"""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.views import APIView

from hub.api.auth import HasScope
from hub.api.params import channel_param, int_param, limit_param, rfc3339_param
from hub.api.serializers import ErrorSerializer, EventPageSerializer
from hub.selectors import EventPage, event_list


def event_page_json(page: EventPage) -> str:
    has_more = "true" if page.has_more else "false"
    return f'{{"events":[{",".join(page.envelopes)}],"next_cursor":{page.next_cursor},"has_more":{has_more}}}'


class EventsView(APIView):
    permission_classes = [HasScope]
    required_scope = "read"
    subscriber_keys_allowed = False

    @extend_schema(
        summary="All events in cursor order (batch pull)",
        description="Read scope; a subscriber key gets 403. Cursors are exclusive, changed_since is inclusive.",
        parameters=[
            OpenApiParameter("since_cursor", OpenApiTypes.INT, description="Events with a cursor above this."),
            OpenApiParameter(
                "changed_since", OpenApiTypes.DATETIME, description="RFC 3339; events with ts at or after it."
            ),
            OpenApiParameter("channel", OpenApiTypes.STR, enum=["live", "test"], description="Default live."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="Default 100; larger values are capped at 1000."),
        ],
        responses={200: EventPageSerializer, 400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer},
    )
    def get(self, request):
        params = request.query_params
        page = event_list(
            since_cursor=int_param(params, "since_cursor", default=0, minimum=0),
            changed_since=rfc3339_param(params, "changed_since"),
            channel=channel_param(params),
            limit=limit_param(params),
        )
        return HttpResponse(event_page_json(page), content_type="application/json")
