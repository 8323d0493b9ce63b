"""Pure rules: ids, the audit chain's hashing, merge-patch, schedules."""

from __future__ import annotations

import hashlib

import pytest

from chalicelib.domain.audit import bounded, canonical, chain_hash, diff
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.models import ModelPatch
from chalicelib.errors import ValidationError
from chalicelib.services.records import merge_patch
from infra.schedules import rate_seconds


def test_ids_are_prefixed_time_ordered_ulids() -> None:
    first, second = new_id("model"), new_id("model")
    assert first.startswith("mdl_") and len(first) == 30
    assert is_id(first, "model") and not is_id(first, "principal")
    assert not is_id("mdl_../../etc", "model")
    assert first[:14] <= second[:14]


def test_canonical_form_ignores_key_order_and_keeps_unicode() -> None:
    assert canonical({"b": 1, "a": "é"}) == canonical({"a": "é", "b": 1}) == '{"a":"é","b":1}'


def test_chain_hash_is_sha256_of_previous_hash_and_body() -> None:
    expected = hashlib.sha256(("0" * 64 + '{"seq":1}').encode()).hexdigest()
    assert chain_hash("0" * 64, '{"seq":1}') == expected
    assert chain_hash("1" * 64, '{"seq":1}') != expected


def test_diff_keeps_only_changed_fields() -> None:
    assert diff({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == (
        {"b": 2, "c": None},
        {"b": 3, "c": 4},
    )


def test_oversized_audit_values_keep_digests_of_long_texts() -> None:
    huge = {"model_card": {"metrics": "x" * 200_000}, "name": "short"}
    compact = bounded(huge)
    assert compact is not None
    assert compact["name"] == "short"
    assert compact["model_card"]["metrics"] == {
        "sha256": hashlib.sha256(("x" * 200_000).encode()).hexdigest(),
        "length": 200_000,
    }
    small = {"a": "b"}
    assert bounded(small) is small


def test_merge_patch_clears_optional_fields_and_refuses_required_nulls() -> None:
    current = {"name": "m", "purpose": "p", "intended_use": "u", "tags": ["a"]}
    patched = merge_patch(
        current, ModelPatch.model_validate({"intended_use": None, "tags": ["b"]}), required={"name"}
    )
    assert patched == {"name": "m", "purpose": "p", "intended_use": None, "tags": ["b"]}
    with pytest.raises(ValidationError, match="cannot be cleared"):
        merge_patch(current, ModelPatch.model_validate({"name": None}), required={"name"})


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("cron(0 12 * * ? *)", None),
    ],
)
def test_local_schedules_understand_rate_expressions(expression: str, seconds: int | None) -> None:
    assert rate_seconds(expression) == seconds


def test_the_outbox_relay_is_fed_only_outbox_inserts() -> None:
    from infra.resources import RESOURCES

    relay = next(c for c in RESOURCES.stream_consumers if c.function == "outbox_relay")
    assert relay.filter_pattern("sk") == {
        "eventName": ["INSERT"],
        "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "OUTBOX#"}]}}},
    }
    insert = {"eventName": "INSERT", "dynamodb": {"Keys": {"sk": {"S": "OUTBOX#evt_1"}}}}
    assert relay.accepts(insert, "sk")
    assert not relay.accepts({**insert, "eventName": "REMOVE"}, "sk")
    assert not relay.accepts(
        {"eventName": "INSERT", "dynamodb": {"Keys": {"sk": {"S": "MODEL#mdl_1"}}}}, "sk"
    )
