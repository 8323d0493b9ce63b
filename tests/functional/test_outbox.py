"""Domain events are written with the change and published to the fan-out topic by the
stream consumer."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest

from tests.conftest import Api, Tenant, new_model
from tests.harness.tap import EventTap

Relay = Callable[[], list[dict]]


@pytest.fixture
def relay(aws: dict[str, str]) -> Relay:
    """Drive the app's stream consumer as Lambda would; answer what the fan-out topic
    delivered since to a queue that subscribes to every event."""
    from app import app
    from infra.dispatch import Dispatcher

    session = boto3.session.Session()
    dispatcher = Dispatcher(app, session, aws)
    tap = EventTap(session, aws["CUSTOS_EVENTS_TOPIC_ARN"])

    def drain() -> list[dict]:
        dispatcher.pump_all()
        return tap.take()

    return drain


def test_committed_changes_reach_the_events_queue_once_each(
    api: Api, tenant: Tenant, relay: Relay
) -> None:
    relay()  # the tenant's own setup events
    model = new_model(api, tenant)
    api.post(f"/v1/models/{model['id']}/versions", tenant.keys["developer"], {})
    received = relay()
    assert [e["type"] for e in received] == ["model.created", "version.created"]
    assert received[0]["data"]["id"] == model["id"]
    assert received[0]["tenant_id"] == tenant.id
    assert received[0]["actor"]["principal_id"] == tenant.ids["developer"]
    assert len({e["id"] for e in received}) == 2


def test_a_refused_change_publishes_nothing(api: Api, tenant: Tenant, relay: Relay) -> None:
    model = new_model(api, tenant)
    relay()
    api.patch(f"/v1/models/{model['id']}", tenant.keys["developer"], {"purpose": "x"}, '"5"')
    api.post("/v1/models", tenant.keys["developer"], {"name": "x", "purpose": "y", "risk_tier": 9})
    assert relay() == []


def test_tenant_creation_publishes_tenant_principal_and_key_events(api: Api, relay: Relay) -> None:
    from tests.conftest import PLATFORM_KEY

    api.post(
        "/v1/tenants",
        PLATFORM_KEY,
        {"name": "Umbrella", "admin_name": "Al", "admin_email": "al@u.example"},
    )
    kinds = [e["type"] for e in relay()]
    assert kinds == ["tenant.created", "principal.created", "api_key.created"]
