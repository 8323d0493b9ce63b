"""A compliance scan of one tenant holding 1,000 and then 5,000 models: its AWS calls and the
peak memory of the scan itself.

Against moto in a process of its own (make run's server, its patches installed; every
resource of infra/resources.py provisioned), a tenant per size is seeded beside two small
ones: each model with an owner, an approved version 1 (its model card,
its approval naming the artifact's S3 object version), the artifact's object in S3, and one
model in five deployed to production with a metric summary. Some are out of policy, in the
same proportions at every size: one model in ten has a model card missing a section the
policy requires, one in twenty an artifact replaced in S3 after its approval, and one in
five of those in production reports an AUC below the policy's threshold. The items are
written with the store's own item builders (`TenantStore` ops), in batches, not through the
API: seeding 5,000 models through HTTP would measure the seeding.

Then the scan runs (`services.scan.run`, as the consumer calls it) twice: once to open the
findings, once more with nothing changed (every finding only seen again). For each run:
its DynamoDB and S3 calls by operation (botocore's event hooks, bench/counting.py), the
findings it opened, and the peak of memory this process allocated while it ran
(tracemalloc's peak: the scan and the boto3 calls it makes; moto's tables are in the other
process, so they are not counted).

The figures asked for: calls grow with pages of models (a Query page is 100 items, a
BatchGetItem 100 keys, a ListObjectVersions page 1,000 object versions), not with models;
memory stays flat from 1,000 to 5,000 models.

`python -m bench.scan` prints this part alone; `python -m bench` runs every part.
"""

from __future__ import annotations

import json
import os
import sys
import time
import tracemalloc
from collections import Counter
from typing import Any

SIZES = tuple(int(n) for n in os.environ.get("BENCH_SCAN_SIZES", "1000,5000").split(","))
SMALL_TENANTS = 2
SMALL_MODELS = 20
PRODUCTION_EVERY = 5
MISSING_CARD_EVERY = 10
REPLACED_EVERY = 20
LOW_AUC_EVERY = 5  # of the production ones


def _items(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [op["Put"]["Item"] for op in ops]


def seed(tenant_id: str, models: int) -> None:
    """A tenant of `models` models as described in the module docstring."""
    import boto3

    from chalicelib.config import settings
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.metrics import series_key
    from chalicelib.store import tenants
    from chalicelib.store.scope import for_tenant

    store = for_tenant(tenant_id)
    at = "2026-11-01T00:00:00.000Z"
    owner = new_id("principal")
    ops = [
        tenants.put_new(
            {"id": tenant_id, "name": f"Bench {models}", "status": "active", "created_at": at}
        ),
        store.principals.put_new(
            {
                "id": owner,
                "name": "Owner",
                "kind": "person",
                "roles": ["developer"],
                "status": "active",
                "created_at": at,
                "updated_at": at,
                "revision": 1,
            }
        ),
    ]
    s3 = boto3.client("s3")
    bucket = settings().bucket
    summaries: list[dict[str, Any]] = []
    for n in range(models):
        model_id = new_id("model")
        key = store.keys.object_key(model_id, 1, "model.bin")
        approved = s3.put_object(Bucket=bucket, Key=key, Body=b"weights")["VersionId"]
        if n % REPLACED_EVERY == 3:
            s3.put_object(Bucket=bucket, Key=key, Body=b"replaced after the approval")
        production = n % PRODUCTION_EVERY == 0
        model = {
            "id": model_id,
            "name": f"Model {n:05d}",
            "purpose": "Benchmark",
            "owner_id": owner,
            "developer_ids": [owner],
            "risk_tier": 3,
            "risk_tier_confirmed": True,
            "risk_tier_in_force": 3,
            "regulatory_scope": [],
            "version_count": 1,
            "approved_versions": 1,
            "production_deployments": int(production),
            "status": "in_production" if production else "approved",
            "created_by": owner,
            "created_at": at,
            "updated_at": at,
            "revision": 1,
        }
        card = {"intended_use": "Benchmark"} if n % MISSING_CARD_EVERY else {}
        version = {
            "id": new_id("version"),
            "model_id": model_id,
            "number": 1,
            "status": "approved",
            "lineage": {},
            "model_card": card,
            "created_by": owner,
            "created_at": at,
            "updated_at": at,
            "revision": 3,
            "revalidation_due_at": "2029-11-01T00:00:00Z",
            "approval": {
                "request_id": new_id("approval_request"),
                "policy_version": 1,
                "approved_at": at,
                "artifacts": [
                    {
                        "name": "model.bin",
                        "kind": "model",
                        "size": 7,
                        "sha256": "0" * 64,
                        "s3_version_id": approved,
                    }
                ],
            },
        }
        ops += [store.inventory.put_new_model(model), store.inventory.put_new_version(version)]
        if production:
            ops.append(
                store.deployments.put_new(
                    {
                        "id": new_id("deployment"),
                        "model_id": model_id,
                        "version_number": 1,
                        "version_id": version["id"],
                        "environment": "production",
                        "target": f"k8s://prod/{n}",
                        "since": at,
                        "deployed_by": owner,
                    }
                )
            )
            auc = 0.6 if (n // PRODUCTION_EVERY) % LOW_AUC_EVERY == 1 else 0.8
            summaries.append({"model_id": model_id, "auc": auc})
    table = boto3.resource("dynamodb").Table(settings().table)
    from boto3.dynamodb.types import TypeDeserializer

    plain = TypeDeserializer()
    now = "2026-12-01T00:00:00.000Z"
    with table.batch_writer() as writer:
        for item in _items(ops):
            writer.put_item(Item={k: plain.deserialize(v) for k, v in item.items()})
        for summary in summaries:
            from decimal import Decimal

            point = {"name": "auc", "value": Decimal(str(summary["auc"])), "observed_at": now}
            writer.put_item(
                Item={
                    **store.keys.metric_summary(summary["model_id"], 1),
                    "tenant_id": tenant_id,
                    "model_id": summary["model_id"],
                    "version_number": 1,
                    "last_observed_at": now,
                    "latest": {series_key("auc", None): point},
                    "revision": 1,
                }
            )


def scan_once(tenant_id: str, counter: Any) -> dict[str, Any]:
    """One scan of the tenant: its calls by service and operation, its counts, its time, and
    the peak of memory this process allocated while it ran (moto runs in another one)."""
    from chalicelib.domain.actors import Actor, SystemPart
    from chalicelib.domain.ids import new_id
    from chalicelib.services import scan

    actor = Actor.of_system(SystemPart.SCAN, "bench", tenant_id)
    tracemalloc.start()
    started = time.perf_counter()
    with counter.record() as calls:
        result = scan.run(actor, tenant_id, new_id("scan"), "request")
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    by_op: Counter[str] = Counter()
    for part in calls.by_part.values():
        by_op.update(part)
    return {
        "status": result["status"],
        "counts": result["counts"],
        "calls": dict(sorted(by_op.items())),
        "dynamodb_calls": sum(n for op, n in by_op.items() if op.startswith("DynamoDB.")),
        "s3_calls": sum(n for op, n in by_op.items() if op.startswith("S3.")),
        "peak_kib": round(peak / 1024, 1),
        "seconds": round(seconds, 1),
    }


def serve_moto() -> None:
    """The child: moto's server as `make run` serves it (its patches installed), its port
    on stdout, until stdin closes."""
    from infra import moto_patches
    from infra.moto_server import MotoServer

    moto_patches.install()
    server = MotoServer("127.0.0.1", 0)
    server.start()
    print(server.port, flush=True)
    sys.stdin.read()
    server.stop()


def policy_with_threshold(tenant_id: str) -> None:
    """The tenant's policy: the defaults and an AUC floor for every tier."""
    from chalicelib.domain.actors import Actor, SystemPart
    from chalicelib.domain.policy import DEFAULT_BODY, PolicyBody
    from chalicelib.services import policy

    body = PolicyBody.model_validate_json(
        json.dumps(
            {
                **DEFAULT_BODY,
                "metric_thresholds": [
                    {"metric": "auc", "comparison": "lt", "threshold": 0.7, "severity": "high"}
                ],
            }
        )
    )
    admin = Actor.of_system(SystemPart.SCHEDULER, "bench", tenant_id)
    policy.put_policy(admin, body, lambda current: current)


def run() -> dict[str, Any]:
    import subprocess

    import boto3

    from bench.counting import CallCounter
    from bench.seed import PLATFORM_KEY
    from infra.local import aws_environment

    child = subprocess.Popen(
        [sys.executable, "-m", "bench.scan", "--serve-moto"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    aws_environment(int(child.stdout.readline()))  # the child's moto, as make run points at it
    counter = CallCounter()
    counter.install()
    figures: dict[str, Any] = {"moto": "another process (make run's server)", "sizes": {}}
    try:
        from chalicelib import bootstrap
        from chalicelib.config import settings
        from chalicelib.domain.ids import new_id
        from infra.provision import provision

        os.environ.update(provision(boto3.session.Session(), "bench", PLATFORM_KEY))
        settings.cache_clear()
        bootstrap.reset()
        small = [new_id("tenant") for _ in range(SMALL_TENANTS)]
        for tenant_id in small:
            seed(tenant_id, SMALL_MODELS)
        # Unmeasured: each small tenant scanned once, so the modules a scan imports (and
        # pydantic's schemas) are loaded before the measured scans, as in a warm Lambda.
        for tenant_id in small:
            scan_once(tenant_id, counter)
        for size in SIZES:
            tenant_id = new_id("tenant")
            started = time.perf_counter()
            seed(tenant_id, size)
            policy_with_threshold(tenant_id)
            print(
                f"bench.scan: seeded {size} models in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            figures["sizes"][str(size)] = {
                "first": scan_once(tenant_id, counter),
                "again": scan_once(tenant_id, counter),
            }
    finally:
        child.stdin.close()
        child.wait(timeout=30)
    report(figures)
    return figures


def report(figures: dict[str, Any]) -> None:
    print("\nCompliance scan of one tenant (moto in another process), per size:")
    for size, runs in figures["sizes"].items():
        for name in ("first", "again"):
            r = runs[name]
            print(
                f"  {size:>5} models, {name:<5} scan: {r['dynamodb_calls']:>4} DynamoDB,"
                f" {r['s3_calls']:>3} S3 calls, opened {r['counts']['opened']:>4},"
                f" seen again {r['counts']['updated']:>4}, peak {r['peak_kib']:>8} KiB,"
                f" {r['seconds']:>5} s"
            )
            print(f"        {r['calls']}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve-moto"]:
        serve_moto()
    else:
        run()
