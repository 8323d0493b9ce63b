"""Shared fixtures: moto as AWS, the declared resources, the app behind chalice's test client."""

from __future__ import annotations

import json
import os

# moto before anything that builds a boto3 client (or module-level clients escape the mock).
from moto import mock_aws  # isort: skip

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import boto3
import pytest
from chalice.test import Client

from tests.harness import world
from tests.harness.clients import Answer as Answer
from tests.harness.clients import Api
from tests.harness.faults import Faults
from tests.harness.moto_state import Calls, Checkpoints, MotoState
from tests.harness.world import Tenant

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
)
# Webhook receivers in tests are real servers on 127.0.0.1, as under make run: the
# local-development setting is on (test_webhooks.py checks it is off by default).
os.environ["CUSTOS_WEBHOOKS_ALLOW_LOOPBACK"] = "true"
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

PLATFORM_KEY = "cusp_test-platform-key-0123456789"


@pytest.fixture(scope="session", autouse=True)
def botocore_models_read_once() -> Iterator[None]:
    """Each JSON file of botocore's data (endpoints, service models) parsed once per test
    process, not once per boto3 Session: the app makes a Session per client, and tests
    reset the clients, so each test parsed endpoints.json and every service model again
    (a few tenths of a second a Session). botocore already shares one parsed file between
    the clients of a Session, so sharing it between Sessions hands out nothing it does not."""
    from botocore.loaders import JSONFileLoader

    original = JSONFileLoader.load_file
    parsed: dict[str, Any] = {}

    def load_file(self: JSONFileLoader, file_path: str) -> Any:
        if file_path not in parsed:
            parsed[file_path] = original(self, file_path)
        return parsed[file_path]

    JSONFileLoader.load_file = load_file
    yield
    JSONFileLoader.load_file = original


@pytest.fixture(scope="session", autouse=True)
def moto_without_table_copies() -> Iterator[None]:
    """moto as `make run` patches it (infra/moto_patches.py): a transaction keeps an undo
    log of the items it writes instead of deep-copying every table it touches once per
    item, so a request costs the same on the test's hundredth item as on its first (four
    tenants with their keys took nine times as long without). Its answers are moto's:
    tests/infra/test_moto_patches.py compares them with moto's own."""
    from infra import moto_patches

    moto_patches.install()
    yield
    moto_patches.uninstall()


@pytest.fixture
def atomic_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make in-process moto apply one request at a time, as DynamoDB applies each operation
    atomically. moto alone lets two threads' TransactWriteItems interleave (it deep-copies
    a table another thread is writing). Our code still races between its calls."""
    import threading

    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    original = BotocoreStubber.process_request

    def serialized(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", serialized)


# (prefix, config) -> what provisioning returned and moto's state right after it, once per
# test process: later tests start from a copy (tests/harness/moto_state.py).
PROVISIONED: dict[tuple[str, str], tuple[dict[str, str], MotoState]] = {}
# The fixtures' tenants, made once per process from a fresh provisioning, then replayed.
CHECKPOINTS = Checkpoints()


@pytest.fixture(scope="session", autouse=True)
def aws_calls_counted() -> Iterator[None]:
    """Checkpoints replay a step only if nothing but the steps before it called AWS."""
    stop = Calls.counting()
    yield
    stop()


@contextmanager
def provisioned(
    monkeypatch: pytest.MonkeyPatch, prefix: str = "test", config: dict[str, Any] | None = None
) -> Iterator[dict[str, str]]:
    """moto (with `config`) and every resource of infra/resources.py; the app's env vars.
    The first test of a process provisions them; the others get a copy of the result."""
    from chalicelib import bootstrap
    from infra.provision import provision

    with mock_aws(config=cast(Any, config)) if config else mock_aws():
        key = (prefix, json.dumps(config, sort_keys=True))
        if key in PROVISIONED:
            env, state = PROVISIONED[key]
            state.restore()
        else:
            env = provision(boto3.session.Session(), prefix, PLATFORM_KEY)
            PROVISIONED[key] = env, MotoState.capture()
        CHECKPOINTS.provisioned(key)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        yield env
        bootstrap.reset()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto with every resource of infra/resources.py created; yields the app's env vars."""
    with provisioned(monkeypatch) as env:
        yield env


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Faults:
    """Fault injection at the AWS calls the app makes (tests/harness/faults.py). Send
    through `PerRequest(api, faults)` so call sites are counted per request."""
    from chalicelib import bootstrap

    injector = Faults()
    injector.install(monkeypatch)
    bootstrap.reset()  # clients built from here on have retry quotas the fixture refills
    return injector


@pytest.fixture
def api(aws: dict[str, str]) -> Iterator[Api]:
    from app import app

    with Client(app) as client:
        yield Api(client)


def make_tenant(api: Api, name: str, own_keys_for: tuple[str, ...] = ()) -> Tenant:
    """A tenant with a principal and admin-issued key per role; `own_keys_for` (e.g.
    `world.JUDGES`) rotate theirs, as a principal must before it classifies or decides."""
    return world.make_tenant(api, name, PLATFORM_KEY, own_keys_for=own_keys_for)


own_keys = world.own_keys  # own_keys(api, tenant, "validator", ...): keys of their own
JUDGES = world.JUDGES


@pytest.fixture
def tenant(api: Api) -> Tenant:
    """Acme, made through the API (or, after the first test of a process, a copy of what
    that left in moto: tests/harness/moto_state.py)."""
    return CHECKPOINTS.step(("tenant", "Acme"), lambda: make_tenant(api, "Acme"))


@pytest.fixture
def judges(api: Api, tenant: Tenant) -> Tenant:
    """`tenant`, its validators and approvers holding keys of their own (one rotation
    each), as they must to classify a model, decide an approval stage or accept risk."""
    rotated = CHECKPOINTS.step(("judges", tenant.id), lambda: own_keys(api, tenant, *JUDGES))
    vars(tenant).update(vars(rotated))  # the `tenant` of the same test holds them too
    return tenant


@pytest.fixture
def other_tenant(api: Api) -> Tenant:
    return CHECKPOINTS.step(("tenant", "Globex"), lambda: make_tenant(api, "Globex"))


def new_model(api: Api, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = {"name": "Credit PD", "purpose": "Probability of default", "risk_tier": 2, **fields}
    answer = api.post("/v1/models", tenant.keys["developer"], body)
    assert answer.status == 201, answer.json
    return dict(answer.json)


confirm_tier = world.confirm_tier  # confirm_tier(api, tenant, model): the tier in force
