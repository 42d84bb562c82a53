"""Output shapes of the API (input is validated by the services)."""

from rest_framework import serializers

from hub.services.events import format_ts


class PublishedEventSerializer(serializers.Serializer):
    id = serializers.CharField(source="uid")
    topic = serializers.CharField()
    cursor = serializers.IntegerField(source="id")
    ts = serializers.SerializerMethodField()
    channel = serializers.CharField()

    def get_ts(self, event) -> str:
        return format_ts(event.ts)
