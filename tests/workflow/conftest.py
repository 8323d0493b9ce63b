"""The approval workflow executed by moto's Step Functions, in this process."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import boto3
import pytest
from chalice.test import Client

from tests.conftest import JUDGES, Api, Tenant, make_tenant, provisioned
from tests.harness.scenario import until  # noqa: F401  (the workflow tests wait with it)


@pytest.fixture
def executing_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto with every declared resource, executing state machines for real."""
    with provisioned(monkeypatch, "wf", {"stepfunctions": {"execute_state_machine": True}}) as env:
        yield env


@pytest.fixture
def wf_api(executing_aws: dict[str, str]) -> Iterator[Api]:
    from app import app

    with Client(app) as client:
        yield Api(client)


@pytest.fixture
def wf_tenant(wf_api: Api) -> Tenant:
    return make_tenant(wf_api, "Workflow Bank", own_keys_for=JUDGES)


@pytest.fixture
def pump(executing_aws: dict[str, str]) -> Callable[[], int]:
    """One pass of the local dispatcher over every stream and queue the app declares."""
    from app import app
    from infra.dispatch import Dispatcher

    dispatcher = Dispatcher(app, boto3.session.Session(), executing_aws)
    return dispatcher.pump_all
