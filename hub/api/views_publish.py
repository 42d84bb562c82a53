"""POST /ess/publish: thin; validation and storage live in hub.services.events."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.api.auth import HasScope, request_key
from hub.api.serializers import PublishedEventSerializer
from hub.exceptions import InvalidInput
from hub.models import Channel
from hub.services.events import event_draft, event_drafts, events_store, format_ts


def _published(event) -> dict:
    """The answer for one event (the shape PublishedEventSerializer documents), built directly: a hot path."""
    return {
        "id": event.uid,
        "topic": event.topic,
        "cursor": event.id,
        "ts": format_ts(event.ts),
        "channel": event.channel,
    }


def _channel_override(request) -> str | None:
    value = request.headers.get("X-Channel")
    if value is None or value.strip().lower() == Channel.LIVE:
        return None
    if value.strip().lower() == Channel.TEST:
        return Channel.TEST
    raise InvalidInput("X-Channel must be 'live' or 'test'", {"X-Channel": value})


class PublishView(APIView):
    permission_classes = [HasScope]
    required_scope = "publish"

    @extend_schema(
        summary="Publish one event or a batch of 1 to 1000",
        request={"application/json": {"type": "object"}},
        responses={202: PublishedEventSerializer, 200: PublishedEventSerializer},
        examples=[OpenApiExample("single", value={"topic": "drug.copay", "data": {"ndc": "00002-8215"}})],
    )
    def post(self, request):
        body = request.data
        if not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object")
        override = _channel_override(request)
        publisher = request_key(request)
        if "events" in body:
            if set(body) != {"events"}:
                raise InvalidInput("a batch body holds only 'events'", {"events": "no other fields beside it"})
            published = events_store(
                drafts=event_drafts(body["events"], channel_override=override), publisher=publisher
            )
            code = status.HTTP_202_ACCEPTED if any(p.created for p in published) else status.HTTP_200_OK
            return Response({"events": [_published(p.event) for p in published]}, status=code)
        (result,) = events_store(drafts=[event_draft(body, channel_override=override)], publisher=publisher)
        code = status.HTTP_202_ACCEPTED if result.created else status.HTTP_200_OK
        return Response(_published(result.event), status=code)
