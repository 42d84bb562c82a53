"""Output shapes of the API (input is validated by the services; request serializers here only document it)."""

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


class Rfc3339Field(serializers.DateTimeField):
    """RFC 3339 UTC ending in Z, whole seconds, as event timestamps are."""

    def to_representation(self, value):
        return None if value is None else format_ts(value)


class RegisterRequestSerializer(serializers.Serializer):
    """POST /ess/register body (documentation; hub.services.subscriber_config validates)."""

    id = serializers.CharField(help_text="1 to 64 of letters, digits, ., _ and -.")
    url = serializers.URLField(help_text="https:// (http:// only for hosts in ESS_ALLOW_HTTP_HOSTS).")
    topics = serializers.ListField(child=serializers.CharField(), help_text="Topic patterns: * one word, # any.")
    throttle = serializers.IntegerField(required=False, allow_null=True, help_text="Deliveries per second.")
    secret = serializers.CharField(required=False, help_text="Signing secret; generated (whsec_...) when omitted.")
    test_url = serializers.URLField(required=False, allow_null=True, help_text="Where test events go.")
    max_retries = serializers.IntegerField(required=False)
    retry_base_seconds = serializers.FloatField(required=False)
    redact = serializers.ListField(child=serializers.CharField(), required=False, help_text="Dotted paths into data.")


class SubscriberSerializer(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.CharField()
    topics = serializers.ListField(child=serializers.CharField())
    throttle = serializers.IntegerField(allow_null=True)
    test_url = serializers.SerializerMethodField()
    max_retries = serializers.IntegerField()
    retry_base_seconds = serializers.FloatField()
    redact = serializers.ListField(child=serializers.CharField())
    state = serializers.CharField()

    def get_test_url(self, subscriber) -> str | None:
        return subscriber.test_url or None


class RegistrationSerializer(SubscriberSerializer):
    """The 201 answer of POST /ess/register: the subscriber's fields plus its secret and key, shown once."""

    secret = serializers.CharField(help_text="The signing secret; shown this once.")
    key = serializers.CharField(help_text="An API key bound to this subscriber (scope read); shown this once.")


class EnvelopeSerializer(serializers.Serializer):
    """The webhook body of SPEC §5, exactly as stored and delivered."""

    id = serializers.CharField()
    topic = serializers.CharField()
    cursor = serializers.IntegerField()
    ts = serializers.CharField()
    channel = serializers.CharField()
    data = serializers.DictField()


class EventPageSerializer(serializers.Serializer):
    events = EnvelopeSerializer(many=True)
    next_cursor = serializers.IntegerField()
    has_more = serializers.BooleanField()


class SubscriberStatusSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField()
    state = serializers.ChoiceField(choices=["active", "paused", "failing", "disabled"])
    last_ack_at = Rfc3339Field(allow_null=True)
    last_ack_cursor = serializers.IntegerField(allow_null=True)
    lag = serializers.IntegerField(help_text="Latest cursor minus last acked cursor.")
    pending = serializers.IntegerField()
    dead = serializers.IntegerField()
    delivered_1h = serializers.IntegerField()
    failed_1h = serializers.IntegerField()
    last_error = serializers.CharField(allow_null=True)


class FileErrorSerializer(serializers.Serializer):
    file = serializers.CharField()
    line = serializers.IntegerField(allow_null=True, help_text="1-based; null when no line applies.")
    error = serializers.CharField()


class HubStatusSerializer(serializers.Serializer):
    latest_cursor = serializers.IntegerField()
    subscribers = SubscriberStatusSerializer(many=True)
    file_errors = FileErrorSerializer(many=True)


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    database = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    detail = serializers.JSONField(allow_null=True)
