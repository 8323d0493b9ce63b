"""Threads of one process take turns at a tenant's chain head, as `make run`'s threaded
server runs them: none of them spends a transaction losing a race to another."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import Api, Tenant


@pytest.mark.usefixtures("atomic_aws")
def test_eight_threads_writing_to_one_tenant_send_one_transaction_each(
    api: Api, tenant: Tenant
) -> None:
    # GIVEN a count of the transactions the app sends
    from chalicelib import bootstrap

    sent: list[str] = []
    bootstrap.client("dynamodb").meta.events.register(
        "before-call.dynamodb.TransactWriteItems", lambda **_: sent.append("tx")
    )
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def register(i: int) -> None:
        barrier.wait(timeout=30)
        body = {"name": f"m{i}", "purpose": "p", "risk_tier": 3}
        statuses.append(api.post("/v1/models", tenant.keys["developer"], body).status)

    # WHEN eight threads register a model in the same tenant at once
    threads = [threading.Thread(target=register, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    # THEN each write took one transaction, and the chain holds all eight in order
    assert statuses == [201] * 8
    assert len(sent) == 8
    verified = api.get("/v1/audit/verify?full=true", tenant.keys["auditor"]).json
    assert verified["valid"] and verified["head_seq"] == verified["verified_to"]


def test_a_write_on_a_stale_cached_head_retries_on_the_fresh_one(api: Api, tenant: Tenant) -> None:
    # GIVEN this process's cached chain head is behind the table's, as when another
    # process has appended since (turns only order the threads of one process)
    from chalicelib import bootstrap
    from chalicelib.store import audit_head
    from chalicelib.store.keys import TenantKeys

    body = {"name": "m", "purpose": "p", "risk_tier": 3}
    assert api.post("/v1/models", tenant.keys["developer"], body).status == 201
    seq, _ = audit_head.current(TenantKeys(tenant.id), fresh=True)
    audit_head.forget(tenant.id)
    audit_head.remember(tenant.id, (seq - 1, "0" * 64))
    sent: list[str] = []
    bootstrap.client("dynamodb").meta.events.register(
        "before-call.dynamodb.TransactWriteItems", lambda **_: sent.append("tx")
    )

    # WHEN the process writes again
    answer = api.post("/v1/models", tenant.keys["developer"], body)

    # THEN the conditional head update refuses the stale append, the retry on the fresh
    # head commits, and the chain stays whole
    assert answer.status == 201
    assert len(sent) == 2
    verified = api.get("/v1/audit/verify?full=true", tenant.keys["auditor"]).json
    assert verified["valid"] and verified["head_seq"] == seq + 1
