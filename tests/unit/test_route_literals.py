"""Values a route declaration writes out (so declaring it imports no pydantic module) are
the values of the enums they stand for."""

from __future__ import annotations

from chalicelib.api import approvals as approvals_api
from chalicelib.api import deployments as deployments_api
from chalicelib.domain.approvals import RequestStatus
from chalicelib.domain.deployments import Environment


def test_the_inbox_status_filter_offers_every_request_status_and_nothing_else() -> None:
    assert tuple(str(s) for s in RequestStatus) == approvals_api.REQUEST_STATUSES


def test_the_deployment_environment_filter_offers_every_environment() -> None:
    assert tuple(str(e) for e in Environment) == deployments_api.ENVIRONMENTS


def test_the_delivery_status_filter_offers_every_delivery_status() -> None:
    from chalicelib.api import webhooks as webhooks_api
    from chalicelib.domain.webhooks import DeliveryStatus

    assert tuple(str(s) for s in DeliveryStatus) == webhooks_api.DELIVERY_STATUSES
