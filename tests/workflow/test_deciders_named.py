"""`approval.requested` and `approval.escalated` name who may decide the stage (and, on
escalation, the policy's escalation contacts) by id, name and email, with a link to the
request, so a chat or ticketing bridge can tell the right people; and no event of a whole
workflow run carries a secret or a task token. moto executes the workflow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from chalicelib.store import dynamo
from chalicelib.store.keys import TenantKeys
from tests.conftest import Api, Tenant
from tests.harness.leaks import secret_names, secret_values
from tests.harness.tap import EventTap
from tests.harness.world import rotate
from tests.workflow.conftest import until
from tests.workflow.flow import decide, second_key, set_policy, settled, stage_open, submitted


def member(api: Api, tenant: Tenant, who: str, name: str, *roles: str, email: str = "") -> str:
    """A new principal called `name` (with `email`), known as `who`, with a key of its own."""
    body: dict[str, Any] = {"name": name, "roles": list(roles)}
    if email:
        body["email"] = email
    principal = api.post("/v1/principals", tenant.keys["admin"], body)
    assert principal.status == 201, principal.json
    tenant.ids[who] = principal.json["id"]
    tenant.keys[who] = rotate(api, second_key(api, tenant, who))
    return str(principal.json["id"])


def deactivate(api: Api, tenant: Tenant, who: str) -> None:
    path = f"/v1/principals/{tenant.ids[who]}"
    etag = api.get(path, tenant.keys["admin"]).headers["etag"]
    answer = api.patch(path, tenant.keys["admin"], {"status": "deactivated"}, etag)
    assert answer.status == 200, answer.json


def told(tap: EventTap, kind: str, pump: Callable[[], int], seen: list[dict[str, Any]]) -> Any:
    """The data of the next `kind` event the relay publishes (every event read kept in
    `seen`)."""

    def published() -> dict[str, Any] | None:
        seen.extend(tap.take())
        found = [e for e in seen if e["type"] == kind and not e.get("_read")]
        if not found:
            return None
        found[0]["_read"] = True
        return dict(found[0]["data"])

    return until(published, pump)


def names(people: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(p["name"], p["email"]) for p in people]


def test_each_opened_stage_names_exactly_who_may_decide_it_by_name_and_email(
    wf_api: Api, wf_tenant: Tenant, pump: Callable[[], int], executing_aws: dict[str, str]
) -> None:
    api, tenant = wf_api, wf_tenant
    tap = EventTap(boto3.session.Session(), executing_aws["CUSTOS_EVENTS_TOPIC_ARN"])
    seen: list[dict[str, Any]] = []
    # GIVEN besides the tenant's validators and approvers: an approver with an email, a
    # judge of both roles, a submitter and a team member holding both roles, a principal
    # who joins the team after submission, and a judge who was deactivated
    ada = member(api, tenant, "ada", "Ada Approver", "approver", email="ada@bank.example")
    member(api, tenant, "bo", "Bo Both", "validator", "approver", email="bo@bank.example")
    roles = ("developer", "validator", "approver")
    member(api, tenant, "sam", "Sam Submitter", *roles, email="sam@bank.example")
    member(api, tenant, "tom", "Tom Teammate", *roles, email="tom@bank.example")
    member(api, tenant, "jo", "Jo Joiner", *roles, email="jo@bank.example")
    member(api, tenant, "ina", "Ina Inactive", "validator", "approver", email="ina@bank.ex")
    deactivate(api, tenant, "ina")
    # WHEN Sam submits a tier-2 model of Sam's and Tom's, and Jo joins the team
    team = [tenant.ids["sam"], tenant.ids["tom"]]
    request = submitted(api, tenant, risk_tier=2, key="sam", developer_ids=team)
    path = f"/v1/models/{request['model_id']}"
    etag = api.get(path, tenant.keys["developer"]).headers["etag"]
    joined = api.patch(
        path, tenant.keys["developer"], {"developer_ids": [*team, tenant.ids["jo"]]}, etag
    )
    assert joined.status == 200, joined.json
    # THEN validation opens naming the validators outside the team, past and present, by name
    stage_open(api, tenant, request["id"], 0, pump)
    opened = told(tap, "approval.requested", pump, seen)
    assert opened["stage"]["role"] == "validator" and opened["request_id"] == request["id"]
    assert names(opened["deciders"]) == [
        ("Bo Both", "bo@bank.example"),
        ("Workflow Bank validator", None),
        ("Workflow Bank validator2", None),
    ]
    assert opened["deciders"][0]["id"] == tenant.ids["bo"]
    assert opened["deciders_truncated"] is False
    # AND it links to the request in the API (no public base URL is configured here)
    assert opened["link"] == f"/v1/approval-requests/{request['id']}"
    assert opened["url"] is None
    assert api.get(opened["link"], tenant.keys["ada"]).status == 200
    # WHEN Bo validates, THEN approval opens naming the approvers, Bo no more (one stage
    # per person)
    assert decide(api, tenant, request["id"], "bo").status == 201
    stage_open(api, tenant, request["id"], 1, pump)
    approval = told(tap, "approval.requested", pump, seen)
    assert approval["stage"]["role"] == "approver"
    assert names(approval["deciders"]) == [
        ("Ada Approver", "ada@bank.example"),
        ("Workflow Bank approver", None),
        ("Workflow Bank approver2", None),
    ]
    assert approval["deciders"][0] == {
        "id": ada,
        "name": "Ada Approver",
        "email": "ada@bank.example",
    }
    # AND whom it names may decide: Ada approves, and the version is approved
    assert decide(api, tenant, request["id"], "ada").status == 201
    settled(api, tenant, request["id"], "approved", pump)
    told(tap, "approval.approved", pump, seen)
    # AND no event of the whole run carries a secret or a task token
    keys = TenantKeys(tenant.id)
    tokens = [dynamo.get(keys.task_token(request["id"], i)) for i in (0, 1)]
    known = [str(t["task_token"]) for t in tokens if t] + list(tenant.keys.values())
    assert len(known) > len(tenant.keys)  # both stages' tokens were read
    assert {"tenant.created", "api_key.rotated", "approval.decided"} <= {e["type"] for e in seen}
    assert secret_names(seen) == [] and secret_values(seen, known) == []


def escalating(
    contacts: list[str], quorum: int = 2, deadline: int = 5
) -> Callable[[dict[str, Any]], None]:
    """A policy edit: tier 3's approval stage needs `quorum` approvers and escalates after
    `deadline` s (then waits a minute), telling `contacts`."""

    def edit(body: dict[str, Any]) -> None:
        stage = body["tiers"]["3"]["stages"][0]
        stage["quorum"], stage["deadline_seconds"], stage["escalation_seconds"] = (
            quorum,
            deadline,
            60,
        )
        body["escalation_contact_ids"] = contacts

    return edit


def test_an_escalated_stage_names_its_remaining_deciders_and_the_escalation_contacts(
    wf_api: Api,
    wf_tenant: Tenant,
    pump: Callable[[], int],
    executing_aws: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib.config import settings

    api, tenant = wf_api, wf_tenant
    monkeypatch.setenv("CUSTOS_PUBLIC_BASE_URL", "https://custos.bank.example/")
    settings.cache_clear()  # the fixtures' teardown forgets it again
    tap = EventTap(boto3.session.Session(), executing_aws["CUSTOS_EVENTS_TOPIC_ARN"])
    seen: list[dict[str, Any]] = []
    # GIVEN escalation contacts: a risk office with an email, the auditor, and someone who
    # was deactivated after the policy named them
    member(api, tenant, "office", "Model Risk Office", "auditor", email="mro@bank.example")
    member(api, tenant, "gone", "Gone Contact", "auditor", email="gone@bank.example")
    contacts = [tenant.ids[w] for w in ("office", "auditor", "gone")]
    set_policy(api, tenant, escalating(contacts))
    deactivate(api, tenant, "gone")
    # AND a tier-3 request whose approval stage one approver has decided
    request = submitted(api, tenant, risk_tier=3)
    stage_open(api, tenant, request["id"], 0, pump)
    assert decide(api, tenant, request["id"], "approver").status == 201
    # WHEN its deadline passes, THEN the escalation names the approver still to decide
    escalated = told(tap, "approval.escalated", pump, seen)
    assert escalated["stage"]["escalated_at"] and escalated["request_id"] == request["id"]
    assert [p["id"] for p in escalated["deciders"]] == [tenant.ids["approver2"]]
    # AND the escalation contacts who are still active, by name, in the policy's order
    assert names(escalated["escalation_contacts"]) == [
        ("Model Risk Office", "mro@bank.example"),
        ("Workflow Bank auditor", None),
    ]
    assert escalated["escalation_contact_ids"] == contacts
    # AND the request's absolute URL under the configured public base
    link = f"/v1/approval-requests/{request['id']}"
    assert escalated["link"] == link
    assert escalated["url"] == f"https://custos.bank.example{link}"
    # AND the opening named both approvers
    opened = told(tap, "approval.requested", pump, seen)
    assert [p["id"] for p in opened["deciders"]] == [
        tenant.ids["approver"],
        tenant.ids["approver2"],
    ]
    # WHEN the second approver decides, THEN the request is approved
    assert decide(api, tenant, request["id"], "approver2").status == 201
    settled(api, tenant, request["id"], "approved", pump)
    assert secret_names(seen) == [] and secret_values(seen, tenant.keys.values()) == []


def test_a_long_list_of_deciders_is_cut_and_says_so_and_contacts_are_found_past_it(
    wf_api: Api,
    wf_tenant: Tenant,
    pump: Callable[[], int],
    executing_aws: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib.services import workflow

    api, tenant = wf_api, wf_tenant
    tap = EventTap(boto3.session.Session(), executing_aws["CUSTOS_EVENTS_TOPIC_ARN"])
    seen: list[dict[str, Any]] = []
    contacts = [tenant.ids["auditor"], tenant.ids["monitor"]]
    set_policy(api, tenant, escalating(contacts, quorum=1, deadline=4))
    # GIVEN events that name one decider at most
    monkeypatch.setattr(workflow, "DECIDERS_LISTED", 1)
    request = submitted(api, tenant, risk_tier=3)
    stage_open(api, tenant, request["id"], 0, pump)
    # THEN the opening names the first approver by name and says there are more
    opened = told(tap, "approval.requested", pump, seen)
    assert [p["id"] for p in opened["deciders"]] == [tenant.ids["approver"]]
    assert opened["deciders_truncated"] is True
    # GIVEN a roster read that stops after its first page of two principals (the admin and
    # a developer), before the approvers and the escalation contacts
    monkeypatch.setattr(workflow, "DECIDERS_LISTED", 100)
    monkeypatch.setattr(workflow, "ROSTER_PAGE", 2)
    monkeypatch.setattr(workflow, "ROSTER_PAGES", 1)
    # WHEN the stage escalates, THEN its list says it may be short, and the contacts the
    # read did not reach are named all the same
    escalated = told(tap, "approval.escalated", pump, seen)
    assert escalated["deciders"] == [] and escalated["deciders_truncated"] is True
    assert [c["id"] for c in escalated["escalation_contacts"]] == contacts
    assert decide(api, tenant, request["id"], "approver").status == 201
    settled(api, tenant, request["id"], "approved", pump)
