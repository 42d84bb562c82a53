"""`manage.py ess status`: one row per subscriber on stdout, starting with its id."""

import json
from datetime import UTC, datetime
from io import StringIO

from django.core.management import call_command

import hub
from hub.models import Delivery, Subscriber


def _ess(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("ess", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_one_row_per_subscriber_starting_with_its_id(db):
    Subscriber.objects.create(id="md-mm1", url="https://127.0.0.1/a", topics=["drug.#"])
    Subscriber.objects.create(id="mo-medicaid", url="https://127.0.0.1/b", topics=["x"], state="paused")
    for _ in range(3):
        hub.publish("drug.copay", {})
    Delivery.objects.filter(event_id=1).update(status=Delivery.Status.DEAD)
    out, err = _ess("status")
    rows = [line.split() for line in out.splitlines()]
    assert [row[0] for row in rows] == ["md-mm1", "mo-medicaid"]
    # id, state, lag, pending, dead, last ack
    assert rows[0] == ["md-mm1", "failing", "3", "2", "1", "never"]
    assert rows[1] == ["mo-medicaid", "paused", "0", "0", "0", "never"]
    assert err.splitlines()[0].split() == ["ID", "STATE", "LAG", "PENDING", "DEAD", "LAST_ACK"]


def test_last_ack_is_shown_in_rfc3339(db):
    acked = datetime(2024, 5, 7, 14, 3, 11, tzinfo=UTC)
    Subscriber.objects.create(id="a", url="https://127.0.0.1/a", topics=["#"], last_ack_at=acked, last_ack_cursor=0)
    out, _ = _ess("status")
    assert out.split()[-1] == "2024-05-07T14:03:11Z"


def test_json_prints_the_status_answer(db):
    Subscriber.objects.create(id="a", url="https://127.0.0.1/a", topics=["#"])
    out, _ = _ess("status", "--json")
    answer = json.loads(out)
    assert answer["latest_cursor"] == 0 and [s["id"] for s in answer["subscribers"]] == ["a"]
