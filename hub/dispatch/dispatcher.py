"""The delivery dispatcher: the loop of one `qcluster` child process (SPEC §5, §9).

The main thread claims due webhook deliveries in batches while there is free
send capacity, hands each to a sender thread, and records finished sends in
bulk; it sleeps until a NOTIFY, a finished send, the next retry or throttle
slot, or the poll interval, whichever comes first. SIGTERM stops claiming,
lets sends in progress finish for a few seconds and records them.
Must never decide policy (hub.services.deliveries does) nor let a sender
thread touch the database.
"""

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

from django.conf import settings
from django.db import DatabaseError, InterfaceError, close_old_connections, connection

from connectors.channels.webhook import WebhookChannel
from hub.dispatch.sender import delivery_send
from hub.dispatch.wakeup import NotifyListener
from hub.services.deliveries import (
    THROTTLE_HORIZON_SECONDS,
    ClaimedDelivery,
    DeliveryOutcome,
    deliveries_next_due_in,
    deliveries_pending,
    deliveries_record,
    delivery_claim,
)
from hub.urlsafety import address_refusal, url_error

log = logging.getLogger("hub.dispatch")

STOP_GRACE_SECONDS = 8.0  # under qcluster's 10 s wait for its children
MIN_SLEEP_SECONDS = 0.005
# Outcomes are written together, at most this late (or at once when this many wait):
# at a few hundred sends a second one transaction per send cost more CPU than the
# sends did. Harmless for correctness: a lease lasts far longer than this.
RECORD_EVERY_SECONDS = 0.05
RECORD_BATCH = 200
# How long the "next retry or throttle slot" look is trusted while idle.
NEXT_DUE_TTL_SECONDS = 0.25


class Dispatcher:
    def __init__(self):
        self.concurrency = max(1, settings.ESS_DISPATCH_CONCURRENCY)
        self.timeout = settings.ESS_DELIVERY_TIMEOUT_SECONDS
        self.poll = settings.ESS_DISPATCH_POLL_SECONDS
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._finished: queue.SimpleQueue[DeliveryOutcome] = queue.SimpleQueue()
        self._unrecorded: list[DeliveryOutcome] = []
        self._first_unrecorded_at = 0.0
        self._next_due: tuple[float, float | None] | None = None  # (looked at, seconds until due then)
        self._in_flight = 0
        self._channel = WebhookChannel(
            pool_size=self.concurrency,
            ca_bundle=settings.ESS_CA_BUNDLE,
            address_check=address_refusal,
            # http:// only for ESS_ALLOW_HTTP_HOSTS; the address is checked at connect.
            url_check=partial(url_error, resolve=False),
        )
        self._senders = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="ess-send")
        if settings.ESS_DELIVERY_LEASE_SECONDS < self.timeout + THROTTLE_HORIZON_SECONDS:
            log.warning(
                "ESS_DELIVERY_LEASE_SECONDS (%g) is shorter than a send can take (%g s): "
                "slow sends may be claimed again and delivered twice",
                settings.ESS_DELIVERY_LEASE_SECONDS,
                self.timeout + THROTTLE_HORIZON_SECONDS,
            )

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    @property
    def idle(self) -> bool:
        return self._in_flight == 0 and not self._unrecorded and self._finished.empty()

    def run_until(self, done: Callable[[], bool]) -> None:
        while not done():
            self.wake.clear()  # before looking, so a wake-up during the step is not lost
            try:
                again = self.step()
                if again or not self._finished.empty() or done():
                    continue
                # While sends are in flight, each one that finishes wakes the loop.
                pause = self.poll if self._in_flight else self._sleep_seconds()
                if self._unrecorded:
                    flush_at = self._first_unrecorded_at + RECORD_EVERY_SECONDS
                    pause = min(pause, max(0.0, flush_at - time.monotonic()))
                self.wake.wait(pause)
            except (DatabaseError, InterfaceError) as exc:
                log.warning("database error in the dispatcher (%s); trying again in 1 s", exc)
                close_old_connections()
                self.stopping.wait(1.0)

    def step(self) -> bool:
        """Claim and start what there is room for, then record finished sends.

        Claiming first keeps recording off the path of a newly published
        event. Returns True when claiming again at once may find more (a full
        throttle left other subscribers' deliveries behind in this batch).
        """
        self._collect()
        free = self.concurrency - self._in_flight
        claim = None
        if free > 0 and not self.stopping.is_set():
            claim = delivery_claim(limit=free)
            for delivery in claim.deliveries:
                self._start(delivery)
        self._record()
        return bool(claim and claim.throttled and claim.deliveries) and self._in_flight < self.concurrency

    def close(self, *, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop claiming, give sends in progress `grace` seconds, record what finished."""
        self.stop()
        deadline = time.monotonic() + grace
        while self._in_flight and time.monotonic() < deadline:
            self._collect(timeout=min(0.1, max(0.0, deadline - time.monotonic())))
        try:
            self._record(force=True)
        except (DatabaseError, InterfaceError):
            log.exception("could not record %d finished sends; they will be sent again", len(self._unrecorded))
        if self._in_flight:
            log.warning("%d sends still in progress at exit; their leases will run out", self._in_flight)
        self._senders.shutdown(wait=False, cancel_futures=True)
        self._channel.close()

    def _start(self, delivery: ClaimedDelivery) -> None:
        self._in_flight += 1
        future = self._senders.submit(delivery_send, self._channel, delivery, timeout=self.timeout)
        future.add_done_callback(self._finish)

    def _finish(self, future: Future) -> None:
        if not future.cancelled():
            self._finished.put(future.result())  # delivery_send never raises
        self.wake.set()

    def _collect(self, timeout: float = 0.0) -> None:
        try:
            if timeout:
                self._add_unrecorded(self._finished.get(timeout=timeout))
            while True:
                self._add_unrecorded(self._finished.get_nowait())
        except queue.Empty:
            pass

    def _add_unrecorded(self, outcome: DeliveryOutcome) -> None:
        if not self._unrecorded:
            self._first_unrecorded_at = time.monotonic()
        self._unrecorded.append(outcome)
        self._in_flight -= 1

    def _record(self, *, force: bool = False) -> None:
        self._collect()
        if not self._unrecorded:
            return
        due = time.monotonic() - self._first_unrecorded_at >= RECORD_EVERY_SECONDS
        if not (force or due or self.stopping.is_set() or len(self._unrecorded) >= RECORD_BATCH):
            return
        counts = deliveries_record(outcomes=self._unrecorded)
        self._unrecorded = []  # kept until written: a database error retries them next step
        self._next_due = None  # new retries may be due sooner than we last looked
        log.debug("recorded %s", dict(counts))

    def _sleep_seconds(self) -> float:
        clock = time.monotonic()
        if self._next_due is None or clock - self._next_due[0] > NEXT_DUE_TTL_SECONDS:
            self._next_due = (clock, deliveries_next_due_in(horizon=THROTTLE_HORIZON_SECONDS))
        looked_at, due_in = self._next_due
        if due_in is None:
            return min(self.poll, NEXT_DUE_TTL_SECONDS) if self._unrecorded else self.poll
        return min(self.poll, max(MIN_SLEEP_SECONDS, due_in - (clock - looked_at)))


def run() -> None:
    """One dispatcher process (started by `manage.py qcluster`), until SIGTERM or SIGINT."""
    dispatcher = Dispatcher()

    def _stop(signum, frame):
        dispatcher.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if connection.vendor == "postgresql":
        NotifyListener(wake=dispatcher.wake, stopping=dispatcher.stopping).start()
    log.info("dispatcher ready: up to %d concurrent sends", dispatcher.concurrency)
    try:
        dispatcher.run_until(dispatcher.stopping.is_set)
    finally:
        dispatcher.close()
        log.info("dispatcher stopped")


def dispatch_until_idle(*, timeout: float = 10.0) -> None:
    """Claim, send and record in this process until no webhook delivery is pending or in flight.

    For tests and one-off runs; gives up silently after `timeout` seconds
    (callers assert on the rows).
    """
    dispatcher = Dispatcher()
    deadline = time.monotonic() + timeout

    def done() -> bool:
        return time.monotonic() >= deadline or (dispatcher.idle and not deliveries_pending())

    try:
        dispatcher.run_until(done)
    finally:
        dispatcher.close(grace=max(0.0, deadline - time.monotonic()))
