"""Delivery policy (SPEC §5, §9): claiming due deliveries with their throttle slots
(claims), recording what happened with back-off and dead letters (outcomes), on
database time (clock).

The delivery table is the queue: a claim leases rows, a dead worker's rows come
due again when the lease runs out, and outcomes are written only where the
lease token still matches. Must never send anything: hub.dispatch sends.
"""

from hub.services.deliveries.claims import (
    THROTTLE_HORIZON_SECONDS,
    Claim,
    ClaimedDelivery,
    deliveries_next_due_in,
    deliveries_pending,
    delivery_claim,
    envelope_for_subscriber,
)
from hub.services.deliveries.clock import database_now
from hub.services.deliveries.outcomes import (
    DeliveryOutcome,
    Verdict,
    deliveries_record,
    retry_after_seconds,
    retry_delay,
)

__all__ = [
    "THROTTLE_HORIZON_SECONDS",
    "Claim",
    "ClaimedDelivery",
    "DeliveryOutcome",
    "Verdict",
    "database_now",
    "deliveries_next_due_in",
    "deliveries_pending",
    "deliveries_record",
    "delivery_claim",
    "envelope_for_subscriber",
    "retry_after_seconds",
    "retry_delay",
]
