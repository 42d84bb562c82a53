"""`manage.py ess publish`: one event from the arguments, or a JSON Lines file in batches of 1000."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from hub.models import Event


def _ess(*args) -> str:
    out = StringIO()
    call_command("ess", *args, stdout=out)
    return out.getvalue()


def test_publish_one_event(db):
    output = _ess("publish", "drug.copay", "--data", '{"ndc": "00002-8215"}')
    event = Event.objects.get()
    assert json.loads(event.envelope)["data"] == {"ndc": "00002-8215"}
    assert event.uid in output and f"cursor {event.id}" in output


def test_publish_one_test_event_with_an_idempotency_key(db):
    _ess("publish", "drug.copay", "--data", "{}", "--channel", "test", "--idempotency-key", "k1")
    _ess("publish", "drug.copay", "--data", "{}", "--channel", "test", "--idempotency-key", "k1")
    assert list(Event.objects.values_list("channel", flat=True)) == ["test"]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["publish", "Drug", "--data", "{}"], "invalid event"),
        (["publish", "drug.copay", "--data", "[1]"], "invalid event"),
        (["publish", "drug.copay", "--data", "{oops"], "not JSON"),
        (["publish", "drug.copay"], "give TOPIC --data JSON"),
    ],
)
def test_bad_arguments_are_errors_and_store_nothing(db, args, reason):
    with pytest.raises(CommandError, match=reason):
        _ess(*args)
    assert not Event.objects.exists()


def test_publish_a_file_in_batches_with_progress(db, tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [json.dumps({"topic": "bulk.load", "data": {"n": n}}) for n in range(2500)]
    path.write_text("\n".join(lines[:1200]) + "\n\n" + "\n".join(lines[1200:]) + "\n")
    output = _ess("publish", "--file", str(path))
    assert Event.objects.count() == 2500
    assert [
        json.loads(e)["data"]["n"] for e in Event.objects.order_by("id").values_list("envelope", flat=True)
    ] == list(range(2500))
    progress = [line for line in output.splitlines() if line.startswith("published")]
    assert [line.split()[1] for line in progress] == ["1000/2500", "2000/2500", "2500/2500"]


def test_a_bad_line_names_its_line_number_and_stores_nothing(db, tmp_path):
    path = tmp_path / "events.jsonl"
    good = json.dumps({"topic": "bulk.load", "data": {}})
    path.write_text("\n".join([good] * 1500 + [json.dumps({"topic": "bulk.load"})] + [good]) + "\n")
    with pytest.raises(CommandError, match=r"events.jsonl:1501: invalid event"):
        _ess("publish", "--file", str(path))
    assert not Event.objects.exists()


def test_a_line_that_is_not_json_names_its_line_number(db, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"topic": "a.b", "data": {}}) + "\n{oops\n")
    with pytest.raises(CommandError, match=r"events.jsonl:2: not JSON"):
        _ess("publish", "--file", str(path))
    assert not Event.objects.exists()
