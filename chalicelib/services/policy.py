"""The tenant's approval policy: read it, set it (a new version each time), list its
versions. Until an admin sets one, the defaults are version 1 (`domain.policy`)."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.domain import events
from chalicelib.domain.actors import Actor
from chalicelib.domain.audit import diff
from chalicelib.domain.policy import Policy, PolicyBody, check, default_policy, stored
from chalicelib.errors import DomainRuleError, FieldError, PreconditionFailedError
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import UnitOfWork

SETTLED = ("version", "created_by", "created_at")  # what a new version changes by itself


def in_force(store: TenantStore) -> Policy:
    """The policy a submission pins now."""
    item = store.policies.current()
    return to_model(Policy, item) if item else default_policy()


def get_policy(actor: Actor) -> Policy:
    return in_force(for_actor(actor))


def put_policy(actor: Actor, body: PolicyBody, if_match: Callable[[int], int]) -> Policy:
    """Replace the policy with `body`, as a new version, if the caller read the one in
    force (If-Match). Escalation contacts must be active principals of the tenant; a body
    equal to the policy in force changes nothing."""
    check(body)
    store = for_actor(actor)
    item = store.policies.current()
    current = to_model(Policy, item) if item else default_policy()
    version = if_match(current.version)
    updated = to_model(Policy, stored(body, version + 1, str(actor.principal_id), timestamp()))
    before, after = diff(public(current), public(updated))
    if not set(after) - set(SETTLED):
        return current
    unit = UnitOfWork()
    for index, contact in enumerate(updated.escalation_contact_ids):
        field = f"body.escalation_contact_ids[{index}]"
        unit.add(
            f"contact:{contact}",
            store.principals.check_active(contact),
            _no_principal(field),
        )
    if item is None:  # the defaults were version 1: keep them in the history
        unit.add("defaults", store.policies.put_version(public(current)), _stale)
    replacing = None if item is None else version
    unit.add("current", store.policies.put_current(public(updated), replacing), _stale)
    unit.add("version", store.policies.put_version(public(updated)), _stale)
    unit.record("policy.updated", "policy", f"v{updated.version}", before=before, after=after)
    store.commit(actor, unit.emit(events.POLICY_UPDATED.of(updated)))
    return updated


def _stale() -> Exception:
    return PreconditionFailedError("the policy changed since it was read")


def _no_principal(field: str) -> Callable[[], Exception]:
    message = "no active principal of this tenant"
    return lambda: DomainRuleError(
        f"{field.removeprefix('body.')}: {message}", errors=[FieldError(field, message)]
    )


def list_versions(
    actor: Actor, limit: int, cursor_text: str | None
) -> tuple[list[Policy], str | None]:
    """A page of the policy's versions, oldest first (only the defaults while none is set)."""
    store = for_actor(actor)
    items, next_cursor = store.page(
        store.policies.list_page, query="policy-versions", limit=limit, cursor_text=cursor_text
    )
    if not items and cursor_text is None:
        return [default_policy()], None
    return [to_model(Policy, i) for i in items], next_cursor
