"""The event catalog's payloads as receivers read them: their examples are payloads their
models accept, and no payload schema has room for a secret or a task token."""

from __future__ import annotations

import pytest

from chalicelib.domain.events import CATALOG
from tests.harness.leaks import secret_names, secret_values


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_no_event_payload_has_a_field_named_like_a_secret_or_a_token(name: str) -> None:
    schema = CATALOG[name].payload.model_json_schema(mode="serialization")
    assert secret_names(schema) == []


def test_the_leak_check_finds_secret_fields_and_values_where_they_are() -> None:
    payload = {
        "api_key": {"id": "key_1", "secret": "cus_key_1_abc"},
        "stages": [{"task_token": "AAAA"}],
        "secret_expires_at": "2026-12-01T00:00:00Z",
    }
    assert secret_names(payload) == [".api_key.secret", ".stages[0].task_token"]
    assert secret_values(payload, known=["AAAA"]) == [
        ".api_key.secret",
        ".stages[0].task_token",
    ]


@pytest.mark.parametrize(
    "name", sorted(n for n, k in CATALOG.items() if k.payload.model_json_schema().get("examples"))
)
def test_every_example_the_catalog_shows_is_a_payload_its_model_accepts(name: str) -> None:
    payload = CATALOG[name].payload
    [example] = payload.model_json_schema(mode="serialization")["examples"]
    assert payload.model_validate(example).model_dump(mode="json", exclude_unset=True)
    assert secret_names(example) == [] and secret_values(example) == []


@pytest.mark.parametrize("name", ["approval.requested", "approval.escalated"])
def test_a_stage_waiting_for_decisions_names_its_deciders_in_the_example(name: str) -> None:
    [example] = CATALOG[name].payload.model_json_schema(mode="serialization")["examples"]
    assert example["deciders"][0].keys() == {"id", "name", "email"}
    assert example["link"] == f"/v1/approval-requests/{example['request_id']}"
    if name == "approval.escalated":
        assert [c["id"] for c in example["escalation_contacts"]] == example[
            "escalation_contact_ids"
        ]
