"""Every change is audited in its own transaction, chained per tenant, and verifiable."""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import Api, Tenant, new_model


def events(api: Api, tenant: Tenant, *, reads: bool = False) -> list[dict]:
    """The tenant's audit trail (each page read is itself audited: `audit.read`, left out
    unless `reads`)."""
    found, cursor = [], None
    for _ in range(50):
        page = api.get(
            "/v1/audit-events?limit=10" + (f"&cursor={cursor}" if cursor else ""),
            tenant.keys["auditor"],
        ).json
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found if reads else [e for e in found if e["action"] != "audit.read"]
    raise AssertionError("too many pages")


def test_every_change_appends_one_chained_event(api: Api, tenant: Tenant) -> None:
    before = events(api, tenant)
    model = new_model(api, tenant)
    api.patch(f"/v1/models/{model['id']}", tenant.keys["developer"], {"purpose": "p2"}, '"1"')
    api.post(f"/v1/models/{model['id']}/versions", tenant.keys["developer"], {})
    after = events(api, tenant)
    added = after[len(before) :]
    assert [e["action"] for e in added] == ["model.created", "model.updated", "version.created"]
    whole = events(api, tenant, reads=True)
    assert [e["seq"] for e in whole] == list(range(1, len(whole) + 1))
    for prev, event in itertools.pairwise(whole):
        assert event["prev_hash"] == prev["hash"]
    assert added[1]["before"]["purpose"] == "Probability of default"
    assert added[1]["after"]["purpose"] == "p2"
    assert added[0]["actor"]["principal_id"] == tenant.ids["developer"]
    assert added[0]["subject"] == {"type": "model", "id": model["id"]}


def test_reads_of_other_resources_and_refused_writes_are_not_audited(
    api: Api, tenant: Tenant
) -> None:
    model = new_model(api, tenant)
    count = len(events(api, tenant))
    api.get(f"/v1/models/{model['id']}", tenant.keys["developer"])
    api.patch(f"/v1/models/{model['id']}", tenant.keys["developer"], {"purpose": "p"}, '"9"')
    api.post("/v1/models", tenant.keys["developer"], {"name": "bad"})
    assert len(events(api, tenant)) == count


def test_verify_reports_a_valid_chain_and_moves_its_checkpoint(api: Api, tenant: Tenant) -> None:
    key = tenant.keys["auditor"]
    first = api.get("/v1/audit/verify", key).json
    assert first["valid"] and first["complete"] and first["verified_from"] == 1
    assert first["verified_to"] == first["head_seq"]
    new_model(api, tenant)
    second = api.get("/v1/audit/verify", key).json
    assert second["valid"] and second["verified_from"] == first["head_seq"] + 1
    assert second["verified_to"] == first["head_seq"] + 1


def test_verify_finds_the_first_tampered_event(api: Api, tenant: Tenant) -> None:
    # GIVEN a verified chain, then someone with table access rewrites event 3
    key = tenant.keys["auditor"]
    new_model(api, tenant)
    assert api.get("/v1/audit/verify", key).json["valid"]
    new_model(api, tenant, name="later")
    from chalicelib.store import dynamo, keys

    event_key = keys.TenantKeys(tenant.id).audit_event(3)
    item = dynamo.get(event_key)
    assert item is not None
    dynamo.client("dynamodb").put_item(
        TableName=dynamo.table_name(),
        Item=dynamo.serialize({**item, "body": item["body"].replace(tenant.ids["admin"], "prn_x")}),
    )
    # THEN a full verification names it; the incremental one still covers the new events
    full = api.get("/v1/audit/verify?full=true", key).json
    assert full["valid"] is False and full["first_bad_seq"] == 3
    assert api.get("/v1/audit/verify", key).json["valid"] is True


def test_verify_notices_a_deleted_event(api: Api, tenant: Tenant) -> None:
    new_model(api, tenant)
    new_model(api, tenant, name="two")
    from chalicelib.store import dynamo, keys

    head = dynamo.get(keys.TenantKeys(tenant.id).audit_head())
    assert head is not None
    dynamo.client("dynamodb").delete_item(
        TableName=dynamo.table_name(),
        Key=dynamo.serialize(keys.TenantKeys(tenant.id).audit_event(int(head["seq"]) - 1)),
    )
    answer = api.get("/v1/audit/verify?full=true", tenant.keys["admin"]).json
    assert answer["valid"] is False and answer["first_bad_seq"] == int(head["seq"]) - 1


def test_audit_events_can_start_at_a_sequence_number(api: Api, tenant: Tenant) -> None:
    new_model(api, tenant)
    page = api.get("/v1/audit-events?from_seq=3&limit=2", tenant.keys["auditor"]).json
    assert [e["seq"] for e in page["items"]] == [3, 4]


def test_each_read_of_the_audit_events_is_itself_audited(api: Api, tenant: Tenant) -> None:
    # GIVEN an auditor reading two events of the trail
    new_model(api, tenant)
    page = api.get("/v1/audit-events?from_seq=2&limit=2", tenant.keys["auditor"])
    assert page.status == 200
    # THEN the trail records who read which events, after what was read
    trail = events(api, tenant, reads=True)
    read = next(e for e in trail if e["action"] == "audit.read")
    assert read["actor"]["principal_id"] == tenant.ids["auditor"]
    assert read["subject"] == {"type": "audit_events", "id": tenant.id}
    assert read["after"] == {
        "from_seq": 2,
        "limit": 2,
        "continued": False,
        "first_seq": 2,
        "last_seq": 3,
        "count": 2,
    }
    assert read["seq"] > 3
    verified = api.get("/v1/audit/verify?full=true", tenant.keys["auditor"]).json
    assert verified["valid"], verified


def test_verify_with_nothing_new_since_the_checkpoint_does_not_write_it_again(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a chain verified up to its head
    key = tenant.keys["auditor"]
    api.get("/v1/audit/verify", key)
    from chalicelib.store.audit import AuditLog

    saved: list[int] = []
    monkeypatch.setattr(AuditLog, "save_checkpoint", lambda _self, seq, *_: saved.append(seq))
    # WHEN it is verified again with nothing appended
    again = api.get("/v1/audit/verify", key).json
    # THEN it is still valid, and the checkpoint is not written (a wasted PutItem)
    assert again["valid"] and again["verified_to"] == again["head_seq"]
    assert saved == []
