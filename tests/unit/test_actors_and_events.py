"""Actors as the audit trail records them, and the event catalog's typed payloads."""

from __future__ import annotations

import pytest

from chalicelib.domain import events
from chalicelib.domain.actors import Actor, SystemPart
from chalicelib.domain.models import Model, Tenant
from chalicelib.domain.roles import Role


def test_a_principal_is_recorded_with_the_key_it_used_and_who_issued_that_key() -> None:
    actor = Actor.of_principal(
        "req_1", "ten_1", "prn_1", "key_1", frozenset({Role.ADMIN}), key_issuer="prn_0"
    )
    assert actor.audit_form() == {
        "kind": "principal",
        "principal_id": "prn_1",
        "key_id": "key_1",
        "key_issued_by": "prn_0",
    }
    assert actor.tenant == "ten_1" and actor.has_any(Role.ADMIN) and not actor.own_key
    assert actor.in_tenant("ten_1").key_issuer == "prn_0"


def test_a_key_is_its_principals_own_only_when_the_principal_issued_it() -> None:
    own = Actor.of_principal("r", "ten_1", "prn_1", "key_1", key_issuer="prn_1")
    assert own.own_key
    assert not Actor.of_principal("r", "ten_1", "prn_1", "key_1").own_key  # issuer unknown
    assert not Actor.platform_operator("r").own_key


def test_a_system_part_is_recorded_by_name_and_holds_no_role() -> None:
    actor = Actor.of_system(SystemPart.WORKFLOW, "msg_1", "ten_1")
    assert actor.audit_form() == {"kind": "system", "system": "workflow"}
    assert not actor.has_any(*Role) and actor.label == "system:workflow"


def test_the_platform_acts_on_the_tenant_it_names_but_a_principal_never_leaves_its_own() -> None:
    assert Actor.platform_operator("r").in_tenant("ten_9").tenant == "ten_9"
    with pytest.raises(RuntimeError, match="a platform actor has no tenant"):
        _ = Actor.platform_operator("r").tenant
    with pytest.raises(RuntimeError, match="only in its own tenant"):
        Actor.of_principal("r", "ten_1", "prn_1", "key_1").in_tenant("ten_2")


def test_an_event_carries_only_its_declared_payload() -> None:
    tenant = Tenant.model_validate(
        {
            "id": "ten_1",
            "name": "Acme",
            "status": "active",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "revision": 1,
        }
    )
    made = events.TENANT_CREATED.of(tenant)
    assert made.type == "tenant.created" and made.data["id"] == "ten_1"
    with pytest.raises(TypeError, match=r"model\.created carries a Model, not Tenant"):
        events.MODEL_CREATED.of(tenant)
    assert events.CATALOG["model.created"].payload is Model


def test_an_event_type_is_declared_once() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        events.declare("model.created", Model, "again")
