"""Sixteen writers, one ETag: exactly one wins, and the trail stays whole."""

from __future__ import annotations

import threading

import boto3
import pytest

from tests.conftest import Api, Tenant, new_model


@pytest.mark.usefixtures("atomic_aws")
def test_sixteen_concurrent_patches_with_one_etag_have_exactly_one_winner(
    api: Api, tenant: Tenant, aws: dict[str, str]
) -> None:
    # GIVEN a model at revision 1 and its outbox already relayed
    from app import app
    from infra.dispatch import Dispatcher

    model = new_model(api, tenant)
    dispatcher = Dispatcher(app, boto3.session.Session(), aws)
    dispatcher.pump_all()
    sqs = boto3.client("sqs")
    queue = aws["CUSTOS_EVENTS_QUEUE_URL"]
    sqs.purge_queue(QueueUrl=queue)
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
    bodies = []
    for _ in range(10):
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        bodies += [m["Body"] for m in got]
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
            ],
        )
    assert len(bodies) == 1 and '"model.updated"' in bodies[0]


@pytest.mark.usefixtures("atomic_aws")
def test_concurrent_writers_in_one_tenant_never_fork_the_chain(api: Api, tenant: Tenant) -> None:
    statuses: list[int] = []

    def register(i: int) -> None:
        statuses.append(
            api.post(
                "/v1/models",
                tenant.keys["developer"],
                {"name": f"m{i}", "purpose": "p", "risk_tier": 3},
            ).status
        )

    threads = [threading.Thread(target=register, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert statuses == [201] * 12
    verified = api.get("/v1/audit/verify?full=true", tenant.keys["auditor"]).json
    assert verified["valid"] and verified["head_seq"] == verified["verified_to"]
