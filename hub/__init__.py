"""The integration hub: durable change events fanned out to outside systems.

`hub.publish(...)` is the in-process publishing API for platform code.
"""


def publish(topic, data, channel="live", idempotency_key=None):
    """Publish one event; returns the stored `hub.models.Event`.

    Same path as `POST /ess/publish`: validated, stored with its deliveries in
    one transaction, durable on return (or on the caller's commit when called
    inside an open transaction).
    """
    from hub.services.events import event_publish

    return event_publish(topic=topic, data=data, channel=channel, idempotency_key=idempotency_key)
