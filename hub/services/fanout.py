"""Which subscribers an event goes to. Read at every publish, never cached,
so a subscriber registered a moment ago receives the next event.
"""

from hub.models import Subscriber
from hub.topics import matches_any


def fanout_candidates() -> list[Subscriber]:
    """Subscribers that receive new events: active and paused (paused ones queue)."""
    return list(
        Subscriber.objects.exclude(state=Subscriber.State.DISABLED).only(
            "id", "kind", "topics", "test_url", "test_target", "connector"
        )
    )


def subscriber_accepts(subscriber: Subscriber, topic: str, data_json: str) -> bool:
    """Whether `subscriber` takes an event of `topic` (data given as its JSON text).

    Connector subscribers will also apply their connector's own topics and
    filter here (connectors issue); for now their `topics` decide.
    """
    return matches_any(subscriber.topics, topic)
