"""One try of one delivery, on a sender thread: wait for its throttle slot, sign, POST, classify.

Must never touch the database: the dispatcher's main thread claims and records.
"""

import logging
import time

from django.conf import settings

from connectors.channels.base import BadDataError, ConfigurationError, RetryableError
from connectors.channels.webhook import WebhookChannel
from hub.services.deliveries import ClaimedDelivery, DeliveryOutcome, Verdict
from hub.signing import signature_headers

log = logging.getLogger("hub.dispatch")


def webhook_headers(delivery: ClaimedDelivery, *, timestamp: int) -> dict[str, str]:
    """The headers of one try (SPEC §5), signed over the exact body sent."""
    return {
        "Content-Type": "application/json",
        **signature_headers(list(delivery.secrets), delivery.uid, timestamp, delivery.body),
        "X-ESS-Topic": delivery.topic,
        "X-ESS-Cursor": str(delivery.cursor),
        "X-ESS-Attempt": str(delivery.attempt),
        "X-ESS-Delivery": delivery.uid,
        "X-Channel": delivery.channel,
        "User-Agent": f"ess-hub/{settings.ESS_VERSION}",
    }


def delivery_send(channel: WebhookChannel, delivery: ClaimedDelivery, *, timeout: float) -> DeliveryOutcome:
    """Send `delivery` once and say what happened; never raises."""
    wait = delivery.start_at - time.monotonic()
    if wait > 0:
        time.sleep(wait)  # a throttle slot: waiting is not a failed attempt
    started = time.monotonic()
    if not delivery.url:
        return DeliveryOutcome(delivery, Verdict.SKIPPED, started)
    if delivery.problem:
        return DeliveryOutcome(delivery, Verdict.FAILED, started, error=delivery.problem)
    try:
        # Signed afresh for each try: webhook-timestamp is this attempt's time.
        headers = webhook_headers(delivery, timestamp=int(time.time()))
        response = channel.send(url=delivery.url, body=delivery.body, headers=headers, timeout=timeout)
    except (ConfigurationError, BadDataError) as exc:
        return DeliveryOutcome(delivery, Verdict.REFUSED, started, duration=time.monotonic() - started, error=str(exc))
    except RetryableError as exc:
        return DeliveryOutcome(delivery, Verdict.FAILED, started, duration=time.monotonic() - started, error=str(exc))
    except Exception as exc:
        # A bug here must not lose the delivery: it is recorded as a failed try and retried.
        log.exception("sending delivery %s failed unexpectedly", delivery.uid)
        return DeliveryOutcome(
            delivery, Verdict.FAILED, started, duration=time.monotonic() - started, error=f"internal error: {exc!r}"
        )
    return DeliveryOutcome(
        delivery,
        Verdict.ACKED if 200 <= response.status < 300 else Verdict.FAILED,
        started,
        duration=response.duration,
        status_code=response.status,
        excerpt=response.excerpt,
        retry_after=response.retry_after,
    )
