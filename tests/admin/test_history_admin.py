"""Events, deliveries and attempts in the admin: read-only, filterable, searchable by id."""

import pytest
from django.utils import timezone

import hub
from hub.models import Attempt, Delivery, Subscriber


@pytest.fixture
def delivery(db):
    Subscriber.objects.create(id="md-mm1", url="https://127.0.0.1/h", topics=["drug.#"])
    hub.publish("drug.copay", {"ndc": "00002-8215"})
    delivery = Delivery.objects.get()
    Attempt.objects.create(
        delivery=delivery,
        subscriber_id="md-mm1",
        number=1,
        started_at=timezone.now(),
        duration_ms=12.5,
        outcome="failure",
        status_code=503,
        response_excerpt="upstream unavailable",
    )
    return delivery


@pytest.mark.parametrize("model", ["event", "delivery", "attempt", "manualaction"])
def test_history_cannot_be_added(admin_client, model):
    assert admin_client.get(f"/admin/hub/{model}/add/").status_code == 403


def test_event_list_filters_by_topic_and_channel(admin_client, delivery):
    other = hub.publish("appointment.cancelled", {})
    page = admin_client.get("/admin/hub/event/", {"topic": "drug.copay", "channel": "live"}).content.decode()
    assert delivery.event.uid in page
    assert other.uid not in page
    assert "appointment.cancelled" in page  # offered as a filter choice


def test_event_search_by_uid(admin_client, delivery):
    other = hub.publish("drug.copay", {})
    page = admin_client.get("/admin/hub/event/", {"q": other.uid}).content.decode()
    assert other.uid in page and delivery.event.uid not in page


def test_event_page_shows_the_envelope_read_only(admin_client, delivery):
    page = admin_client.get(f"/admin/hub/event/{delivery.event_id}/change/").content.decode()
    assert "00002-8215" in page
    assert 'name="_save"' not in page


def test_delivery_page_shows_its_attempts(admin_client, delivery):
    page = admin_client.get(f"/admin/hub/delivery/{delivery.pk}/change/").content.decode()
    assert "upstream unavailable" in page and "503" in page
    assert 'name="_save"' not in page


@pytest.mark.parametrize("query", ["status=pending", "subscriber__id__exact=md-mm1", "channel=live"])
def test_delivery_list_filters(admin_client, delivery, query):
    page = admin_client.get(f"/admin/hub/delivery/?{query}").content.decode()
    assert delivery.uid in page


def test_delivery_filter_excludes_other_statuses(admin_client, delivery):
    assert delivery.uid not in admin_client.get("/admin/hub/delivery/?status=dead").content.decode()


@pytest.mark.parametrize("by", ["delivery", "event"])
def test_delivery_search_by_delivery_or_event_id(admin_client, delivery, by):
    term = delivery.uid if by == "delivery" else delivery.event.uid
    assert delivery.uid in admin_client.get("/admin/hub/delivery/", {"q": term}).content.decode()


def test_attempt_list_filters_by_outcome(admin_client, delivery):
    assert delivery.uid in admin_client.get("/admin/hub/attempt/?outcome=failure").content.decode()
    assert delivery.uid not in admin_client.get("/admin/hub/attempt/?outcome=success").content.decode()


def test_manual_actions_are_listed(admin_client, delivery, admin_user):
    from hub.services.subscribers import subscriber_pause

    subscriber_pause(subscriber=Subscriber.objects.get(), by=admin_user)
    page = admin_client.get("/admin/hub/manualaction/").content.decode()
    assert "subscriber:md-mm1" in page and "subscriber paused" in page
