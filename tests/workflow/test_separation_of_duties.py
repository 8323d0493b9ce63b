"""Nobody grades their own paper: who may decide a request's stages, compared by principal
(never by key), with moto executing the workflow. And the inbox lists exactly the requests
whose open stage the caller may decide."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import Api, Tenant
from tests.harness.world import rotate
from tests.workflow.flow import (
    CARD,
    decide,
    inbox,
    person,
    read,
    second_key,
    settled,
    stage_open,
    submit,
)


def key_id(token: str) -> str:
    """The key id of a bearer token `cus_<key id>_<secret>`."""
    return "_".join(token.split("_", 3)[1:3])


def patch_team(api: Api, tenant: Tenant, model_id: str, who: str, developers: list[str]) -> None:
    path = f"/v1/models/{model_id}"
    etag = api.get(path, tenant.keys[who]).headers["etag"]
    ids = [tenant.ids[d] for d in developers]
    answer = api.patch(path, tenant.keys[who], {"developer_ids": ids}, etag)
    assert answer.status == 200, answer.json


def test_self_approval_is_refused_in_every_form(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    api, tenant = wf_api, wf_tenant
    # GIVEN a tier-1 model whose owner also holds both deciding roles, a developer who is
    # also an approver, a developer who left the team, and one who joins after submission
    person(api, tenant, "owner", "developer", "validator", "approver")
    person(api, tenant, "dev_judge", "developer", "validator", "approver")
    person(api, tenant, "leaver", "developer", "validator", "approver")
    person(api, tenant, "joiner", "developer", "validator", "approver")
    person(api, tenant, "judge", "validator", "approver")  # outside the team, with two keys
    team = ["dev_judge", "leaver", "developer"]
    model = api.post(
        "/v1/models",
        tenant.keys["owner"],
        {
            "name": "Own paper",
            "purpose": "p",
            "risk_tier": 1,
            "developer_ids": [tenant.ids[d] for d in team],
        },
    ).json
    patch_team(api, tenant, model["id"], "owner", ["dev_judge", "developer"])
    versions = f"/v1/models/{model['id']}/versions"
    assert api.post(versions, tenant.keys["owner"], {"model_card": CARD}).status == 201
    # WHEN the owner submits it (so the owner is also the submitter)
    submitted = submit(api, tenant, model["id"], key="owner")
    assert submitted.status == 201, submitted.json
    request_id = submitted.json["id"]
    patch_team(api, tenant, model["id"], "owner", ["dev_judge", "developer", "joiner"])
    stage_open(api, tenant, request_id, 0, pump)
    # THEN none of the team, past, present or new, may decide, whatever roles they hold
    for who in ("owner", "dev_judge", "leaver", "joiner"):
        refused = decide(api, tenant, request_id, who)
        assert refused.status == 403, (who, refused.json)
    # AND their inboxes do not list it, the joiner's included
    for who in ("owner", "dev_judge", "leaver", "joiner"):
        assert request_id not in inbox(api, tenant, who), who
    assert decide(api, tenant, request_id, "developer").status == 403  # not a decider at all
    # AND the wrong role may not decide the validation stage
    wrong = decide(api, tenant, request_id, "approver")
    assert wrong.status == 403 and "validator" in wrong.json["detail"], wrong.json
    # WHEN the judge validates with one key
    assert request_id in inbox(api, tenant, "judge")
    assert decide(api, tenant, request_id, "judge").status == 201
    stage_open(api, tenant, request_id, 1, pump)
    # THEN with a second key the judge is still the same person: no second stage
    tenant.keys["judge_again"] = rotate(api, second_key(api, tenant, "judge"))
    assert request_id not in inbox(api, tenant, "judge")
    twice = decide(api, tenant, request_id, "judge_again")
    assert twice.status == 403 and "two stages" in twice.json["detail"], twice.json
    # AND an approver counts once per stage, whichever key they use
    assert request_id in inbox(api, tenant, "approver")
    assert decide(api, tenant, request_id, "approver").status == 201
    tenant.ids["approver_again"] = tenant.ids["approver"]
    # (a key the admin issued the approver decides nothing: it is not the approver's own)
    issued = second_key(api, tenant, "approver_again")
    tenant.keys["approver_again"] = issued
    by_admin = decide(api, tenant, request_id, "approver_again")
    assert by_admin.status == 403, by_admin.json
    assert f"issued by principal {tenant.ids['admin']}" in by_admin.json["detail"]
    assert "/rotate" in by_admin.json["detail"]
    tenant.keys["approver_again"] = rotate(api, issued)
    again = decide(api, tenant, request_id, "approver_again")
    assert again.status == 409 and "already decided" in again.json["detail"], again.json
    assert request_id not in inbox(api, tenant, "approver")
    assert read(api, tenant, request_id)["stages"][1]["status"] == "open"
    # AND the second approver's decision meets the quorum of two
    assert request_id in inbox(api, tenant, "approver2")
    assert decide(api, tenant, request_id, "approver2").status == 201
    done = settled(api, tenant, request_id, "approved", pump)
    deciders = [d["principal_id"] for s in done["stages"] for d in s["decisions"]]
    assert deciders == [tenant.ids["judge"], tenant.ids["approver"], tenant.ids["approver2"]]
    # AND each decision records the key it was made with
    keys = [d["key_id"] for s in done["stages"] for d in s["decisions"]]
    assert keys == [key_id(tenant.keys[w]) for w in ("judge", "approver", "approver2")]
    assert inbox(api, tenant, "approver2") == []


def test_the_inbox_lists_only_requests_whose_open_stage_the_caller_may_decide(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int]
) -> None:
    from tests.workflow.flow import submitted

    api, tenant = wf_api, wf_tenant
    # GIVEN a tier-2 request at validation and a tier-3 request at approval
    at_validation = submitted(api, tenant, risk_tier=2)["id"]
    at_approval = submitted(api, tenant, risk_tier=3, name="Churn")["id"]
    stage_open(api, tenant, at_validation, 0, pump)
    stage_open(api, tenant, at_approval, 0, pump)
    # THEN validators see the first, approvers the second, the team and readers neither
    assert inbox(api, tenant, "validator") == [at_validation]
    assert inbox(api, tenant, "approver") == [at_approval]
    for who in ("developer", "auditor", "admin"):
        assert inbox(api, tenant, who) == [], who
    # AND every role reads the requests, newest first, by model too
    listed = api.get("/v1/approval-requests", tenant.keys["monitor"]).json["items"]
    assert [r["id"] for r in listed] == [at_approval, at_validation]
    model_id = read(api, tenant, at_validation)["model_id"]
    mine = api.get(f"/v1/approval-requests?model_id={model_id}", tenant.keys["developer"])
    assert [r["id"] for r in mine.json["items"]] == [at_validation]
    # AND a paged inbox goes on with its cursor
    assert decide(api, tenant, at_validation, "validator").status == 201
    stage_open(api, tenant, at_validation, 1, pump)
    first = api.get("/v1/approval-requests?actionable=true&limit=1", tenant.keys["approver"])
    assert len(first.json["items"]) == 1 and first.json["next_cursor"]
    cursor = first.json["next_cursor"]
    rest = api.get(
        f"/v1/approval-requests?actionable=true&limit=1&cursor={cursor}", tenant.keys["approver"]
    )
    ids = {first.json["items"][0]["id"], *(r["id"] for r in rest.json["items"])}
    assert ids == {at_validation, at_approval}
