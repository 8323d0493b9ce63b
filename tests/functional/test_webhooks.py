"""Webhook subscriptions and deliveries, as an admin and a receiver on 127.0.0.1 see them.

Deliveries are verified with the Standard Webhooks reference library, unchanged.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from tests.conftest import Api, Tenant, new_model
from tests.functional.webhook_world import Hooks, hooks
from tests.harness.receiver import Answer, receiving

__all__ = ["hooks"]  # fixtures

SCHEDULE_TOTAL = 5 + 300 + 1800 + 7200 + 18000 + 36000 + 50400 + 72000 + 86400


def headers_of(received: Any) -> dict[str, str]:
    return {
        k: received.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }


def stored_item(aws: dict[str, str], tenant: Tenant, webhook_id: str) -> dict[str, Any]:
    table = boto3.resource("dynamodb").Table(aws["CUSTOS_TABLE"])
    found = table.get_item(Key={"pk": f"T#{tenant.id}#WEBHOOK", "sk": webhook_id})["Item"]
    return dict(found)


# --- subscriptions ------------------------------------------------------------------------


def test_an_admin_subscribes_and_sees_the_secret_once_stored_only_encrypted(
    hooks: Hooks, aws: dict[str, str]
) -> None:
    # WHEN an admin subscribes THEN the answer has the whsec_ secret and a Location
    created = hooks.api.post(
        "/v1/webhooks",
        hooks.admin,
        {"url": "http://127.0.0.1:9/hook", "events": ["model.*"], "description": "Risk chat"},
    )
    assert created.status == 201, created.json
    secret = created.json["secret"]
    assert secret.startswith("whsec_")
    assert created.headers["location"] == f"/v1/webhooks/{created.json['id']}"
    # THEN reads never show it
    one = hooks.webhook(created.json["id"])
    listed = hooks.api.get("/v1/webhooks", hooks.admin).json["items"]
    assert "secret" not in one and all("secret" not in w for w in listed)
    assert [w["id"] for w in listed] == [created.json["id"]]
    # THEN the table holds only a KMS ciphertext, which opens only under its context
    item = stored_item(aws, hooks.tenant, created.json["id"])
    assert secret not in str(item)
    kms = boto3.client("kms")
    context = {"tenant_id": hooks.tenant.id, "webhook_id": created.json["id"]}
    blob = base64.b64decode(item["secret_sealed"])
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == (
        secret.encode()
    )
    with pytest.raises(Exception, match="InvalidCiphertext"):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={**context, "webhook_id": "whk_x"})


def test_a_replayed_subscription_answers_the_first_subscription_without_its_secret(
    hooks: Hooks,
) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "events": ["*"]}
    first = hooks.api.post("/v1/webhooks", hooks.admin, body, headers={"Idempotency-Key": "k1"})
    again = hooks.api.post("/v1/webhooks", hooks.admin, body, headers={"Idempotency-Key": "k1"})
    assert first.status == again.status == 201
    assert again.json["id"] == first.json["id"] and again.json["secret"] is None
    assert len(hooks.api.get("/v1/webhooks", hooks.admin).json["items"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://127.0.0.1:9/", "events": ["model.exploded"]}, "body.events[0]"),
        ({"url": "http://127.0.0.1:9/", "events": ["nothing.*"]}, "body.events[0]"),
        ({"url": "http://10.0.0.7/hook", "events": ["*"]}, "body.url"),
        ({"url": "http://169.254.169.254/latest/meta-data/", "events": ["*"]}, "body.url"),
        ({"url": "ftp://hooks.example.com/", "events": ["*"]}, "body.url"),
        ({"url": "http://user:pw@127.0.0.1:9/", "events": ["*"]}, "body.url"),
    ],
)
def test_a_subscription_to_no_real_event_or_a_forbidden_url_is_a_422_naming_the_field(
    hooks: Hooks, body: dict[str, Any], field: str
) -> None:
    answer = hooks.api.post("/v1/webhooks", hooks.admin, body)
    assert answer.status == 422, answer.json
    assert [e["field"] for e in answer.json["errors"]] == [field]
    assert hooks.api.get("/v1/webhooks", hooks.admin).json["items"] == []


def test_loopback_receivers_are_refused_unless_the_local_development_setting_is_on(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.config import settings

    # GIVEN the setting as deployed: unset (the suite turns it on)
    monkeypatch.delenv("CUSTOS_WEBHOOKS_ALLOW_LOOPBACK")
    settings.cache_clear()
    answer = api.post(
        "/v1/webhooks", tenant.keys["admin"], {"url": "http://127.0.0.1:9/", "events": ["*"]}
    )
    assert answer.status == 422, answer.json
    assert "loopback" in answer.json["errors"][0]["message"]


def test_only_admins_manage_subscriptions_and_auditors_may_read_them(hooks: Hooks) -> None:
    made = hooks.subscribe("http://127.0.0.1:9/hook")
    keys = hooks.tenant.keys
    body = {"url": "http://127.0.0.1:9/", "events": ["*"]}
    assert hooks.api.post("/v1/webhooks", keys["developer"], body).status == 403
    assert hooks.api.get(f"/v1/webhooks/{made['id']}", keys["auditor"]).status == 200
    assert hooks.api.get(f"/v1/webhooks/{made['id']}", keys["approver"]).status == 403


def test_an_admin_changes_and_deletes_a_subscription_with_the_etag_it_read(hooks: Hooks) -> None:
    made = hooks.subscribe("http://127.0.0.1:9/hook", ["model.created"])
    path = f"/v1/webhooks/{made['id']}"
    missing = hooks.api.call("PATCH", path, hooks.admin, {"events": ["*"]})
    assert missing.status == 428
    stale = hooks.api.call(
        "PATCH", path, hooks.admin, {"events": ["*"]}, headers={"If-Match": '"9"'}
    )
    assert stale.status == 412
    changed = hooks.api.call(
        "PATCH",
        path,
        hooks.admin,
        {"events": ["approval.*"], "enabled": False},
        headers={"If-Match": '"1"'},
    )
    assert changed.status == 200, changed.json
    assert changed.json["events"] == ["approval.*"] and changed.json["enabled"] is False
    assert changed.json["disabled_reason"] == "admin" and changed.json["revision"] == 2
    assert changed.headers["etag"] == '"2"'
    deleted = hooks.api.call("DELETE", path, hooks.admin)
    assert deleted.status == 204
    assert hooks.api.get(path, hooks.admin).status == 404
    assert hooks.api.call("DELETE", path, hooks.admin).status == 404
    actions = [
        e["action"]
        for e in hooks.api.get("/v1/audit-events?limit=100", hooks.tenant.keys["auditor"]).json[
            "items"
        ]
    ]
    assert [a for a in actions if a.startswith("webhook.")] == [
        "webhook.created",
        "webhook.updated",
        "webhook.deleted",
    ]


# --- deliveries ---------------------------------------------------------------------------


def test_a_matching_event_is_delivered_signed_so_the_reference_library_verifies_it(
    hooks: Hooks,
) -> None:
    with receiving() as receiver:
        made = hooks.subscribe(receiver.url(), ["model.created"])
        other = hooks.subscribe(receiver.url("/other"), ["approval.*"])
        model = new_model(hooks.api, hooks.tenant)
        hooks.drain()
        got = receiver.wait_for(1)
    assert [r.path for r in got] == ["/hook"]  # the approvals subscription took nothing
    request = got[0]
    event = request.event
    assert set(event) == {"id", "type", "tenant_id", "created_at", "data"}
    assert event["type"] == "model.created" and event["data"]["id"] == model["id"]
    assert event["tenant_id"] == hooks.tenant.id
    assert request.headers["webhook-id"] == event["id"]
    assert request.headers["content-type"] == "application/json"
    verified = Verifier(made["secret"]).verify(request.body, headers_of(request))
    assert verified["id"] == event["id"]
    with pytest.raises(WebhookVerificationError):
        Verifier(other["secret"]).verify(request.body, headers_of(request))
    with pytest.raises(WebhookVerificationError):
        Verifier(made["secret"]).verify(
            request.body.replace(b"Credit", b"Debit"), headers_of(request)
        )
    [delivery] = hooks.deliveries(made["id"])
    assert delivery["status"] == "delivered" and delivery["attempt_count"] == 1
    assert delivery["attempts"][0]["status_code"] == 200
    assert delivery["event_id"] == event["id"] and delivery["next_attempt_at"] is None
    assert hooks.deliveries(other["id"]) == []


def test_a_receiver_failing_three_times_gets_every_event_on_the_retry_schedule(
    hooks: Hooks,
) -> None:
    failures = 3
    with receiving([Answer(500)] * failures * 2) as receiver:
        made = hooks.subscribe(receiver.url(), ["model.*"])
        first = new_model(hooks.api, hooks.tenant, name="First")
        second = new_model(hooks.api, hooks.tenant, name="Second")
        hooks.drain()
        # THEN the first attempts failed; the deliveries wait 5 s, then 5 min, then 30 min
        waiting = hooks.deliveries(made["id"])
        assert {d["status"] for d in waiting} == {"retrying"}
        hooks.run_schedule(5 * 1.1 + 300 * 1.1 + 1800 * 1.1 + 60, step=30)
        got = receiver.wait_for(2 * (failures + 1))
    delivered = hooks.deliveries(made["id"])
    assert {d["status"] for d in delivered} == {"delivered"}
    assert sorted(d["attempt_count"] for d in delivered) == [failures + 1] * 2
    assert [a["status_code"] for a in delivered[0]["attempts"]] == [500, 500, 500, 200]
    # Every event arrived; each repeat carries the same webhook-id, so receivers de-duplicate.
    ids = {r.headers["webhook-id"] for r in got}
    assert len(ids) == 2 and len(got) == 2 * (failures + 1)
    assert {r.event["data"]["id"] for r in got} == {first["id"], second["id"]}


def test_a_delivery_that_never_succeeds_fails_after_ten_attempts_and_three_days_disable(
    hooks: Hooks,
) -> None:
    with receiving(default=Answer(503)) as failing, receiving() as watcher:
        bad = hooks.subscribe(failing.url(), ["model.created"])
        hooks.subscribe(watcher.url(), ["webhook.disabled"])
        new_model(hooks.api, hooks.tenant)
        hooks.drain()
        # WHEN the whole schedule passes (about three days and three hours, give or take
        # the jitter) THEN the delivery failed after its tenth attempt
        hooks.run_schedule(SCHEDULE_TOTAL * 1.1 + 120, step=1800)
        [delivery] = hooks.deliveries(bad["id"])
        assert delivery["status"] == "failed" and delivery["next_attempt_at"] is None
        assert delivery["attempt_count"] == 10 == len(failing.received)
        assert delivery["failure_reason"] == "no 2xx answer in 10 attempts"
        # WHEN it is still failing past three days THEN the subscription is disabled and
        # the tenant's other subscriptions are told
        new_model(hooks.api, hooks.tenant, name="Later")
        hooks.drain()
        told = watcher.wait_for(1)
    webhook = hooks.webhook(bad["id"])
    assert webhook["enabled"] is False and webhook["disabled_reason"] == "failing"
    assert told[0].event["type"] == "webhook.disabled"
    assert told[0].event["data"]["id"] == bad["id"]
    assert len(failing.received) <= 11


def test_a_410_disables_the_subscription_at_once_and_tells_the_others(hooks: Hooks) -> None:
    with receiving(default=Answer(410)) as gone, receiving() as watcher:
        made = hooks.subscribe(gone.url(), ["model.created"])
        hooks.subscribe(watcher.url(), ["webhook.*"])
        new_model(hooks.api, hooks.tenant)
        hooks.drain()
        told = watcher.wait_for(2)
    assert hooks.webhook(made["id"])["disabled_reason"] == "gone"
    [delivery] = hooks.deliveries(made["id"])
    assert delivery["status"] == "failed" and delivery["attempts"][0]["status_code"] == 410
    types = [r.event["type"] for r in told]
    assert "webhook.disabled" in types
    # A disabled subscription takes nothing more.
    new_model(hooks.api, hooks.tenant, name="Later")
    hooks.drain()
    assert len(gone.received) == 1


def test_retry_after_is_honoured_when_it_asks_for_longer_than_the_schedule(hooks: Hooks) -> None:
    with receiving([Answer(503, {"Retry-After": "120"})]) as receiver:
        made = hooks.subscribe(receiver.url(), ["model.created"])
        new_model(hooks.api, hooks.tenant)
        hooks.drain()
        [waiting] = hooks.deliveries(made["id"])
        assert waiting["attempts"][0]["retry_after_seconds"] == 120
        hooks.run_schedule(60, step=30)
        assert len(receiver.received) == 1  # not after 5 s: the receiver asked for 120
        hooks.run_schedule(90, step=30)
        receiver.wait_for(2)
    assert hooks.deliveries(made["id"])[0]["status"] == "delivered"


def test_during_a_rotation_overlap_deliveries_verify_with_either_secret(hooks: Hooks) -> None:
    with receiving() as receiver:
        made = hooks.subscribe(receiver.url(), ["webhook.test"])
        path = f"/v1/webhooks/{made['id']}"
        rotated = hooks.api.post(f"{path}/rotate-secret", hooks.admin, {"overlap_seconds": 3600})
        assert rotated.status == 200, rotated.json
        assert rotated.json["secret"] != made["secret"]
        assert rotated.json["previous_secret_expires_at"]
        assert hooks.api.post(f"{path}/test", hooks.admin).status == 202
        hooks.drain()
        during = receiver.wait_for(1)[-1]
        hooks.clock.advance(3601)
        assert hooks.api.post(f"{path}/test", hooks.admin).status == 202
        hooks.drain()
        after = receiver.wait_for(2)[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in (made["secret"], rotated.json["secret"]):
        Verifier(secret).verify(during.body, headers_of(during))
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Verifier(rotated.json["secret"]).verify(after.body, headers_of(after))
    with pytest.raises(WebhookVerificationError):
        Verifier(made["secret"]).verify(after.body, headers_of(after))


def test_a_test_event_goes_to_its_subscription_only_and_a_disabled_one_refuses_it(
    hooks: Hooks,
) -> None:
    with receiving() as receiver:
        one = hooks.subscribe(receiver.url("/one"), ["*"])
        hooks.subscribe(receiver.url("/two"), ["*"])
        queued = hooks.api.post(f"/v1/webhooks/{one['id']}/test", hooks.admin)
        assert queued.status == 202, queued.json
        hooks.drain()
        tests = [r for r in receiver.received if r.event["type"] == "webhook.test"]
    assert [r.path for r in tests] == ["/one"]
    assert tests[0].headers["webhook-id"] == queued.json["event_id"]
    delivery = hooks.api.get(queued.json["link"], hooks.admin)
    assert delivery.status == 200 and delivery.json["status"] == "delivered"
    path = f"/v1/webhooks/{one['id']}"
    hooks.api.call("PATCH", path, hooks.admin, {"enabled": False}, headers={"If-Match": '"1"'})
    refused = hooks.api.post(f"{path}/test", hooks.admin)
    assert refused.status == 409, refused.json


def test_redelivering_sends_the_same_event_again_with_the_same_webhook_id(hooks: Hooks) -> None:
    with receiving() as receiver:
        made = hooks.subscribe(receiver.url(), ["model.created"])
        new_model(hooks.api, hooks.tenant)
        hooks.drain()
        [delivery] = hooks.deliveries(made["id"])
        again = hooks.api.post(
            f"/v1/webhooks/{made['id']}/deliveries/{delivery['id']}/redeliver", hooks.admin
        )
        assert again.status == 202, again.json
        assert again.json["status"] == "pending" and again.json["redelivered_at"]
        hooks.drain()
        got = receiver.wait_for(2)
    assert got[0].body == got[1].body
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    [done] = hooks.deliveries(made["id"])
    assert done["status"] == "delivered" and done["attempt_count"] == 2


def test_a_failing_receiver_holds_up_neither_the_api_nor_another_subscription(
    hooks: Hooks,
) -> None:
    with receiving(default=Answer(500)) as failing, receiving() as healthy:
        bad = hooks.subscribe(failing.url(), ["model.created"])
        good = hooks.subscribe(healthy.url(), ["model.created"])
        for n in range(3):
            new_model(hooks.api, hooks.tenant, name=f"Model {n}")
        hooks.drain()
        assert len(healthy.wait_for(3)) == 3
    assert {d["status"] for d in hooks.deliveries(good["id"])} == {"delivered"}
    assert {d["status"] for d in hooks.deliveries(bad["id"])} == {"retrying"}
    assert [d["status"] for d in hooks.deliveries(bad["id"], status="retrying")] == ["retrying"] * 3


def queued_for(hooks: Hooks, aws: dict[str, str], queue_env: str) -> list[str]:
    """The webhook ids of the attempts waiting on a lane's queue (left there)."""
    sqs = boto3.client("sqs")
    answer = sqs.receive_message(
        QueueUrl=aws[queue_env], MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return sorted(json.loads(m["Body"])["webhook_id"] for m in answer.get("Messages", []))


def test_a_slow_receiver_moves_to_the_slow_lane_and_the_fast_keep_theirs(
    hooks: Hooks, aws: dict[str, str]
) -> None:
    with receiving(default=Answer(200, delay=1.2)) as slow, receiving() as fast:
        lagging = hooks.subscribe(slow.url(), ["model.created"])
        quick = hooks.subscribe(fast.url(), ["model.created"])
        new_model(hooks.api, hooks.tenant, name="First")
        hooks.drain()
        assert len(slow.received) == len(fast.received) == 1
        # WHEN the next event fans out (the relay and the fan-out only)
        new_model(hooks.api, hooks.tenant, name="Second")
        for stream in hooks.dispatcher.streams:
            stream.pump_once()
        [fan_out] = [q for q in hooks.dispatcher.queues if q.function == "fan_out_webhooks"]
        fan_out.pump_once()
        # THEN the slow subscription's attempt waits in the slow lane, the other's in the fast
        assert queued_for(hooks, aws, "CUSTOS_WEBHOOK_DELIVERIES_SLOW_QUEUE_URL") == [lagging["id"]]
        assert queued_for(hooks, aws, "CUSTOS_WEBHOOK_DELIVERIES_QUEUE_URL") == [quick["id"]]
        hooks.drain()
        assert len(slow.wait_for(2)) == len(fast.wait_for(2)) == 2
    assert {d["status"] for d in hooks.deliveries(lagging["id"])} == {"delivered"}
