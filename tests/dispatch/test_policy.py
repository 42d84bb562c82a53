"""Back-off, Retry-After and the subscriber's view of an envelope: pure policy functions."""

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from hub.services.deliveries import envelope_for_subscriber, retry_after_seconds, retry_delay

NOW = datetime(2024, 5, 7, 14, 3, 11, tzinfo=UTC)


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5])
def test_back_off_doubles_from_the_base_with_jitter(attempt):
    delays = [retry_delay(attempt=attempt, base=30, cap=3600, rng=random.Random(seed)) for seed in range(50)]

    expected = 30 * 2 ** (attempt - 1)
    assert all(expected <= delay <= 1.25 * expected for delay in delays)
    assert len(set(delays)) > 1  # jittered, so retries of many deliveries do not arrive together


def test_back_off_is_capped():
    assert retry_delay(attempt=30, base=30, cap=3600) == 3600


def test_the_default_back_off_rides_out_a_fifteen_minute_outage():
    # Six tries at the defaults (30 s base, 5 retries) span at least 30+60+120+240+480 s.
    lowest = sum(retry_delay(attempt=n, base=30, cap=3600, rng=_Lowest()) for n in range(1, 6))
    assert lowest >= 15 * 60


def test_retry_after_raises_the_delay_but_never_past_the_cap():
    assert retry_delay(attempt=1, base=1, cap=3600, retry_after=120) == 120
    assert retry_delay(attempt=1, base=1, cap=3600, retry_after=10**7) == 3600


def test_retry_after_in_seconds_or_as_an_http_date():
    assert retry_after_seconds("120", now=NOW) == 120
    assert retry_after_seconds(format_datetime(NOW + timedelta(seconds=90), usegmt=True), now=NOW) == 90
    assert retry_after_seconds(format_datetime(NOW - timedelta(seconds=90), usegmt=True), now=NOW) == 0
    assert retry_after_seconds("soon", now=NOW) is None
    assert retry_after_seconds(None, now=NOW) is None


def test_an_envelope_with_nothing_to_redact_is_sent_byte_for_byte_as_stored():
    stored = '{"id":"evt_1","topic":"a","cursor":1,"ts":"2024-05-07T14:03:11Z","channel":"live","data":{"x":1.10}}'

    assert envelope_for_subscriber(envelope=stored, paths=[]) is stored
    assert envelope_for_subscriber(envelope=stored, paths=["patient.ssn"]) is stored


def test_redaction_deletes_paths_inside_lists_and_keeps_key_order():
    stored = '{"id":"evt_1","data":{"z":1,"members":[{"ssn":"1","n":"a"},{"n":"b"}],"a":2}}'

    assert envelope_for_subscriber(envelope=stored, paths=["members.ssn"]) == (
        '{"id":"evt_1","data":{"z":1,"members":[{"n":"a"},{"n":"b"}],"a":2}}'
    )


class _Lowest(random.Random):
    def uniform(self, a, b):
        return a
