"""Sixteen writers, one ETag: exactly one wins. Sixteen writer processes, one tenant: the
trail stays whole, anchored while they write, and an export of it verifies offline."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client

from tests.conftest import PLATFORM_KEY, Api, Tenant, make_tenant, new_model
from tests.harness.processes import FAKE_AWS, moto_server, race, start_writers
from tests.harness.tap import EventTap


@pytest.mark.usefixtures("atomic_aws")
def test_sixteen_concurrent_patches_with_one_etag_have_exactly_one_winner(
    api: Api, tenant: Tenant, aws: dict[str, str]
) -> None:
    # GIVEN a model at revision 1 and its outbox already relayed
    from app import app
    from infra.dispatch import Dispatcher

    model = new_model(api, tenant)
    dispatcher = Dispatcher(app, boto3.session.Session(), aws)
    tap = EventTap(boto3.session.Session(), aws["CUSTOS_EVENTS_TOPIC_ARN"])
    dispatcher.pump_all()
    tap.take()
    statuses: list[int] = []
    barrier = threading.Barrier(16)

    def patch(i: int) -> None:
        barrier.wait(timeout=30)
        answer = api.patch(
            f"/v1/models/{model['id']}", tenant.keys["developer"], {"purpose": f"writer {i}"}, '"1"'
        )
        statuses.append(answer.status)

    # WHEN sixteen threads patch with the same ETag
    threads = [threading.Thread(target=patch, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    # THEN one wins, fifteen get 412, the chain verifies and one event is published
    assert sorted(statuses) == [200] + [412] * 15
    assert api.get(f"/v1/models/{model['id']}", tenant.keys["developer"]).json["revision"] == 2
    verified = api.get("/v1/audit/verify?full=true", tenant.keys["auditor"]).json
    assert verified["valid"] and verified["complete"]
    actions = [
        e["action"]
        for e in api.get("/v1/audit-events?limit=100", tenant.keys["auditor"]).json["items"]
    ]
    assert actions.count("model.updated") == 1
    dispatcher.pump_all()
    published = tap.take()
    assert [e["type"] for e in published] == ["model.updated"]


WRITERS = 16
WRITES_EACH = 4


@pytest.fixture
def shared_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """One moto server in a process of its own with every declared resource; this process
    talks to it as the writers do. Yields the writers' environment."""
    from chalicelib import bootstrap
    from infra.provision import provision

    with moto_server() as endpoint:
        aws = {**FAKE_AWS, "AWS_ENDPOINT_URL": endpoint}
        for name, value in aws.items():
            monkeypatch.setenv(name, value)
        custos = provision(boto3.session.Session(), "race", PLATFORM_KEY)
        for name, value in custos.items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        yield {**aws, **custos}
        bootstrap.reset()


@pytest.mark.slow
def test_writers_in_sixteen_processes_never_fork_one_tenants_chain(
    shared_aws: dict[str, str], tmp_path: Path
) -> None:
    # GIVEN a tenant on a DynamoDB shared by sixteen writer processes; threads of one
    # process take turns at the chain head, processes do not, so only the transaction's
    # conditions (the head at the sequence read, the next event not yet there) keep two
    # processes from appending on the same head
    from app import app

    writers = start_writers(shared_aws, WRITERS)  # importing the app while we set up
    try:
        with Client(app) as client:
            api = Api(client)
            tenant = make_tenant(api, "Acme")
            verified = api.get("/v1/audit/verify?full=true", tenant.keys["auditor"]).json
            before = verified["head_seq"]

            # WHEN they all register models at once, while the chain head is anchored
            anchoring = Anchoring(tenant.id)
            anchoring.start()
            try:
                answers = race(writers, tenant.keys["developer"], WRITES_EACH, timeout=60)
            finally:
                anchoring.stop()

            # THEN every answer is a 201 or a retryable 503 that changed nothing, every
            # acknowledged model is audited exactly once, and the chain runs 1..n unbroken
            assert len(answers) == WRITERS * WRITES_EACH
            refused = [a for a in answers if a["status"] != 201]
            assert all(a["status"] == 503 and a["retry_after"] for a in refused), refused
            created = Counter(a["id"] for a in answers if a["status"] == 201)
            events = audit_events(api, tenant.keys["auditor"])
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
            audited = Counter(e["subject"]["id"] for e in events if e["action"] == "model.created")
            assert audited == created
            models = api.get("/v1/models?limit=100", tenant.keys["developer"]).json["items"]
            assert Counter(m["id"] for m in models) == created
            # (each page of the trail read is audited too: audit.read, after the page)
            changes = [e for e in events if e["action"] != "audit.read"]
            assert len(changes) == before + len(created)
            verified = api.get("/v1/audit/verify?full=true", tenant.keys["auditor"]).json
            assert verified["valid"] and verified["complete"], verified
            assert verified["head_seq"] == verified["verified_to"] >= len(events)

            # AND an export of the chain, anchored mid-race, verifies offline
            assert anchoring.anchored, "no anchor was written during the race"
            report = exported_and_verified(tenant.id, tmp_path)
            assert report.valid, report.damage
            assert report.anchored_to >= max(anchoring.anchored)
    finally:
        for writer in writers:
            writer.stop()


class Anchoring:
    """Anchors a tenant's chain head over and over in a thread, as the consumer would."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.anchored: list[int] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        from chalicelib.domain.actors import Actor, SystemPart
        from chalicelib.services.anchors import anchor_tenant

        actor = Actor.of_system(SystemPart.SCHEDULER, "race", self.tenant_id)
        while not self.done.wait(0.2):
            anchor = anchor_tenant(actor)
            if anchor:
                self.anchored.append(int(anchor["seq"]))

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=60)


def exported_and_verified(tenant_id: str, where: Path) -> Any:
    """The tenant's chain written as an export and checked by the offline verifier."""
    from chalicelib.audit import verify
    from chalicelib.domain.actors import Actor, SystemPart
    from chalicelib.services.audit_export import write_export

    directory = where / "export"
    write_export(Actor.of_system(SystemPart.SCHEDULER, "race", tenant_id), directory)
    return verify.verify(directory)


def audit_events(api: Api, key: str) -> list[dict[str, Any]]:
    """The tenant's whole audit trail, page by page."""
    events: list[dict[str, Any]] = []
    path = "/v1/audit-events?limit=100"
    for _ in range(100):
        page = api.get(path, key)
        assert page.status == 200, page.json
        events += page.json["items"]
        if not page.json["next_cursor"]:
            return events
        path = f"/v1/audit-events?limit=100&cursor={page.json['next_cursor']}"
    raise AssertionError("the audit trail did not end in 100 pages")
